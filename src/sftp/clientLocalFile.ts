/**
 * The local file of a get or put: a regular file's reads and writes (and a memory device's, such as
 * /dev/null) run on the event loop while they stay fast (inlineIo.ts), anything else's through the
 * thread pool.
 */
import { readSync, writevSync, type Stats } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { partsAfter } from "./bufferParts.js";
import { fsError } from "./fileSystem.js";
import { InlineIo, inlineLimit } from "./inlineIo.js";

/** The most one call on the event loop moves (a get writes up to 4 MiB of ready blocks at once). */
const MAX_INLINE_BYTES = 4 * 1024 * 1024;

export class LocalFile {
  private readonly inline: InlineIo;

  constructor(
    readonly fh: FileHandle,
    st: Stats,
  ) {
    this.inline = new InlineIo(inlineLimit(st, MAX_INLINE_BYTES));
  }

  /**
   * Write all of `parts` (`length` bytes) at `position` on the event loop when allowed: true when done;
   * false when the caller must use write(). A failure throws as fs does.
   */
  writeNow(parts: Buffer[], position: number, length: number): boolean {
    if (!this.inline.allows(length)) return false;
    let rest = parts;
    for (;;) {
      while (rest.length > 0 && rest[0]!.length === 0) rest = rest.slice(1);
      if (rest.length === 0) return true;
      const chunk = rest;
      const at = position;
      const n = this.inline.run(() => writevSync(this.fh.fd, chunk, at));
      if (n === 0) throw fsError("EIO", "write");
      position += n;
      rest = partsAfter(rest, n);
    }
  }

  /** Write all of `parts` at `position` through the thread pool (one writev where the kernel takes all). */
  async write(parts: Buffer[], position: number): Promise<void> {
    let rest = parts.length === 1 ? parts : parts.filter((p) => p.length > 0);
    while (rest.length > 0) {
      const { bytesWritten } =
        rest.length === 1
          ? await this.fh.write(rest[0]!, 0, rest[0]!.length, position)
          : await this.fh.writev(rest, position);
      if (bytesWritten === 0) throw fsError("EIO", "write");
      position += bytesWritten;
      rest = partsAfter(rest, bytesWritten);
    }
  }

  /** read() on the event loop when allowed: the count read (0 at the end), or null: use read(). */
  readNow(buffer: Buffer, offset: number, length: number, position: number): number | null {
    return this.inline.tryRun(length, () => readSync(this.fh.fd, buffer, offset, length, position));
  }

  async read(buffer: Buffer, offset: number, length: number, position: number): Promise<number> {
    return (await this.fh.read(buffer, offset, length, position)).bytesRead;
  }
}
