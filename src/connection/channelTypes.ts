/**
 * The type-specific data of CHANNEL_OPEN for the channel types the forwarding layers use, decoded into
 * plain objects (and encoded for our own opens): direct-tcpip and forwarded-tcpip (RFC 4254 §7.2), x11
 * (RFC 4254 §6.3.2), direct-streamlocal@openssh.com and forwarded-streamlocal@openssh.com (OpenSSH
 * PROTOCOL §2.4). The multiplexer hands the decoded object to the open handler as `info`; it needs no
 * change when the forwarding layers arrive.
 */
import { SshError, SshReader, SshWriter } from "../wire/index.js";

/** SSH_MSG_CHANNEL_OPEN_FAILURE reason codes, RFC 4254 §5.1. */
export const ChannelOpenFailure = {
  ADMINISTRATIVELY_PROHIBITED: 1,
  CONNECT_FAILED: 2,
  UNKNOWN_CHANNEL_TYPE: 3,
  RESOURCE_SHORTAGE: 4,
} as const;

/** The reason texts OpenSSH prints for the codes above ("open failed: connect failed: ..."). */
export function channelOpenFailureText(reason: number): string {
  switch (reason) {
    case 1:
      return "administratively prohibited";
    case 2:
      return "connect failed";
    case 3:
      return "unknown channel type";
    case 4:
      return "resource shortage";
    default:
      return `unknown reason ${reason}`;
  }
}

/** direct-tcpip (RFC 4254 §7.2): the client asks the server to connect to host:port. */
export interface DirectTcpipInfo {
  kind: "direct-tcpip";
  host: string;
  port: number;
  originatorAddress: string;
  originatorPort: number;
}

/** forwarded-tcpip (RFC 4254 §7.2): a connection arrived on a port forwarded with tcpip-forward. */
export interface ForwardedTcpipInfo {
  kind: "forwarded-tcpip";
  connectedAddress: string;
  connectedPort: number;
  originatorAddress: string;
  originatorPort: number;
}

/** x11 (RFC 4254 §6.3.2). */
export interface X11Info {
  kind: "x11";
  originatorAddress: string;
  originatorPort: number;
}

/** direct-streamlocal@openssh.com and forwarded-streamlocal@openssh.com (OpenSSH PROTOCOL §2.4). */
export interface StreamlocalInfo {
  kind: "direct-streamlocal@openssh.com" | "forwarded-streamlocal@openssh.com";
  socketPath: string;
}

export type ChannelOpenInfo = DirectTcpipInfo | ForwardedTcpipInfo | X11Info | StreamlocalInfo;

/** A string without NUL bytes, as OpenSSH's sshpkt_get_cstring requires of host names and paths. */
export function readCString(r: SshReader, what: string, max = 4096): string {
  const s = r.utf8(max, what);
  if (s.includes("\0")) throw new SshError("MALFORMED", `${what} holds a NUL byte`);
  return s;
}

export function readPort(r: SshReader, what: string): number {
  const port = r.uint32();
  if (port > 0xffff) throw new SshError("MALFORMED", `${what} ${port} is out of range`);
  return port;
}

/**
 * Decode the type-specific data of a CHANNEL_OPEN of a known type; undefined for other types (their
 * handlers read `data` themselves). Throws SshError("MALFORMED") on a short, long or bad field.
 */
export function decodeChannelOpenInfo(type: string, data: Buffer): ChannelOpenInfo | undefined {
  const r = new SshReader(data);
  let info: ChannelOpenInfo;
  switch (type) {
    case "direct-tcpip":
      info = {
        kind: type,
        host: readCString(r, "host to connect"),
        port: readPort(r, "port to connect"),
        originatorAddress: readCString(r, "originator address"),
        originatorPort: readPort(r, "originator port"),
      };
      break;
    case "forwarded-tcpip":
      info = {
        kind: type,
        connectedAddress: readCString(r, "connected address"),
        connectedPort: readPort(r, "connected port"),
        originatorAddress: readCString(r, "originator address"),
        originatorPort: readPort(r, "originator port"),
      };
      break;
    case "x11":
      info = {
        kind: type,
        originatorAddress: readCString(r, "originator address"),
        originatorPort: readPort(r, "originator port"),
      };
      break;
    case "direct-streamlocal@openssh.com":
      info = { kind: type, socketPath: readCString(r, "socket path") };
      r.string(4096, "reserved string");
      r.uint32();
      break;
    case "forwarded-streamlocal@openssh.com":
      info = { kind: type, socketPath: readCString(r, "socket path") };
      r.string(4096, "reserved string");
      break;
    default:
      return undefined;
  }
  r.done(`${type} open data`);
  return info;
}

/** The type-specific data for opening a channel of `info.kind` (the inverse of decodeChannelOpenInfo). */
export function encodeChannelOpenInfo(info: ChannelOpenInfo): Buffer {
  const w = new SshWriter();
  switch (info.kind) {
    case "direct-tcpip":
      w.string(info.host).uint32(info.port).string(info.originatorAddress).uint32(info.originatorPort);
      break;
    case "forwarded-tcpip":
      w.string(info.connectedAddress).uint32(info.connectedPort);
      w.string(info.originatorAddress).uint32(info.originatorPort);
      break;
    case "x11":
      w.string(info.originatorAddress).uint32(info.originatorPort);
      break;
    case "direct-streamlocal@openssh.com":
      w.string(info.socketPath).string("").uint32(0);
      break;
    case "forwarded-streamlocal@openssh.com":
      w.string(info.socketPath).string("");
      break;
  }
  return Buffer.from(w.toBuffer());
}
