/**
 * Compression (RFC 4253 §6.2): "none", "zlib", and "zlib@openssh.com", which starts only after
 * USERAUTH_SUCCESS (OpenSSH PROTOCOL §1.2). SSH's zlib is ONE zlib stream per direction for the life of
 * the keys; every packet is flushed so the peer can inflate it alone: OpenSSH deflates with
 * Z_PARTIAL_FLUSH and inflates with Z_SYNC_FLUSH.
 *
 * The transport runs packet by packet, synchronously, and Node offers no documented synchronous API on
 * a long-lived zlib stream: zlib.*Sync() make a new stream per call, and the stream's _processChunk()
 * closes its handle after one synchronous call. So, as the ssh2 library does, we drive the native
 * handle Node created for a zlib stream directly (handle.writeSync), with its own error callback.
 */
import { createRequire } from "node:module";
import type * as Zlib from "node:zlib";
import { SshError } from "../wire/index.js";
import type { CompressionAlgorithm, PayloadCompressor, PayloadDecompressor } from "./types.js";

// node:zlib loads on first use: compression is off unless a configuration asks for it, and loading
// Node's zlib module costs every start of a command ~2 ms.
const requireModule = createRequire(import.meta.url);
let zlibModule: typeof Zlib | undefined;

function zlib(): typeof Zlib {
  return (zlibModule ??= requireModule("node:zlib") as typeof Zlib);
}

/** The native handle of a Node zlib stream (lib/zlib.js in Node 20; undocumented, hence checked). */
interface ZlibHandle {
  writeSync(
    flush: number,
    input: Uint8Array,
    inOff: number,
    inLen: number,
    output: Uint8Array,
    outOff: number,
    outLen: number,
  ): void;
  close(): void;
  onerror: (message: string, errno: number, code?: string) => void;
}

interface ZlibStreamInternals {
  _handle: ZlibHandle | null;
  /** [avail_out, avail_in] after each write. */
  _writeState: Uint32Array;
  close(): void;
}

/** First output buffer for inflate, before growing; bounded by maxOutput + 1. */
const INFLATE_FIRST_CHUNK = 16 * 1024;

class ZlibEngine {
  private handle: ZlibHandle | null;
  private readonly state: Uint32Array;
  private readonly stream: ZlibStreamInternals;
  private error: SshError | null = null;

  constructor(
    stream: object,
    private readonly flush: number,
    private readonly what: string,
  ) {
    const s = stream as Partial<ZlibStreamInternals>;
    const handle = s._handle;
    if (handle == null || typeof handle.writeSync !== "function" || !(s._writeState instanceof Uint32Array)) {
      throw new SshError("UNSUPPORTED", "this Node's zlib has no synchronous stream handle");
    }
    this.stream = s as ZlibStreamInternals;
    this.handle = handle;
    this.state = s._writeState;
    // Replaces Node's handler, which would destroy the stream and emit an unhandled 'error' event later.
    handle.onerror = (message: string, errno: number) => {
      this.error = new SshError("COMPRESSION", `${this.what} failed: ${message} (${errno})`);
    };
  }

  /**
   * Runs `input` through the stream and returns all output. More than `limit` bytes of output is an
   * error (a decompression bomb). `firstSize` is the first output buffer; later ones are `nextSize`.
   */
  run(input: Buffer, limit: number, firstSize: number, nextSize: number): Buffer {
    const handle = this.handle;
    if (handle === null) throw new SshError("COMPRESSION", `${this.what} stream is closed`);
    let inOff = 0;
    let inLen = input.length;
    let out = Buffer.allocUnsafe(Math.min(firstSize, limit + 1));
    let outOff = 0;
    let total = 0;
    const parts: Buffer[] = [];
    for (;;) {
      const outLen = out.length - outOff;
      handle.writeSync(this.flush, input, inOff, inLen, out, outOff, outLen);
      if (this.error !== null) {
        this.close();
        throw this.error;
      }
      const availOut = this.state[0]!;
      const availIn = this.state[1]!;
      inOff += inLen - availIn;
      inLen = availIn;
      const produced = outLen - availOut;
      outOff += produced;
      total += produced;
      if (total > limit) {
        this.close();
        throw new SshError("COMPRESSION", `${this.what} output exceeds ${limit} bytes for one packet`);
      }
      // Room left in the output: zlib has taken all the input it can and flushed it.
      if (availOut !== 0) break;
      parts.push(out);
      out = Buffer.allocUnsafe(Math.min(nextSize, limit + 1 - total));
      outOff = 0;
    }
    if (inLen !== 0) {
      // Only after the end of the zlib stream does inflate leave input unread; SSH never ends it.
      this.close();
      throw new SshError("COMPRESSION", `${this.what}: data after the end of the zlib stream`);
    }
    if (parts.length === 0) return out.subarray(0, outOff);
    parts.push(out.subarray(0, outOff));
    return Buffer.concat(parts, total);
  }

  close(): void {
    if (this.handle === null) return;
    this.handle = null;
    this.stream.close();
  }
}

class ZlibCompressor implements PayloadCompressor {
  private readonly engine = new ZlibEngine(
    zlib().createDeflate(),
    zlib().constants.Z_PARTIAL_FLUSH,
    "deflate",
  );

  compress(payload: Buffer): Buffer {
    // Incompressible data grows by a few bytes per 16 KiB stored block plus the flush marker.
    const guess = payload.length + (payload.length >>> 8) + 64;
    return this.engine.run(payload, Number.MAX_SAFE_INTEGER, guess, 16 * 1024);
  }

  close(): void {
    this.engine.close();
  }
}

class ZlibDecompressor implements PayloadDecompressor {
  private readonly engine = new ZlibEngine(zlib().createInflate(), zlib().constants.Z_SYNC_FLUSH, "inflate");

  constructor(private readonly maxOutput: number) {}

  decompress(payload: Buffer): Buffer {
    const first = Math.max(INFLATE_FIRST_CHUNK, payload.length * 4);
    return this.engine.run(payload, this.maxOutput, first, 64 * 1024);
  }

  close(): void {
    this.engine.close();
  }
}

function zlibAlgorithm(name: string, delayed: boolean): CompressionAlgorithm {
  return Object.freeze({
    name,
    delayed,
    createCompressor: (): PayloadCompressor => new ZlibCompressor(),
    createDecompressor: (maxOutput: number): PayloadDecompressor => new ZlibDecompressor(maxOutput),
  });
}

const NONE: CompressionAlgorithm = Object.freeze({
  name: "none",
  delayed: false,
  createCompressor: () => null,
  createDecompressor: () => null,
});

/** OpenSSH's order: none first (compression is off unless asked for), then the delayed zlib. */
export const COMPRESSIONS: readonly CompressionAlgorithm[] = Object.freeze([
  NONE,
  zlibAlgorithm("zlib@openssh.com", true),
  zlibAlgorithm("zlib", false),
]);

const BY_NAME = new Map<string, CompressionAlgorithm>(COMPRESSIONS.map((c) => [c.name, c]));

export function compressionByName(name: string): CompressionAlgorithm | undefined {
  return BY_NAME.get(name);
}
