/**
 * The SFTP server's EXTENDED requests: the extensions OpenSSH's sftp-server implements (OpenSSH PROTOCOL
 * §4: posix-rename, statvfs, fstatvfs, hardlink, fsync, lsetstat, limits, expand-path, copy-data,
 * home-directory, users-groups-by-id). An unknown extension is OP_UNSUPPORTED.
 */
import type { SshReader } from "../wire/index.js";
import { decodeAttrs } from "./attrs.js";
import {
  Extension,
  MAX_PACKET_LENGTH,
  MAX_READ_LENGTH,
  MAX_WRITE_LENGTH,
  OpenFlags,
  StatusCode,
  StatvfsFlags,
  decodeIdList,
  encodeExtendedReply,
  encodeLimitsBody,
  encodeName,
  encodeNameList,
  encodeStatus,
  encodeStatvfsBody,
  extensionRequestNames,
  type SftpStatvfs,
} from "./protocol.js";
import type { SftpServerSession } from "./server.js";
import { SftpStatusError } from "./serverStatus.js";

/** copy-data moves data in blocks of this size. */
const COPY_BLOCK = 64 * 1024;
/** users-groups-by-id: at most this many ids per request (a client cannot make us look up millions). */
const MAX_IDS = 4096;

export async function handleExtendedRequest(s: SftpServerSession, id: number, r: SshReader): Promise<Buffer> {
  const ext = r.string(1024, "extension name").toString("utf8");
  const name = extensionRequestNames[ext];
  if (name === undefined) {
    s.log("debug1", `sftp: unsupported extension "${ext}"`);
    return encodeStatus(id, StatusCode.OP_UNSUPPORTED);
  }
  if (!s.permitted(name)) return encodeStatus(id, StatusCode.PERMISSION_DENIED);
  switch (ext) {
    case Extension.POSIX_RENAME: {
      const from = s.readPath(r);
      const to = s.readPath(r);
      s.log("info", `posix-rename old "${from}" new "${to}"`);
      await s.fs.rename(s.paths.resolve(from), s.paths.resolve(to), true);
      return s.ok(id);
    }
    case Extension.STATVFS: {
      const p = s.readPath(r);
      return statvfsReply(s, id, await s.fs.statvfs(s.paths.resolve(p)));
    }
    case Extension.FSTATVFS: {
      const h = s.fileHandle(r);
      return statvfsReply(s, id, await s.fs.statvfs(h.fsPath));
    }
    case Extension.HARDLINK: {
      const from = s.readPath(r);
      const to = s.readPath(r);
      s.log("info", `hardlink old "${from}" new "${to}"`);
      await s.fs.link(s.paths.resolve(from), s.paths.resolve(to));
      return s.ok(id);
    }
    case Extension.FSYNC: {
      await s.fileHandle(r).file.sync();
      return s.ok(id);
    }
    case Extension.LSETSTAT: {
      const p = s.readPath(r);
      const attrs = decodeAttrs(r);
      s.log("info", `lsetstat "${p}"`);
      await s.fs.setstat(s.paths.resolve(p), attrs, false);
      return s.ok(id);
    }
    case Extension.LIMITS:
      return encodeExtendedReply(id, (w) =>
        encodeLimitsBody(w, {
          maxPacketLength: MAX_PACKET_LENGTH,
          maxReadLength: MAX_READ_LENGTH,
          maxWriteLength: MAX_WRITE_LENGTH,
          maxOpenHandles: s.handles.max,
        }),
      );
    case Extension.EXPAND_PATH: {
      const expanded = await s.realpath(await expandTilde(s, s.readPath(r)));
      return encodeName(id, [{ filename: expanded, longname: expanded, attrs: {} }]);
    }
    case Extension.COPY_DATA:
      return copyData(s, id, r);
    case Extension.HOME_DIRECTORY: {
      const user = r.string(1024, "user name").toString("utf8");
      const home = await homeOf(s, user);
      return encodeName(id, [{ filename: home, longname: home, attrs: {} }]);
    }
    case Extension.USERS_GROUPS_BY_ID: {
      const uids = decodeIdList(r.string(MAX_IDS * 4, "uid list"));
      const gids = decodeIdList(r.string(MAX_IDS * 4, "gid list"));
      const users = await Promise.all(uids.map(async (u) => (await s.fs.userName?.(u)) ?? ""));
      const groups = await Promise.all(gids.map(async (g) => (await s.fs.groupName?.(g)) ?? ""));
      return encodeExtendedReply(id, (w) => w.string(encodeNameList(users)).string(encodeNameList(groups)));
    }
    default:
      return encodeStatus(id, StatusCode.OP_UNSUPPORTED);
  }
}

function statvfsReply(s: SftpServerSession, id: number, st: SftpStatvfs): Buffer {
  // A read-only server says so in f_flag, as a read-only mount would.
  const flag = s.options.readOnly ? st.flag | StatvfsFlags.RDONLY : st.flag;
  return encodeExtendedReply(id, (w) => encodeStatvfsBody(w, { ...st, flag }));
}

/** A user's home as a path the client can use (virtual under a root; none outside it). */
async function homeOf(s: SftpServerSession, user: string): Promise<string> {
  if (user === "" || user === s.userName) return s.homeDirectory;
  const home = await s.fs.homeDirectory?.(user);
  const virtual = home === undefined ? null : s.paths.fromFs(home);
  if (virtual === null) throw new SftpStatusError(StatusCode.NO_SUCH_FILE, "No such user");
  return virtual;
}

/** "~", "~/x", "~user/x" as the shell would expand them (sftp-server.c process_extended_expand). */
async function expandTilde(s: SftpServerSession, p: string): Promise<string> {
  if (!p.startsWith("~")) return p;
  const slash = p.indexOf("/");
  const user = slash === -1 ? p.slice(1) : p.slice(1, slash);
  const rest = slash === -1 ? "" : p.slice(slash + 1);
  const home = await homeOf(s, user);
  return rest === "" ? home : `${home.replace(/\/$/, "")}/${rest}`;
}

/**
 * copy-data (OpenSSH PROTOCOL §4.10): copy length bytes (0: to the end) from one handle's offset to
 * another's, without the data crossing the network. The read handle must be readable, the write handle
 * writable, and a copy within one file must not overlap itself.
 */
async function copyData(s: SftpServerSession, id: number, r: SshReader): Promise<Buffer> {
  const from = s.fileHandle(r);
  const readOffset = Number(r.uint64());
  const readLength = Number(r.uint64());
  const to = s.fileHandle(r);
  const writeOffset = Number(r.uint64());
  if (!(from.flags & OpenFlags.READ) || !(to.flags & (OpenFlags.WRITE | OpenFlags.APPEND))) {
    throw new SftpStatusError(StatusCode.PERMISSION_DENIED, "copy-data: handle not open for that");
  }
  if (
    from === to &&
    (readLength === 0 || readOffset + readLength > writeOffset) &&
    writeOffset + (readLength || Number.MAX_SAFE_INTEGER) > readOffset
  ) {
    throw new SftpStatusError(StatusCode.FAILURE, "copy-data: overlapping copy within one file");
  }
  s.log("info", `copy-data from "${from.path}" to "${to.path}"`);
  const block = Buffer.allocUnsafe(COPY_BLOCK);
  let copied = 0;
  while (readLength === 0 || copied < readLength) {
    const want = readLength === 0 ? COPY_BLOCK : Math.min(COPY_BLOCK, readLength - copied);
    const n = await from.file.read(block, 0, want, readOffset + copied);
    if (n === 0) break;
    await to.file.write(block.subarray(0, n), writeOffset + copied);
    copied += n;
  }
  from.bytesRead += copied;
  to.bytesWritten += copied;
  if (readLength !== 0 && copied < readLength) return encodeStatus(id, StatusCode.EOF);
  return s.ok(id);
}
