/**
 * InputBuffer: the bytes received but not yet consumed, as a queue of socket chunks. Taking n bytes
 * copies only when they straddle chunks, so a stream is never concatenated whole.
 */
export class InputBuffer {
  private chunks: Buffer[] = [];
  private head = 0; // offset into chunks[0]
  private total = 0;

  get length(): number {
    return this.total;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.total += chunk.length;
    // A read arena (readArena.ts) puts each read right after the bytes still held from the one before: one
    // view of both lets a packet straddling two reads be taken without a copy.
    const last = this.chunks.length - 1;
    const prev = last >= 0 ? this.chunks[last]! : null;
    if (prev !== null && prev.buffer === chunk.buffer && prev.byteOffset + prev.length === chunk.byteOffset) {
      this.chunks[last] = Buffer.from(prev.buffer, prev.byteOffset, prev.length + chunk.length);
      return;
    }
    this.chunks.push(chunk);
  }

  /** The first n bytes without consuming them (a view when they sit in one chunk). */
  peek(n: number): Buffer {
    if (n > this.total) throw new RangeError("peek past end of input");
    if (n === 0) return Buffer.alloc(0);
    const first = this.chunks[0]!;
    if (first.length - this.head >= n) return first.subarray(this.head, this.head + n);
    const out = Buffer.allocUnsafe(n);
    let copied = 0;
    let off = this.head;
    for (const c of this.chunks) {
      const take = Math.min(n - copied, c.length - off);
      c.copy(out, copied, off, off + take);
      copied += take;
      off = 0;
      if (copied === n) break;
    }
    return out;
  }

  /** Take n bytes. */
  take(n: number): Buffer {
    const out = this.peek(n);
    this.skip(n);
    return out;
  }

  skip(n: number): void {
    this.total -= n;
    while (n > 0) {
      const first = this.chunks[0]!;
      const avail = first.length - this.head;
      if (n < avail) {
        this.head += n;
        return;
      }
      n -= avail;
      this.chunks.shift();
      this.head = 0;
    }
  }

  /**
   * Replace the last n bytes with `moved` (the same bytes in other memory): a read arena moving the bytes
   * it still holds views of (readArena.ts).
   */
  replaceTail(n: number, moved: Buffer): void {
    if (n > this.total || moved.length !== n) throw new RangeError("replaceTail past start of input");
    let left = n;
    while (left > 0) {
      const last = this.chunks.length - 1;
      const chunk = this.chunks[last]!;
      const avail = chunk.length - (last === 0 ? this.head : 0);
      if (avail > left) {
        this.chunks[last] = chunk.subarray(0, chunk.length - left);
        break;
      }
      this.chunks.pop();
      if (last === 0) this.head = 0;
      left -= avail;
    }
    this.total -= n;
    this.push(moved);
  }

  /** Index of byte `b` within the first `limit` bytes, or -1. */
  indexOf(b: number, limit: number): number {
    let pos = 0;
    let off = this.head;
    for (const c of this.chunks) {
      const end = Math.min(c.length, off + (limit - pos));
      const i = c.indexOf(b, off);
      if (i !== -1 && i < end) return pos + (i - off);
      pos += end - off;
      if (pos >= limit) return -1;
      off = 0;
    }
    return -1;
  }
}
