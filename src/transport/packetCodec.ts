/**
 * The binary packet protocol (RFC 4253 §6): framing, padding, sequence numbers, compression and the
 * per-key-set counters that drive re-keying. Cipher and MAC work is behind PacketSealer/PacketOpener.
 */
import { randomFillSync } from "node:crypto";
import {
  createPlaintextOpener,
  MAX_PACKET_LENGTH,
  PLAINTEXT_SEALER,
  type PacketOpener,
  type PacketSealer,
  type PayloadCompressor,
  type PayloadDecompressor,
} from "../crypto/index.js";
import { SshError } from "../wire/index.js";
import type { InputBuffer } from "./inputBuffer.js";

/** Largest payload we send or accept after decompression (RFC 4253 §6.1 asks for 32768 at least). */
export const MAX_PAYLOAD_LENGTH = MAX_PACKET_LENGTH - 64;
/** Room kept for zlib's growth of an incompressible payload (deflate adds 5 bytes per 16 KiB block). */
const COMPRESSION_SLACK = 1024;

/**
 * Padding bytes come from a pool refilled 64 KiB at a time: one randomFillSync per packet cost a few per cent
 * of the send path (bench/README.md). Padding needs no secrecy beyond unpredictability (RFC 4253 §6).
 */
class PaddingPool {
  private readonly pool = Buffer.allocUnsafe(64 * 1024);
  private used = this.pool.length;

  fill(target: Buffer, offset: number, length: number): void {
    if (this.used + length > this.pool.length) {
      randomFillSync(this.pool);
      this.used = 0;
    }
    this.pool.copy(target, offset, this.used, this.used + length);
    this.used += length;
  }
}

const paddingPool = new PaddingPool();

let scratch = Buffer.allocUnsafe(0);
/** Packets up to this size are wiped from the shared plaintext buffer once sealed. */
const SMALL_PACKET = 4096;

function plaintextScratch(size: number): Buffer {
  if (scratch.length < size) scratch = Buffer.allocUnsafe(Math.max(size, 64 * 1024));
  return scratch;
}

function totalLength(parts: readonly Buffer[]): number {
  let n = 0;
  for (const p of parts) n += p.length;
  return n;
}

function joined(payload: Buffer | readonly Buffer[]): Buffer {
  return Buffer.isBuffer(payload) ? payload : Buffer.concat(payload as Buffer[]);
}

export class PacketWriter {
  seq = 0;
  sealer: PacketSealer = PLAINTEXT_SEALER;
  compressor: PayloadCompressor | null = null;
  /** Bytes and packets sent under the current keys, for RekeyLimit. */
  bytes = 0;
  packets = 0;

  /** Frame, compress, pad, encrypt and MAC one payload; returns the wire bytes. */
  frame(payload: Buffer): Buffer {
    const wire = this.frameParts(payload);
    return wire.length === 1 ? wire[0]! : Buffer.concat(wire);
  }

  /**
   * The same for a payload given in pieces (a channel message's header and the data it carries, uncopied);
   * returns the wire bytes in pieces, to be written in order (socket.cork gathers them into one writev).
   */
  frameParts(payload: Buffer | readonly Buffer[]): Buffer[] {
    let length = Buffer.isBuffer(payload) ? payload.length : totalLength(payload);
    // Checked before compressing: a refused payload must not have moved the compressor's state, which the
    // peer's decompressor follows. zlib grows incompressible data by well under COMPRESSION_SLACK.
    if (length > MAX_PAYLOAD_LENGTH - (this.compressor ? COMPRESSION_SLACK : 0)) {
      throw new SshError("PACKET_TOO_LARGE", `payload of ${length} bytes is too large to send`);
    }
    if (this.compressor) {
      payload = this.compressor.compress(joined(payload));
      length = payload.length;
    }
    const s = this.sealer;
    const block = Math.max(s.blockSize, 8);
    const aligned = (s.lengthExcludedFromPadding ? 1 : 5) + length;
    let pad = block - (aligned % block);
    if (pad < 4) pad += block;
    const packetLength = 1 + length + pad;
    const size = 4 + packetLength + s.macLength;
    if (s.sealPieces && size > SMALL_PACKET && !Buffer.isBuffer(payload)) {
      // Channel data given as a header and views of what was written: sealed where it lies.
      const parts = payload as readonly Buffer[];
      const head = Buffer.allocUnsafe(5 + parts[0]!.length);
      head.writeUInt32BE(packetLength, 0);
      head[4] = pad;
      parts[0]!.copy(head, 5);
      const padding = Buffer.allocUnsafe(pad);
      paddingPool.fill(padding, 0, pad);
      const wire = s.sealPieces(this.seq, [head, ...parts.slice(1), padding]);
      this.countSent(size);
      return wire;
    }
    // An encrypting sealer writes its output to new memory, so the plaintext can be assembled in a buffer
    // shared by every connection of the process (frame and seal run without yielding).
    const packet = s.returnsInput ? Buffer.allocUnsafe(size) : plaintextScratch(size);
    packet.writeUInt32BE(packetLength, 0);
    packet[4] = pad;
    let pos = 5;
    if (Buffer.isBuffer(payload)) pos += payload.copy(packet, pos);
    else for (const part of payload) pos += part.copy(packet, pos);
    paddingPool.fill(packet, pos, pad);
    const input = packet.subarray(0, 4 + packetLength);
    const wire = s.sealPieces ? s.sealPieces(this.seq, [input]) : [s.seal(this.seq, input)];
    // The shared buffer outlives the packet: a small one may be a password (USERAUTH_REQUEST), so it is
    // not left there; bulk data is overwritten by the next packet anyway.
    if (!s.returnsInput && size <= SMALL_PACKET) packet.fill(0, 0, size);
    this.countSent(size);
    return wire;
  }

  private countSent(size: number): void {
    this.seq = (this.seq + 1) >>> 0;
    this.bytes += size;
    this.packets++;
  }

  resetCounters(): void {
    this.bytes = 0;
    this.packets = 0;
  }
}

export class PacketReader {
  seq = 0;
  opener: PacketOpener = createPlaintextOpener();
  decompressor: PayloadDecompressor | null = null;
  bytes = 0;
  packets = 0;
  private pendingLength = -1;

  /**
   * Take one packet from `input` and return its payload, or null when more bytes are needed. Throws
   * SshError for a length out of range, a bad MAC, or bad padding; the caller ends the connection.
   */
  read(input: InputBuffer): Buffer | null {
    const o = this.opener;
    if (this.pendingLength < 0) {
      if (input.length < o.lengthFieldBytes) return null;
      // The opener refuses a length out of range or off the block size before anything is allocated for
      // it (russh CVE-2024-43410), and open() refuses bad padding: no second check here.
      this.pendingLength = o.packetLength(this.seq, input.peek(o.lengthFieldBytes));
    }
    const total = 4 + this.pendingLength + o.macLength;
    if (input.length < total) return null;
    const wire = input.take(total);
    // openBody() returns new memory; open() decrypts in place, and `wire` may be a view of input that is
    // overwritten by the next read (readArena.ts), so what it returns is copied.
    const body = o.openBody ? o.openBody(this.seq, wire) : o.open(this.seq, wire).subarray(4);
    this.pendingLength = -1;
    let payload = body.subarray(1, body.length - body[0]!);
    if (!o.openBody && !this.decompressor) payload = Buffer.from(payload);
    this.seq = (this.seq + 1) >>> 0;
    this.bytes += total;
    this.packets++;
    if (this.decompressor) payload = this.decompressor.decompress(payload);
    if (payload.length === 0) throw new SshError("MALFORMED", "empty packet payload");
    return payload;
  }

  resetCounters(): void {
    this.bytes = 0;
    this.packets = 0;
  }
}
