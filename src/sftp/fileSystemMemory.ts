/**
 * A filesystem held in memory, for tests and for programs that serve generated or virtual content. It
 * behaves as a POSIX filesystem would for one user: errno-coded errors (ENOENT, EEXIST, ENOTDIR,
 * ENOTEMPTY, EISDIR, ELOOP...), symlinks followed up to 40 deep, hard links, and owner permission bits
 * checked when `checkPermissions` is set. Its total content is bounded (ENOSPC past `maxBytes`).
 */
import path from "node:path";
import type { SftpAttrs } from "./attrs.js";
import { FileType } from "./attrs.js";
import {
  fsError,
  type SftpDirectory,
  type SftpDirectoryEntry,
  type SftpFile,
  type SftpFileSystem,
  type SftpOpenOptions,
  type SftpStats,
} from "./fileSystem.js";
import { OpenFlags, type SftpStatvfs } from "./protocol.js";

export interface MemoryFileSystemOptions {
  /** Owner of everything created (default 1000:1000). */
  uid?: number;
  gid?: number;
  /** Applied to the modes of created files and directories (default 0o022). */
  umask?: number;
  /** Total bytes of file content allowed (default 256 MiB). */
  maxBytes?: number;
  /** Enforce the owner's r/w/x bits (as for a non-root user). Default false. */
  checkPermissions?: boolean;
  /** Names for ls -l and users-groups-by-id, and home directories for home-directory/expand-path. */
  users?: Record<number, string>;
  groups?: Record<number, string>;
  homes?: Record<string, string>;
}

interface NodeBase {
  mode: number;
  uid: number;
  gid: number;
  atime: number;
  mtime: number;
  nlink: number;
}
interface FileNode extends NodeBase {
  type: "file";
  data: Buffer;
  size: number;
}
interface DirNode extends NodeBase {
  type: "dir";
  children: Map<string, MemNode>;
}
interface LinkNode extends NodeBase {
  type: "link";
  target: string;
}
type MemNode = FileNode | DirNode | LinkNode;

interface Walk {
  parent: DirNode;
  name: string;
  node: MemNode | undefined;
  /** The path with every symlink before the last component resolved. */
  path: string;
}

const MAX_SYMLINK_DEPTH = 40;
const BLOCK = 4096;
const DIRECTORY_BATCH = 100;

const now = (): number => Math.floor(Date.now() / 1000);

export class MemoryFileSystem implements SftpFileSystem {
  private readonly root: DirNode;
  private readonly uid: number;
  private readonly gid: number;
  private readonly umask: number;
  private readonly maxBytes: number;
  private usedBytes = 0;

  constructor(private readonly options: MemoryFileSystemOptions = {}) {
    this.uid = options.uid ?? 1000;
    this.gid = options.gid ?? 1000;
    this.umask = options.umask ?? 0o022;
    this.maxBytes = options.maxBytes ?? 256 * 1024 * 1024;
    this.root = this.newDir(0o755);
  }

  private base(mode: number): NodeBase {
    const t = now();
    return { mode, uid: this.uid, gid: this.gid, atime: t, mtime: t, nlink: 1 };
  }

  private newDir(perm: number): DirNode {
    return { ...this.base(FileType.DIRECTORY | perm), nlink: 2, type: "dir", children: new Map() };
  }

  /** Resolve a path; symlinks before the last component are always followed, the last one if asked. */
  private walk(p: string, followLast: boolean, depth = 0): Walk {
    if (depth > MAX_SYMLINK_DEPTH) throw fsError("ELOOP", "walk", p);
    const parts = path.posix.resolve("/", p).split("/").filter(Boolean);
    if (parts.length === 0) return { parent: this.root, name: "", node: this.root, path: "/" };
    let dir = this.root;
    const done: string[] = [];
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      const last = i === parts.length - 1;
      this.requireAccess(dir, 1, "walk", p);
      const node = dir.children.get(part);
      if (node?.type === "link" && (!last || followLast)) {
        const next = path.posix.resolve("/" + done.join("/"), node.target, ...parts.slice(i + 1));
        return this.walk(next, followLast, depth + 1);
      }
      if (last) return { parent: dir, name: part, node, path: "/" + [...done, part].join("/") };
      if (!node) throw fsError("ENOENT", "walk", p);
      if (node.type !== "dir") throw fsError("ENOTDIR", "walk", p);
      dir = node;
      done.push(part);
    }
    throw fsError("ENOENT", "walk", p);
  }

  private existing(p: string, follow: boolean, syscall: string): MemNode {
    const w = this.walk(p, follow);
    if (!w.node) throw fsError("ENOENT", syscall, p);
    return w.node;
  }

  /** Owner permission bits: 4 read, 2 write, 1 search/execute. */
  private requireAccess(node: MemNode, bits: number, syscall: string, p: string): void {
    if (!this.options.checkPermissions) return;
    if (((node.mode >> 6) & 7 & bits) !== bits) throw fsError("EACCES", syscall, p);
  }

  private statsOf(n: MemNode): SftpStats {
    const size = n.type === "file" ? n.size : n.type === "link" ? Buffer.byteLength(n.target) : BLOCK;
    return { mode: n.mode, size, uid: n.uid, gid: n.gid, atime: n.atime, mtime: n.mtime, nlink: n.nlink };
  }

  /** Grow or shrink a file's content, within the byte budget. */
  resize(f: FileNode, size: number): void {
    if (size > f.size && this.usedBytes + (size - f.size) > this.maxBytes) throw fsError("ENOSPC", "write");
    if (size > f.data.length) {
      const next = Buffer.alloc(Math.max(size, Math.min(f.data.length * 2, size + 64 * 1024 * 1024)));
      f.data.copy(next, 0, 0, f.size);
      f.data = next;
    } else if (size < f.size) {
      f.data.fill(0, size, f.size);
    }
    this.usedBytes += size - f.size;
    f.size = size;
  }

  private applyAttrs(n: MemNode, attrs: SftpAttrs, p: string): void {
    if (attrs.size !== undefined) {
      if (n.type === "dir") throw fsError("EISDIR", "truncate", p);
      if (n.type !== "file") throw fsError("EINVAL", "truncate", p);
      this.requireAccess(n, 2, "truncate", p);
      this.resize(n, attrs.size);
      n.mtime = now();
    }
    if (attrs.mode !== undefined) n.mode = (n.mode & FileType.MASK) | (attrs.mode & 0o7777);
    if (attrs.atime !== undefined || attrs.mtime !== undefined) {
      n.atime = attrs.atime ?? attrs.mtime!;
      n.mtime = attrs.mtime ?? attrs.atime!;
    }
    if (attrs.uid !== undefined && attrs.gid !== undefined) {
      if (this.options.checkPermissions && (attrs.uid !== n.uid || attrs.gid !== n.gid)) {
        throw fsError("EPERM", "chown", p);
      }
      n.uid = attrs.uid;
      n.gid = attrs.gid;
    }
  }

  async open(p: string, options: SftpOpenOptions): Promise<SftpFile> {
    const { flags } = options;
    const w = this.walk(p, true);
    let node = w.node;
    const writing = (flags & (OpenFlags.WRITE | OpenFlags.APPEND)) !== 0;
    const reading = (flags & OpenFlags.READ) !== 0 || !writing;
    if (node && flags & OpenFlags.CREAT && flags & OpenFlags.EXCL) throw fsError("EEXIST", "open", p);
    if (!node) {
      if (!(flags & OpenFlags.CREAT)) throw fsError("ENOENT", "open", p);
      this.requireAccess(w.parent, 3, "open", p);
      const created: FileNode = {
        ...this.base(FileType.REGULAR | (options.mode & 0o7777 & ~this.umask)),
        type: "file",
        data: Buffer.alloc(0),
        size: 0,
      };
      w.parent.children.set(w.name, created);
      w.parent.mtime = now();
      node = created;
    } else {
      if (node.type === "dir" && writing) throw fsError("EISDIR", "open", p);
      if (reading) this.requireAccess(node, 4, "open", p);
      if (writing) this.requireAccess(node, 2, "open", p);
    }
    if (node.type === "file" && flags & OpenFlags.TRUNC && writing) this.resize(node, 0);
    return new MemoryFile(this, node, p, reading, writing, (flags & OpenFlags.APPEND) !== 0);
  }

  async openDirectory(p: string): Promise<SftpDirectory> {
    const node = this.existing(p, true, "opendir");
    if (node.type !== "dir") throw fsError("ENOTDIR", "opendir", p);
    this.requireAccess(node, 4, "opendir", p);
    const entries = [...node.children.entries()].map(([name, n]) => ({ name, stats: this.statsOf(n) }));
    return new MemoryDirectory(entries);
  }

  async stat(p: string): Promise<SftpStats> {
    return this.statsOf(this.existing(p, true, "stat"));
  }

  async lstat(p: string): Promise<SftpStats> {
    return this.statsOf(this.existing(p, false, "lstat"));
  }

  async setstat(p: string, attrs: SftpAttrs, followSymlinks: boolean): Promise<void> {
    this.applyAttrs(this.existing(p, followSymlinks, "setstat"), attrs, p);
  }

  async remove(p: string): Promise<void> {
    const w = this.walk(p, false);
    if (!w.node) throw fsError("ENOENT", "unlink", p);
    if (w.node.type === "dir") throw fsError("EISDIR", "unlink", p);
    this.requireAccess(w.parent, 3, "unlink", p);
    this.unlinkNode(w.parent, w.name, w.node);
  }

  private unlinkNode(parent: DirNode, name: string, node: MemNode): void {
    parent.children.delete(name);
    parent.mtime = now();
    node.nlink--;
    if (node.type === "file" && node.nlink <= 0) {
      this.usedBytes -= node.size;
      node.size = 0;
      node.data = Buffer.alloc(0);
    }
  }

  async mkdir(p: string, mode: number): Promise<void> {
    const w = this.walk(p, false);
    if (w.node) throw fsError("EEXIST", "mkdir", p);
    this.requireAccess(w.parent, 3, "mkdir", p);
    w.parent.children.set(w.name, this.newDir(mode & 0o7777 & ~this.umask));
    w.parent.nlink++;
    w.parent.mtime = now();
  }

  async rmdir(p: string): Promise<void> {
    const w = this.walk(p, false);
    if (!w.node) throw fsError("ENOENT", "rmdir", p);
    if (w.node === this.root) throw fsError("EBUSY", "rmdir", p);
    if (w.node.type !== "dir") throw fsError("ENOTDIR", "rmdir", p);
    if (w.node.children.size > 0) throw fsError("ENOTEMPTY", "rmdir", p);
    this.requireAccess(w.parent, 3, "rmdir", p);
    w.parent.children.delete(w.name);
    w.parent.nlink--;
    w.parent.mtime = now();
  }

  async realpath(p: string): Promise<string> {
    const w = this.walk(p, true);
    if (!w.node) throw fsError("ENOENT", "realpath", p);
    return w.path;
  }

  async rename(oldPath: string, newPath: string, overwrite: boolean): Promise<void> {
    const from = this.walk(oldPath, false);
    if (!from.node) throw fsError("ENOENT", "rename", oldPath);
    const to = this.walk(newPath, false);
    if (to.node === from.node) return;
    if (from.node === this.root) throw fsError("EBUSY", "rename", oldPath);
    if (from.node.type === "dir" && (to.path + "/").startsWith(from.path + "/")) {
      throw fsError("EINVAL", "rename", newPath);
    }
    if (to.node) {
      if (!overwrite) throw fsError("EEXIST", "rename", newPath);
      if (to.node.type === "dir" && from.node.type !== "dir") throw fsError("EISDIR", "rename", newPath);
      if (to.node.type !== "dir" && from.node.type === "dir") throw fsError("ENOTDIR", "rename", newPath);
      if (to.node.type === "dir" && to.node.children.size > 0) throw fsError("ENOTEMPTY", "rename", newPath);
      this.unlinkNode(to.parent, to.name, to.node);
    }
    this.requireAccess(from.parent, 3, "rename", oldPath);
    this.requireAccess(to.parent, 3, "rename", newPath);
    from.parent.children.delete(from.name);
    to.parent.children.set(to.name, from.node);
    from.parent.mtime = to.parent.mtime = now();
  }

  async readlink(p: string): Promise<string> {
    const node = this.existing(p, false, "readlink");
    if (node.type !== "link") throw fsError("EINVAL", "readlink", p);
    return node.target;
  }

  async symlink(target: string, linkPath: string): Promise<void> {
    const w = this.walk(linkPath, false);
    if (w.node) throw fsError("EEXIST", "symlink", linkPath);
    this.requireAccess(w.parent, 3, "symlink", linkPath);
    w.parent.children.set(w.name, { ...this.base(FileType.SYMLINK | 0o777), type: "link", target });
    w.parent.mtime = now();
  }

  async link(existingPath: string, newPath: string): Promise<void> {
    const node = this.existing(existingPath, false, "link");
    if (node.type === "dir") throw fsError("EPERM", "link", existingPath);
    const w = this.walk(newPath, false);
    if (w.node) throw fsError("EEXIST", "link", newPath);
    this.requireAccess(w.parent, 3, "link", newPath);
    w.parent.children.set(w.name, node);
    node.nlink++;
    w.parent.mtime = now();
  }

  async statvfs(p: string): Promise<SftpStatvfs> {
    this.existing(p, true, "statvfs");
    const blocks = Math.floor(this.maxBytes / BLOCK);
    const free = Math.max(0, blocks - Math.ceil(this.usedBytes / BLOCK));
    return {
      bsize: BLOCK,
      frsize: BLOCK,
      blocks,
      bfree: free,
      bavail: free,
      files: 1_000_000,
      ffree: 1_000_000,
      favail: 1_000_000,
      fsid: 0,
      flag: 0,
      namemax: 255,
    };
  }

  async userName(uid: number): Promise<string | undefined> {
    return this.options.users?.[uid];
  }

  async groupName(gid: number): Promise<string | undefined> {
    return this.options.groups?.[gid];
  }

  async homeDirectory(user: string): Promise<string | undefined> {
    return this.options.homes?.[user];
  }

  /** Bytes of file content held (for tests of the budget). */
  get bytesUsed(): number {
    return this.usedBytes;
  }
}

class MemoryFile implements SftpFile {
  private closed = false;

  constructor(
    private readonly fs: MemoryFileSystem,
    private readonly node: MemNode,
    private readonly path: string,
    private readonly readable: boolean,
    private readonly writable: boolean,
    private readonly append: boolean,
  ) {}

  private check(syscall: string): void {
    if (this.closed) throw fsError("EBADF", syscall, this.path);
  }

  async read(buffer: Buffer, bufferOffset: number, length: number, position: number): Promise<number> {
    this.check("read");
    if (this.node.type === "dir") throw fsError("EISDIR", "read", this.path);
    if (this.node.type !== "file" || !this.readable) throw fsError("EBADF", "read", this.path);
    const f = this.node;
    if (position >= f.size) return 0;
    const n = Math.min(length, f.size - position, buffer.length - bufferOffset);
    f.data.copy(buffer, bufferOffset, position, position + n);
    return n;
  }

  async write(data: Buffer, position: number): Promise<void> {
    this.check("write");
    if (this.node.type !== "file" || !this.writable) throw fsError("EBADF", "write", this.path);
    const f = this.node;
    const at = this.append ? f.size : position;
    if (at + data.length > f.size) this.fs.resize(f, at + data.length);
    data.copy(f.data, at);
    f.mtime = Math.floor(Date.now() / 1000);
  }

  async stat(): Promise<SftpStats> {
    this.check("fstat");
    const n = this.node;
    const size = n.type === "file" ? n.size : n.type === "link" ? Buffer.byteLength(n.target) : BLOCK;
    return { mode: n.mode, size, uid: n.uid, gid: n.gid, atime: n.atime, mtime: n.mtime, nlink: n.nlink };
  }

  async setstat(attrs: SftpAttrs): Promise<void> {
    this.check("fsetstat");
    const n = this.node;
    if (attrs.size !== undefined) {
      if (n.type !== "file" || !this.writable) throw fsError("EINVAL", "ftruncate", this.path);
      this.fs.resize(n, attrs.size);
    }
    if (attrs.mode !== undefined) n.mode = (n.mode & FileType.MASK) | (attrs.mode & 0o7777);
    if (attrs.atime !== undefined || attrs.mtime !== undefined) {
      n.atime = attrs.atime ?? attrs.mtime!;
      n.mtime = attrs.mtime ?? attrs.atime!;
    }
    if (attrs.uid !== undefined && attrs.gid !== undefined) {
      n.uid = attrs.uid;
      n.gid = attrs.gid;
    }
  }

  async sync(): Promise<void> {
    this.check("fsync");
  }

  async close(): Promise<void> {
    this.check("close");
    this.closed = true;
  }
}

class MemoryDirectory implements SftpDirectory {
  private pos = 0;

  constructor(private readonly entries: SftpDirectoryEntry[]) {}

  async read(): Promise<SftpDirectoryEntry[] | null> {
    if (this.pos >= this.entries.length) return null;
    const batch = this.entries.slice(this.pos, this.pos + DIRECTORY_BATCH);
    this.pos += batch.length;
    return batch;
  }

  async close(): Promise<void> {}
}
