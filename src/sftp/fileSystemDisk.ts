/**
 * The real disk as an SftpFileSystem, with the rights of the process (the daemon runs the server as the
 * logged-in user, so the kernel does the access checks). Open flags map as OpenSSH's flags_from_portable();
 * SETSTAT applies size, permissions, times, then owner, as sftp-server.c does.
 */
import { constants, readSync, writeSync, writevSync, type Dir, type Stats } from "node:fs";
import * as fsp from "node:fs/promises";
import type { SftpAttrs } from "./attrs.js";
import { fsError, type SftpDirectory, type SftpDirectoryEntry, type SftpFile } from "./fileSystem.js";
import type { SftpFileSystem, SftpOpenOptions, SftpStats } from "./fileSystem.js";
import { byteLength } from "./packetParser.js";
import { MAX_PACKET_LENGTH, OpenFlags, type SftpStatvfs } from "./protocol.js";
import { systemGroupName, systemHomeDirectory, systemUserName } from "./serverAccounts.js";
import { partsAfter } from "./bufferParts.js";
import { InlineIo, inlineLimit } from "./inlineIo.js";

/** How many entries one READDIR reply carries at most (sftp-server.c NUM_ENTRIES). */
const DIRECTORY_BATCH = 100;

export function statsFromNode(s: Stats): SftpStats {
  return {
    mode: s.mode,
    size: s.size,
    uid: s.uid,
    gid: s.gid,
    atime: Math.floor(s.atimeMs / 1000),
    mtime: Math.floor(s.mtimeMs / 1000),
    nlink: s.nlink,
  };
}

/** SFTP pflags to open(2) flags (OpenSSH sftp-server.c flags_from_portable). */
export function openFlagsToNode(pflags: number): number {
  let flags: number;
  if (pflags & OpenFlags.READ && pflags & OpenFlags.WRITE) flags = constants.O_RDWR;
  else if (pflags & OpenFlags.WRITE) flags = constants.O_WRONLY;
  else flags = constants.O_RDONLY;
  if (pflags & OpenFlags.APPEND) flags |= constants.O_APPEND;
  if (pflags & OpenFlags.CREAT) flags |= constants.O_CREAT;
  if (pflags & OpenFlags.TRUNC) flags |= constants.O_TRUNC;
  if (pflags & OpenFlags.EXCL) flags |= constants.O_EXCL;
  return flags;
}

/**
 * The largest read or write done on the event loop (inlineIo.ts): a whole block of any client (OpenSSH's
 * sftp asks for 255 KiB when limits@openssh.com allows; a WRITE is at most a packet). Node's asynchronous
 * file I/O costs a thread-pool round trip per call, more CPU than the page-cache copy of a block.
 */
const MAX_BLOCKING_IO = MAX_PACKET_LENGTH;

/**
 * An open file. Reads and writes of a regular file of up to a block are plain pread/pwrite on the event
 * loop, as sftp-server.c does, while they stay fast (inlineIo.ts): a slow disk goes to the thread pool, so
 * that one session's disk does not hold up the process's other sessions.
 */
class DiskFile implements SftpFile {
  private readonly inline: InlineIo;

  constructor(
    private readonly fh: fsp.FileHandle,
    blockingUpTo: number,
  ) {
    this.inline = new InlineIo(blockingUpTo);
  }

  /** Run `op` on the event loop when it is small enough and this file's calls stay fast; else null. */
  private quick<T>(length: number, op: (fd: number) => T): T | null {
    return this.inline.tryRun(length, () => op(this.fh.fd));
  }

  async read(buffer: Buffer, bufferOffset: number, length: number, position: number): Promise<number> {
    const n = this.quick(length, (fd) => readSync(fd, buffer, bufferOffset, length, position));
    if (n !== null) return n;
    const { bytesRead } = await this.fh.read(buffer, bufferOffset, length, position);
    return bytesRead;
  }

  async write(data: Buffer, position: number): Promise<void> {
    let done = 0;
    while (done < data.length) {
      const quick = this.quick(data.length - done, (fd) =>
        writeSync(fd, data, done, data.length - done, position + done),
      );
      const bytesWritten =
        quick ?? (await this.fh.write(data, done, data.length - done, position + done)).bytesWritten;
      if (bytesWritten === 0) throw fsError("EIO", "write");
      done += bytesWritten;
    }
  }

  async writev(parts: Buffer[], position: number): Promise<void> {
    let rest = parts.filter((p) => p.length > 0);
    while (rest.length > 0) {
      const chunk = rest;
      const at = position;
      const bytesWritten =
        this.quick(byteLength(chunk), (fd) => writevSync(fd, chunk, at)) ??
        (await this.fh.writev(chunk, at)).bytesWritten;
      if (bytesWritten === 0) throw fsError("EIO", "write");
      position += bytesWritten;
      rest = partsAfter(rest, bytesWritten);
    }
  }

  async stat(): Promise<SftpStats> {
    return statsFromNode(await this.fh.stat());
  }

  async setstat(attrs: SftpAttrs): Promise<void> {
    if (attrs.size !== undefined) await this.fh.truncate(attrs.size);
    if (attrs.mode !== undefined) await this.fh.chmod(attrs.mode & 0o7777);
    if (attrs.atime !== undefined || attrs.mtime !== undefined) {
      await this.fh.utimes(attrs.atime ?? attrs.mtime!, attrs.mtime ?? attrs.atime!);
    }
    if (attrs.uid !== undefined && attrs.gid !== undefined) await this.fh.chown(attrs.uid, attrs.gid);
  }

  sync(): Promise<void> {
    return this.fh.sync();
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}

class DiskDirectory implements SftpDirectory {
  constructor(
    private readonly dir: Dir,
    private readonly path: string,
  ) {}

  async read(): Promise<SftpDirectoryEntry[] | null> {
    const out: SftpDirectoryEntry[] = [];
    while (out.length < DIRECTORY_BATCH) {
      const entry = await this.dir.read();
      if (!entry) break;
      const full = this.path.endsWith("/") ? this.path + entry.name : `${this.path}/${entry.name}`;
      try {
        out.push({ name: entry.name, stats: statsFromNode(await fsp.lstat(full)) });
      } catch (err) {
        // Gone between readdir and lstat: skip it, as sftp-server.c does.
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      }
    }
    return out.length > 0 ? out : null;
  }

  close(): Promise<void> {
    return this.dir.close();
  }
}

export class DiskFileSystem implements SftpFileSystem {
  async open(path: string, options: SftpOpenOptions): Promise<SftpFile> {
    const fh = await fsp.open(path, openFlagsToNode(options.flags), options.mode & 0o7777);
    try {
      return new DiskFile(fh, inlineLimit(await fh.stat(), MAX_BLOCKING_IO));
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  async openDirectory(path: string): Promise<SftpDirectory> {
    return new DiskDirectory(await fsp.opendir(path, { bufferSize: 64 }), path);
  }

  async stat(path: string): Promise<SftpStats> {
    return statsFromNode(await fsp.stat(path));
  }

  async lstat(path: string): Promise<SftpStats> {
    return statsFromNode(await fsp.lstat(path));
  }

  async setstat(path: string, attrs: SftpAttrs, followSymlinks: boolean): Promise<void> {
    const isLink = !followSymlinks && (await fsp.lstat(path)).isSymbolicLink();
    if (attrs.size !== undefined) await fsp.truncate(path, attrs.size);
    if (attrs.mode !== undefined) {
      // Linux cannot chmod a symlink itself (fchmodat AT_SYMLINK_NOFOLLOW fails with EOPNOTSUPP).
      if (isLink) throw fsError("EOPNOTSUPP", "lchmod", path);
      await fsp.chmod(path, attrs.mode & 0o7777);
    }
    if (attrs.atime !== undefined || attrs.mtime !== undefined) {
      const a = attrs.atime ?? attrs.mtime!;
      const m = attrs.mtime ?? attrs.atime!;
      await (isLink ? fsp.lutimes(path, a, m) : fsp.utimes(path, a, m));
    }
    if (attrs.uid !== undefined && attrs.gid !== undefined) {
      await (isLink ? fsp.lchown(path, attrs.uid, attrs.gid) : fsp.chown(path, attrs.uid, attrs.gid));
    }
  }

  remove(path: string): Promise<void> {
    return fsp.unlink(path);
  }

  async mkdir(path: string, mode: number): Promise<void> {
    await fsp.mkdir(path, { mode: mode & 0o7777 });
  }

  rmdir(path: string): Promise<void> {
    return fsp.rmdir(path);
  }

  realpath(path: string): Promise<string> {
    return fsp.realpath(path);
  }

  async rename(oldPath: string, newPath: string, overwrite: boolean): Promise<void> {
    if (overwrite) return fsp.rename(oldPath, newPath);
    // SFTP's RENAME must not replace an existing target (filexfer-02 §6.5). Like sftp-server.c: link()
    // then unlink() for a regular file (atomic refusal), a checked rename() for anything else.
    const st = await fsp.lstat(oldPath);
    if (st.isFile()) {
      try {
        await fsp.link(oldPath, newPath);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        // Filesystems without hard links: fall back to the check-then-rename below.
        if (code !== "EPERM" && code !== "EXDEV" && code !== "ENOTSUP" && code !== "EOPNOTSUPP") throw err;
        await this.renameIfAbsent(oldPath, newPath);
        return;
      }
      await fsp.unlink(oldPath);
      return;
    }
    await this.renameIfAbsent(oldPath, newPath);
  }

  private async renameIfAbsent(oldPath: string, newPath: string): Promise<void> {
    try {
      await fsp.lstat(newPath);
      throw fsError("EEXIST", "rename", newPath);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    await fsp.rename(oldPath, newPath);
  }

  readlink(path: string): Promise<string> {
    return fsp.readlink(path);
  }

  symlink(target: string, linkPath: string): Promise<void> {
    return fsp.symlink(target, linkPath);
  }

  link(existingPath: string, newPath: string): Promise<void> {
    return fsp.link(existingPath, newPath);
  }

  async statvfs(path: string): Promise<SftpStatvfs> {
    const s = await fsp.statfs(path);
    // Node's statfs(2) lacks frsize, favail, fsid, flag and namemax: statvfs(3) on Linux has
    // f_frsize = f_bsize and f_favail = f_ffree; 255 is every common Linux filesystem's NAME_MAX.
    return {
      bsize: s.bsize,
      frsize: s.bsize,
      blocks: s.blocks,
      bfree: s.bfree,
      bavail: s.bavail,
      files: s.files,
      ffree: s.ffree,
      favail: s.ffree,
      fsid: 0,
      flag: 0,
      namemax: 255,
    };
  }

  userName(uid: number): Promise<string | undefined> {
    return systemUserName(uid);
  }

  groupName(gid: number): Promise<string | undefined> {
    return systemGroupName(gid);
  }

  homeDirectory(user: string): Promise<string | undefined> {
    return systemHomeDirectory(user);
  }
}
