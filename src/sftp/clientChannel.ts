/**
 * The SFTP client's channel (draft-ietf-secsh-filexfer-02 §3-4): packets framed on any pair of byte
 * streams, INIT/VERSION, request ids matched to replies so any number may be in flight, a bound on every
 * incoming packet, and the helpers that turn a STATUS into a typed SftpError. The API is in client.ts.
 */
import type { Readable, Writable } from "node:stream";
import { SshError, SshReader, SshWriter } from "../wire/index.js";
import { FXP, SftpError, SftpStatus, type SftpStatusCode } from "./clientErrors.js";
import { SftpPacketParser, type SftpPacket } from "./packetParser.js";
import { decodeLimitsBody, decodeVersion, type SftpLimits } from "./protocol.js";

/** Bound on one incoming packet: OpenSSH's SFTP_MAX_MSG_LENGTH is 256 KiB; leave room for headers. */
export const MAX_INCOMING_PACKET = 512 * 1024;
/** Default READ/WRITE length without limits@openssh.com (what every v3 server accepts). */
export const DEFAULT_BLOCK_SIZE = 32 * 1024;
/** The largest block we ask for even when limits allow more: 255 KiB, as OpenSSH's sftp does. */
export const MAX_BLOCK_SIZE = 255 * 1024;

/** Where a reply goes: a request's promise, or a bulk transfer's callbacks (no promise per block). */
export interface Pending {
  resolve: (r: Reply) => void;
  reject: (e: Error) => void;
}

/**
 * A reply: a reader over its body after the id, its type, and for a DATA reply whose bytes came in
 * several chunks, those bytes as slices (the reader then ends with the data's length; see SftpPacket).
 */
export type Reply = SshReader & { type: number; data?: Buffer[] };

export class SftpChannel {
  /** The server's protocol version (3 from every server we speak to). */
  version = 0;
  /** Extensions the server advertised in SSH_FXP_VERSION, name to version string. */
  readonly extensions = new Map<string, string>();
  limits: SftpLimits | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly parser = new SftpPacketParser(MAX_INCOMING_PACKET, true);
  protected failure: Error | null = null;
  private readonly ready: Promise<void>;
  protected closed = false;
  private versionReceived = false;
  private readonly closeListeners: Array<(err: Error | null) => void> = [];

  constructor(
    protected readonly input: Readable,
    protected readonly output: Writable,
  ) {
    this.ready = new Promise<void>((resolve, reject) => {
      this.pending.set(0, {
        resolve: (r) => {
          try {
            this.readVersion(r);
            this.versionReceived = true;
            resolve();
          } catch (err) {
            reject(err as Error);
          }
        },
        reject,
      });
    });
    this.ready.catch(() => {}); // reported to whichever request awaits it
    input.on("data", (d: Buffer) => this.onData(d));
    input.once("end", () => this.fail(new SshError("CONNECTION_LOST", "Connection closed")));
    input.once("close", () => this.fail(new SshError("CONNECTION_LOST", "Connection closed")));
    input.once("error", (err) =>
      this.fail(new SshError("CONNECTION_LOST", `Connection lost: ${err.message}`)),
    );
    output.on("error", (err) =>
      this.fail(new SshError("CONNECTION_LOST", `Connection lost: ${err.message}`)),
    );
    // SSH_FXP_INIT with version 3 (filexfer-02 §4).
    this.output.write(this.framed(new SshWriter(9).uint32(0).byte(FXP.INIT).uint32(3)));
  }

  /** Resolves once the server's VERSION has arrived (and limits@openssh.com has been asked, if offered). */
  async init(): Promise<this> {
    await this.ready;
    if (this.limits === null && this.extensions.has("limits@openssh.com")) {
      this.limits = decodeLimitsBody(await this.extended("limits@openssh.com", new SshWriter(0)));
    }
    return this;
  }

  /** READ/WRITE length for transfers: limits@openssh.com's answer capped at 255 KiB, else 32 KiB. */
  blockSize(kind: "read" | "write"): number {
    const l = this.limits;
    if (!l) return DEFAULT_BLOCK_SIZE;
    const n = kind === "read" ? l.maxReadLength : l.maxWriteLength;
    // A write request carries ~40 bytes of header around its data, within maxPacketLength.
    const byPacket = l.maxPacketLength > 1024 ? l.maxPacketLength - 1024 : MAX_BLOCK_SIZE;
    return Math.max(1024, Math.min(MAX_BLOCK_SIZE, n || MAX_BLOCK_SIZE, byPacket));
  }

  onClose(listener: (err: Error | null) => void): void {
    this.closeListeners.push(listener);
  }

  /**
   * End the session: close our side of the stream (outstanding requests fail) and resolve when the
   * server's side has closed too.
   */
  end(): Promise<void> {
    const closed =
      this.input.readableEnded || this.input.destroyed
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            this.input.once("close", () => resolve());
            this.input.once("end", () => resolve());
            this.input.resume();
          });
    if (!this.closed) {
      this.output.end();
      this.fail(new SshError("CHANNEL_CLOSED", "SFTP session closed"));
    }
    return closed;
  }

  private readVersion(r: Reply): void {
    if (r.type !== FXP.VERSION)
      throw new SshError("PROTOCOL", `SFTP server sent packet type ${r.type} first`);
    const { version, extensions } = decodeVersion(r.rest());
    this.version = version;
    for (const [name, data] of extensions) this.extensions.set(name, data);
  }

  private fail(err: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.failure = err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    for (const l of this.closeListeners) l(err.message === "SFTP session closed" ? null : err);
  }

  private onData(d: Buffer): void {
    let packets: SftpPacket[];
    try {
      packets = this.parser.push(d);
    } catch (err) {
      // A length over the bound or of zero: the stream cannot be framed any more.
      this.fail(new SshError("MALFORMED", (err as Error).message));
      this.input.destroy();
      return;
    }
    for (const packet of packets) this.dispatch(packet);
  }

  private dispatch({ type, payload, data }: SftpPacket): void {
    if (this.closed) return;
    const r = new SshReader(payload) as Reply;
    r.type = type;
    if (data) r.data = data;
    let id = 0;
    if (type !== FXP.VERSION) {
      if (payload.length < 4) return this.fail(new SshError("MALFORMED", "SFTP reply without an id"));
      id = r.uint32();
    }
    const p = this.pending.get(id);
    if (!p) {
      this.fail(new SshError("PROTOCOL", `SFTP reply to unknown request ${id}`));
      this.input.destroy();
      return;
    }
    this.pending.delete(id);
    p.resolve(r);
  }

  /**
   * The packet `w` holds, its length filled in: every packet is built after a 4-byte placeholder, so no
   * copy is made to prepend the length.
   */
  private framed(w: SshWriter): Buffer {
    const packet = w.toBuffer();
    packet.writeUInt32BE(packet.length - 4, 0);
    return packet;
  }

  /** Send a request (type byte, then id, then `body`) and wait for its reply. */
  async request(type: number, body: (w: SshWriter) => void, sizeHint = 64): Promise<Reply> {
    await this.ready;
    // Room for the length, type, id and a request's fixed fields, so a WRITE is never reallocated.
    const w = new SshWriter(sizeHint + 48).uint32(0).byte(type).uint32(0);
    // The body first: one that throws (a field out of range) must leave no request waiting for a reply.
    body(w);
    const packet = this.framed(w);
    let pending!: Pending;
    const reply = new Promise<Reply>((resolve, reject) => (pending = { resolve, reject }));
    packet.writeUInt32BE(this.registerRequest(pending), 5);
    this.output.write(packet);
    return reply;
  }

  /**
   * For requests the caller frames itself, several to a buffer (a transfer refilling its pipeline): an id
   * whose reply goes to `pending`. The session must be initialized (init() resolved) and open; after
   * registering, the caller must send the request with sendFramed() in the same tick.
   */
  registerRequest(pending: Pending): number {
    if (this.failure) throw this.failure;
    if (!this.versionReceived) throw new SshError("PROTOCOL", "SFTP request before the server's VERSION");
    const id = this.nextId;
    this.nextId = (this.nextId + 1) >>> 0 || 1;
    this.pending.set(id, pending);
    return id;
  }

  /** Send bytes holding whole requests registered with registerRequest(). */
  sendFramed(packets: Buffer): void {
    this.output.write(packets);
  }

  /** True when writing more would only queue in memory: callers pipelining many requests wait for drain. */
  get needsDrain(): boolean {
    return this.output.writableNeedDrain;
  }

  waitDrain(): Promise<void> {
    if (!this.output.writableNeedDrain || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.output.off("drain", done);
        this.output.off("close", done);
        resolve();
      };
      this.output.once("drain", done);
      this.output.once("close", done);
    });
  }

  /** The reply must be a STATUS OK. */
  protected expectOk(r: Reply, what: string, path?: string): void {
    if (r.type !== FXP.STATUS) throw unexpected(r, what);
    const code = r.uint32() as SftpStatusCode;
    if (code === SftpStatus.OK) return;
    throw statusError(r, code, what, path);
  }

  protected expectType(r: Reply, type: number, what: string, path?: string): void {
    if (r.type === type) return;
    if (r.type === FXP.STATUS) throw statusError(r, r.uint32() as SftpStatusCode, what, path);
    throw unexpected(r, what);
  }

  protected async pathRequest(type: number, path: string): Promise<Reply> {
    return this.request(type, (w) => w.string(path), path.length);
  }

  async extended(name: string, body: SshWriter): Promise<Reply> {
    const data = body.toBuffer();
    const r = await this.request(FXP.EXTENDED, (w) => w.string(name).raw(data), data.length + name.length);
    if (r.type === FXP.EXTENDED_REPLY || r.type === FXP.NAME) return r;
    if (r.type === FXP.STATUS) {
      const code = r.uint32() as SftpStatusCode;
      if (code === SftpStatus.OK) return r;
      throw statusError(r, code, name);
    }
    throw unexpected(r, name);
  }

  protected async extendedOk(name: string, body: SshWriter, path?: string): Promise<void> {
    if (!this.extensions.has(name)) {
      throw new SftpError(SftpStatus.OP_UNSUPPORTED, `Server does not support the ${name} extension`, path);
    }
    const data = body.toBuffer();
    const r = await this.request(FXP.EXTENDED, (w) => w.string(name).raw(data), data.length + name.length);
    this.expectOk(r, name, path);
  }
}

export function unexpected(r: Reply, what: string): SshError {
  return new SshError("PROTOCOL", `${what}: unexpected SFTP reply type ${r.type}`);
}

export function statusError(r: Reply, code: SftpStatusCode, what: string, path?: string): SftpError {
  let message = "";
  try {
    if (r.remaining >= 4) message = r.string(4096, "status message").toString("utf8");
  } catch {
    message = ""; // a short status (some v3 servers omit the message) still has its code
  }
  return new SftpError(code, message, path, what);
}
