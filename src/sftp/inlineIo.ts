/**
 * When a file's read or write may run on the event loop (pread/pwritev as OpenSSH's sftp and sftp-server
 * do them) rather than in the thread pool: a thread-pool round trip per block (a worker's wake-up, then
 * the event loop's) costs more CPU than a page-cache copy, and keeps the block's buffers alive longer.
 * A call that waited (a cold disk, writeback throttling, a network file system: a long call during which
 * the process slept, not one it was only preempted in on a busy machine) sends the file's next calls to
 * the thread pool: 16 of them, twice as many after each such call that follows, half as many after a
 * fast one. So a slow disk holds up the event loop (and every other session of the process) for a
 * vanishing share of its calls, and a passing stall costs little.
 */

import type { Stats } from "node:fs";

/** Linux's memory devices (mem(4): null, zero, full, random, urandom...) never block. */
const MEMORY_DEVICE_MAJOR = 1;

/**
 * How large a call on this file may run on the event loop: up to `fileLimit` bytes of a regular file; any
 * of a memory device (no copy to a disk at all); none of anything else (a FIFO, a terminal or a socket
 * could block it for good).
 */
export function inlineLimit(st: Stats, fileLimit: number): number {
  if (st.isFile()) return fileLimit;
  const memoryDevice = st.isCharacterDevice() && Math.floor(st.rdev / 256) % 4096 === MEMORY_DEVICE_MAJOR;
  return memoryDevice ? Number.POSITIVE_INFINITY : 0;
}

/** A call longer than this may have waited (a page-cache copy of 256 KiB takes ~0.1 ms, of 4 MiB ~1 ms). */
const SLOW_CALL_NS = 4_000_000n;
const FIRST_BACKOFF = 16;
const MAX_BACKOFF = 4096;

export class InlineIo {
  private calls = 0;
  /** The call count from which calls may run inline again. */
  private inlineFrom = 0;
  private backoff = FIRST_BACKOFF;

  /** `maxBytes`: the largest call ever run inline (0: none, for a file that could block for good). */
  constructor(private readonly maxBytes: number) {}

  /** May a call of `length` bytes run inline now? Counts the call. */
  allows(length: number): boolean {
    this.calls++;
    return length <= this.maxBytes && this.calls >= this.inlineFrom;
  }

  /** Run `op` inline when a call of `length` bytes may (counting it); null when it must go to the pool. */
  tryRun<T>(length: number, op: () => T): T | null {
    return this.allows(length) ? this.run(op) : null;
  }

  /** Run `op` inline, timing it. */
  run<T>(op: () => T): T {
    const started = process.hrtime.bigint();
    // Sleeping in a system call is a voluntary context switch (getrusage(2) ru_nvcsw); being preempted
    // is an involuntary one. The count is the process's, but its other threads are idle meanwhile.
    const sleeps = process.resourceUsage().voluntaryContextSwitches;
    const result = op();
    if (
      process.hrtime.bigint() - started > SLOW_CALL_NS &&
      process.resourceUsage().voluntaryContextSwitches > sleeps
    ) {
      this.inlineFrom = this.calls + this.backoff;
      this.backoff = Math.min(MAX_BACKOFF, this.backoff * 2);
    } else if (this.backoff > FIRST_BACKOFF) this.backoff /= 2;
    return result;
  }
}
