/**
 * SFTP file attributes (draft-ietf-secsh-filexfer-02 §5, the ATTRS of version 3): their encoding, the
 * file-type bits of st_mode, and the `ls -l` line that READDIR puts in a name's longname field, formatted
 * as OpenSSH's ls_file() does (sftp-common.c), so that `sftp`'s `ls -l` looks the same against our server.
 */
import { SshError, SshReader, SshWriter } from "../wire/index.js";

/** ATTRS flags (filexfer-02 §5). */
export const AttrFlags = {
  SIZE: 0x00000001,
  UIDGID: 0x00000002,
  PERMISSIONS: 0x00000004,
  ACMODTIME: 0x00000008,
  EXTENDED: 0x80000000,
} as const;

/** The file-type bits of st_mode, as POSIX and the protocol's permissions field carry them. */
export const FileType = {
  MASK: 0o170000,
  SOCKET: 0o140000,
  SYMLINK: 0o120000,
  REGULAR: 0o100000,
  BLOCK_DEVICE: 0o060000,
  DIRECTORY: 0o040000,
  CHAR_DEVICE: 0o020000,
  FIFO: 0o010000,
} as const;

/**
 * What an ATTRS carries; an absent field was not sent (its flag is clear). Sizes are numbers: files past
 * 2^53 bytes are not a practical concern, and a larger value is refused when decoded.
 */
export interface SftpAttrs {
  size?: number;
  uid?: number;
  gid?: number;
  /** st_mode: permission bits and, from servers that send them (OpenSSH does), the file-type bits. */
  mode?: number;
  /** Seconds since the epoch; atime and mtime travel together (ACMODTIME). */
  atime?: number;
  mtime?: number;
  /** Vendor extensions (type, data) pairs. */
  extended?: Array<{ type: string; data: Buffer }>;
}

/** The most extended pairs a decoder accepts in one ATTRS: a peer must not make us build a huge list. */
const MAX_EXTENDED_ATTRS = 64;

function uint64Number(r: SshReader, what: string): number {
  const v = r.uint64();
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new SshError("MALFORMED", `${what} ${v} is too large`);
  return Number(v);
}

/** Decode an ATTRS at the reader's position. */
export function decodeAttrs(r: SshReader): SftpAttrs {
  const flags = r.uint32();
  const attrs: SftpAttrs = {};
  if (flags & AttrFlags.SIZE) attrs.size = uint64Number(r, "size");
  if (flags & AttrFlags.UIDGID) {
    attrs.uid = r.uint32();
    attrs.gid = r.uint32();
  }
  if (flags & AttrFlags.PERMISSIONS) attrs.mode = r.uint32();
  if (flags & AttrFlags.ACMODTIME) {
    attrs.atime = r.uint32();
    attrs.mtime = r.uint32();
  }
  if (flags & AttrFlags.EXTENDED) {
    const count = r.uint32();
    if (count > MAX_EXTENDED_ATTRS) throw new SshError("MALFORMED", `${count} extended attributes`);
    attrs.extended = [];
    for (let i = 0; i < count; i++) {
      const type = r.string(1024, "extended attribute type").toString("utf8");
      const data = Buffer.from(r.string(64 * 1024, "extended attribute data"));
      attrs.extended.push({ type, data });
    }
  }
  return attrs;
}

/** Encode an ATTRS: each field present sets its flag; atime and mtime go together (a missing one as 0). */
export function encodeAttrs(w: SshWriter, attrs: SftpAttrs): SshWriter {
  let flags = 0;
  if (attrs.size !== undefined) flags |= AttrFlags.SIZE;
  if (attrs.uid !== undefined && attrs.gid !== undefined) flags |= AttrFlags.UIDGID;
  if (attrs.mode !== undefined) flags |= AttrFlags.PERMISSIONS;
  if (attrs.atime !== undefined || attrs.mtime !== undefined) flags |= AttrFlags.ACMODTIME;
  if (attrs.extended && attrs.extended.length > 0) flags |= AttrFlags.EXTENDED;
  w.uint32(flags);
  if (flags & AttrFlags.SIZE) w.uint64(BigInt(Math.max(0, Math.trunc(attrs.size!))));
  if (flags & AttrFlags.UIDGID) w.uint32(attrs.uid!).uint32(attrs.gid!);
  if (flags & AttrFlags.PERMISSIONS) w.uint32(attrs.mode!);
  if (flags & AttrFlags.ACMODTIME) {
    w.uint32(clampUint32(attrs.atime ?? attrs.mtime ?? 0));
    w.uint32(clampUint32(attrs.mtime ?? attrs.atime ?? 0));
  }
  if (flags & AttrFlags.EXTENDED) {
    w.uint32(attrs.extended!.length);
    for (const e of attrs.extended!) w.string(e.type).string(e.data);
  }
  return w;
}

function clampUint32(v: number): number {
  return Math.min(0xffffffff, Math.max(0, Math.floor(v)));
}

export function isDirectoryMode(mode: number | undefined): boolean {
  return mode !== undefined && (mode & FileType.MASK) === FileType.DIRECTORY;
}

export function isRegularMode(mode: number | undefined): boolean {
  return mode !== undefined && (mode & FileType.MASK) === FileType.REGULAR;
}

export function isSymlinkMode(mode: number | undefined): boolean {
  return mode !== undefined && (mode & FileType.MASK) === FileType.SYMLINK;
}

/** The 10-character mode column of `ls -l` (strmode(3) without its trailing space), e.g. "drwxr-xr-x". */
export function modeString(mode: number): string {
  const typeChar: Record<number, string> = {
    [FileType.DIRECTORY]: "d",
    [FileType.CHAR_DEVICE]: "c",
    [FileType.BLOCK_DEVICE]: "b",
    [FileType.REGULAR]: "-",
    [FileType.SYMLINK]: "l",
    [FileType.SOCKET]: "s",
    [FileType.FIFO]: "p",
  };
  const t = typeChar[mode & FileType.MASK] ?? "?";
  const rwx = (bits: number, special: boolean, setChar: string): string => {
    const r = bits & 4 ? "r" : "-";
    const w = bits & 2 ? "w" : "-";
    let x = bits & 1 ? "x" : "-";
    if (special) x = bits & 1 ? setChar : setChar.toUpperCase();
    return r + w + x;
  };
  return (
    t +
    rwx((mode >> 6) & 7, (mode & 0o4000) !== 0, "s") +
    rwx((mode >> 3) & 7, (mode & 0o2000) !== 0, "s") +
    rwx(mode & 7, (mode & 0o1000) !== 0, "t")
  );
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/**
 * The time column of `ls -l` as ls_file() formats it in local time: "%b %e %H:%M" for the last six
 * months, "%b %e  %Y" otherwise (and for times in the future).
 */
export function lsTimeString(mtimeSeconds: number, nowSeconds = Date.now() / 1000): string {
  const d = new Date(mtimeSeconds * 1000);
  const day = String(d.getDate()).padStart(2, " ");
  const month = MONTHS[d.getMonth()]!;
  const recent = nowSeconds - (365 * 24 * 60 * 60) / 2 < mtimeSeconds && nowSeconds >= mtimeSeconds;
  if (recent) {
    const hh = String(d.getHours()).padStart(2, "0");
    const mm = String(d.getMinutes()).padStart(2, "0");
    return `${month} ${day} ${hh}:${mm}`;
  }
  return `${month} ${day}  ${d.getFullYear()}`;
}

export interface LongnameFields {
  mode: number;
  nlink?: number;
  uid?: number;
  gid?: number;
  /** Names for uid and gid; the numbers are shown when absent (as OpenSSH does for remote files). */
  user?: string;
  group?: string;
  size?: number;
  mtime?: number;
}

/**
 * A name's `ls -l` line as OpenSSH's ls_file() builds it:
 * "%s %3u %-8s %-8s %8llu %s %s" (mode, links, user, group, size, time, name); e.g.
 * "-rw-r--r--    1 alice    alice         123 Mar  4 12:00 notes.txt".
 */
export function formatLongname(name: string, f: LongnameFields, nowSeconds?: number): string {
  const user = f.user ?? String(f.uid ?? 0);
  const group = f.group ?? String(f.gid ?? 0);
  const links = String(f.nlink ?? 1).padStart(3, " ");
  const size = String(f.size ?? 0).padStart(8, " ");
  const time = lsTimeString(f.mtime ?? 0, nowSeconds);
  // strmode() leaves a trailing space (for an ACL mark) before the format's own separator.
  return `${modeString(f.mode)}  ${links} ${user.padEnd(8, " ")} ${group.padEnd(8, " ")} ${size} ${time} ${name}`;
}
