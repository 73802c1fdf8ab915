/**
 * The SFTP client (draft-ietf-secsh-filexfer-02, version 3, with OpenSSH's extensions from its PROTOCOL
 * file) over any pair of byte streams (a subsystem channel, or a child `ssh -s host sftp`'s stdio): an
 * async fs-like API. The framing and request matching are in clientChannel.ts, the pipelined get/put in
 * clientTransfer.ts, the Node streams in clientStreams.ts.
 */
import type { Readable, Writable } from "node:stream";
import { SshError, SshReader, SshWriter } from "../wire/index.js";
import { decodeAttrs, encodeAttrs, type SftpAttrs } from "./attrs.js";
import {
  DEFAULT_BLOCK_SIZE,
  MAX_BLOCK_SIZE,
  MAX_INCOMING_PACKET,
  SftpChannel,
  statusError,
  type Reply,
} from "./clientChannel.js";
import { FXP, OpenFlags, SftpError, SftpStatus, type SftpStatusCode } from "./clientErrors.js";
import { byteLength } from "./packetParser.js";
import { decodeStatvfsBody, type SftpLimits, type SftpStatvfs } from "./protocol.js";
import { downloadFile, uploadFile, type TransferOptions } from "./clientTransfer.js";
import { createSftpReadStream, createSftpWriteStream, type ReadStreamOptions } from "./clientStreams.js";
import type { WriteStreamOptions } from "./clientStreams.js";

export interface SftpEntry {
  filename: string;
  longname: string;
  attrs: SftpAttrs;
}

/** A remote open file: the opaque handle string and the path it was opened as (for messages). */
export class SftpHandle {
  closed = false;
  constructor(
    readonly handle: Buffer,
    readonly path: string,
  ) {}
}

/** open() flags as fs.open spells them, or the protocol's SSH_FXF_* bits. */
export type OpenMode = "r" | "r+" | "w" | "w+" | "a" | "a+" | "wx" | "ax" | number;

function pflagsOf(mode: OpenMode): number {
  if (typeof mode === "number") return mode;
  const { READ, WRITE, APPEND, CREAT, TRUNC, EXCL } = OpenFlags;
  switch (mode) {
    case "r":
      return READ;
    case "r+":
      return READ | WRITE;
    case "w":
      return WRITE | CREAT | TRUNC;
    case "w+":
      return READ | WRITE | CREAT | TRUNC;
    case "a":
      return WRITE | CREAT | APPEND;
    case "a+":
      return READ | WRITE | CREAT | APPEND;
    case "wx":
      return WRITE | CREAT | EXCL;
    case "ax":
      return WRITE | CREAT | APPEND | EXCL;
  }
}

export class SftpClient extends SftpChannel {
  // ---- attributes ----

  async stat(path: string): Promise<SftpAttrs> {
    const r = await this.pathRequest(FXP.STAT, path);
    this.expectType(r, FXP.ATTRS, "stat", path);
    return decodeAttrs(r);
  }

  async lstat(path: string): Promise<SftpAttrs> {
    const r = await this.pathRequest(FXP.LSTAT, path);
    this.expectType(r, FXP.ATTRS, "lstat", path);
    return decodeAttrs(r);
  }

  async fstat(h: SftpHandle): Promise<SftpAttrs> {
    const r = await this.request(FXP.FSTAT, (w) => w.string(h.handle));
    this.expectType(r, FXP.ATTRS, "fstat", h.path);
    return decodeAttrs(r);
  }

  async setstat(path: string, attrs: SftpAttrs): Promise<void> {
    const r = await this.request(FXP.SETSTAT, (w) => encodeAttrs(w.string(path), attrs));
    this.expectOk(r, "setstat", path);
  }

  /** setstat that does not follow a final symlink (lsetstat@openssh.com). */
  async lsetstat(path: string, attrs: SftpAttrs): Promise<void> {
    await this.extendedOk("lsetstat@openssh.com", encodeAttrs(new SshWriter().string(path), attrs), path);
  }

  async fsetstat(h: SftpHandle, attrs: SftpAttrs): Promise<void> {
    const r = await this.request(FXP.FSETSTAT, (w) => encodeAttrs(w.string(h.handle), attrs));
    this.expectOk(r, "fsetstat", h.path);
  }

  chmod(path: string, mode: number): Promise<void> {
    return this.setstat(path, { mode: mode & 0o7777 });
  }

  chown(path: string, uid: number, gid: number): Promise<void> {
    return this.setstat(path, { uid, gid });
  }

  /** Times in seconds since the epoch, or Dates. */
  utimes(path: string, atime: number | Date, mtime: number | Date): Promise<void> {
    const s = (t: number | Date): number => (t instanceof Date ? Math.floor(t.getTime() / 1000) : t);
    return this.setstat(path, { atime: s(atime), mtime: s(mtime) });
  }

  // ---- names ----

  async realpath(path: string): Promise<string> {
    const r = await this.pathRequest(FXP.REALPATH, path);
    return this.singleName(r, "realpath", path);
  }

  /** expand-path@openssh.com ("~/x", "~user/x") where offered, else realpath. */
  async expandPath(path: string): Promise<string> {
    if (!this.extensions.has("expand-path@openssh.com")) return this.realpath(path);
    const r = await this.extended("expand-path@openssh.com", new SshWriter().string(path));
    return this.singleName(r, "expand-path", path);
  }

  async readlink(path: string): Promise<string> {
    const r = await this.pathRequest(FXP.READLINK, path);
    return this.singleName(r, "readlink", path);
  }

  private singleName(r: Reply, what: string, path: string): string {
    this.expectType(r, FXP.NAME, what, path);
    const count = r.uint32();
    if (count !== 1) throw new SshError("PROTOCOL", `${what} returned ${count} names`);
    return r.string(64 * 1024, "filename").toString("utf8");
  }

  async mkdir(path: string, attrs: SftpAttrs = {}): Promise<void> {
    const r = await this.request(FXP.MKDIR, (w) => encodeAttrs(w.string(path), attrs));
    this.expectOk(r, "mkdir", path);
  }

  async rmdir(path: string): Promise<void> {
    this.expectOk(await this.pathRequest(FXP.RMDIR, path), "rmdir", path);
  }

  async unlink(path: string): Promise<void> {
    this.expectOk(await this.pathRequest(FXP.REMOVE, path), "remove", path);
  }

  /**
   * Rename. With `posix: true` (or by default when the server offers posix-rename@openssh.com) an
   * existing target is replaced atomically, as rename(2); plain SSH_FXP_RENAME fails on an existing target.
   */
  async rename(from: string, to: string, options: { posix?: boolean } = {}): Promise<void> {
    const posix = options.posix ?? this.extensions.has("posix-rename@openssh.com");
    if (posix) {
      await this.extendedOk("posix-rename@openssh.com", new SshWriter().string(from).string(to), from);
      return;
    }
    const r = await this.request(FXP.RENAME, (w) => w.string(from).string(to));
    this.expectOk(r, "rename", from);
  }

  /**
   * Make `linkPath` a symbolic link to `target`. OpenSSH's server takes SYMLINK's paths in the reverse of
   * the draft's order (target first; PROTOCOL §4.1), and so do we, as OpenSSH's sftp sends them.
   */
  async symlink(target: string, linkPath: string): Promise<void> {
    const r = await this.request(FXP.SYMLINK, (w) => w.string(target).string(linkPath));
    this.expectOk(r, "symlink", linkPath);
  }

  /** hardlink@openssh.com. */
  async hardlink(existing: string, newPath: string): Promise<void> {
    await this.extendedOk("hardlink@openssh.com", new SshWriter().string(existing).string(newPath), newPath);
  }

  async statvfs(path: string): Promise<SftpStatvfs> {
    if (!this.extensions.has("statvfs@openssh.com")) {
      throw new SftpError(
        SftpStatus.OP_UNSUPPORTED,
        "Server does not support the statvfs@openssh.com extension",
      );
    }
    return decodeStatvfsBody(await this.extended("statvfs@openssh.com", new SshWriter().string(path)));
  }

  /**
   * users-groups-by-id@openssh.com: the names of uids and gids on the server ("" where it has none), for
   * `ls -l` of single files; null when the server does not offer the extension.
   */
  async usersGroupsById(
    uids: number[],
    gids: number[],
  ): Promise<{ users: string[]; groups: string[] } | null> {
    if (!this.extensions.has("users-groups-by-id@openssh.com")) return null;
    const pack = (ids: number[]): Buffer => {
      const w = new SshWriter(ids.length * 4 + 4);
      for (const id of ids) w.uint32(id);
      return w.toBuffer();
    };
    const r = await this.extended(
      "users-groups-by-id@openssh.com",
      new SshWriter().string(pack(uids)).string(pack(gids)),
    );
    const unpack = (b: Buffer, count: number): string[] => {
      const inner = new SshReader(b);
      const names: string[] = [];
      for (let i = 0; i < count && inner.remaining > 0; i++)
        names.push(inner.string(1024, "name").toString("utf8"));
      return names;
    };
    const users = unpack(r.string(1024 * 1024, "usernames"), uids.length);
    const groups = unpack(r.string(1024 * 1024, "groupnames"), gids.length);
    return { users, groups };
  }

  /** Every entry of a directory, "." and ".." included as the server sends them. */
  async readdir(path: string): Promise<SftpEntry[]> {
    const r = await this.pathRequest(FXP.OPENDIR, path);
    this.expectType(r, FXP.HANDLE, "opendir", path);
    const h = new SftpHandle(r.string(256, "handle"), path);
    const entries: SftpEntry[] = [];
    try {
      for (;;) {
        const d = await this.request(FXP.READDIR, (w) => w.string(h.handle));
        if (d.type === FXP.STATUS) {
          const code = d.uint32() as SftpStatusCode;
          if (code === SftpStatus.EOF) break;
          throw statusError(d, code, "readdir", path);
        }
        this.expectType(d, FXP.NAME, "readdir", path);
        const count = d.uint32();
        for (let i = 0; i < count; i++) {
          const filename = d.string(64 * 1024, "filename").toString("utf8");
          const longname = d.string(64 * 1024, "longname").toString("utf8");
          entries.push({ filename, longname, attrs: decodeAttrs(d) });
        }
        // A bound on what a server can make us hold: a million entries is a directory no one lists.
        if (entries.length > 1_000_000) throw new SshError("PROTOCOL", `${path}: too many directory entries`);
      }
    } finally {
      await this.close(h).catch(() => {}); // the listing is what matters; a failed close only leaks a handle
    }
    return entries;
  }

  // ---- files ----

  async open(path: string, mode: OpenMode = "r", attrs: SftpAttrs = {}): Promise<SftpHandle> {
    const flags = pflagsOf(mode);
    const r = await this.request(FXP.OPEN, (w) => encodeAttrs(w.string(path).uint32(flags), attrs));
    this.expectType(r, FXP.HANDLE, "open", path);
    return new SftpHandle(r.string(256, "handle"), path);
  }

  async close(h: SftpHandle): Promise<void> {
    if (h.closed) return;
    h.closed = true;
    this.expectOk(await this.request(FXP.CLOSE, (w) => w.string(h.handle)), "close", h.path);
  }

  /** Read up to `length` bytes at `position`; null at end of file. May return fewer bytes than asked. */
  async read(h: SftpHandle, position: number, length: number): Promise<Buffer | null> {
    const parts = await this.readParts(h, position, length);
    if (parts === null) return null;
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  /**
   * read() without joining: the bytes as the slices they arrived in (one buffer when they came in one
   * chunk), for writing to a file with writev. Null at end of file (an empty DATA gives [empty]).
   */
  async readParts(h: SftpHandle, position: number, length: number): Promise<Buffer[] | null> {
    const r = await this.request(FXP.READ, (w) => w.string(h.handle).uint64(BigInt(position)).uint32(length));
    return this.dataOf(r, h, length);
  }

  /**
   * READs of `lengths[i]` bytes at `positions[i]`, all sent in one write (one channel write, one SSH
   * packet, where one each would cost a packet's sealing and a socket write each); each reply goes to
   * `done(i, error, parts)` as readParts() would give it. For transfers keeping many READs in flight;
   * needs init() resolved.
   */
  readMany(
    h: SftpHandle,
    positions: readonly number[],
    lengths: readonly number[],
    done: (i: number, err: Error | null, parts: Buffer[] | null) => void,
  ): void {
    const hl = h.handle.length;
    // uint32 length, byte type, uint32 id, string handle, uint64 offset, uint32 length (filexfer-02 §6.4).
    const size = 25 + hl;
    const packets = Buffer.allocUnsafe(size * positions.length);
    for (let i = 0; i < positions.length; i++) {
      const length = lengths[i]!;
      const position = positions[i]!;
      const id = this.registerRequest({
        resolve: (r) => {
          let parts: Buffer[] | null;
          try {
            parts = this.dataOf(r, h, length);
          } catch (err) {
            done(i, err as Error, null);
            return;
          }
          done(i, null, parts);
        },
        reject: (err) => done(i, err, null),
      });
      const at = i * size;
      packets.writeUInt32BE(size - 4, at);
      packets[at + 4] = FXP.READ;
      packets.writeUInt32BE(id, at + 5);
      packets.writeUInt32BE(hl, at + 9);
      h.handle.copy(packets, at + 13);
      packets.writeUInt32BE(Math.floor(position / 0x100000000), at + 13 + hl);
      packets.writeUInt32BE(position >>> 0, at + 17 + hl);
      packets.writeUInt32BE(length, at + 21 + hl);
    }
    this.sendFramed(packets);
  }

  /** A READ's reply as its data's slices; null for EOF; a typed error for any other status. */
  private dataOf(r: Reply, h: SftpHandle, length: number): Buffer[] | null {
    if (r.type === FXP.STATUS) {
      const code = r.uint32() as SftpStatusCode;
      if (code === SftpStatus.EOF) return null;
      throw statusError(r, code, "read", h.path);
    }
    this.expectType(r, FXP.DATA, "read", h.path);
    let parts: Buffer[];
    if (r.data) {
      r.uint32(); // the data's length, which the parser checked against the packet's
      parts = r.data;
    } else parts = [r.string(MAX_INCOMING_PACKET, "data")];
    const n = byteLength(parts);
    if (n > length) throw new SshError("PROTOCOL", `server sent ${n} bytes for ${length}`);
    // An empty DATA is not an end of file (only STATUS EOF is), but carries nothing to write.
    return parts;
  }

  async write(h: SftpHandle, position: number, data: Uint8Array): Promise<void> {
    const r = await this.request(
      FXP.WRITE,
      (w) => w.string(h.handle).uint64(BigInt(position)).string(data),
      data.length + h.handle.length,
    );
    this.expectOk(r, "write", h.path);
  }

  /**
   * The bytes a WRITE request for `h` takes before its data: uint32 length, byte type, uint32 id,
   * string handle, uint64 offset, uint32 data length (filexfer-02 §6.4).
   */
  writeHeaderLength(h: SftpHandle): number {
    return 25 + h.handle.length;
  }

  /**
   * A WRITE for a request buffer the caller filled: `packet` holds `length` data bytes at
   * writeHeaderLength(h), read there straight from a file; the header is written here. `done(error)` once
   * the server has answered (null for OK), and the caller may then reuse the buffer. For transfers keeping
   * many WRITEs in flight; needs init() resolved.
   */
  writeFramed(
    h: SftpHandle,
    position: number,
    packet: Buffer,
    length: number,
    done: (err: Error | null) => void,
  ): void {
    const framed = this.frameWrite(h, position, packet, length);
    const id = this.registerRequest({
      resolve: (r) => {
        try {
          this.expectOk(r, "write", h.path);
        } catch (err) {
          done(err as Error);
          return;
        }
        done(null);
      },
      reject: (err) => done(err),
    });
    framed.writeUInt32BE(id, 5);
    this.sendFramed(framed);
  }

  /** Fill in a WRITE's header before its `length` data bytes (the id, at offset 5, is left to the sender). */
  private frameWrite(h: SftpHandle, position: number, packet: Buffer, length: number): Buffer {
    const hl = h.handle.length;
    const head = 25 + hl;
    packet.writeUInt32BE(head - 4 + length, 0);
    packet[4] = FXP.WRITE;
    packet.writeUInt32BE(hl, 9);
    h.handle.copy(packet, 13);
    packet.writeUInt32BE(Math.floor(position / 0x100000000), 13 + hl);
    packet.writeUInt32BE(position >>> 0, 17 + hl);
    packet.writeUInt32BE(length, 21 + hl);
    return packet.subarray(0, head + length);
  }

  /** fsync@openssh.com: ask the server to flush the file to disk. */
  async fsync(h: SftpHandle): Promise<void> {
    await this.extendedOk("fsync@openssh.com", new SshWriter().string(h.handle), h.path);
  }

  /** Read a whole remote file into memory. */
  async readFile(path: string): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const chunk of this.createReadStream(path)) parts.push(chunk as Buffer);
    return Buffer.concat(parts);
  }

  /** Write a whole remote file (created or truncated). */
  async writeFile(path: string, data: Uint8Array | string, attrs: SftpAttrs = {}): Promise<void> {
    const buf = typeof data === "string" ? Buffer.from(data) : data;
    const h = await this.open(path, "w", attrs);
    try {
      const block = this.blockSize("write");
      const writes: Promise<void>[] = [];
      for (let off = 0; off < buf.length; off += block) {
        writes.push(this.write(h, off, buf.subarray(off, off + block)));
      }
      await Promise.all(writes);
    } finally {
      await this.close(h);
    }
  }

  createReadStream(path: string, options: ReadStreamOptions = {}): Readable {
    return createSftpReadStream(this, path, options);
  }

  createWriteStream(path: string, options: WriteStreamOptions = {}): Writable {
    return createSftpWriteStream(this, path, options);
  }

  /** Download `remote` to the local file `local`, pipelined (see clientTransfer.ts). */
  get(remote: string, local: string, options: TransferOptions = {}): Promise<void> {
    return downloadFile(this, remote, local, options);
  }

  /** Upload the local file `local` to `remote`, pipelined (see clientTransfer.ts). */
  put(local: string, remote: string, options: TransferOptions = {}): Promise<void> {
    return uploadFile(this, local, remote, options);
  }
}

export { SftpError, SftpChannel, DEFAULT_BLOCK_SIZE, MAX_BLOCK_SIZE };
export type { SftpAttrs, TransferOptions, SftpLimits, SftpStatvfs };
