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
import type { SftpAttrs } from "./attrs.js";
import { DiskFileSystem } from "./fileSystemDisk.js";
import type { SftpFileSystem, SftpStats } from "./fileSystem.js";
import {
  MAX_HANDLE_LENGTH,
  MAX_PACKET_LENGTH,
  PacketType,
  SFTP_VERSION,
  StatusCode,
  encodeStatus,
  encodeVersion,
  serverExtensions,
} from "./protocol.js";
import { SftpPacketParser, type SftpPacket } from "./packetParser.js";
import { chunksOf } from "./serverInput.js";
import { HandleTable, type FileHandleEntry } from "./serverHandles.js";
import { PathResolver } from "./serverPaths.js";
import { dispatchRequest } from "./serverRequests.js";
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
   * argument order of SYMLINK (see DRAFT_SYMLINK_ORDER_CLIENTS in serverRequests.ts).
   */
  clientVersion?: string;
}

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

/** One SFTP session's state; exported for its request handlers (serverRequests.ts and on), not the API. */
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
      reply = await dispatchRequest(this, packet.type, id, r, packet.data);
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
