/**
 * SshWriter: encodes the RFC 4251 §5 data types into a growing buffer. Used for messages, exchange hashes
 * and key blobs; the bulk data path writes straight into packet buffers instead.
 */

export class SshWriter {
  private buf: Buffer;
  private pos = 0;

  constructor(initialSize = 256) {
    this.buf = Buffer.allocUnsafe(initialSize);
  }

  get length(): number {
    return this.pos;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  byte(v: number): this {
    this.ensure(1);
    this.buf[this.pos++] = v & 0xff;
    return this;
  }

  boolean(v: boolean): this {
    return this.byte(v ? 1 : 0);
  }

  uint32(v: number): this {
    this.ensure(4);
    this.buf.writeUInt32BE(v >>> 0, this.pos);
    this.pos += 4;
    return this;
  }

  uint64(v: bigint): this {
    this.ensure(8);
    this.buf.writeBigUInt64BE(v, this.pos);
    this.pos += 8;
    return this;
  }

  string(v: Uint8Array | string): this {
    const b = typeof v === "string" ? Buffer.from(v, "utf8") : v;
    this.uint32(b.length);
    return this.raw(b);
  }

  /** An mpint from an unsigned big-endian magnitude (leading zeros are stripped, a sign byte added). */
  mpint(magnitude: Uint8Array): this {
    let start = 0;
    while (start < magnitude.length && magnitude[start] === 0) start++;
    const mag = magnitude.subarray(start);
    const pad = mag.length > 0 && mag[0]! & 0x80 ? 1 : 0;
    this.uint32(mag.length + pad);
    if (pad) this.byte(0);
    return this.raw(mag);
  }

  mpintBigInt(v: bigint): this {
    if (v < 0n) throw new RangeError("negative mpint");
    if (v === 0n) return this.uint32(0);
    let hex = v.toString(16);
    if (hex.length % 2) hex = "0" + hex;
    return this.mpint(Buffer.from(hex, "hex"));
  }

  nameList(names: readonly string[]): this {
    return this.string(names.join(","));
  }

  raw(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }

  /** The bytes written so far (a copy-free view; do not write again after taking it if you keep it). */
  toBuffer(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

/** Encode a single SSH string. */
export function sshString(v: Uint8Array | string): Buffer {
  return new SshWriter().string(v).toBuffer();
}
