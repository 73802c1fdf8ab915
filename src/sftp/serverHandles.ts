/**
 * The handles of one SFTP session: open files and directories behind opaque 4-byte strings. Their number
 * is bounded (a client cannot make the server hold unbounded descriptors); an unknown, closed or
 * malformed handle finds nothing.
 */
import type { SftpDirectory, SftpFile, SftpStats } from "./fileSystem.js";

/** Open handles per session: OpenSSH's sftp-server is bounded by its descriptors; 512 as limits@ says. */
export const MAX_OPEN_HANDLES = 512;

export interface FileHandleEntry {
  kind: "file";
  file: SftpFile;
  /** Virtual path (for logs) and filesystem path (for fstatvfs). */
  path: string;
  fsPath: string;
  /** The OPEN pflags. */
  flags: number;
  bytesRead: number;
  bytesWritten: number;
}

export interface DirectoryHandleEntry {
  kind: "directory";
  dir: SftpDirectory;
  path: string;
  fsPath: string;
  /** "." and ".." come first, as readdir(3) gives them; the filesystem's entries then follow. */
  dots: Array<{ name: string; stats: SftpStats }> | null;
}

export type HandleEntry = FileHandleEntry | DirectoryHandleEntry;

export class HandleTable {
  private readonly entries = new Map<number, HandleEntry>();
  private next = 1;

  constructor(readonly max = MAX_OPEN_HANDLES) {}

  get size(): number {
    return this.entries.size;
  }

  get full(): boolean {
    return this.entries.size >= this.max;
  }

  add(entry: HandleEntry): Buffer {
    const id = this.next;
    this.next = this.next >= 0xffffffff ? 1 : this.next + 1;
    this.entries.set(id, entry);
    const h = Buffer.alloc(4);
    h.writeUInt32BE(id, 0);
    return h;
  }

  get(handle: Buffer): HandleEntry | undefined {
    if (handle.length !== 4) return undefined;
    return this.entries.get(handle.readUInt32BE(0));
  }

  remove(handle: Buffer): HandleEntry | undefined {
    if (handle.length !== 4) return undefined;
    const id = handle.readUInt32BE(0);
    const entry = this.entries.get(id);
    this.entries.delete(id);
    return entry;
  }

  /** Take every entry out (the session is ending). */
  drain(): HandleEntry[] {
    const all = [...this.entries.values()];
    this.entries.clear();
    return all;
  }
}
