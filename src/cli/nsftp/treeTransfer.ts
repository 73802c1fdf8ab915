/**
 * Whole files and directory trees over SFTP for nsftp (get/put -r) and nscp (SFTP mode), as OpenSSH's
 * sftp-client.c download_dir/upload_dir: regular files and directories only (symbolic links are not
 * followed in a tree), each file with the progress meter, times and modes kept with `preserve`.
 */
import fs from "node:fs";
import path from "node:path";
import { isDirectoryMode, isRegularMode, isSymlinkMode } from "../../sftp/attrs.js";
import type { SftpClient } from "../../sftp/client.js";
import type { TransferOptions } from "../../sftp/clientTransfer.js";
import { ProgressMeter } from "../transferProgress.js";

export interface TreeOptions {
  recursive: boolean;
  preserve: boolean;
  resume: boolean;
  fsync: boolean;
  requests?: number;
  blockSize?: number;
  /** -l: Kbit/s. */
  limitKbps?: number;
  /** Draw the progress meter (only drawn on a terminal anyway). */
  progress: boolean;
  out: NodeJS.WriteStream | NodeJS.WritableStream;
  /** Report one failed file; the copy goes on with the others. */
  warn: (message: string) => void;
  /** Print "Retrieving dir" / "Entering dir" as sftp does. */
  verboseDirs?: boolean;
}

function transferOptions(
  o: TreeOptions,
  name: string,
  total: number,
  start: number,
): {
  opts: TransferOptions;
  meter: ProgressMeter;
} {
  const meter = new ProgressMeter(name, total, o.out as NodeJS.WriteStream, {
    quiet: !o.progress,
    startedAt: start,
  });
  const opts: TransferOptions = {
    resume: o.resume,
    preserve: o.preserve,
    fsync: o.fsync,
    onProgress: (p) => meter.update(p.transferred),
  };
  if (o.requests) opts.requests = o.requests;
  if (o.blockSize) opts.blockSize = o.blockSize;
  if (o.limitKbps) opts.bytesPerSecond = (o.limitKbps * 1024) / 8;
  return { opts, meter };
}

/** Error text as sftp and scp print it: the SFTP status text or the system error's. */
export function errorText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e.code === "string" && e.syscall) {
    return SYSTEM_MESSAGES[e.code] ?? e.message;
  }
  return e?.message ?? String(err);
}

const SYSTEM_MESSAGES: Record<string, string> = {
  ENOENT: "No such file or directory",
  EACCES: "Permission denied",
  EISDIR: "Is a directory",
  ENOTDIR: "Not a directory",
  EEXIST: "File exists",
  ENOSPC: "No space left on device",
  EPERM: "Operation not permitted",
};

/** Download a remote file or (with recursive) tree to `local`. False when anything failed. */
export async function downloadPath(
  client: SftpClient,
  remote: string,
  local: string,
  o: TreeOptions,
): Promise<boolean> {
  const attrs = await client.stat(remote);
  if (isDirectoryMode(attrs.mode)) {
    if (!o.recursive) {
      o.warn(`Cannot download non-regular file: ${remote}`);
      return false;
    }
    if (o.verboseDirs) o.out.write(`Retrieving ${remote}\n`);
    try {
      fs.mkdirSync(local, { mode: ((attrs.mode ?? 0o755) & 0o777) | 0o700 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") {
        o.warn(`mkdir ${local}: ${errorText(err)}`);
        return false;
      }
    }
    let ok = true;
    const entries = await client.readdir(remote);
    for (const e of entries.sort((a, b) => (a.filename < b.filename ? -1 : 1))) {
      if (e.filename === "." || e.filename === "..") continue;
      const r = `${remote.replace(/\/$/, "")}/${e.filename}`;
      const l = path.join(local, e.filename);
      if (isDirectoryMode(e.attrs.mode)) {
        if (!(await downloadPath(client, r, l, o).catch((err) => fail(o, r, err)))) ok = false;
      } else if (isRegularMode(e.attrs.mode)) {
        if (!(await downloadFileWithMeter(client, r, l, o).catch((err) => fail(o, r, err)))) ok = false;
      } else if (!isSymlinkMode(e.attrs.mode)) {
        o.warn(`${r}: not a regular file`);
      }
    }
    if (o.preserve && attrs.mtime !== undefined) {
      fs.utimesSync(local, attrs.atime ?? attrs.mtime, attrs.mtime);
      if (attrs.mode !== undefined) fs.chmodSync(local, attrs.mode & 0o7777);
    }
    return ok;
  }
  return downloadFileWithMeter(client, remote, local, o);
}

function fail(o: TreeOptions, name: string, err: unknown): false {
  o.warn(`${name}: ${errorText(err)}`);
  return false;
}

async function downloadFileWithMeter(
  client: SftpClient,
  remote: string,
  local: string,
  o: TreeOptions,
): Promise<boolean> {
  const st = await client.stat(remote);
  let start = 0;
  if (o.resume) {
    try {
      start = fs.statSync(local).size;
    } catch {
      start = 0; // nothing to resume: a fresh download
    }
  }
  const { opts, meter } = transferOptions(o, path.basename(remote), st.size ?? 0, start);
  await client.get(remote, local, opts);
  meter.update(st.size ?? 0);
  meter.finish();
  return true;
}

/** Upload a local file or (with recursive) tree to `remote`. False when anything failed. */
export async function uploadPath(
  client: SftpClient,
  local: string,
  remote: string,
  o: TreeOptions,
): Promise<boolean> {
  const st = fs.statSync(local);
  if (st.isDirectory()) {
    if (!o.recursive) {
      o.warn(`Skipping non-regular file ${local}`);
      return false;
    }
    if (o.verboseDirs) o.out.write(`Entering ${local}\n`);
    try {
      await client.mkdir(remote, { mode: (st.mode & 0o777) | 0o700 });
    } catch (err) {
      // An existing directory is fine (sftp puts into it); anything else is this tree's failure.
      const exists = await client.stat(remote).then(
        (a) => isDirectoryMode(a.mode),
        () => false,
      );
      if (!exists) {
        o.warn(`Couldn't create directory: ${errorText(err)}`);
        return false;
      }
    }
    let ok = true;
    for (const name of fs.readdirSync(local).sort()) {
      const l = path.join(local, name);
      const r = `${remote.replace(/\/$/, "")}/${name}`;
      const lst = fs.lstatSync(l);
      if (lst.isDirectory() || lst.isFile()) {
        if (!(await uploadPath(client, l, r, o).catch((err) => fail(o, l, err)))) ok = false;
      } else if (!lst.isSymbolicLink()) {
        o.warn(`${l}: not a regular file`);
      }
    }
    if (o.preserve) {
      await client.setstat(remote, {
        mode: st.mode & 0o7777,
        atime: Math.floor(st.atimeMs / 1000),
        mtime: Math.floor(st.mtimeMs / 1000),
      });
    }
    return ok;
  }
  if (!st.isFile()) {
    o.warn(`${local}: not a regular file`);
    return false;
  }
  let start = 0;
  if (o.resume)
    start = await client.stat(remote).then(
      (a) => a.size ?? 0,
      () => 0,
    );
  const { opts, meter } = transferOptions(o, path.basename(local), st.size, start);
  await client.put(local, remote, opts);
  meter.update(st.size);
  meter.finish();
  return true;
}
