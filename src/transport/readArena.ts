/**
 * Reading a socket into one reused buffer (net.Socket's `onread` option) instead of the new 64 KiB buffer
 * Node allocates for every read. On a bulk download that allocation, the stream machinery around each
 * 'data' event and the copy that joins a packet spread over two reads were about a third of a client's
 * CPU (bench/README.md). The bytes read are views of the arena that live only until the next read, so the
 * transport must not keep a view of them: every cipher that decrypts bulk data returns new memory
 * (PacketOpener.openBody), and what else it keeps it copies (PacketReader).
 *
 * A quiet connection (a login, a shell's keystrokes, an idle one) reads into one buffer shared by every
 * socket of the process, and what its consumer leaves unread there is copied out after each read: a
 * server with thousands of connections keeps no buffer per connection, and a buffer of 1 MiB for each
 * login made V8 count it as external memory and run a full collection every ten logins (nsshd's session
 * process: 47 mark-compacts in 10 s of logins against 3). A read that fills the shared buffer, or leaves
 * more than half of it held (a large packet arriving in smaller reads), means bulk data: the connection
 * gets an arena of its own, where what is left unread at the end of a read (the start of a packet, or
 * everything while the consumer is paused) stays where it is, and is moved to the front when the room
 * after it runs short (or copied out if it is too large). A few small reads in a row, the last leaving
 * nothing held (the end of a transfer, keystrokes), send it back to the shared buffer: a connection gone
 * quiet keeps no arena, once it has read that much after its transfer. (One small read was too few: an
 * upload's tail of a packet often comes alone, and the arena came and went some 500 times a GiB.)
 */
import net from "node:net";
import { stopSocketReads } from "./handoff.js";

/** The shared buffer: as large as Node's own read of a socket, so a read that fills it is bulk data. */
const SHARED_SIZE = 64 * 1024;
/** A bulk connection's own arena: large enough for several of the biggest packets (256 KiB) per read. */
const BULK_ARENA_SIZE = 1024 * 1024;
/** Below this much room after the held bytes of an arena of its own, they are moved before the next read. */
const MIN_READ_ROOM = 256 * 1024;
/** This many reads below this size in a row, the last leaving nothing held: back to the shared buffer. */
const SMALL_READ = 4 * 1024;
const SMALL_READS_TO_SHARE = 4;
/** Bytes kept before a consumer is attached (the server's version line and KEXINIT) before reading stops. */
const EARLY_LIMIT = 256 * 1024;

/** What the arena needs from the one consumer of its socket's bytes (the transport). */
export interface ArenaConsumer {
  /**
   * Bytes just read, as a view valid only until this call returns (the shared buffer takes the next read
   * of any socket) or, in an arena of the connection's own, until its next relocation: whatever the
   * consumer keeps of them it keeps in its held bytes (see held()), which the arena copies or moves.
   */
  data(view: Buffer): void;
  /** How many of the bytes given so far the consumer still holds unconsumed (the most recent ones). */
  held(): number;
  /** Replace the last n held bytes (views of the arena) with the same bytes in `moved`. */
  replaceHeld(n: number, moved: Buffer): void;
}

export type OnReadOptions = {
  buffer: () => Uint8Array;
  callback: (bytesRead: number, buffer: Uint8Array) => boolean;
};

/** Reads land here one at a time (Node's thread), each handed on and emptied before the next. */
let sharedBuffer: Buffer | null = null;
const shared = (): Buffer => (sharedBuffer ??= Buffer.allocUnsafe(SHARED_SIZE));

export class SocketReadArena {
  /** The connection's own arena while bulk data arrives; null while it reads into the shared buffer. */
  private own: Buffer | null = null;
  /** Small reads in a row while the connection has its own arena. */
  private smallReads = 0;
  /** Bytes of the current buffer in use: what has been read into it since it was last reset or compacted. */
  private writeEnd = 0;
  private consumer: ArenaConsumer | null = null;
  private early: Buffer[] = [];
  private earlyBytes = 0;
  private earlyStopped = false;
  /** The socket, to which a copy of what is read is emitted as 'data' while anyone listens for it. */
  private socket: net.Socket | null = null;

  /** Pass as the `onread` option of net.connect() or new net.Socket() (see readArenaSocket()). */
  readonly onread: OnReadOptions = {
    buffer: () => this.nextBuffer(),
    callback: (bytesRead, buffer) => this.onRead(bytesRead, buffer),
  };

  /** The socket reading into this arena, for its 'data' listeners (see onRead()). */
  watchedBy(socket: net.Socket): void {
    this.socket = socket;
  }

  /** Start handing what is read (and what was read before) to `consumer`. */
  attach(consumer: ArenaConsumer, socket: net.Socket): void {
    this.consumer = consumer;
    this.socket = socket;
    const early = this.early;
    this.early = [];
    this.earlyBytes = 0;
    // Reading stopped at the early bytes' limit (onRead returned false, which pauses only the handle):
    // started again first, as the consumer pauses the socket itself if it must.
    if (this.earlyStopped) {
      this.earlyStopped = false;
      socket.resume();
    }
    for (const chunk of early) consumer.data(chunk);
  }

  /**
   * Stop handing bytes on (a transport that hands its connection to another process); returns what was
   * read but not handed on. The socket should be paused first.
   */
  detach(): Buffer[] {
    this.consumer = null;
    const early = this.early;
    this.early = [];
    this.earlyBytes = 0;
    return early;
  }

  private onRead(bytesRead: number, buffer: Uint8Array): boolean {
    // `buffer` is the tail of the current buffer handed out by nextBuffer().
    const current = this.own ?? shared();
    const view = current.subarray(this.writeEnd, this.writeEnd + bytesRead);
    if (buffer.buffer !== view.buffer || buffer.byteOffset !== view.byteOffset)
      throw new Error("internal error: read into an unknown buffer");
    this.writeEnd += bytesRead;
    if (this.own !== null) this.smallReads = bytesRead < SMALL_READ ? this.smallReads + 1 : 0;
    // Such a socket emits no 'data' of its own; a watcher of the bytes (nssh's ConnectTimeout waiting for
    // the server's version line) still gets them, as a copy: the views die with the next read.
    if (this.socket !== null && this.socket.listenerCount("data") > 0)
      this.socket.emit("data", Buffer.from(view));
    const consumer = this.consumer;
    if (consumer === null) {
      this.early.push(Buffer.from(view));
      this.earlyBytes += bytesRead;
      this.writeEnd = 0;
      this.earlyStopped = this.earlyBytes >= EARLY_LIMIT;
      return !this.earlyStopped;
    }
    consumer.data(view);
    if (this.own === null) this.leaveShared(consumer);
    return true;
  }

  /**
   * After a read into the shared buffer: the next read, maybe another socket's, overwrites it, so what the
   * consumer holds of it leaves it now; into an arena of the connection's own if the read filled the buffer
   * or the consumer holds more than half a buffer (bulk data either way).
   */
  private leaveShared(consumer: ArenaConsumer): void {
    const total = consumer.held();
    const held = Math.min(total, this.writeEnd);
    const from = shared().subarray(this.writeEnd - held, this.writeEnd);
    // In the shared buffer every read starts at 0: writeEnd is this read's length.
    if (this.writeEnd === SHARED_SIZE || total > SHARED_SIZE / 2) {
      this.own = Buffer.allocUnsafe(BULK_ARENA_SIZE);
      // Usually the start of a packet, completed in place by the next reads.
      this.writeEnd = from.copy(this.own, 0);
      if (held > 0) consumer.replaceHeld(held, this.own.subarray(0, held));
      return;
    }
    if (held > 0) consumer.replaceHeld(held, Buffer.from(from));
    this.writeEnd = 0;
  }

  /** Where the next read goes (Node asks after each read is handed on). */
  private nextBuffer(): Buffer {
    if (this.own === null) return shared();
    const consumer = this.consumer;
    const held = consumer === null ? 0 : Math.min(consumer.held(), this.writeEnd);
    if (this.smallReads >= SMALL_READS_TO_SHARE && held === 0) {
      // Quiet again, with nothing held of it: the arena goes.
      this.own = null;
      this.writeEnd = 0;
      this.smallReads = 0;
      return shared();
    }
    const arena = this.own;
    if (arena.length - this.writeEnd >= MIN_READ_ROOM) return arena.subarray(this.writeEnd);
    if (held === 0) {
      this.writeEnd = 0;
    } else if (held <= arena.length - MIN_READ_ROOM) {
      // Usually the start of one packet: moved to the front, so the packet is completed in place.
      arena.copyWithin(0, this.writeEnd - held, this.writeEnd);
      consumer!.replaceHeld(held, arena.subarray(0, held));
      this.writeEnd = held;
    } else {
      // A paused consumer holding most of the arena: its bytes move to memory of their own.
      consumer!.replaceHeld(held, Buffer.from(arena.subarray(this.writeEnd - held, this.writeEnd)));
      this.writeEnd = 0;
    }
    return arena.subarray(this.writeEnd);
  }
}

const arenas = new WeakMap<object, SocketReadArena>();

/**
 * A socket that reads into a SocketReadArena, which a Transport given the socket then uses:
 * `readArenaSocket((onread) => net.connect({ host, port, onread }))`. Such a socket emits no 'data'.
 */
export function readArenaSocket<S extends net.Socket>(create: (onread: OnReadOptions) => S): S {
  const arena = new SocketReadArena();
  const socket = create(arena.onread);
  arena.watchedBy(socket);
  arenas.set(socket, arena);
  return socket;
}

/** The arena a socket made by readArenaSocket() reads into. */
export function readArenaOf(socket: object): SocketReadArena | undefined {
  return arenas.get(socket);
}

/** What arenaSocketFor() moves from the socket Node made: its handle and the server that counts it. */
interface NodeMadeSocket {
  _handle: { readStop?: unknown } | null | undefined;
  _server?: unknown;
  server?: unknown;
}

/**
 * `socket` re-made to read into a SocketReadArena: for sockets Node creates itself, which take no `onread`
 * (accepted by a net.Server, or received with an IPC message, as nsshd's session process gets its
 * connections). The handle moves to a new net.Socket that reads into an arena, and so does whatever
 * counts the old one: a net.Server's count of connections (which Node keeps through `_server`) and its
 * 'close' listeners (Node's record of sockets passed between processes), so the old object, with no
 * handle, is left to the collector. Call it in the tick the socket arrived: a socket that has read anything
 * already, or has no handle of its own (a test's stream pair), is returned as it is and goes on emitting
 * 'data'.
 */
export function arenaSocketFor(socket: net.Socket): net.Socket {
  const old = socket as unknown as NodeMadeSocket;
  const handle = old._handle;
  if (!handle || typeof handle.readStop !== "function" || socket.bytesRead > 0 || socket.readableLength > 0)
    return socket;
  // The old socket asked its handle to start reading when it was made; nothing was read yet (the check
  // above), and the new socket starts it again with its own buffer.
  stopSocketReads(socket);
  old._handle = null;
  // `handle` is how Node itself makes a socket around an existing handle; neither option is in its types.
  const fresh = readArenaSocket((onread) => {
    const options = { handle, onread, allowHalfOpen: socket.allowHalfOpen, readable: true, writable: true };
    return new net.Socket(options as net.SocketConstructorOpts);
  });
  for (const listener of socket.listeners("close")) fresh.on("close", listener as () => void);
  socket.removeAllListeners("close");
  if (old._server) {
    const moved = fresh as unknown as NodeMadeSocket;
    moved._server = old._server;
    moved.server = old.server;
    old._server = null;
  }
  return fresh;
}
