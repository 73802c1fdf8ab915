/**
 * The SFTP server's request dispatch: each request type (filexfer-02 §6) to its handler, after the -P/-p/-R
 * check (sftp-server.c request_permitted). Requests on paths are answered here; file handles are in
 * serverFiles.ts, directories in serverDirectories.ts, EXTENDED requests in serverExtensions.ts.
 */
import type { SshReader } from "../wire/index.js";
import { decodeAttrs, type SftpAttrs } from "./attrs.js";
import {
  PacketType,
  StatusCode,
  encodeAttrsReply,
  encodeName,
  encodeStatus,
  requestNames,
} from "./protocol.js";
import { attrsFromStats, type SftpServerSession } from "./server.js";
import { openDirectory, readDirectory } from "./serverDirectories.js";
import { handleExtendedRequest } from "./serverExtensions.js";
import { closeHandle, openFile, readFile, writeFile } from "./serverFiles.js";

/** Clients that send SYMLINK's paths in filexfer-02's order (link path first) to a server not named OpenSSH. */
const DRAFT_SYMLINK_ORDER_CLIENTS = /^SSH-2\.0-ssh2js/;

/** Answer request `type` (its id read already from `r`); `data` is a WRITE's data when it came in chunks. */
export async function dispatchRequest(
  s: SftpServerSession,
  type: number,
  id: number,
  r: SshReader,
  data?: Buffer[],
): Promise<Buffer> {
  if (type === PacketType.EXTENDED) {
    return handleExtendedRequest(s, id, r);
  }
  const name = requestNames[type];
  if (name === undefined) {
    s.log("error", `sftp: unknown message ${type}`);
    return encodeStatus(id, StatusCode.OP_UNSUPPORTED);
  }
  if (!s.permitted(name)) return encodeStatus(id, StatusCode.PERMISSION_DENIED);
  switch (type) {
    case PacketType.OPEN:
      return openFile(s, id, r);
    case PacketType.CLOSE:
      return closeHandle(s, id, r);
    case PacketType.READ:
      return readFile(s, id, r);
    case PacketType.WRITE:
      return writeFile(s, id, r, data);
    case PacketType.LSTAT:
    case PacketType.STAT: {
      const p = s.paths.resolve(s.readPath(r));
      const st = type === PacketType.STAT ? await s.fs.stat(p) : await s.fs.lstat(p);
      return encodeAttrsReply(id, attrsFromStats(st));
    }
    case PacketType.FSTAT:
      return encodeAttrsReply(id, attrsFromStats(await s.fileHandle(r).file.stat()));
    case PacketType.SETSTAT: {
      const p = s.readPath(r);
      const attrs = decodeAttrs(r);
      s.log("info", `set "${p}"${describeAttrs(attrs)}`);
      await s.fs.setstat(s.paths.resolve(p), attrs, true);
      return s.ok(id);
    }
    case PacketType.FSETSTAT: {
      const h = s.fileHandle(r);
      const attrs = decodeAttrs(r);
      s.log("info", `set "${h.path}"${describeAttrs(attrs)}`);
      await h.file.setstat(attrs);
      return s.ok(id);
    }
    case PacketType.OPENDIR:
      return openDirectory(s, id, r);
    case PacketType.READDIR:
      return readDirectory(s, id, r);
    case PacketType.REMOVE: {
      const p = s.readPath(r);
      s.log("info", `remove name "${p}"`);
      await s.fs.remove(s.paths.resolve(p));
      return s.ok(id);
    }
    case PacketType.MKDIR: {
      const p = s.readPath(r);
      const attrs = decodeAttrs(r);
      const mode = s.applyUmask(attrs.mode !== undefined ? attrs.mode & 0o7777 : 0o777);
      s.log("info", `mkdir name "${p}" mode 0${mode.toString(8)}`);
      await s.fs.mkdir(s.paths.resolve(p), mode);
      return s.ok(id);
    }
    case PacketType.RMDIR: {
      const p = s.readPath(r);
      s.log("info", `rmdir name "${p}"`);
      await s.fs.rmdir(s.paths.resolve(p));
      return s.ok(id);
    }
    case PacketType.REALPATH: {
      const resolved = await s.realpath(s.readPath(r));
      return encodeName(id, [{ filename: resolved, longname: resolved, attrs: {} }]);
    }
    case PacketType.RENAME: {
      const from = s.readPath(r);
      const to = s.readPath(r);
      s.log("info", `rename old "${from}" new "${to}"`);
      await s.fs.rename(s.paths.resolve(from), s.paths.resolve(to), false);
      return s.ok(id);
    }
    case PacketType.READLINK: {
      const target = await s.fs.readlink(s.paths.resolve(s.readPath(r)));
      return encodeName(id, [{ filename: target, longname: target, attrs: {} }]);
    }
    case PacketType.SYMLINK: {
      // OpenSSH sends the target first and the link's own path second, the reverse of filexfer-02
      // §6.10 (OpenSSH PROTOCOL §3.1); its clients are the ones that matter, so that order is read.
      // The ssh2 library sends the draft's order to servers not named OpenSSH, so its order is
      // swapped back (as other servers do for clients whose version string says OpenSSH).
      const first = s.readPath(r);
      const second = s.readPath(r);
      const draftOrder = DRAFT_SYMLINK_ORDER_CLIENTS.test(s.options.clientVersion ?? "");
      const [target, linkPath] = draftOrder ? [second, first] : [first, second];
      s.log("info", `symlink old "${target}" new "${linkPath}"`);
      await s.fs.symlink(target, s.paths.resolve(linkPath));
      return s.ok(id);
    }
    default:
      return encodeStatus(id, StatusCode.OP_UNSUPPORTED);
  }
}

function describeAttrs(a: SftpAttrs): string {
  let s = "";
  if (a.size !== undefined) s += ` size ${a.size}`;
  if (a.mode !== undefined) s += ` mode 0${(a.mode & 0o7777).toString(8)}`;
  if (a.mtime !== undefined) s += ` mtime ${a.mtime}`;
  if (a.uid !== undefined) s += ` owner ${a.uid}:${a.gid}`;
  return s;
}
