/**
 * What nsshd's processes say to each other beyond the authentication questions (authRelay.ts): the
 * monitor's configuration and connections for workers, a worker's claim that a user logged in (with the
 * transport state to go on with), and what session processes are given. Messages from workers and session
 * processes are checked field by field (schema.ts); the monitor's own messages are trusted by its children.
 */
import type { TransportHandoff, TransportLogger } from "../../transport/index.js";
import type { SshError } from "../../wire/index.js";
import { sshdTransportLine } from "../connectionLog.js";
import type { IpcPeer } from "./ipc.js";
import { bool, bytes, list, object, oneOf, optional, str, uint, type Check } from "./schema.js";

export const conn = uint(2 ** 31);

/** A message from the monitor: its children take it as it is. */
export const trusted =
  <T>(): Check<T> =>
  (v) =>
    v as T;

export interface ConnectionInfo {
  remoteAddress: string;
  remotePort: number;
  localAddress: string;
  localPort: number;
}

/** The transport settings of a configuration generation, for workers and session processes. */
export interface TransportSettings {
  kex: string[];
  ciphers: string[];
  macs: string[];
  hostKeyAlgorithms: string[];
  compression?: string[];
  rekeyLimit?: { bytes?: number; seconds?: number };
  /** The public halves of the host keys, by the index the monitor signs with. */
  hostKeys: Buffer[];
}

/** Per-connection options of the library server a worker applies (after Match for the address). */
export interface PreauthSettings {
  maxAuthTries: number;
  publicKeyAlgorithms: string[];
  loginGraceTime: number;
  authenticationMethods?: string[][];
  banner?: string;
}

const protection = object({
  cipher: str(64),
  mac: (v, path) => (v === null ? null : str(64)(v, path)),
  key: bytes(64),
  iv: bytes(16),
  macKey: (v, path) => (v === null ? null : bytes(64)(v, path)),
});
const direction = object({ seq: uint(0xffffffff), bytes: uint(2 ** 53), packets: uint(2 ** 53), protection });
const name = str(64);

/** A worker's hand-off, as hostile as anything it sends: every field bounded. */
export const transportHandoff: Check<TransportHandoff> = object({
  localVersion: str(255),
  peerVersion: str(255),
  sessionId: bytes(64),
  negotiated: object({
    kex: name,
    hostKey: name,
    cipherC2S: name,
    cipherS2C: name,
    macC2S: (v, path) => (v === null ? null : name(v, path)),
    macS2C: (v, path) => (v === null ? null : name(v, path)),
    compressionC2S: name,
    compressionS2C: name,
  }),
  hostKeyBlob: bytes(16 * 1024),
  strictKex: bool,
  peerExtensions: list((v, path) => {
    if (!Array.isArray(v) || v.length !== 2) throw new Error(`${path}: not a pair`);
    return [str(64)(v[0], `${path}[0]`), bytes(4096)(v[1], `${path}[1]`)] as const;
  }, 32),
  incoming: direction,
  outgoing: direction,
  pendingInput: bytes(512 * 1024),
});

/** A worker says: this user authenticated on this connection; here is its state (the socket comes along). */
export const loginClaim = object({
  conn,
  username: str(256),
  methods: list(str(64), 16),
  handoff: transportHandoff,
});

export const LOG_LEVELS = ["error", "info", "verbose", "debug1", "debug2", "debug3"] as const;

/** A log line of a child, for one connection or for the process itself. */
export const logLine = object({ conn: optional(conn), level: oneOf(...LOG_LEVELS), message: str(8192) });

/** A pre-auth connection ended without a login (or a session process's connection ended). */
export const connectionClosed = object({ conn, reason: optional(str(1024)), disconnected: optional(bool) });

/** The requests a child may send as one-way notes (IpcPeer's `notes`): log lines and connection ends. */
export const CHILD_NOTES: readonly string[] = ["log", "closed"];

/**
 * A child tells the monitor that one of its connections ended (and how), as a note: an answer would
 * tell the child nothing it acts on, and was one IPC message more per login.
 */
export function reportClosed(peer: IpcPeer, conn: number, err: SshError | null): void {
  peer.notify("closed", {
    conn,
    ...(err ? { reason: err.message.slice(0, 1024) } : {}),
    disconnected: err?.code === "DISCONNECTED",
  });
}

/**
 * A child tells the monitor it listens (the monitor's ChildHandle.ready). The request fails only when the
 * monitor is already gone (it stopped while this process started): nothing to serve, so the child ends.
 */
export function announceReady(peer: IpcPeer): void {
  peer.request("ready", {}, trusted()).catch(() => process.exit(0));
}

/**
 * A child's log for one connection's transport: its lines go to the monitor, a failure worded as sshd
 * words it here, where its type is known (the monitor gets the line only).
 */
export function connectionTransportLog(peer: IpcPeer, conn: number, info: ConnectionInfo): TransportLogger {
  const who = `${info.remoteAddress} port ${info.remotePort}`;
  return (level, message, cause) => {
    const line = sshdTransportLine(level, message, who, cause);
    peer.log(line.level, line.message, conn);
  };
}
