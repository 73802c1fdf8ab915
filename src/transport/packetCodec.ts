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

const padding = new PaddingPool();

export class PacketWriter {
  seq = 0;
  sealer: PacketSealer = PLAINTEXT_SEALER;
  compressor: PayloadCompressor | null = null;
  /** Bytes and packets sent under the current keys, for RekeyLimit. */
  bytes = 0;
  packets = 0;

  /** Frame, compress, pad, encrypt and MAC one payload; returns the wire bytes. */
  frame(payload: Buffer): Buffer {
    if (this.compressor) payload = this.compressor.compress(payload);
    if (payload.length > MAX_PAYLOAD_LENGTH) {
      throw new SshError("PACKET_TOO_LARGE", `payload of ${payload.length} bytes is too large to send`);
    }
    const s = this.sealer;
    const block = Math.max(s.blockSize, 8);
    const aligned = (s.lengthExcludedFromPadding ? 1 : 5) + payload.length;
    let pad = block - (aligned % block);
    if (pad < 4) pad += block;
    const packetLength = 1 + payload.length + pad;
    const packet = Buffer.allocUnsafe(4 + packetLength + s.macLength);
    packet.writeUInt32BE(packetLength, 0);
    packet[4] = pad;
    payload.copy(packet, 5);
    padding.fill(packet, 5 + payload.length, pad);
    const wire = s.seal(this.seq, packet.subarray(0, 4 + packetLength));
    this.seq = (this.seq + 1) >>> 0;
    this.bytes += wire.length;
    this.packets++;
    return wire;
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
    const plain = o.open(this.seq, input.take(total));
    this.pendingLength = -1;
    let payload = plain.subarray(5, plain.length - plain[4]!);
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
