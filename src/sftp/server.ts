/**
 * The SFTP server (draft-ietf-secsh-filexfer-02, version 3, with OpenSSH's extensions) over any pair of
 * streams: a session channel's "sftp" subsystem, or stdin/stdout for `nsftp-server`. Requests are
 * answered one at a time, in the order they came, as OpenSSH's sftp-server does: OpenSSH's scp writes a
 * download in place and counts on READ replies arriving in request order. Every failure of a request is a
 * STATUS reply; only a packet over the length limit or one out of protocol order ends the session.
 */
import os from "node:os";
import type { Readable, Writable } from "node:stream";
import type { LogLevel } from "../transport/index.js";
import { SshError, SshReader } from "../wire/index.js";
import { decodeAttrs, type SftpAttrs } from "./attrs.js";
import { DiskFileSystem } from "./fileSystemDisk.js";
import type { SftpFileSystem, SftpStats } from "./fileSystem.js";
import {
  MAX_HANDLE_LENGTH,
  MAX_PACKET_LENGTH,
  MAX_READ_LENGTH,
  OpenFlags,
  PacketType,
  SFTP_VERSION,
  StatusCode,
  encodeAttrsReply,
  encodeHandle,
  encodeName,
  encodeStatus,
  encodeVersion,
  requestNames,
  serverExtensions,
} from "./protocol.js";
import { SftpPacketParser, type SftpPacket } from "./packetParser.js";
import { chunksOf } from "./serverInput.js";
import { openDirectory, readDirectory } from "./serverDirectories.js";
import { handleExtendedRequest } from "./serverExtensions.js";
import { HandleTable, type FileHandleEntry } from "./serverHandles.js";
import { PathResolver } from "./serverPaths.js";
import { SftpStatusError, statusForError } from "./serverStatus.js";

export interface SftpServerOptions {
  /** The filesystem to serve (default: the real disk with the process's rights). */
  fs?: SftpFileSystem;
  /** Refuse every request that would change the filesystem (sftp-server -R). */
  readOnly?: boolean;
  /** Bits cleared from the mode of files and directories created (sftp-server -u), on top of the process umask. */
  umask?: number;
  /** Where relative paths start (sftp-server -d); a virtual path when `root` is set. Default: the home directory. */
  startDirectory?: string;
  /** Serve only this directory, as "/" (chroot-like: `..` never leaves it). */
  root?: string;
  /** Only these requests (sftp-server -p names: "open", "read", "posix-rename"...). */
  allowedRequests?: string[];
  /** Never these requests (sftp-server -P); applied before allowedRequests. */
  deniedRequests?: string[];
  log?: (level: LogLevel, message: string) => void;
  /** The session user's home directory (home-directory, expand-path "~"); default os.homedir(), "/" with a root. */
  homeDirectory?: string;
  /** The session user's name, for home-directory requests naming it (default os.userInfo().username). */
  userName?: string;
  /** Open handles at once (default 512). */
  maxHandles?: number;
  /**
   * The client's SSH version string (transport.peerVersion), for the one quirk that depends on it: the
   * argument order of SYMLINK (see DRAFT_SYMLINK_ORDER_CLIENTS).
   */
  clientVersion?: string;
}

/** Clients that send SYMLINK's paths in filexfer-02's order (link path first) to a server not named OpenSSH. */
const DRAFT_SYMLINK_ORDER_CLIENTS = /^SSH-2\.0-ssh2js/;

/** Requests that change the filesystem: refused in read-only mode (sftp-server.c handlers[].does_write). */
const WRITING_REQUESTS = new Set([
  "write",
  "setstat",
  "fsetstat",
  "remove",
  "mkdir",
  "rmdir",
  "rename",
  "symlink",
  "posix-rename",
  "hardlink",
  "fsync",
  "lsetstat",
  "copy-data",
]);

/** Serve SFTP on `input`/`output` until `input` ends; then every handle is closed. */
export async function serveSftp(
  input: Readable,
  output: Writable,
  options: SftpServerOptions = {},
): Promise<void> {
  const server = new SftpServerSession(output, options);
  const parser = new SftpPacketParser(MAX_PACKET_LENGTH, true);
  try {
    for await (const chunk of chunksOf(input)) {
      const packets = parser.push(chunk);
      for (const packet of packets) {
        await server.handle(packet);
        if (server.outputGone) return;
      }
    }
    if (parser.pending > 0)
      server.log("debug1", `sftp: input ended inside a packet (${parser.pending} bytes)`);
  } catch (err) {
    if (err instanceof SshError) {
      server.log("error", `sftp: ${err.message}; ending the session`);
      throw err;
    }
    // The channel or pipe failed under us (the client went away): an end of input, not a server fault.
    if ((err as NodeJS.ErrnoException).code === "ERR_STREAM_PREMATURE_CLOSE") {
      server.log("debug1", "sftp: input closed");
      return;
    }
    server.log("error", `sftp: input failed: ${messageOf(err)}`);
    throw err;
  } finally {
    server.flush();
    await server.closeAll();
  }
}

/** One SFTP session's state; exported for the extension handlers (serverExtensions.ts), not the API. */
export class SftpServerSession {
  readonly fs: SftpFileSystem;
  readonly paths: PathResolver;
  readonly handles: HandleTable;
  readonly homeDirectory: string;
  readonly userName: string;
  private initialized = false;
  private readonly allowed: Set<string> | null;
  private readonly denied: Set<string>;
  outputGone = false;
  private corked = false;

  constructor(
    private readonly output: Writable,
    readonly options: SftpServerOptions,
  ) {
    this.fs = options.fs ?? new DiskFileSystem();
    const rooted = options.root !== undefined && options.root !== "/";
    this.homeDirectory = options.homeDirectory ?? (rooted ? "/" : os.homedir());
    this.userName = options.userName ?? os.userInfo().username;
    this.paths = new PathResolver(options.root, options.startDirectory ?? this.homeDirectory);
    this.handles = new HandleTable(options.maxHandles);
    this.allowed = options.allowedRequests ? new Set(options.allowedRequests) : null;
    this.denied = new Set(options.deniedRequests ?? []);
    output.on("close", () => {
      this.outputGone = true;
    });
    // EPIPE on stdout, a channel torn down: no more replies can go out; the input's end follows.
    output.on("error", (err) => {
      this.outputGone = true;
      this.log("debug1", `sftp: output failed: ${err.message}`);
    });
  }

  log(level: LogLevel, message: string): void {
    this.options.log?.(level, message);
  }

  /** May this request run? (sftp-server.c request_permitted: -P, then -p, then -R). */
  permitted(name: string): boolean {
    if (this.denied.has(name)) {
      this.log("info", `Refusing denied request "${name}"`);
      return false;
    }
    if (this.allowed && !this.allowed.has(name)) {
      this.log("info", `Refusing request "${name}": not in the allowed list`);
      return false;
    }
    if (this.options.readOnly && WRITING_REQUESTS.has(name)) {
      this.log("info", `Refusing "${name}" request in read-only mode`);
      return false;
    }
    return true;
  }

  async send(packet: Buffer): Promise<void> {
    const out = this.output;
    if (this.outputGone || out.destroyed || out.writableEnded) {
      this.outputGone = true;
      return;
    }
    // Replies made in one turn of the event loop go out together, as one channel packet (and one
    // socket write) where they fit: an upload's STATUS replies each cost a packet's sealing otherwise.
    if (!this.corked) {
      this.corked = true;
      out.cork();
      setImmediate(() => this.flush());
    }
    if (out.write(packet)) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        out.off("drain", done);
        out.off("close", done);
        out.off("error", done);
        resolve();
      };
      out.on("drain", done);
      out.on("close", done);
      out.on("error", done);
    });
  }

  /** Send the replies held for this turn of the event loop now. */
  flush(): void {
    if (!this.corked) return;
    this.corked = false;
    this.output.uncork();
  }

  /** Answer one packet. */
  async handle(packet: SftpPacket): Promise<void> {
    if (packet.type === PacketType.INIT) {
      if (this.initialized) throw new SshError("PROTOCOL", "SFTP INIT received twice");
      this.initialized = true;
      const r = new SshReader(packet.payload);
      const version = r.uint32();
      this.log("debug1", `sftp: client version ${version}`);
      // Version 3 whatever the client offers (OpenSSH's sftp-server does the same).
      await this.send(encodeVersion(serverExtensions, SFTP_VERSION));
      return;
    }
    if (!this.initialized) throw new SshError("PROTOCOL", `SFTP request ${packet.type} before INIT`);
    if (packet.payload.length < 4) {
      // No request id to answer to: answer 0, so a client at least sees a status.
      await this.send(encodeStatus(0, StatusCode.BAD_MESSAGE, "Bad message"));
      return;
    }
    const r = new SshReader(packet.payload);
    const id = r.uint32();
    let reply: Buffer;
    try {
      reply = await this.dispatch(packet.type, id, r, packet.data);
    } catch (err) {
      const { status, message } = statusForError(err);
      if (status === StatusCode.FAILURE && !(err instanceof SftpStatusError)) {
        this.log("verbose", `sftp: request ${packet.type} failed: ${messageOf(err)}`);
      } else {
        this.log("debug1", `sftp: request ${packet.type}: status ${status}: ${messageOf(err)}`);
      }
      reply = encodeStatus(id, status, message);
    }
    await this.send(reply);
  }

  private async dispatch(type: number, id: number, r: SshReader, data?: Buffer[]): Promise<Buffer> {
    if (type === PacketType.EXTENDED) {
      return handleExtendedRequest(this, id, r);
    }
    const name = requestNames[type];
    if (name === undefined) {
      this.log("error", `sftp: unknown message ${type}`);
      return encodeStatus(id, StatusCode.OP_UNSUPPORTED);
    }
    if (!this.permitted(name)) return encodeStatus(id, StatusCode.PERMISSION_DENIED);
    switch (type) {
      case PacketType.OPEN:
        return this.open(id, r);
      case PacketType.CLOSE:
        return this.close(id, r);
      case PacketType.READ:
        return this.read(id, r);
      case PacketType.WRITE:
        return this.write(id, r, data);
      case PacketType.LSTAT:
      case PacketType.STAT: {
        const p = this.paths.resolve(this.readPath(r));
        const st = type === PacketType.STAT ? await this.fs.stat(p) : await this.fs.lstat(p);
        return encodeAttrsReply(id, attrsFromStats(st));
      }
      case PacketType.FSTAT:
        return encodeAttrsReply(id, attrsFromStats(await this.fileHandle(r).file.stat()));
      case PacketType.SETSTAT: {
        const p = this.readPath(r);
        const attrs = decodeAttrs(r);
        this.log("info", `set "${p}"${describeAttrs(attrs)}`);
        await this.fs.setstat(this.paths.resolve(p), attrs, true);
        return this.ok(id);
      }
      case PacketType.FSETSTAT: {
        const h = this.fileHandle(r);
        const attrs = decodeAttrs(r);
        this.log("info", `set "${h.path}"${describeAttrs(attrs)}`);
        await h.file.setstat(attrs);
        return this.ok(id);
      }
      case PacketType.OPENDIR:
        return openDirectory(this, id, r);
      case PacketType.READDIR:
        return readDirectory(this, id, r);
      case PacketType.REMOVE: {
        const p = this.readPath(r);
        this.log("info", `remove name "${p}"`);
        await this.fs.remove(this.paths.resolve(p));
        return this.ok(id);
      }
      case PacketType.MKDIR: {
        const p = this.readPath(r);
        const attrs = decodeAttrs(r);
        const mode = this.applyUmask(attrs.mode !== undefined ? attrs.mode & 0o7777 : 0o777);
        this.log("info", `mkdir name "${p}" mode 0${mode.toString(8)}`);
        await this.fs.mkdir(this.paths.resolve(p), mode);
        return this.ok(id);
      }
      case PacketType.RMDIR: {
        const p = this.readPath(r);
        this.log("info", `rmdir name "${p}"`);
        await this.fs.rmdir(this.paths.resolve(p));
        return this.ok(id);
      }
      case PacketType.REALPATH: {
        const resolved = await this.realpath(this.readPath(r));
        return encodeName(id, [{ filename: resolved, longname: resolved, attrs: {} }]);
      }
      case PacketType.RENAME: {
        const from = this.readPath(r);
        const to = this.readPath(r);
        this.log("info", `rename old "${from}" new "${to}"`);
        await this.fs.rename(this.paths.resolve(from), this.paths.resolve(to), false);
        return this.ok(id);
      }
      case PacketType.READLINK: {
        const target = await this.fs.readlink(this.paths.resolve(this.readPath(r)));
        return encodeName(id, [{ filename: target, longname: target, attrs: {} }]);
      }
      case PacketType.SYMLINK: {
        // OpenSSH sends the target first and the link's own path second, the reverse of filexfer-02
        // §6.10 (OpenSSH PROTOCOL §3.1); its clients are the ones that matter, so that order is read.
        // The ssh2 library sends the draft's order to servers not named OpenSSH, so its order is
        // swapped back (as other servers do for clients whose version string says OpenSSH).
        const first = this.readPath(r);
        const second = this.readPath(r);
        const draftOrder = DRAFT_SYMLINK_ORDER_CLIENTS.test(this.options.clientVersion ?? "");
        const [target, linkPath] = draftOrder ? [second, first] : [first, second];
        this.log("info", `symlink old "${target}" new "${linkPath}"`);
        await this.fs.symlink(target, this.paths.resolve(linkPath));
        return this.ok(id);
      }
      default:
        return encodeStatus(id, StatusCode.OP_UNSUPPORTED);
    }
  }

  ok(id: number): Buffer {
    return encodeStatus(id, StatusCode.OK);
  }

  applyUmask(mode: number): number {
    return this.options.umask !== undefined ? mode & ~this.options.umask : mode;
  }

  /** A path field: UTF-8 text without NUL bytes. */
  readPath(r: SshReader): string {
    const raw = r.string(MAX_PACKET_LENGTH, "path");
    if (raw.includes(0)) throw new SftpStatusError(StatusCode.BAD_MESSAGE, "Path contains a NUL byte");
    return raw.toString("utf8");
  }

  readHandle(r: SshReader): Buffer {
    return r.string(MAX_HANDLE_LENGTH, "handle");
  }

  fileHandle(r: SshReader): FileHandleEntry {
    return this.lookupFile(this.readHandle(r));
  }

  lookupFile(handle: Buffer): FileHandleEntry {
    const h = this.handles.get(handle);
    if (!h || h.kind !== "file") throw new SftpStatusError(StatusCode.FAILURE, "Invalid handle");
    return h;
  }

  /**
   * REALPATH as OpenSSH's sftp_realpath(): symlinks resolved, the last component allowed not to exist.
   * With a root, a path that resolves outside it is answered lexically, never with the outside name.
   */
  async realpath(clientPath: string): Promise<string> {
    const virtual = this.paths.virtual(clientPath);
    const fsPath = this.paths.toFs(virtual);
    let real: string;
    try {
      real = await this.fs.realpath(fsPath);
    } catch (err) {
      // "dir/" names a directory: only a last component without a slash may be missing.
      const trailingSlash = clientPath.length > 1 && clientPath.endsWith("/");
      if ((err as NodeJS.ErrnoException).code !== "ENOENT" || virtual === "/" || trailingSlash) throw err;
      const parent = virtual.slice(0, virtual.lastIndexOf("/")) || "/";
      const base = virtual.slice(virtual.lastIndexOf("/") + 1);
      const realParent = await this.fs.realpath(this.paths.toFs(parent));
      real = realParent === "/" ? `/${base}` : `${realParent}/${base}`;
    }
    return this.paths.fromFs(real) ?? virtual;
  }

  private async open(id: number, r: SshReader): Promise<Buffer> {
    const p = this.readPath(r);
    const pflags = r.uint32();
    const attrs = decodeAttrs(r);
    const mode = this.applyUmask(attrs.mode !== undefined ? attrs.mode & 0o7777 : 0o666);
    this.log("info", `open "${p}" flags ${describeOpenFlags(pflags)} mode 0${mode.toString(8)}`);
    if (
      this.options.readOnly &&
      pflags & (OpenFlags.WRITE | OpenFlags.APPEND | OpenFlags.CREAT | OpenFlags.TRUNC)
    ) {
      this.log("info", "Refusing open request for writing in read-only mode");
      return encodeStatus(id, StatusCode.PERMISSION_DENIED);
    }
    if (this.handles.full) throw new SftpStatusError(StatusCode.FAILURE, "Too many open handles");
    const fsPath = this.paths.resolve(p);
    const file = await this.fs.open(fsPath, { flags: pflags, mode });
    const handle = this.handles.add({
      kind: "file",
      file,
      path: p,
      fsPath,
      flags: pflags,
      bytesRead: 0,
      bytesWritten: 0,
    });
    return encodeHandle(id, handle);
  }

  private async close(id: number, r: SshReader): Promise<Buffer> {
    const entry = this.handles.remove(this.readHandle(r));
    if (!entry) throw new SftpStatusError(StatusCode.FAILURE, "Invalid handle");
    if (entry.kind === "file") {
      this.log("info", `close "${entry.path}" bytes read ${entry.bytesRead} written ${entry.bytesWritten}`);
      await entry.file.close();
    } else {
      this.log("info", `closedir "${entry.path}"`);
      await entry.dir.close();
    }
    return this.ok(id);
  }

  private async read(id: number, r: SshReader): Promise<Buffer> {
    const handle = this.readHandle(r);
    const offset = r.uint64();
    // A READ for 4 GiB allocates no more than the cap: the reply is short, as filexfer-02 §6.4 allows.
    const length = Math.min(r.uint32(), MAX_READ_LENGTH);
    const h = this.lookupFile(handle);
    if (offset > BigInt(Number.MAX_SAFE_INTEGER)) return encodeStatus(id, StatusCode.EOF);
    if (length === 0) return encodeStatus(id, StatusCode.EOF);
    // The DATA header goes in front of the bytes in one buffer: the data is read straight into the packet.
    const packet = Buffer.allocUnsafe(13 + length);
    const n = await h.file.read(packet, 13, length, Number(offset));
    if (n === 0) return encodeStatus(id, StatusCode.EOF);
    h.bytesRead += n;
    packet.writeUInt32BE(9 + n, 0);
    packet[4] = PacketType.DATA;
    packet.writeUInt32BE(id, 5);
    packet.writeUInt32BE(n, 9);
    return packet.subarray(0, 13 + n);
  }

  /** WRITE; `parts` is its data when it came in several chunks (the reader then ends with the length). */
  private async write(id: number, r: SshReader, parts?: Buffer[]): Promise<Buffer> {
    const handle = this.readHandle(r);
    const offset = r.uint64();
    let data: Buffer | null = null;
    let length: number;
    if (parts)
      length = r.uint32(); // the parser checked it against the packet's length
    else {
      data = r.string(MAX_PACKET_LENGTH, "data");
      length = data.length;
    }
    const h = this.lookupFile(handle);
    if (offset > BigInt(Number.MAX_SAFE_INTEGER))
      throw new SftpStatusError(StatusCode.FAILURE, "Offset too large");
    const at = Number(offset);
    if (data) await h.file.write(data, at);
    else if (h.file.writev) await h.file.writev(parts!, at);
    else {
      let pos = at;
      for (const part of parts!) {
        await h.file.write(part, pos);
        pos += part.length;
      }
    }
    h.bytesWritten += length;
    return this.ok(id);
  }

  /** Close every handle (end of session); failures are logged, the rest still closed. */
  async closeAll(): Promise<void> {
    for (const entry of this.handles.drain()) {
      try {
        if (entry.kind === "file") await entry.file.close();
        else await entry.dir.close();
      } catch (err) {
        this.log("error", `sftp: closing "${entry.path}" at session end: ${messageOf(err)}`);
      }
    }
  }
}

/** A thrown value's message; a filesystem may throw anything, and logging it must not throw again. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function attrsFromStats(st: SftpStats): SftpAttrs {
  return { size: st.size, uid: st.uid, gid: st.gid, mode: st.mode, atime: st.atime, mtime: st.mtime };
}

function describeOpenFlags(pflags: number): string {
  const names: string[] = [];
  if (pflags & OpenFlags.READ) names.push("READ");
  if (pflags & OpenFlags.WRITE) names.push("WRITE");
  if (pflags & OpenFlags.APPEND) names.push("APPEND");
  if (pflags & OpenFlags.CREAT) names.push("CREATE");
  if (pflags & OpenFlags.TRUNC) names.push("TRUNCATE");
  if (pflags & OpenFlags.EXCL) names.push("EXCL");
  return names.join(",") || "0";
}

function describeAttrs(a: SftpAttrs): string {
  let s = "";
  if (a.size !== undefined) s += ` size ${a.size}`;
  if (a.mode !== undefined) s += ` mode 0${(a.mode & 0o7777).toString(8)}`;
  if (a.mtime !== undefined) s += ` mtime ${a.mtime}`;
  if (a.uid !== undefined) s += ` owner ${a.uid}:${a.gid}`;
  return s;
}
