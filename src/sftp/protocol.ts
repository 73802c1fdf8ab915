/**
 * The SFTP version 3 wire protocol (draft-ietf-secsh-filexfer-02) as OpenSSH speaks it, with the
 * extensions of OpenSSH's PROTOCOL file ("sftp" sections): packet types, status codes, open flags,
 * the size limits, and the encoders and decoders both the client and the server use (the framing of a
 * byte stream into packets is in packetParser.ts).
 * A packet is uint32 length, byte type, then (for all but INIT and VERSION) uint32 request id.
 */
import { SshError, SshReader, SshWriter } from "../wire/index.js";
import { decodeAttrs, encodeAttrs, type SftpAttrs } from "./attrs.js";

export const SFTP_VERSION = 3;

/** Packet types (filexfer-02 §3). */
export const PacketType = {
  INIT: 1,
  VERSION: 2,
  OPEN: 3,
  CLOSE: 4,
  READ: 5,
  WRITE: 6,
  LSTAT: 7,
  FSTAT: 8,
  SETSTAT: 9,
  FSETSTAT: 10,
  OPENDIR: 11,
  READDIR: 12,
  REMOVE: 13,
  MKDIR: 14,
  RMDIR: 15,
  REALPATH: 16,
  STAT: 17,
  RENAME: 18,
  READLINK: 19,
  SYMLINK: 20,
  STATUS: 101,
  HANDLE: 102,
  DATA: 103,
  NAME: 104,
  ATTRS: 105,
  EXTENDED: 200,
  EXTENDED_REPLY: 201,
} as const;
export type PacketTypeCode = (typeof PacketType)[keyof typeof PacketType];

/** Status codes (filexfer-02 §7). */
export const StatusCode = {
  OK: 0,
  EOF: 1,
  NO_SUCH_FILE: 2,
  PERMISSION_DENIED: 3,
  FAILURE: 4,
  BAD_MESSAGE: 5,
  NO_CONNECTION: 6,
  CONNECTION_LOST: 7,
  OP_UNSUPPORTED: 8,
} as const;
export type StatusCodeValue = (typeof StatusCode)[keyof typeof StatusCode];

/** The messages OpenSSH's sftp-server puts in a STATUS (status_to_message in sftp-server.c). */
export const statusMessages: Record<number, string> = {
  0: "Success",
  1: "End of file",
  2: "No such file",
  3: "Permission denied",
  4: "Failure",
  5: "Bad message",
  6: "No connection",
  7: "Connection lost",
  8: "Operation unsupported",
};

/** SSH_FXF_* pflags of OPEN (filexfer-02 §6.3). */
export const OpenFlags = {
  READ: 0x01,
  WRITE: 0x02,
  APPEND: 0x04,
  CREAT: 0x08,
  TRUNC: 0x10,
  EXCL: 0x20,
} as const;

/** Extension names (OpenSSH PROTOCOL §4) and the version string each is advertised with. */
export const Extension = {
  POSIX_RENAME: "posix-rename@openssh.com",
  STATVFS: "statvfs@openssh.com",
  FSTATVFS: "fstatvfs@openssh.com",
  HARDLINK: "hardlink@openssh.com",
  FSYNC: "fsync@openssh.com",
  LSETSTAT: "lsetstat@openssh.com",
  LIMITS: "limits@openssh.com",
  EXPAND_PATH: "expand-path@openssh.com",
  COPY_DATA: "copy-data",
  HOME_DIRECTORY: "home-directory",
  USERS_GROUPS_BY_ID: "users-groups-by-id@openssh.com",
} as const;

/** What OpenSSH 9's sftp-server advertises in VERSION, in its order. */
export const serverExtensions: ReadonlyArray<readonly [string, string]> = [
  [Extension.POSIX_RENAME, "1"],
  [Extension.STATVFS, "2"],
  [Extension.FSTATVFS, "2"],
  [Extension.HARDLINK, "1"],
  [Extension.FSYNC, "1"],
  [Extension.LSETSTAT, "1"],
  [Extension.LIMITS, "1"],
  [Extension.EXPAND_PATH, "1"],
  [Extension.COPY_DATA, "1"],
  [Extension.HOME_DIRECTORY, "1"],
  [Extension.USERS_GROUPS_BY_ID, "1"],
];

/**
 * Sizes, as OpenSSH's sftp-server (sftp-common.h SFTP_MAX_MSG_LENGTH): a packet body is at most 256 KiB;
 * a READ answers at most 256 KiB - 1024 bytes whatever length was asked; a WRITE carries at most as much.
 */
export const MAX_PACKET_LENGTH = 256 * 1024;
export const MAX_READ_LENGTH = MAX_PACKET_LENGTH - 1024;
export const MAX_WRITE_LENGTH = MAX_PACKET_LENGTH - 1024;
/** The longest handle a peer may send (filexfer-02 §3: at most 256 bytes). */
export const MAX_HANDLE_LENGTH = 256;

/** Build one packet: length, type, then what `body` writes (the request id first, where there is one). */
export function encodePacket(type: number, body: (w: SshWriter) => void, sizeHint = 64): Buffer {
  const w = new SshWriter(sizeHint + 5);
  w.uint32(0).byte(type);
  body(w);
  const buf = w.toBuffer();
  buf.writeUInt32BE(buf.length - 4, 0);
  return buf;
}

// ---- INIT / VERSION ----

export interface VersionInfo {
  version: number;
  extensions: Map<string, string>;
}

export function encodeInit(version = SFTP_VERSION): Buffer {
  return encodePacket(PacketType.INIT, (w) => w.uint32(version));
}

export function encodeVersion(extensions: ReadonlyArray<readonly [string, string]>, version = SFTP_VERSION) {
  return encodePacket(PacketType.VERSION, (w) => {
    w.uint32(version);
    for (const [name, data] of extensions) w.string(name).string(data);
  });
}

/** Decode a VERSION payload (after the type byte). */
export function decodeVersion(payload: Buffer): VersionInfo {
  const r = new SshReader(payload);
  const version = r.uint32();
  const extensions = new Map<string, string>();
  while (r.remaining > 0 && extensions.size < 256) {
    const name = r.string(1024, "extension name").toString("utf8");
    const data = r.string(64 * 1024, "extension data").toString("utf8");
    extensions.set(name, data);
  }
  return { version, extensions };
}

// ---- replies ----

export function encodeStatus(id: number, code: number, message?: string, language = ""): Buffer {
  const msg = message ?? statusMessages[code] ?? "Unknown error";
  return encodePacket(PacketType.STATUS, (w) => w.uint32(id).uint32(code).string(msg).string(language));
}

export interface StatusReply {
  code: number;
  message: string;
  language: string;
}

/** Decode a STATUS body after the id; message and language are optional for old servers. */
export function decodeStatusBody(r: SshReader): StatusReply {
  const code = r.uint32();
  const message = r.remaining >= 4 ? r.string(64 * 1024, "status message").toString("utf8") : "";
  const language = r.remaining >= 4 ? r.string(1024, "language tag").toString("utf8") : "";
  return { code, message, language };
}

export function encodeHandle(id: number, handle: Buffer): Buffer {
  return encodePacket(PacketType.HANDLE, (w) => w.uint32(id).string(handle));
}

/** DATA: the header only, so that the caller can send the data itself without copying it into the packet. */
export function encodeDataHeader(id: number, dataLength: number): Buffer {
  const h = Buffer.allocUnsafe(13);
  h.writeUInt32BE(9 + dataLength, 0);
  h[4] = PacketType.DATA;
  h.writeUInt32BE(id >>> 0, 5);
  h.writeUInt32BE(dataLength, 9);
  return h;
}

export interface SftpName {
  filename: string;
  longname: string;
  attrs: SftpAttrs;
}

export function encodeName(id: number, names: readonly SftpName[]): Buffer {
  return encodePacket(
    PacketType.NAME,
    (w) => {
      w.uint32(id).uint32(names.length);
      for (const n of names) encodeAttrs(w.string(n.filename).string(n.longname), n.attrs);
    },
    names.length * 128,
  );
}

/** Decode a NAME body after the id. */
export function decodeNameBody(r: SshReader): SftpName[] {
  const count = r.uint32();
  // Every entry takes at least 12 bytes: a count beyond that is a lie, not an allocation to make.
  if (count > r.remaining / 12) throw new SshError("MALFORMED", `NAME count ${count} exceeds the packet`);
  const names: SftpName[] = [];
  for (let i = 0; i < count; i++) {
    const filename = r.string(MAX_PACKET_LENGTH, "filename").toString("utf8");
    const longname = r.string(MAX_PACKET_LENGTH, "longname").toString("utf8");
    names.push({ filename, longname, attrs: decodeAttrs(r) });
  }
  return names;
}

export function encodeAttrsReply(id: number, attrs: SftpAttrs): Buffer {
  return encodePacket(PacketType.ATTRS, (w) => encodeAttrs(w.uint32(id), attrs));
}

export function encodeExtendedReply(id: number, body: (w: SshWriter) => void): Buffer {
  return encodePacket(PacketType.EXTENDED_REPLY, (w) => {
    w.uint32(id);
    body(w);
  });
}

// ---- extension payloads ----

/** statvfs@openssh.com reply fields (OpenSSH PROTOCOL §4.4), all uint64 on the wire. */
export interface SftpStatvfs {
  bsize: number;
  frsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  favail: number;
  fsid: number;
  flag: number;
  namemax: number;
}

/** f_flag bits of statvfs@openssh.com. */
export const StatvfsFlags = { RDONLY: 0x1, NOSUID: 0x2 } as const;

const statvfsFields = [
  "bsize",
  "frsize",
  "blocks",
  "bfree",
  "bavail",
  "files",
  "ffree",
  "favail",
  "fsid",
  "flag",
  "namemax",
] as const;

export function encodeStatvfsBody(w: SshWriter, s: SftpStatvfs): void {
  for (const f of statvfsFields) w.uint64(BigInt(Math.max(0, Math.trunc(s[f]))));
}

export function decodeStatvfsBody(r: SshReader): SftpStatvfs {
  const out = {} as SftpStatvfs;
  for (const f of statvfsFields) out[f] = Number(r.uint64());
  return out;
}

/** limits@openssh.com reply (OpenSSH PROTOCOL §4.8); 0 means "no limit known". */
export interface SftpLimits {
  maxPacketLength: number;
  maxReadLength: number;
  maxWriteLength: number;
  maxOpenHandles: number;
}

export function encodeLimitsBody(w: SshWriter, l: SftpLimits): void {
  w.uint64(BigInt(l.maxPacketLength))
    .uint64(BigInt(l.maxReadLength))
    .uint64(BigInt(l.maxWriteLength))
    .uint64(BigInt(l.maxOpenHandles));
}

export function decodeLimitsBody(r: SshReader): SftpLimits {
  return {
    maxPacketLength: Number(r.uint64()),
    maxReadLength: Number(r.uint64()),
    maxWriteLength: Number(r.uint64()),
    maxOpenHandles: Number(r.uint64()),
  };
}

/** users-groups-by-id@openssh.com request: two strings, each packed uint32 ids. */
export function encodeIdList(ids: readonly number[]): Buffer {
  const b = Buffer.allocUnsafe(ids.length * 4);
  ids.forEach((id, i) => b.writeUInt32BE(id >>> 0, i * 4));
  return b;
}

export function decodeIdList(b: Buffer): number[] {
  if (b.length % 4 !== 0) throw new SshError("MALFORMED", "id list length is not a multiple of 4");
  const ids: number[] = [];
  for (let i = 0; i < b.length; i += 4) ids.push(b.readUInt32BE(i));
  return ids;
}

/** users-groups-by-id@openssh.com reply: a string holding packed strings (empty for unknown ids). */
export function encodeNameList(names: readonly string[]): Buffer {
  const w = new SshWriter();
  for (const n of names) w.string(n);
  return Buffer.from(w.toBuffer());
}

export function decodeNameListBody(b: Buffer): string[] {
  const r = new SshReader(b);
  const names: string[] = [];
  while (r.remaining > 0) names.push(r.string(64 * 1024, "name").toString("utf8"));
  return names;
}

/** The request names sftp-server -Q requests prints, which -P/-p take (sftp-server.c handlers[]). */
export const requestNames: Record<number, string> = {
  [PacketType.OPEN]: "open",
  [PacketType.CLOSE]: "close",
  [PacketType.READ]: "read",
  [PacketType.WRITE]: "write",
  [PacketType.LSTAT]: "lstat",
  [PacketType.FSTAT]: "fstat",
  [PacketType.SETSTAT]: "setstat",
  [PacketType.FSETSTAT]: "fsetstat",
  [PacketType.OPENDIR]: "opendir",
  [PacketType.READDIR]: "readdir",
  [PacketType.REMOVE]: "remove",
  [PacketType.MKDIR]: "mkdir",
  [PacketType.RMDIR]: "rmdir",
  [PacketType.REALPATH]: "realpath",
  [PacketType.STAT]: "stat",
  [PacketType.RENAME]: "rename",
  [PacketType.READLINK]: "readlink",
  [PacketType.SYMLINK]: "symlink",
};

/** Extension request names as -P/-p know them (OpenSSH's extended_handlers[] names). */
export const extensionRequestNames: Record<string, string> = {
  [Extension.POSIX_RENAME]: "posix-rename",
  [Extension.STATVFS]: "statvfs",
  [Extension.FSTATVFS]: "fstatvfs",
  [Extension.HARDLINK]: "hardlink",
  [Extension.FSYNC]: "fsync",
  [Extension.LSETSTAT]: "lsetstat",
  [Extension.LIMITS]: "limits",
  [Extension.EXPAND_PATH]: "expand-path",
  [Extension.COPY_DATA]: "copy-data",
  [Extension.HOME_DIRECTORY]: "home-directory",
  [Extension.USERS_GROUPS_BY_ID]: "users-groups-by-id",
};

export const allRequestNames: readonly string[] = [
  ...Object.values(requestNames),
  ...Object.values(extensionRequestNames),
];
