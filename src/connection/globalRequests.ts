/**
 * Global requests (RFC 4254 §4): ours, with replies matched in order, and the peer's, answered in order
 * whatever order the handler decides them in. keepalive@openssh.com is refused (as OpenSSH answers it)
 * and no-more-sessions@openssh.com recorded (OpenSSH PROTOCOL §2.2); the forwarding requests
 * (RFC 4254 §7.1, OpenSSH PROTOCOL §2.4) are decoded for their handler.
 */
import type { LogLevel } from "../transport/index.js";
import { Msg, SshReader, SshWriter } from "../wire/index.js";
import { readCString, readPort } from "./channelTypes.js";
import { PendingReplies, ReplyQueue } from "./replyQueue.js";

/** tcpip-forward and cancel-tcpip-forward (RFC 4254 §7.1). */
export interface TcpipForwardRequest {
  kind: "tcpip-forward" | "cancel-tcpip-forward";
  address: string;
  port: number;
}

/** streamlocal-forward@openssh.com and its cancel (OpenSSH PROTOCOL §2.4). */
export interface StreamlocalForwardRequest {
  kind: "streamlocal-forward@openssh.com" | "cancel-streamlocal-forward@openssh.com";
  socketPath: string;
}

export type GlobalRequestInfo = TcpipForwardRequest | StreamlocalForwardRequest;

export interface GlobalReply {
  success: boolean;
  /** The response-specific data of REQUEST_SUCCESS (e.g. the bound port of tcpip-forward), else empty. */
  data: Buffer;
}

/**
 * Decides the peer's global request: true/false, or a Buffer to reply success with that data. `info` is
 * the decoded data of the requests above. Called for want-reply=false requests too (reply ignored).
 */
export type GlobalRequestHandler = (
  name: string,
  data: Buffer,
  wantReply: boolean,
  info?: GlobalRequestInfo,
) => Promise<boolean | Buffer> | boolean | Buffer;

export const KEEPALIVE_REQUEST = "keepalive@openssh.com";
export const NO_MORE_SESSIONS_REQUEST = "no-more-sessions@openssh.com";

/** Decode the data of a forwarding request; undefined for other names. Throws MALFORMED on bad data. */
export function decodeGlobalRequestInfo(name: string, data: Buffer): GlobalRequestInfo | undefined {
  const r = new SshReader(data);
  let info: GlobalRequestInfo;
  switch (name) {
    case "tcpip-forward":
    case "cancel-tcpip-forward":
      info = { kind: name, address: readCString(r, "address to bind"), port: readPort(r, "port to bind") };
      break;
    case "streamlocal-forward@openssh.com":
    case "cancel-streamlocal-forward@openssh.com":
      info = { kind: name, socketPath: readCString(r, "socket path") };
      break;
    default:
      return undefined;
  }
  r.done(`${name} request data`);
  return info;
}

export function encodeGlobalRequestInfo(info: GlobalRequestInfo): Buffer {
  const w = new SshWriter();
  if ("address" in info) w.string(info.address).uint32(info.port);
  else w.string(info.socketPath);
  return Buffer.from(w.toBuffer());
}

/** The REQUEST_SUCCESS data of a tcpip-forward that asked for port 0: the port bound (RFC 4254 §7.1). */
export function encodeTcpipForwardReply(port: number): Buffer {
  return Buffer.from(new SshWriter().uint32(port).toBuffer());
}

export class GlobalRequests {
  handler: GlobalRequestHandler = () => false;
  /** The peer sent no-more-sessions@openssh.com: any later "session" open from it ends the connection. */
  noMoreSessions = false;
  private readonly pending = new PendingReplies<GlobalReply>();
  private readonly replies: ReplyQueue<boolean | Buffer>;

  constructor(
    private readonly send: (payload: Buffer) => void,
    private readonly log: (level: LogLevel, message: string) => void,
  ) {
    this.replies = new ReplyQueue((value) => {
      if (value === false) return this.send(Buffer.from([Msg.REQUEST_FAILURE]));
      const data = value === true ? Buffer.alloc(0) : value;
      const msg = Buffer.allocUnsafe(1 + data.length);
      msg[0] = Msg.REQUEST_SUCCESS;
      data.copy(msg, 1);
      this.send(msg);
    });
  }

  /** Send a global request; with wantReply the promise settles on the peer's reply (RFC 4254 §4). */
  request(name: string, data: Buffer, wantReply: boolean): Promise<GlobalReply> {
    const msg = new SshWriter(16 + name.length + data.length)
      .byte(Msg.GLOBAL_REQUEST)
      .string(name)
      .boolean(wantReply)
      .raw(data);
    const reply = wantReply ? this.pending.add() : Promise.resolve({ success: true, data: Buffer.alloc(0) });
    this.send(Buffer.from(msg.toBuffer()));
    return reply;
  }

  onRequest(payload: Buffer): void {
    const r = new SshReader(payload, 1);
    const name = r.ascii(1024, "request name");
    const wantReply = r.boolean();
    const data = r.rest();
    this.log("debug1", `input_global_request: rtype ${name} want_reply ${wantReply ? 1 : 0}`);
    const reply = wantReply ? this.replies.reserve() : null;
    if (name === KEEPALIVE_REQUEST) return reply?.(false);
    if (name === NO_MORE_SESSIONS_REQUEST) {
      this.noMoreSessions = true;
      return reply?.(true);
    }
    const info = decodeGlobalRequestInfo(name, data);
    let result: ReturnType<GlobalRequestHandler>;
    try {
      result = this.handler(name, data, wantReply, info);
    } catch (err) {
      this.log("error", `global request ${name} handler failed: ${(err as Error).message}`);
      result = false;
    }
    if (!(result instanceof Promise)) return reply?.(result);
    result.then(
      (value) => reply?.(value),
      (err: unknown) => {
        this.log("error", `global request ${name} handler failed: ${(err as Error)?.message ?? err}`);
        reply?.(false);
      },
    );
  }

  onReply(type: number, payload: Buffer): void {
    if (type === Msg.REQUEST_SUCCESS) {
      return this.pending.settle({ success: true, data: payload.subarray(1) }, "REQUEST_SUCCESS");
    }
    new SshReader(payload, 1).done("REQUEST_FAILURE");
    this.pending.settle({ success: false, data: Buffer.alloc(0) }, "REQUEST_FAILURE");
  }

  /** The connection ended: pending requests fail, held replies are dropped. */
  close(err: Error): void {
    this.pending.failAll(() => err);
    this.replies.clear();
  }
}
