/**
 * SFTP packet framing (draft-ietf-secsh-filexfer-02 §3): uint32 length, byte type, body. Split from
 * protocol.ts, whose encoders and decoders work on the packets this cuts out of a byte stream.
 */
import { SshError } from "../wire/index.js";
import { MAX_HANDLE_LENGTH, MAX_PACKET_LENGTH, PacketType } from "./protocol.js";

/**
 * A packet as read off the stream: its type and its body after the type byte (id included). When the
 * parser was asked to split bulk data (see SftpPacketParser) a DATA or WRITE packet that spans several
 * input chunks comes with `data`: the bytes of its final data string, as slices of the chunks (no copy),
 * and `payload` then ends with that string's uint32 length, not its bytes.
 */
export interface SftpPacket {
  type: number;
  payload: Buffer;
  data?: Buffer[];
}

/** The total length of a list of buffers. */
export function byteLength(parts: readonly Buffer[]): number {
  let n = 0;
  for (const p of parts) n += p.length;
  return n;
}

/**
 * Splits a byte stream into SFTP packets. A declared length over the limit is fatal for the session
 * (OpenSSH's sftp-server ends with "bad message"), so push() throws SshError("PACKET_TOO_LARGE") and the
 * caller ends the stream; a zero length (no type byte) is MALFORMED, also fatal.
 *
 * With `splitData`, a DATA or WRITE packet whose bytes lie in more than one input chunk is not joined:
 * its header is copied (a few dozen bytes) and its data handed on as slices of the chunks, which a file
 * write takes as they are (writev). A transfer's blocks (up to 255 KiB) span several channel packets
 * (32 KiB) or pipe reads (64 KiB), so joining them would copy every byte once more into fresh memory.
 */
export class SftpPacketParser {
  private chunks: Buffer[] = [];
  private buffered = 0;

  constructor(
    private readonly maxLength = MAX_PACKET_LENGTH,
    private readonly splitData = false,
  ) {}

  /** Bytes held that do not yet make a whole packet. */
  get pending(): number {
    return this.buffered;
  }

  /** Add bytes; returns the complete packets they finish, in order. */
  push(chunk: Buffer): SftpPacket[] {
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    const out: SftpPacket[] = [];
    for (;;) {
      if (this.buffered < 4) break;
      const len = this.uint32At(0);
      if (len > this.maxLength) {
        throw new SshError("PACKET_TOO_LARGE", `SFTP packet of ${len} bytes exceeds ${this.maxLength}`);
      }
      if (len === 0) throw new SshError("MALFORMED", "SFTP packet of length 0");
      if (this.buffered < 4 + len) break;
      const first = this.chunks[0]!;
      if (first.length < 4 + len && this.splitData) {
        const head = this.dataHeaderLength(len);
        if (head > 0) {
          const header = this.takeCopy(head);
          out.push({ type: header[4]!, payload: header.subarray(5), data: this.takeSlices(4 + len - head) });
          continue;
        }
      }
      const whole = this.take(4 + len);
      out.push({ type: whole[4]!, payload: whole.subarray(5) });
    }
    return out;
  }

  /**
   * For a whole DATA or WRITE packet of body length `len` at the head: the bytes before its data (up to
   * and including the data's length), when that length matches the packet's end; else 0 (joined as any
   * other packet, and a malformed one gets its usual error from the reader).
   * DATA: uint32 len, byte type, uint32 id, uint32 n. WRITE: the same with string handle and uint64
   * offset before n (filexfer-02 §6.4, §7).
   */
  private dataHeaderLength(len: number): number {
    const type = this.byteAt(4);
    let head: number;
    if (type === PacketType.DATA) head = 13;
    else if (type === PacketType.WRITE && len >= 12) {
      const handleLength = this.uint32At(9);
      if (handleLength > MAX_HANDLE_LENGTH) return 0;
      head = 25 + handleLength;
    } else return 0;
    if (head > 4 + len || this.uint32At(head - 4) !== 4 + len - head) return 0;
    return head;
  }

  private byteAt(offset: number): number {
    for (const c of this.chunks) {
      if (offset < c.length) return c[offset]!;
      offset -= c.length;
    }
    throw new RangeError("SftpPacketParser: read past the buffered bytes");
  }

  private uint32At(offset: number): number {
    const c = this.chunks[0]!;
    if (c.length >= offset + 4) return c.readUInt32BE(offset);
    return (
      ((this.byteAt(offset) << 24) |
        (this.byteAt(offset + 1) << 16) |
        (this.byteAt(offset + 2) << 8) |
        this.byteAt(offset + 3)) >>>
      0
    );
  }

  /** The next `n` bytes as slices of the chunks that hold them. */
  private takeSlices(n: number): Buffer[] {
    const parts: Buffer[] = [];
    this.buffered -= n;
    while (n > 0) {
      const c = this.chunks[0]!;
      if (c.length <= n) {
        parts.push(c);
        this.chunks.shift();
        n -= c.length;
      } else {
        parts.push(c.subarray(0, n));
        this.chunks[0] = c.subarray(n);
        n = 0;
      }
    }
    return parts;
  }

  /** The next `n` bytes copied into a buffer of their own (a short header). */
  private takeCopy(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    let at = 0;
    for (const part of this.takeSlices(n)) {
      part.copy(out, at);
      at += part.length;
    }
    return out;
  }

  private take(n: number): Buffer {
    const first = this.chunks[0]!.length >= n ? this.chunks[0]! : this.gather(n);
    if (first.length === n) this.chunks.shift();
    else this.chunks[0] = first.subarray(n);
    this.buffered -= n;
    return first.subarray(0, n);
  }

  /** Join just the first chunks that hold `n` bytes into one head chunk (never everything buffered). */
  private gather(n: number): Buffer {
    let count = 0;
    let bytes = 0;
    while (bytes < n) bytes += this.chunks[count++]!.length;
    const head = Buffer.concat(this.chunks.slice(0, count), bytes);
    this.chunks.splice(0, count, head);
    return head;
  }
}
