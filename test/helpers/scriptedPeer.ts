/**
 * Playing a hostile peer against our Transport, both roles:
 *  - ScriptedPeer: our own Transport does the honest parts (version, key exchange, keys) while the test
 *    injects arbitrary payloads framed with the current keys (sendRaw, bypassing the policy and the kex
 *    queue), raw bytes (sendBytes), packets with a lying packet_length or padding under any cipher, and
 *    rewrites of what the transport itself sends (onOutgoing).
 *  - RawPeer: a plain socket for the states before encryption: our own version line and unencrypted
 *    packets framed by hand (framePlain), and a parser for the victim's plaintext packets.
 *  - Harness: a victim server (our server Transport, see transportServer.ts) and victim clients behind
 *    hostile servers, pairing each with a scripted or raw peer; the honest client that proves a server
 *    still serves; and the cleanup of every socket and server a test opened.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { randomBytes } from "node:crypto";
import type { PacketSealer } from "../../src/crypto/index.js";
import { Transport, type TransportOptions } from "../../src/transport/index.js";
import {
  encodeKexInit,
  STRICT_KEX_C,
  STRICT_KEX_S,
  EXT_INFO_C,
  EXT_INFO_S,
} from "../../src/transport/kexInit.js";
import type { Role } from "../../src/transport/messagePolicy.js";
import type { PacketReader, PacketWriter } from "../../src/transport/packetCodec.js";
import { Msg, SshError, SshReader, SshWriter, type SshErrorCode } from "../../src/wire/index.js";
import { startTransportServer, testHostKeys, type TransportServer } from "./transportServer.js";

export const HOSTILE_VERSION = "SSH-2.0-hostile_0.1";

// ---- small utilities -------------------------------------------------------------------------------

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Poll `cond` until it holds (or fail after `ms`). */
export async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(5);
  }
}

/** Build a payload with an SshWriter in one expression. */
export function msg(build: (w: SshWriter) => SshWriter): Buffer {
  return Buffer.from(build(new SshWriter()).toBuffer());
}

export function parseDisconnect(payload: Buffer): { reason: number; description: string } {
  const r = new SshReader(payload, 1);
  return { reason: r.uint32(), description: r.string().toString("utf8") };
}

/**
 * An unencrypted packet (RFC 4253 §6) of `payload`, padded to 8. `paddingLength` overrides the value
 * written in the padding_length byte (not the padding actually sent); `length` the packet_length field.
 */
export function framePlain(payload: Buffer, o: { paddingLength?: number; length?: number } = {}): Buffer {
  let pad = 8 - ((5 + payload.length) % 8);
  if (pad < 4) pad += 8;
  const out = Buffer.alloc(5 + payload.length + pad);
  out.writeUInt32BE(o.length ?? out.length - 4, 0);
  out[4] = o.paddingLength ?? pad;
  payload.copy(out, 5);
  randomBytes(pad).copy(out, 5 + payload.length);
  return out;
}

/**
 * A plaintext packet shaped for `sealer` (aligned as its layout wants) whose padding_length byte says
 * `paddingLength` (default: the true amount). The payload may be empty.
 */
export function plainPacketFor(sealer: PacketSealer, payload: Buffer, paddingLength?: number): Buffer {
  const block = Math.max(sealer.blockSize, 8);
  const aligned = (sealer.lengthExcludedFromPadding ? 1 : 5) + payload.length;
  let pad = block - (aligned % block);
  if (pad < 4) pad += block;
  const out = Buffer.alloc(5 + payload.length + pad);
  out.writeUInt32BE(out.length - 4, 0);
  out[4] = paddingLength ?? pad;
  payload.copy(out, 5);
  randomBytes(pad).copy(out, 5 + payload.length);
  return out;
}

/** A KEXINIT payload as a hand-written peer sends it (curve25519, ed25519, AEAD ciphers by default). */
export function kexInitPayload(
  role: Role,
  o: {
    strict?: boolean;
    extInfo?: boolean;
    kex?: string[];
    hostKey?: string[];
    ciphers?: string[];
    macs?: string[];
  } = {},
): Buffer {
  const markers: string[] = [];
  if (o.extInfo ?? true) markers.push(role === "client" ? EXT_INFO_C : EXT_INFO_S);
  if (o.strict ?? true) markers.push(role === "client" ? STRICT_KEX_C : STRICT_KEX_S);
  const ciphers = o.ciphers ?? ["chacha20-poly1305@openssh.com", "aes128-gcm@openssh.com", "aes128-ctr"];
  const macs = o.macs ?? ["hmac-sha2-256-etm@openssh.com", "hmac-sha2-256"];
  return encodeKexInit({
    kex: [...(o.kex ?? ["curve25519-sha256"]), ...markers],
    hostKey: o.hostKey ?? ["ssh-ed25519", "ecdsa-sha2-nistp256", "rsa-sha2-512"],
    cipherC2S: ciphers,
    cipherS2C: ciphers,
    macC2S: macs,
    macS2C: macs,
    compressionC2S: ["none"],
    compressionS2C: ["none"],
  });
}

// ---- reaching into a Transport -----------------------------------------------------------------------

/** The private parts of Transport a hostile script (or a check on memory) needs. */
export interface TransportInternals {
  writer: PacketWriter;
  reader: PacketReader;
  socket: net.Socket;
  writePacket(payload: Buffer): void;
  handlePacket(payload: Buffer, seq: number): void;
  startKex(): void;
  strict: boolean;
  queue: Buffer[];
  queuedBytes: number;
  kex: { peerKexInitReceived: boolean } | null;
}

export function internals(t: Transport): TransportInternals {
  const i = t as unknown as TransportInternals;
  for (const k of [
    "writer",
    "reader",
    "socket",
    "writePacket",
    "handlePacket",
    "startKex",
    "queue",
  ] as const) {
    assert.ok(i[k] !== undefined, `Transport no longer has the private member ${k} this test reaches for`);
  }
  return i;
}

// ---- the scripted peer ---------------------------------------------------------------------------------

export type ScriptedOptions = Partial<Omit<TransportOptions, "socket" | "log">>;

/** Rewrites one outgoing payload: return the payloads to send instead (none to drop it), or undefined. */
export type OutgoingRewrite = (payload: Buffer) => Buffer[] | undefined;

export class ScriptedPeer {
  readonly transport: Transport;
  readonly socket: net.Socket;
  readonly log: string[] = [];
  /** Every payload the victim delivered to this peer, before this peer's own policy looked at it. */
  readonly received: Buffer[] = [];
  readonly closed: Promise<SshError | null>;
  private readonly t: TransportInternals;
  private rewrite: OutgoingRewrite | null = null;

  constructor(role: Role, socket: net.Socket, options: ScriptedOptions = {}) {
    this.socket = socket;
    socket.on("error", () => {});
    this.transport = new Transport({
      ...(role === "client" ? { verifyHostKey: () => true } : { hostKeys: testHostKeys() }),
      ...options,
      role,
      socket,
      log: (level, message) => this.log.push(`${level}: ${message}`),
    });
    this.closed = new Promise((resolve) => this.transport.once("close", resolve));
    this.t = internals(this.transport);
    const handle = this.t.handlePacket.bind(this.transport);
    this.t.handlePacket = (payload, seq) => {
      this.received.push(Buffer.from(payload));
      handle(payload, seq);
    };
    const writer = this.t.writer;
    // frame() goes through frameParts() too, so this sees every packet the transport sends.
    const frameParts = writer.frameParts.bind(writer);
    writer.frameParts = (payload: Buffer | readonly Buffer[]): Buffer[] => {
      const whole = Buffer.isBuffer(payload) ? payload : Buffer.concat(payload);
      const replaced = this.rewrite?.(whole);
      if (!replaced) return frameParts(whole);
      return replaced.flatMap((p) => frameParts(p));
    };
  }

  /** Rewrite what the transport sends from now on (key exchange messages included). */
  onOutgoing(rewrite: OutgoingRewrite | null): void {
    this.rewrite = rewrite;
  }

  /** Frame `payload` with the current keys and send it, bypassing the policy and the kex queue. */
  sendRaw(payload: Buffer): void {
    this.t.writePacket(payload);
  }

  /** Bytes straight to the socket. */
  sendBytes(buf: Buffer): void {
    this.socket.write(buf);
  }

  /** The wire bytes of `payload` under the current keys (the sequence number moves on), not sent. */
  frame(payload: Buffer): Buffer {
    return Buffer.from(this.t.writer.frame(payload));
  }

  get sealer(): PacketSealer {
    return this.t.writer.sealer;
  }

  /** Seal a plaintext packet built by hand (see plainPacketFor) at the next sequence number. */
  seal(plainPacket: Buffer): Buffer {
    const w = this.t.writer;
    const wire = Buffer.from(w.sealer.seal(w.seq, Buffer.from(plainPacket)));
    w.seq = (w.seq + 1) >>> 0;
    return wire;
  }

  /**
   * A packet whose packet_length reads `length` to the receiver under any cipher: the length field is
   * either in clear or XORed with a key stream (chacha20, CTR), so flipping the same bits moves it.
   */
  withPacketLength(length: number): Buffer {
    const wire = this.frame(msg((w) => w.byte(Msg.IGNORE).string("")));
    const real = wire.length - 4 - this.t.writer.sealer.macLength;
    wire.writeUInt32BE((wire.readUInt32BE(0) ^ real ^ length) >>> 0, 0);
    return wire;
  }

  /**
   * Send our KEXINIT and run a key re-exchange now, whatever the phase (Transport.rekey() waits for
   * authentication; a hostile peer does not).
   */
  startKex(): void {
    this.t.startKex();
  }

  /** Stop processing what the victim sends (it is buffered): a peer that has gone quiet. */
  pause(): void {
    this.transport.pause();
  }

  /** The DISCONNECT the victim sent us, once this peer's transport has ended (null if none came). */
  async disconnectReceived(ms = 5000): Promise<{ reason: number; description: string } | null> {
    await withTimeout(this.closed, ms, "the scripted peer's connection to end");
    const d = this.received.find((p) => p[0] === Msg.DISCONNECT);
    return d ? parseDisconnect(d) : null;
  }

  end(): void {
    this.socket.destroy();
  }
}

// ---- the raw peer ------------------------------------------------------------------------------------

/** A plain socket speaking the pre-encryption protocol by hand. */
export class RawPeer {
  readonly socket: net.Socket;
  /** The victim's identification line, once read. */
  peerVersion: string | null = null;
  /** The victim's plaintext payloads, in order (parsing stops at the first implausible length). */
  readonly packets: Buffer[] = [];
  readonly closed: Promise<void>;
  isClosed = false;
  private buf = Buffer.alloc(0);
  private broken = false;
  private readonly listeners = new Set<() => void>();

  constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on("error", () => {});
    socket.on("data", (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.parse();
      for (const l of this.listeners) l();
    });
    this.closed = new Promise((resolve) =>
      socket.once("close", () => {
        this.isClosed = true;
        for (const l of this.listeners) l();
        resolve();
      }),
    );
  }

  static async connect(port: number): Promise<RawPeer> {
    const socket = net.connect(port, "127.0.0.1");
    const peer = new RawPeer(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    return peer;
  }

  private parse(): void {
    while (!this.broken) {
      if (this.peerVersion === null) {
        const nl = this.buf.indexOf(0x0a);
        if (nl === -1) return;
        const line = this.buf.subarray(0, nl).toString("latin1").replace(/\r$/, "");
        this.buf = this.buf.subarray(nl + 1);
        if (line.startsWith("SSH-")) this.peerVersion = line;
        continue;
      }
      if (this.buf.length < 4) return;
      const len = this.buf.readUInt32BE(0);
      if (len < 5 || len > 256 * 1024) {
        this.broken = true; // encrypted from here on, or garbage
        return;
      }
      if (this.buf.length < 4 + len) return;
      const pad = this.buf[4]!;
      this.packets.push(Buffer.from(this.buf.subarray(5, 4 + len - pad)));
      this.buf = this.buf.subarray(4 + len);
    }
  }

  sendVersion(line = HOSTILE_VERSION): void {
    this.socket.write(line + "\r\n");
  }

  /** An unencrypted packet framed by hand (see framePlain for the lies it can tell). */
  sendPacket(payload: Buffer, o: { paddingLength?: number; length?: number } = {}): void {
    this.socket.write(framePlain(payload, o));
  }

  sendBytes(buf: Buffer | string): void {
    this.socket.write(buf);
  }

  /** The first victim packet matching `pred`, or null once the socket has closed without one. */
  async waitFor(pred: (p: Buffer) => boolean, ms = 5000): Promise<Buffer | null> {
    const found = (): Buffer | undefined => this.packets.find(pred);
    const wait = new Promise<Buffer | null>((resolve) => {
      const check = (): void => {
        const p = found();
        if (p || this.isClosed) {
          this.listeners.delete(check);
          resolve(p ?? null);
        }
      };
      this.listeners.add(check);
      check();
    });
    return withTimeout(wait, ms, "a packet from the victim");
  }

  async disconnectReceived(ms = 5000): Promise<{ reason: number; description: string } | null> {
    const p = await this.waitFor((x) => x[0] === Msg.DISCONNECT, ms);
    return p ? parseDisconnect(p) : null;
  }

  end(): void {
    this.socket.destroy();
  }
}

// ---- victims -------------------------------------------------------------------------------------------

/** Our Transport under attack, with what it did. */
export interface Victim {
  transport: Transport;
  log: string[];
  closed: Promise<SshError | null>;
  /** Message types handed to the layer above (the message handler). */
  handled: number[];
  /** Whether 'ready' (the first key exchange complete) was emitted. */
  ready: boolean;
}

function watchVictim(transport: Transport, log: string[], closed?: Promise<SshError | null>): Victim {
  const v: Victim = {
    transport,
    log,
    closed: closed ?? new Promise((resolve) => transport.once("close", resolve)),
    handled: [],
    ready: false,
  };
  transport.setMessageHandler((type) => v.handled.push(type));
  transport.once("ready", () => (v.ready = true));
  return v;
}

/** Our server Transport on a port, with each connection found by the client's local port. */
export class VictimServer {
  private readonly byPort = new Map<number, Victim>();
  private readonly waiters = new Map<number, (v: Victim) => void>();
  private readonly claimed = new WeakSet<Victim>();
  private constructor(readonly server: TransportServer) {}

  static async start(
    options: Partial<Omit<TransportOptions, "role" | "socket">> = {},
  ): Promise<VictimServer> {
    let self: VictimServer | undefined;
    const pending: Victim[] = [];
    const server = await startTransportServer(options, (conn) => {
      const victim = watchVictim(conn.transport, conn.log, conn.closed);
      const port = internals(conn.transport).socket.remotePort!;
      if (self) self.add(port, victim);
      else pending.push(victim);
    });
    self = new VictimServer(server);
    for (const v of pending) self.add(internals(v.transport).socket.remotePort!, v);
    return self;
  }

  private add(port: number, v: Victim): void {
    this.byPort.set(port, v);
    this.waiters.get(port)?.(v);
    this.waiters.delete(port);
  }

  get port(): number {
    return this.server.port;
  }

  /**
   * The server side of the connection whose client uses local port `port`. Each connection is handed out
   * once: under load the system reuses a closed connection's port, and the earlier victim must not be
   * mistaken for the new one, which may not be accepted yet.
   */
  connectionFor(port: number): Promise<Victim> {
    const v = this.byPort.get(port);
    if (v && !this.claimed.has(v)) {
      this.claimed.add(v);
      return Promise.resolve(v);
    }
    return withTimeout(
      new Promise<Victim>((resolve) =>
        this.waiters.set(port, (fresh) => {
          this.claimed.add(fresh);
          resolve(fresh);
        }),
      ),
      5000,
      "the server to accept the connection",
    );
  }

  /** An honest client Transport completes key exchange and a service request, then disconnects. */
  async honestClient(options: ScriptedOptions = {}): Promise<void> {
    const socket = net.connect(this.port, "127.0.0.1");
    socket.on("error", () => {});
    const log: string[] = [];
    const t = new Transport({
      verifyHostKey: () => true,
      ...options,
      role: "client",
      socket,
      log: (level, message) => log.push(`${level}: ${message}`),
    });
    const closed = new Promise<SshError | null>((resolve) => t.once("close", resolve));
    // Its server side is claimed here, so that a raw client the system later gives this same local port
    // is not handed this finished connection as its own (seen once: "expected KEX_FAILED, got
    // DISCONNECTED" with an honest exchange in the log).
    // A server that never sees the connection fails this honest client below, which says why.
    socket.once("connect", () => void this.connectionFor(socket.localPort!).catch(() => undefined));
    try {
      await withTimeout(
        Promise.race([
          new Promise<void>((resolve) => t.once("ready", resolve)),
          closed.then((e) => {
            throw new Error(`honest client ended before kex: ${e?.message}\n${log.join("\n")}`);
          }),
        ]),
        10_000,
        "an honest client's key exchange",
      );
      await withTimeout(t.requestService("ssh-userauth"), 10_000, "an honest client's service request");
    } finally {
      t.disconnect();
      socket.destroy();
    }
  }

  close(): Promise<void> {
    return this.server.close();
  }
}

/** A hostile server: a TCP server that hands each accepted socket to the test. */
export async function startHostileServer(
  onSocket: (socket: net.Socket) => void,
): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    onSocket(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export interface Pair {
  peer: ScriptedPeer;
  victim: Victim;
}

export interface RawPair {
  raw: RawPeer;
  victim: Victim;
}

/** Everything a test file opens, closed in one after() hook. */
export class Harness {
  private readonly cleanups: Array<() => unknown> = [];
  private shared: Promise<VictimServer> | null = null;

  /** Our server under attack: shared by the file for default options, a new one otherwise. */
  server(options?: Partial<Omit<TransportOptions, "role" | "socket">>): Promise<VictimServer> {
    if (!options) {
      this.shared ??= this.startServer({});
      return this.shared;
    }
    return this.startServer(options);
  }

  private async startServer(
    options: Partial<Omit<TransportOptions, "role" | "socket">>,
  ): Promise<VictimServer> {
    const s = await VictimServer.start(options);
    this.cleanups.push(() => s.close());
    return s;
  }

  /**
   * A scripted peer against a victim of `victimRole`. `setup` runs as soon as the peer's transport
   * exists, before it has received anything (install onOutgoing rewrites there).
   */
  async pair(
    victimRole: Role,
    o: {
      peer?: ScriptedOptions;
      victim?: ScriptedOptions;
      server?: VictimServer;
      setup?: (peer: ScriptedPeer) => void;
    } = {},
  ): Promise<Pair> {
    if (victimRole === "server") {
      const server = o.server ?? (await this.server());
      const socket = net.connect(server.port, "127.0.0.1");
      this.cleanups.push(() => socket.destroy());
      await new Promise<void>((resolve, reject) => {
        socket.once("connect", resolve);
        socket.once("error", reject);
      });
      const peer = new ScriptedPeer("client", socket, o.peer);
      o.setup?.(peer);
      const victim = await server.connectionFor(socket.localPort!);
      return { peer, victim };
    }
    let resolvePeer!: (p: ScriptedPeer) => void;
    const peerReady = new Promise<ScriptedPeer>((resolve) => (resolvePeer = resolve));
    const hostile = await startHostileServer((socket) => {
      const peer = new ScriptedPeer("server", socket, o.peer);
      o.setup?.(peer);
      resolvePeer(peer);
    });
    this.cleanups.push(() => hostile.close());
    const victim = this.victimClient(hostile.port, o.victim);
    const peer = await withTimeout(peerReady, 5000, "the hostile server to accept");
    return { peer, victim };
  }

  /** A raw client against our server. */
  async rawClient(server?: VictimServer): Promise<RawPair> {
    const s = server ?? (await this.server());
    const raw = await RawPeer.connect(s.port);
    this.cleanups.push(() => raw.end());
    const victim = await s.connectionFor(raw.socket.localPort!);
    return { raw, victim };
  }

  /** A raw hostile server against our client; `onConnect` runs as the connection is accepted. */
  async rawServer(
    onConnect: (raw: RawPeer) => void = () => {},
    victimOptions: ScriptedOptions = {},
  ): Promise<RawPair> {
    let resolveRaw!: (p: RawPeer) => void;
    const rawReady = new Promise<RawPeer>((resolve) => (resolveRaw = resolve));
    const hostile = await startHostileServer((socket) => {
      const raw = new RawPeer(socket);
      onConnect(raw);
      resolveRaw(raw);
    });
    this.cleanups.push(() => hostile.close());
    const victim = this.victimClient(hostile.port, victimOptions);
    const raw = await withTimeout(rawReady, 5000, "the hostile server to accept");
    return { raw, victim };
  }

  /** Our client Transport connecting to `port`. */
  victimClient(port: number, options: ScriptedOptions = {}): Victim {
    const socket = net.connect(port, "127.0.0.1");
    socket.on("error", () => {});
    this.cleanups.push(() => socket.destroy());
    const log: string[] = [];
    const transport = new Transport({
      verifyHostKey: () => true,
      ...options,
      role: "client",
      socket,
      log: (level, message) => log.push(`${level}: ${message}`),
    });
    return watchVictim(transport, log);
  }

  async close(): Promise<void> {
    for (const c of this.cleanups.splice(0).reverse()) await c();
  }
}

// ---- expectations --------------------------------------------------------------------------------------

/**
 * The victim ended the connection with an SshError of one of `codes` and logged an error line. Returns
 * the error.
 */
export async function expectRefusal(
  victim: Victim,
  codes: SshErrorCode | readonly SshErrorCode[],
  ms = 5000,
): Promise<SshError> {
  const err = await withTimeout(victim.closed, ms, "the victim to end the connection");
  const allowed = typeof codes === "string" ? [codes] : codes;
  assert.ok(err instanceof SshError, `expected the connection to end with an SshError, got ${String(err)}`);
  assert.ok(
    allowed.includes(err.code),
    `expected ${allowed.join(" or ")}, got ${err.code}: ${err.message}\n${victim.log.join("\n")}`,
  );
  assert.ok(
    victim.log.some((l) => l.startsWith("error: ")),
    `no error line in the victim's log:\n${victim.log.join("\n")}`,
  );
  assert.equal(victim.transport.isClosed, true);
  return err;
}

/** Resolves once the victim has emitted 'ready' (or fails if it ended first). */
export function victimReady(victim: Victim, ms = 10_000): Promise<void> {
  if (victim.ready) return Promise.resolve();
  return withTimeout(
    Promise.race([
      new Promise<void>((resolve) => victim.transport.once("ready", resolve)),
      victim.closed.then((e) => {
        throw new Error(`victim ended before kex: ${e?.message}\n${victim.log.join("\n")}`);
      }),
    ]),
    ms,
    "the victim's key exchange",
  );
}

/**
 * Bring both ends of a pair to the authenticated phase without an authentication layer: the client
 * asks for ssh-userauth, then the server side sends USERAUTH_SUCCESS.
 */
export async function authenticatePair(p: Pair): Promise<void> {
  const victimIsServer = p.victim.transport.role === "server";
  const client = victimIsServer ? p.peer.transport : p.victim.transport;
  const server = victimIsServer ? p.victim.transport : p.peer.transport;
  await withTimeout(client.requestService("ssh-userauth"), 5000, "the service request");
  server.send(Buffer.from([Msg.USERAUTH_SUCCESS]));
  await until(() => client.authenticated && server.authenticated, 5000, "both ends to be authenticated");
}

/** Resolves once the scripted peer's first key exchange is done. */
export function peerReady(peer: ScriptedPeer, ms = 10_000): Promise<void> {
  return withTimeout(
    Promise.race([
      new Promise<void>((resolve) => peer.transport.once("ready", resolve)),
      peer.closed.then((e) => {
        throw new Error(`scripted peer ended before kex: ${e?.message}\n${peer.log.join("\n")}`);
      }),
    ]),
    ms,
    "the scripted peer's key exchange",
  );
}
