/**
 * The filesystem an SFTP server works on. Every method is async and fails the way Node's fs does: with an
 * Error whose `code` is an errno name (ENOENT, EACCES, EEXIST...), which the server turns into a STATUS
 * code as OpenSSH's errno_to_portable() does. Paths are absolute; the server has already resolved them
 * against its working directory and its root. The default is the real disk (fileSystemDisk.ts), with the
 * rights of the process; fileSystemMemory.ts holds a tree in memory; a library user can give their own.
 */
import type { SftpAttrs } from "./attrs.js";
import type { SftpStatvfs } from "./protocol.js";

/** What stat/lstat answer: st_mode with the file-type bits, times in seconds since the epoch. */
export interface SftpStats {
  mode: number;
  size: number;
  uid: number;
  gid: number;
  atime: number;
  mtime: number;
  nlink: number;
}

/** An open file. Positions are absolute; a file opened with APPEND writes at its end whatever the position. */
export interface SftpFile {
  /** Read up to `length` bytes at `position` into `buffer` at `bufferOffset`; resolves to the count (0 at EOF). */
  read(buffer: Buffer, bufferOffset: number, length: number, position: number): Promise<number>;
  /** Write all of `data` at `position`. */
  write(data: Buffer, position: number): Promise<void>;
  /**
   * Write all of `parts`, in order, at `position` (a WRITE's data as it arrived in chunks). Optional: the
   * server falls back to write() of each part.
   */
  writev?(parts: Buffer[], position: number): Promise<void>;
  stat(): Promise<SftpStats>;
  setstat(attrs: SftpAttrs): Promise<void>;
  sync(): Promise<void>;
  close(): Promise<void>;
}

export interface SftpDirectoryEntry {
  name: string;
  /** lstat of the entry (a symlink is described, not followed), as `ls -l` shows it. */
  stats: SftpStats;
}

/** An open directory: read() gives the next entries, or null at the end. */
export interface SftpDirectory {
  read(): Promise<SftpDirectoryEntry[] | null>;
  close(): Promise<void>;
}

export interface SftpOpenOptions {
  /** OpenFlags (READ, WRITE, APPEND, CREAT, TRUNC, EXCL) as the client sent them. */
  flags: number;
  /** Permission bits for a file the open creates (before the umask). */
  mode: number;
}

export interface SftpFileSystem {
  open(path: string, options: SftpOpenOptions): Promise<SftpFile>;
  openDirectory(path: string): Promise<SftpDirectory>;
  stat(path: string): Promise<SftpStats>;
  lstat(path: string): Promise<SftpStats>;
  /** Apply size, mode, times and owner in OpenSSH's order; `followSymlinks: false` is lsetstat. */
  setstat(path: string, attrs: SftpAttrs, followSymlinks: boolean): Promise<void>;
  remove(path: string): Promise<void>;
  mkdir(path: string, mode: number): Promise<void>;
  rmdir(path: string): Promise<void>;
  /** The canonical path with symlinks resolved (the path must exist). */
  realpath(path: string): Promise<string>;
  /** `overwrite: false` is SFTP's RENAME (fails when the target exists); true is posix-rename. */
  rename(oldPath: string, newPath: string, overwrite: boolean): Promise<void>;
  readlink(path: string): Promise<string>;
  symlink(target: string, linkPath: string): Promise<void>;
  link(existingPath: string, newPath: string): Promise<void>;
  statvfs(path: string): Promise<SftpStatvfs>;
  /** Names for `ls -l` and users-groups-by-id; undefined when unknown. */
  userName?(uid: number): Promise<string | undefined>;
  groupName?(gid: number): Promise<string | undefined>;
  /** A user's home directory (home-directory, expand-path "~user"); undefined when there is no such user. */
  homeDirectory?(user: string): Promise<string | undefined>;
}

/** An fs-style error with an errno code, for filesystem implementations. */
export function fsError(code: string, syscall: string, path?: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(
    `${code}: ${syscall}${path !== undefined ? ` '${path}'` : ""}`,
  );
  err.code = code;
  err.syscall = syscall;
  if (path !== undefined) err.path = path;
  return err;
}
