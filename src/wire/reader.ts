/**
 * SshReader: decodes the RFC 4251 §5 data types from a buffer. Every read checks the bytes that remain
 * before it touches them, so a short, negative or oversized field is an SshError("MALFORMED"), never an
 * out-of-range read or a huge allocation.
 */
import { SshError } from "./errors.js";

/** Largest string a reader accepts unless told otherwise: a packet is at most 256 KiB anyway. */
export const DEFAULT_MAX_STRING = 256 * 1024;

export class SshReader {
  private pos = 0;

  constructor(
    private readonly buf: Buffer,
    start = 0,
    private readonly end = buf.length,
  ) {
    this.pos = start;
  }

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number, what: string): void {
    if (n < 0 || this.pos + n > this.end) {
      throw new SshError("MALFORMED", `truncated ${what}: need ${n} bytes, ${this.end - this.pos} left`);
    }
  }

  byte(): number {
    this.need(1, "byte");
    return this.buf[this.pos++]!;
  }

  boolean(): boolean {
    return this.byte() !== 0;
  }

  uint32(): number {
    this.need(4, "uint32");
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  uint64(): bigint {
    this.need(8, "uint64");
    const v = this.buf.readBigUInt64BE(this.pos);
    this.pos += 8;
    return v;
  }

  /** A string's bytes, as a view into the underlying buffer (no copy). */
  string(maxLength = DEFAULT_MAX_STRING, what = "string"): Buffer {
    const len = this.uint32();
    if (len > maxLength) {
      throw new SshError("MALFORMED", `${what} of ${len} bytes exceeds the limit of ${maxLength}`);
    }
    this.need(len, what);
    const v = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return v;
  }

  /** A string that must be valid UTF-8 (RFC 4251 §5: text strings are ISO-10646 UTF-8). */
  utf8(maxLength = DEFAULT_MAX_STRING, what = "text"): string {
    const raw = this.string(maxLength, what);
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(raw);
    } catch (err) {
      throw new SshError("MALFORMED", `${what} is not valid UTF-8`, { cause: err });
    }
  }

  /** A string that must be printable US-ASCII, as algorithm names are (RFC 4251 §6). */
  ascii(maxLength = DEFAULT_MAX_STRING, what = "name"): string {
    const raw = this.string(maxLength, what);
    for (const c of raw) {
      if (c < 0x20 || c > 0x7e) throw new SshError("MALFORMED", `${what} holds a non-printable byte`);
    }
    return raw.toString("latin1");
  }

  /** An mpint as an unsigned big-endian magnitude with no leading zeros; negative values are refused. */
  mpintUnsigned(maxBytes = 2048, what = "mpint"): Buffer {
    const raw = this.string(maxBytes + 1, what);
    if (raw.length === 0) return raw;
    if (raw[0]! & 0x80) throw new SshError("MALFORMED", `${what} is negative`);
    if (raw[0] === 0 && (raw.length === 1 || !(raw[1]! & 0x80))) {
      throw new SshError("MALFORMED", `${what} has a superfluous leading zero`);
    }
    return raw[0] === 0 ? raw.subarray(1) : raw;
  }

  mpintBigInt(maxBytes = 2048, what = "mpint"): bigint {
    const mag = this.mpintUnsigned(maxBytes, what);
    return mag.length === 0 ? 0n : BigInt("0x" + mag.toString("hex"));
  }

  /** A comma-separated name-list (RFC 4251 §5); empty names are refused. */
  nameList(maxLength = 64 * 1024, what = "name-list"): string[] {
    const s = this.ascii(maxLength, what);
    if (s.length === 0) return [];
    const names = s.split(",");
    if (names.some((n) => n.length === 0 || n.length > 64)) {
      throw new SshError("MALFORMED", `${what} holds an empty or over-long name`);
    }
    return names;
  }

  /** Raw bytes of a fixed length (no length prefix). */
  bytes(n: number, what = "bytes"): Buffer {
    this.need(n, what);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  /** Everything left, as a view. */
  rest(): Buffer {
    const v = this.buf.subarray(this.pos, this.end);
    this.pos = this.end;
    return v;
  }

  /** Fail unless every byte has been consumed: trailing garbage is malformed input. */
  done(what = "message"): void {
    if (this.pos !== this.end) {
      throw new SshError("MALFORMED", `${what} has ${this.end - this.pos} unexpected trailing bytes`);
    }
  }
}
