/**
 * OPENDIR and READDIR for the SFTP server: a directory handle gives "." and ".." first (as readdir(3)
 * does on the disk), then the filesystem's entries in batches, each with its attributes and an `ls -l`
 * longname (filexfer-02 §6.7), user and group names from the filesystem when it knows them.
 */
import type { SshReader } from "../wire/index.js";
import { formatLongname } from "./attrs.js";
import type { SftpStats } from "./fileSystem.js";
import { StatusCode, encodeHandle, encodeName, encodeStatus, type SftpName } from "./protocol.js";
import { attrsFromStats, messageOf, type SftpServerSession } from "./server.js";
import type { DirectoryHandleEntry } from "./serverHandles.js";
import { SftpStatusError } from "./serverStatus.js";

export async function openDirectory(s: SftpServerSession, id: number, r: SshReader): Promise<Buffer> {
  const p = s.readPath(r);
  s.log("info", `opendir "${p}"`);
  if (s.handles.full) throw new SftpStatusError(StatusCode.FAILURE, "Too many open handles");
  const virtual = s.paths.virtual(p);
  const fsPath = s.paths.toFs(virtual);
  const dir = await s.fs.openDirectory(fsPath);
  let dots: DirectoryHandleEntry["dots"] = null;
  try {
    const parent = s.paths.toFs(virtual === "/" ? "/" : virtual.slice(0, virtual.lastIndexOf("/")) || "/");
    dots = [
      { name: ".", stats: await s.fs.lstat(fsPath) },
      { name: "..", stats: await s.fs.lstat(parent) },
    ];
  } catch (err) {
    // An unreadable parent only loses the ".." line; the listing itself still works.
    s.log("debug1", `sftp: no "." / ".." for ${p}: ${messageOf(err)}`);
  }
  const handle = s.handles.add({ kind: "directory", dir, path: p, fsPath, dots });
  return encodeHandle(id, handle);
}

export async function readDirectory(s: SftpServerSession, id: number, r: SshReader): Promise<Buffer> {
  const h = s.handles.get(s.readHandle(r));
  if (!h || h.kind !== "directory") throw new SftpStatusError(StatusCode.FAILURE, "Invalid handle");
  let entries = await h.dir.read();
  if (h.dots) {
    entries = [...h.dots, ...(entries ?? [])];
    h.dots = null;
  }
  if (!entries || entries.length === 0) return encodeStatus(id, StatusCode.EOF);
  const names: SftpName[] = [];
  for (const e of entries) names.push(await nameEntry(s, e.name, e.stats));
  return encodeName(id, names);
}

async function nameEntry(s: SftpServerSession, name: string, st: SftpStats): Promise<SftpName> {
  const [user, group] = await Promise.all([s.fs.userName?.(st.uid), s.fs.groupName?.(st.gid)]);
  const longname = formatLongname(name, {
    mode: st.mode,
    nlink: st.nlink,
    uid: st.uid,
    gid: st.gid,
    size: st.size,
    mtime: st.mtime,
    ...(user !== undefined ? { user } : {}),
    ...(group !== undefined ? { group } : {}),
  });
  return { filename: name, longname, attrs: attrsFromStats(st) };
}
