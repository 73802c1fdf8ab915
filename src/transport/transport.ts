/**
 * Transport: one SSH connection's transport layer (RFC 4253) over a byte stream. It runs the version
 * exchange, the binary packet protocol and every key exchange, enforces which messages the peer may send
 * when, and hands the messages of the layers above (50 and up) to one handler. It knows nothing of users
 * or channels. The key exchanges themselves (KEXINIT, NEWKEYS, re-key limits, compression streams) are
 * driven by its base class, KeyExchangeDriver (kexDriver.ts).
 */
import type net from "node:net";
import {
  DisconnectReason,
  Msg,
  SshError,
  SshReader,
  SshWriter,
  type DisconnectReasonCode,
} from "../wire/index.js";
import { stopSocketReads, type TransportHandoff } from "./handoff.js";
import { InputBuffer } from "./inputBuffer.js";
import { KeyExchangeDriver } from "./kexDriver.js";
import { readArenaOf, type SocketReadArena } from "./readArena.js";
import { checkIncoming } from "./messagePolicy.js";
import { isKexMessage, messageType } from "./messageTypes.js";
import { NegotiationError, negotiationLogLine } from "./negotiationError.js";
import type { TransportOptions } from "./options.js";
import { INTERNAL_ERROR, printable, toSshError } from "./transportErrors.js";
import { readVersionLine } from "./versionExchange.js";

/** Outgoing messages held while our key exchange runs: past this, send() asks the caller to wait... */
const QUEUE_HIGH_WATER = 1024 * 1024;
/** ...and past this the peer is stalling the exchange on purpose (x/crypto CVE-2025-22869): give up. */
const QUEUE_HARD_LIMIT = 32 * 1024 * 1024;
/**
 * Output the socket may hold before send() asks for 'drain'. Node's default (16 KiB) is half a data packet:
 * every packet would wait for its own 'drain' and go out in a write of its own. The socket emits 'drain'
 * once it has written all it held, having passed its own 16 KiB mark, which this is far above.
 */
const SOCKET_HIGH_WATER = 256 * 1024;
/**
 * Output a peer has not read yet. Past the soft mark we stop answering what needs no answer to keep the
 * protocol going (PONG, UNIMPLEMENTED); past the hard mark the peer is not reading at all and the
 * connection ends. Input is never stopped for output: two peers both sending would deadlock.
 */
const OUTPUT_SOFT_LIMIT = 1024 * 1024;
/** How long input received before the peer hung up may wait for a paused consumer. */
const ENDED_INPUT_GRACE_MS = 2000;
const OUTPUT_HARD_LIMIT = 64 * 1024 * 1024;
/** Unprocessed input kept while dispatch waits (host key check, signing, a paused consumer). */
const INPUT_HIGH_WATER = 512 * 1024;

export { DEFAULT_SOFTWARE_VERSION } from "./kexDriver.js";
export type { TransportEvents } from "./transportEvents.js";

export type MessageHandler = (type: number, payload: Buffer) => void;

export class Transport extends KeyExchangeDriver {
  private readonly socket: TransportOptions["socket"];
  private readonly input = new InputBuffer();
  /** Set when the socket reads into a reused buffer (readArena.ts) rather than emitting 'data'. */
  private readonly arena: SocketReadArena | undefined;
  private readonly preamble: string[] = [];

  private queue: Buffer[] = [];
  private queuedBytes = 0;
  private needDrain = false;
  private corked = false;

  private userPaused = false;
  private pumping = false;
  /** Why the peer's stream ended, while input it sent before is still being dispatched. */
  private endedBy: SshError | null = null;
  private endTimer: NodeJS.Timeout | null = null;
  private serviceWaiter: { name: string; resolve: () => void; reject: (e: Error) => void } | null = null;
  private handler: MessageHandler = () => {};

  /**
   * Start a connection on `options.socket`, or with `handoff` go on with one another process authenticated
   * (see handOff()): no version exchange, no key exchange, the keys and sequence numbers as they were.
   */
  constructor(options: TransportOptions, handoff?: TransportHandoff) {
    super(options, handoff);
    this.socket = options.socket;
    const sock = this.socket as { setNoDelay?: (v: boolean) => void };
    // Nagle plus delayed ACKs costs ~100 ms per login round trip; writes are gathered per tick instead.
    sock.setNoDelay?.(true);
    this.arena = readArenaOf(this.socket);
    if (!this.arena) this.socket.on("data", (chunk: Buffer) => this.onData(chunk));
    this.socket.on("end", () =>
      this.peerEnded(new SshError("CONNECTION_LOST", "Connection closed by remote host")),
    );
    this.socket.on("close", () => this.peerEnded(new SshError("CONNECTION_LOST", "Connection closed")));
    this.socket.on("error", (err) =>
      this.fail(new SshError("CONNECTION_LOST", `Connection error: ${err.message}`, { cause: err })),
    );
    this.socket.on("drain", () => this.maybeDrain());
    if (handoff) {
      this.resumeFrom(handoff);
    } else {
      this.socket.write(this.localVersion + "\r\n");
      this.startKex();
    }
    // What the arena read before now is handed over on the next tick, as 'data' would be: the caller has
    // its listeners ('close' for a peer that sent garbage) in place by then.
    const arena = this.arena;
    if (arena) {
      process.nextTick(() =>
        arena.attach(
          {
            data: (view) => this.onData(view),
            // Once closed, what arrives is dropped (onData): nothing of it is held.
            held: () => (this.closed ? 0 : this.input.length),
            replaceHeld: (n, moved) => this.input.replaceTail(n, moved),
          },
          this.socket as net.Socket,
        ),
      );
    }
  }

  /** Where messages of the layers above (50 and up) go, in order. */
  setMessageHandler(handler: MessageHandler): void {
    this.handler = handler;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get authenticated(): boolean {
    return this.phase === "authenticated";
  }

  get strictKex(): boolean {
    return this.strict;
  }

  // ---- sending -------------------------------------------------------------------------------------

  /**
   * Send one message. Returns false when the caller should wait for 'drain' before sending more: the
   * socket is full, or a key exchange is holding messages back (RFC 4253 §7.1).
   */
  send(payload: Buffer | readonly Buffer[]): boolean {
    if (this.closed) throw new SshError("CONNECTION_LOST", "transport is closed");
    if (this.kex && !this.ourNewKeysSent && !isKexMessage(messageType(payload))) {
      const held = Buffer.concat(Buffer.isBuffer(payload) ? [payload] : payload);
      this.queue.push(held);
      this.queuedBytes += held.length;
      if (this.queuedBytes > QUEUE_HARD_LIMIT) {
        this.fail(new SshError("PROTOCOL", "peer stalls key exchange while outgoing data piles up"));
        return false;
      }
      if (this.queuedBytes > QUEUE_HIGH_WATER) this.needDrain = true;
      return !this.needDrain;
    }
    this.writePacket(payload);
    if (this.socket.writableLength >= this.outputHighWater()) this.needDrain = true;
    return !this.needDrain;
  }

  protected writePacket(payload: Buffer | readonly Buffer[]): void {
    const wire = this.writer.frameParts(payload);
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    for (const piece of wire) this.socket.write(piece);
    if (this.role === "server" && messageType(payload) === Msg.USERAUTH_SUCCESS) this.enterAuthenticated();
    this.checkRekey();
  }

  /** Send what send() held back while our key exchange ran, now that our NEWKEYS is out. */
  protected sendHeldOutput(): void {
    const held = this.queue;
    this.queue = [];
    this.queuedBytes = 0;
    for (const p of held) this.writePacket(p);
  }

  /**
   * Where send() starts asking for 'drain': the socket emits 'drain' only after one of its writes returned
   * false, past its own writableHighWaterMark, so a stream with a higher mark than ours sets the level.
   */
  private outputHighWater(): number {
    return Math.max(SOCKET_HIGH_WATER, this.socket.writableHighWaterMark);
  }

  protected maybeDrain(): void {
    if (this.needDrain && this.queue.length === 0 && this.socket.writableLength < this.outputHighWater()) {
      this.needDrain = false;
      this.emit("drain");
    }
  }

  /** Send SSH_MSG_DISCONNECT and close (RFC 4253 §11.1). */
  disconnect(reason: DisconnectReasonCode = DisconnectReason.BY_APPLICATION, description = ""): void {
    if (this.closed) return;
    this.sendDisconnect(reason, description);
    this.finish(null);
  }

  private sendDisconnect(reason: number, description: string): void {
    // Before the peer's version line there is no packet protocol to speak.
    if (this.peerVersion === null) return;
    try {
      const w = new SshWriter()
        .byte(Msg.DISCONNECT)
        .uint32(reason)
        .string(description.slice(0, 512))
        .string("");
      this.socket.write(this.writer.frame(Buffer.from(w.toBuffer())));
    } catch (err) {
      this.log("debug1", `could not send disconnect: ${(err as Error).message}`);
    }
  }

  /** Send ping@openssh.com (OpenSSH PROTOCOL, "transport: ping facility") if the peer announced it. */
  ping(data: Buffer = Buffer.alloc(0)): boolean {
    if (!this.peerExtensions.has("ping@openssh.com")) return false;
    return this.send(Buffer.from(new SshWriter().byte(Msg.PING).string(data).toBuffer()));
  }

  /** Client: ask for a service (RFC 4253 §10) and wait for SERVICE_ACCEPT. */
  requestService(name: string): Promise<void> {
    if (this.role !== "client") throw new SshError("PROTOCOL", "only a client requests services");
    return new Promise((resolve, reject) => {
      if (this.serviceWaiter) return reject(new SshError("PROTOCOL", "a service request is already pending"));
      this.serviceWaiter = { name, resolve, reject };
      this.send(Buffer.from(new SshWriter().byte(Msg.SERVICE_REQUEST).string(name).toBuffer()));
    });
  }

  /** Stop handing messages up (back-pressure): input is buffered, then the socket is paused. */
  pause(): void {
    this.userPaused = true;
  }

  resume(): void {
    this.userPaused = false;
    this.pump();
  }

  // ---- hand-off to another process -----------------------------------------------------------------

  /**
   * Resolves once everything sent so far has left Node's buffers for the kernel (before handOff()). It
   * polls: the socket emits 'drain' only when a write had gone past its mark, which a login's few bytes
   * never do; a peer that reads nothing keeps it waiting until its LoginGraceTime ends the connection.
   */
  async outputFlushed(): Promise<void> {
    while (!this.closed && (this.corked || this.socket.writableLength > 0)) {
      await new Promise<void>((resolve) => setTimeout(resolve, this.corked ? 0 : 5));
    }
  }

  /**
   * Server: stop using this connection and return what another process needs to go on with it (with the
   * socket, passed separately). Only between authentication and USERAUTH_SUCCESS, with no key exchange
   * running and no compression active; afterwards this object neither reads nor writes the socket.
   */
  handOff(): TransportHandoff {
    if (this.role !== "server") throw new SshError("PROTOCOL", "only a server hands a connection off");
    if (this.closed) throw new SshError("CONNECTION_LOST", "transport is closed");
    if (!this.initialKexDone || this.kex || this.waiting || this.phase !== "userauth") {
      throw new SshError("PROTOCOL", `cannot hand off in phase ${this.phase} or during a key exchange`);
    }
    if (this.writer.compressor || this.reader.decompressor || this.queue.length > 0) {
      throw new SshError("UNSUPPORTED", "cannot hand off a connection with compression active");
    }
    // Bytes still corked or held by Node's socket would be lost with the descriptor (see outputFlushed()).
    if (this.corked || this.socket.writableLength > 0) {
      throw new SshError("PROTOCOL", "cannot hand off while output is still being written");
    }
    const protection = this.exportProtection();
    this.socket.pause();
    stopSocketReads(this.socket);
    this.socket.removeAllListeners("data");
    const pending: Buffer[] = [];
    if (this.input.length > 0) pending.push(this.input.take(this.input.length));
    if (this.arena) pending.push(...this.arena.detach());
    for (let chunk; (chunk = this.socket.read() as Buffer | null) !== null;) pending.push(chunk);
    this.closed = true;
    if (this.endTimer) clearTimeout(this.endTimer);
    if (this.rekeyTimer) clearTimeout(this.rekeyTimer);
    for (const event of ["end", "close", "error", "drain"] as const) this.socket.removeAllListeners(event);
    return this.handoffState(protection, Buffer.concat(pending));
  }

  private resumeFrom(h: TransportHandoff): void {
    if (this.role !== "server")
      throw new SshError("PROTOCOL", "only a server resumes a handed-off connection");
    this.resumeKeying(h);
    this.input.push(Buffer.from(h.pendingInput));
    // The owner sets its message handler and sends USERAUTH_SUCCESS first: read what waits after that.
    process.nextTick(() => this.pump());
  }

  // ---- receiving -----------------------------------------------------------------------------------

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.input.push(chunk);
    this.pump();
  }

  /**
   * The peer's side of the stream ended. What it sent before (its DISCONNECT with the reason, say) may
   * still wait behind a paused consumer: dispatch that first, and end once nothing more can be read.
   */
  private peerEnded(err: SshError): void {
    if (this.closed) return;
    this.endedBy ??= err;
    this.pump();
    if (this.closed) return;
    if (this.waiting === null && !this.userPaused) return this.fail(this.endedBy);
    // A consumer that never resumes must not keep a dead connection open.
    this.endTimer ??= setTimeout(() => this.fail(this.endedBy!), ENDED_INPUT_GRACE_MS);
    this.endTimer.unref();
  }

  protected pump(): void {
    if (this.pumping || this.closed) return;
    this.pumping = true;
    try {
      while (!this.closed && !this.waiting && !this.userPaused) {
        if (this.peerVersion === null) {
          const v = readVersionLine(this.input, this.role === "client", this.preamble);
          if (!v) break;
          this.peerVersion = v.version;
          const software = v.version.replace(/^SSH-[^-]*-/, "");
          this.log(
            "debug1",
            `Remote protocol version ${v.version.split("-")[1]}, remote software version ${software}`,
          );
          continue;
        }
        const seq = this.reader.seq;
        const payload = this.reader.read(this.input);
        if (!payload) break;
        this.handlePacket(payload, seq);
        if (this.socket.writableLength > OUTPUT_HARD_LIMIT) {
          throw new SshError("PROTOCOL", "peer does not read what we send: output backlog over 64 MiB");
        }
      }
    } catch (err) {
      this.fail(toSshError(err));
    } finally {
      this.pumping = false;
    }
    if (this.closed) return;
    const holding = this.waiting !== null || this.userPaused;
    if (this.endedBy) {
      if (!holding) this.fail(this.endedBy);
      return;
    }
    if (holding && this.input.length > INPUT_HIGH_WATER) this.socket.pause();
    else if (this.socket.isPaused()) this.socket.resume();
  }

  private handlePacket(payload: Buffer, seq: number): void {
    const type = payload[0]!;
    this.log("debug3", `receive packet: type ${type}`);
    const verdict = checkIncoming(type, {
      peerRole: this.role === "client" ? "server" : "client",
      phase: this.phase,
      peerInKex: this.kex?.peerKexInitReceived === true && !this.peerNewKeysReceived,
      strict: this.strict,
      firstAfterNewKeys: this.firstAfterNewKeys,
    });
    this.firstAfterNewKeys = false;
    if (verdict === "refuse") {
      const where = this.kex ? "during key exchange" : `in phase ${this.phase}`;
      throw new SshError("PROTOCOL", `protocol error: unexpected message type ${type} ${where}`);
    }
    if (verdict === "ignore") return;
    if (verdict === "unimplemented") {
      if (this.outputBacklogged("UNIMPLEMENTED")) return;
      this.send(Buffer.from(new SshWriter().byte(Msg.UNIMPLEMENTED).uint32(seq).toBuffer()));
      return;
    }
    switch (type) {
      case Msg.DISCONNECT:
        return this.onDisconnect(payload);
      case Msg.IGNORE:
        return;
      case Msg.DEBUG: {
        const r = new SshReader(payload, 1);
        r.boolean();
        this.log("debug1", `Remote: ${printable(r.utf8(4096, "debug message"))}`);
        return;
      }
      case Msg.UNIMPLEMENTED:
        this.log("debug1", `Received SSH2_MSG_UNIMPLEMENTED for ${new SshReader(payload, 1).uint32()}`);
        return;
      case Msg.KEXINIT:
        return this.onKexInit(payload, seq);
      case Msg.NEWKEYS:
        return this.onNewKeys(payload);
      case Msg.EXT_INFO:
        return this.onExtInfo(payload);
      case Msg.SERVICE_REQUEST:
        return this.onServiceRequest(payload);
      case Msg.SERVICE_ACCEPT:
        return this.onServiceAccept(payload);
      case Msg.PING: {
        const data = new SshReader(payload, 1).string(1024, "ping data");
        // Never answer during a key exchange: replies would pile up (OpenSSH CVE-2025-26466).
        if (!this.kex && !this.outputBacklogged("PONG")) {
          this.send(Buffer.from(new SshWriter().byte(Msg.PONG).string(data).toBuffer()));
        }
        return;
      }
      case Msg.PONG:
        this.emit("pong", Buffer.from(new SshReader(payload, 1).string(1024, "pong data")));
        return;
    }
    if (type >= 30 && type <= 49) return this.onKexMessage(type, payload);
    if (type === Msg.USERAUTH_SUCCESS && this.role === "client") this.enterAuthenticated();
    this.handler(type, payload);
    this.checkRekey();
  }

  /** True (and logged) when an optional reply should be dropped because the peer is not reading. */
  private outputBacklogged(what: string): boolean {
    if (this.socket.writableLength <= OUTPUT_SOFT_LIMIT) return false;
    this.log("debug2", `not sending ${what}: ${this.socket.writableLength} bytes unread by the peer`);
    return true;
  }

  private onDisconnect(payload: Buffer): void {
    const r = new SshReader(payload, 1);
    const reason = r.uint32();
    // Peer text goes into logs and error messages: no control characters (OpenSSH escapes them too).
    const description = printable(r.utf8(4096, "disconnect description"));
    this.log("info", `Received disconnect: ${reason}: ${description}`);
    this.finish(new SshError("DISCONNECTED", `Received disconnect: ${reason}: ${description}`));
  }

  private onServiceRequest(payload: Buffer): void {
    const r = new SshReader(payload, 1);
    const name = r.ascii(64, "service name");
    const allowed = this.opts.services ?? ["ssh-userauth"];
    if (!allowed.includes(name)) {
      throw new SshError("PROTOCOL", `bad service request ${name}`, {
        disconnectReason: DisconnectReason.SERVICE_NOT_AVAILABLE,
      });
    }
    this.send(Buffer.from(new SshWriter().byte(Msg.SERVICE_ACCEPT).string(name).toBuffer()));
    this.phase = "userauth";
    this.emit("service", name);
  }

  private onServiceAccept(payload: Buffer): void {
    const name = new SshReader(payload, 1).ascii(64, "service name");
    const waiter = this.serviceWaiter;
    if (!waiter || waiter.name !== name) {
      throw new SshError("PROTOCOL", `unexpected SERVICE_ACCEPT for ${name}`);
    }
    this.serviceWaiter = null;
    this.phase = "userauth";
    this.log("debug2", `service_accept: ${name}`);
    waiter.resolve();
  }

  // ---- ending --------------------------------------------------------------------------------------

  protected fail(err: SshError): void {
    if (this.closed) return;
    if (err.code !== "CONNECTION_LOST" && err.code !== "DISCONNECTED") {
      this.log(
        "error",
        err instanceof NegotiationError ? negotiationLogLine(err, this.role) : err.message,
        err,
      );
      // Our own failures (a throwing listener, a bug) are logged here, not told to the peer.
      const internal = err.message.startsWith(INTERNAL_ERROR);
      this.sendDisconnect(err.disconnectReason, internal ? INTERNAL_ERROR : err.message);
    }
    this.finish(err);
  }

  private finish(err: SshError | null): void {
    if (this.closed) return;
    this.closed = true;
    if (this.endTimer) clearTimeout(this.endTimer);
    if (this.rekeyTimer) clearTimeout(this.rekeyTimer);
    const error = err ?? new SshError("CONNECTION_LOST", "transport closed");
    for (const w of this.rekeyWaiters.splice(0)) w.reject(error);
    this.serviceWaiter?.reject(error);
    this.serviceWaiter = null;
    // Messages held for a key exchange that will never finish (up to QUEUE_HARD_LIMIT): let them go.
    this.queue = [];
    this.queuedBytes = 0;
    this.writer.compressor?.close();
    this.reader.decompressor?.close();
    this.socket.end();
    // A peer that never reads must not keep the socket alive forever.
    setTimeout(() => this.socket.destroy(), 2000).unref();
    this.emit("close", err);
  }
}
