/**
 * Pipelined whole-file transfers for SftpClient.get/put: up to `requests` (default 64) READs or WRITEs of
 * one block each in flight, the block size taken from limits@openssh.com (up to 255 KiB; 32 KiB without it).
 *
 * A destination is written in place and in file order, so at every moment it holds an exact prefix of the
 * source: a download buffers replies that overtake each other until the gap before them is filled, and an
 * upload's writes are issued in order (servers handle a session's requests in order). When a transfer fails
 * the destination is truncated to the bytes confirmed written and the error is reported; a killed transfer
 * leaves that prefix, which `resume: true` (sftp's reget/reput) continues.
 */
import fs from "node:fs";
import { SshError } from "../wire/index.js";
import { isDirectoryMode, type SftpAttrs } from "./attrs.js";
import { OpenFlags, SftpError, SftpStatus } from "./clientErrors.js";
import { fsError } from "./fileSystem.js";
import { byteLength } from "./packetParser.js";
import type { SftpClient, SftpHandle } from "./client.js";
import { partsAfter } from "./bufferParts.js";

export interface TransferProgress {
  /** Bytes of the destination now in place (including any resumed prefix). */
  transferred: number;
  /** The source's size when the transfer began. */
  total: number;
  /** Where this transfer started (non-zero when resuming). */
  startedAt: number;
}

export interface TransferOptions {
  /** Continue a partial destination from its current size instead of starting over (reget/reput). */
  resume?: boolean;
  /** Copy modification/access times and permission bits (sftp -p, scp -p). */
  preserve?: boolean;
  /** Requests in flight (sftp -R); default 64. */
  requests?: number;
  /** Bytes per READ/WRITE (sftp -B); default from limits@openssh.com, else 32 KiB. */
  blockSize?: number;
  /** Flush the remote file to disk before closing it (sftp -f; fsync@openssh.com). */
  fsync?: boolean;
  /** Permission bits for a newly created destination (default: the source's, under the umask). */
  mode?: number;
  /** Bandwidth cap in bytes per second (sftp/scp -l gives Kbit/s: limit * 1024 / 8). */
  bytesPerSecond?: number;
  onProgress?: (progress: TransferProgress) => void;
  signal?: AbortSignal;
}

/** Milliseconds to wait before sending more when `sent` bytes since `startMs` exceed the cap. */
function throttleDelay(options: TransferOptions, sent: number, startMs: number): number {
  const rate = options.bytesPerSecond;
  if (!rate || rate <= 0) return 0;
  const due = startMs + (sent / rate) * 1000;
  return Math.max(0, due - Date.now());
}

const DEFAULT_REQUESTS = 64;
/** One local writev takes at most this much of what is ready (IOV_MAX is 1024 on Linux). */
const MAX_WRITEV_PARTS = 256;
const MAX_WRITEV_BYTES = 4 * 1024 * 1024;

/** Write `parts` at `position` in full, as one writev where the kernel takes it all. */
async function writeAll(fh: fs.promises.FileHandle, parts: Buffer[], position: number): Promise<void> {
  let rest = parts.length === 1 ? parts : parts.filter((p) => p.length > 0);
  while (rest.length > 0) {
    const { bytesWritten } =
      rest.length === 1
        ? await fh.write(rest[0]!, 0, rest[0]!.length, position)
        : await fh.writev(rest, position);
    if (bytesWritten === 0) throw fsError("EIO", "write");
    position += bytesWritten;
    rest = partsAfter(rest, bytesWritten);
  }
}

function abortError(): SshError {
  return new SshError("ABORTED", "transfer aborted");
}

function localSize(path: string): number {
  try {
    return fs.statSync(path).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return 0;
    throw err;
  }
}

export async function downloadFile(
  client: SftpClient,
  remote: string,
  local: string,
  options: TransferOptions,
): Promise<void> {
  if (options.signal?.aborted) throw abortError();
  await client.init();
  const h = await client.open(remote, "r");
  let fh: fs.promises.FileHandle | null = null;
  const state = { written: 0 };
  try {
    const attrs = await client.fstat(h);
    if (isDirectoryMode(attrs.mode)) throw new SftpError(SftpStatus.FAILURE, "is a directory", remote, "get");
    const total = attrs.size ?? 0;
    const start = options.resume ? localSize(local) : 0;
    if (options.resume && attrs.size !== undefined && start > total) {
      throw new SshError(
        "PROTOCOL",
        `Unable to resume download of "${remote}": local file is larger than remote`,
      );
    }
    const mode = options.mode ?? (attrs.mode !== undefined ? attrs.mode & 0o777 : 0o666);
    fh = await fs.promises.open(local, options.resume ? (start > 0 ? "r+" : "w") : "w", mode);
    if (options.resume) await fh.truncate(start);
    state.written = start;
    await pipelineReads(client, h, fh, state, total, options);
    await fh.truncate(state.written);
    if (options.preserve) await applyLocalAttrs(fh, attrs);
  } catch (err) {
    // The destination keeps exactly the prefix written in order; truncate in case a block was half done.
    if (fh) await fh.truncate(state.written).catch(() => {}); // the transfer's error is the one to report
    throw err;
  } finally {
    await fh?.close();
    await client.close(h).catch(() => {}); // the data is in place; a failed close of a read handle changes nothing
  }
}

async function applyLocalAttrs(fh: fs.promises.FileHandle, attrs: SftpAttrs): Promise<void> {
  if (attrs.mode !== undefined) await fh.chmod(attrs.mode & 0o7777);
  if (attrs.mtime !== undefined) await fh.utimes(attrs.atime ?? attrs.mtime, attrs.mtime);
}

/** Many READs in flight; their data written to `fh` strictly in file order, up to `state.written`. */
function pipelineReads(
  client: SftpClient,
  h: SftpHandle,
  fh: fs.promises.FileHandle,
  state: { written: number },
  total: number,
  options: TransferOptions,
): Promise<void> {
  const start = state.written;
  const block = options.blockSize ?? client.blockSize("read");
  const maxInFlight = Math.max(1, options.requests ?? DEFAULT_REQUESTS);
  const maxBuffered = maxInFlight * block;
  return new Promise<void>((resolve, reject) => {
    let nextOffset = start;
    let writeOffset = start;
    let eofAt = Number.POSITIVE_INFINITY;
    let inFlight = 0;
    let writing = false;
    let buffered = 0;
    let failure: Error | null = null;
    let finished = false;
    const ready = new Map<number, Buffer[]>();
    const startMs = Date.now();
    let throttled = false;

    const onAbort = (): void => fail(abortError());
    options.signal?.addEventListener("abort", onAbort, { once: true });

    function fail(err: Error): void {
      failure ??= err;
      settle();
    }

    function settle(): void {
      if (finished || inFlight > 0 || writing) return;
      // Nothing in flight: either the next block in order is ready to write, or the file is done.
      if (!failure && ready.has(writeOffset)) return;
      finished = true;
      options.signal?.removeEventListener("abort", onAbort);
      if (failure) reject(failure);
      else resolve();
    }

    function issue(offset: number, length: number): void {
      inFlight++;
      client.readParts(h, offset, length).then(
        (parts) => {
          inFlight--;
          const n = parts === null ? 0 : byteLength(parts);
          if (parts === null || n === 0) {
            eofAt = Math.min(eofAt, offset);
          } else {
            ready.set(offset, parts);
            buffered += n;
            // A short read (filexfer-02 §6.4 allows one): ask for the rest of the block.
            if (n < length && !failure) issue(offset + n, length - n);
          }
          flush();
          pump();
          settle();
        },
        (err: Error) => {
          inFlight--;
          fail(err);
        },
      );
    }

    function pump(): void {
      while (!failure && inFlight < maxInFlight && nextOffset < eofAt && buffered < maxBuffered) {
        // Past the size we knew, one READ at a time until the server says EOF (the file may have grown).
        if (nextOffset >= total && inFlight > 0) break;
        const wait = throttleDelay(options, nextOffset - start, startMs);
        if (wait > 0) {
          if (!throttled) {
            throttled = true;
            inFlight++; // the timer counts as in flight, so the transfer does not settle meanwhile
            setTimeout(() => {
              throttled = false;
              inFlight--;
              pump();
              settle();
            }, wait);
          }
          break;
        }
        issue(nextOffset, block);
        nextOffset += block;
      }
    }

    /** Write what is ready in order from writeOffset: consecutive blocks together, in one writev. */
    function flush(): void {
      if (writing || failure) return;
      const parts: Buffer[] = [];
      let n = 0;
      for (let at = writeOffset; parts.length < MAX_WRITEV_PARTS && n < MAX_WRITEV_BYTES;) {
        const block = ready.get(at);
        if (!block) break;
        ready.delete(at);
        const size = byteLength(block);
        for (const p of block) parts.push(p);
        n += size;
        at += size;
      }
      if (n === 0) return;
      writing = true;
      writeAll(fh, parts, writeOffset).then(
        () => {
          writing = false;
          buffered -= n;
          writeOffset += n;
          state.written = writeOffset;
          options.onProgress?.({ transferred: writeOffset, total, startedAt: start });
          flush();
          pump();
          settle();
        },
        (err: Error) => {
          writing = false;
          fail(err);
        },
      );
    }

    pump();
    settle();
  });
}

export async function uploadFile(
  client: SftpClient,
  local: string,
  remote: string,
  options: TransferOptions,
): Promise<void> {
  if (options.signal?.aborted) throw abortError();
  await client.init();
  const fh = await fs.promises.open(local, "r");
  try {
    const st = await fh.stat();
    if (st.isDirectory()) throw new SshError("PROTOCOL", `${local} is a directory`);
    let start = 0;
    if (options.resume) {
      const r = await client.stat(remote).catch((err: unknown) => {
        if (err instanceof SftpError && err.status === SftpStatus.NO_SUCH_FILE) return { size: 0 };
        throw err;
      });
      start = r.size ?? 0;
      if (start > st.size) {
        throw new SshError("PROTOCOL", `Unable to resume upload of "${local}": destination file is larger`);
      }
    }
    const mode = options.mode ?? st.mode & 0o777;
    const flags = options.resume ? OpenFlags.WRITE | OpenFlags.CREAT : "w";
    const h = await client.open(remote, flags, { mode });
    let acked = start;
    try {
      acked = await pipelineWrites(client, h, fh, start, st.size, options);
      if (options.preserve) {
        await client.fsetstat(h, {
          mode: st.mode & 0o7777,
          atime: Math.floor(st.atimeMs / 1000),
          mtime: Math.floor(st.mtimeMs / 1000),
        });
      }
      if (options.fsync && client.extensions.has("fsync@openssh.com")) await client.fsync(h);
    } catch (err) {
      acked = (err as { confirmed?: number }).confirmed ?? acked;
      // Leave exactly the prefix the server confirmed (best effort: the session may be gone).
      await client.fsetstat(h, { size: acked }).catch(() => {}); // the transfer's error is what to report
      throw err;
    } finally {
      await client.close(h).catch((err: unknown) => {
        if (!(err instanceof SshError)) throw err;
      });
    }
  } finally {
    await fh.close();
  }
}

/** WRITEs in file order, many in flight. Returns the end of the prefix the server confirmed. */
async function pipelineWrites(
  client: SftpClient,
  h: SftpHandle,
  fh: fs.promises.FileHandle,
  start: number,
  total: number,
  options: TransferOptions,
): Promise<number> {
  const block = options.blockSize ?? client.blockSize("write");
  const maxInFlight = Math.max(1, options.requests ?? DEFAULT_REQUESTS);
  let inFlight = 0;
  let failure: Error | null = null;
  let wake: (() => void) | null = null;
  // Confirmed ranges, to know the contiguous prefix even if replies arrive out of order.
  let confirmed = start;
  const doneAt = new Map<number, number>();
  const onAbort = (): void => {
    failure ??= abortError();
    wake?.();
  };
  options.signal?.addEventListener("abort", onAbort, { once: true });
  const waitSlot = (): Promise<void> => new Promise((resolve) => (wake = resolve));
  const startMs = Date.now();
  const head = client.writeHeaderLength(h);
  // The file's bytes go straight into the request (no copy into a packet), and a request's buffer is
  // used again once the server has answered it (its bytes were sent by then).
  const spare: Buffer[] = [];
  const readBlock = async (at: number): Promise<{ packet: Buffer; at: number; n: number }> => {
    const packet = spare.pop() ?? Buffer.allocUnsafe(head + block);
    const { bytesRead } = await fh.read(packet, head, Math.min(block, total - at), at);
    return { packet, at, n: bytesRead };
  };
  // One block is read ahead from the local file while the one before waits for its turn to go.
  let ahead = start < total ? readBlock(start) : null;
  try {
    while (ahead && !failure) {
      let b: { packet: Buffer; at: number; n: number };
      try {
        b = await ahead;
      } catch (err) {
        failure ??= err as Error; // a local read error: what was sent is still confirmed below
        break;
      }
      ahead = null;
      if (b.n === 0) break; // the local file shrank while we sent it
      if (b.at + b.n < total) ahead = readBlock(b.at + b.n);
      while (inFlight >= maxInFlight && !failure) await waitSlot();
      if (failure) break;
      const wait = throttleDelay(options, b.at - start, startMs);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      if (client.needsDrain) await client.waitDrain();
      const { packet, at, n: bytesRead } = b;
      inFlight++;
      client.writePrepared(h, at, packet, bytesRead).then(
        () => {
          inFlight--;
          spare.push(packet);
          doneAt.set(at, bytesRead);
          while (doneAt.has(confirmed)) {
            const n = doneAt.get(confirmed)!;
            doneAt.delete(confirmed);
            confirmed += n;
          }
          options.onProgress?.({ transferred: confirmed, total, startedAt: start });
          const w = wake;
          wake = null;
          w?.();
        },
        (err: Error) => {
          inFlight--;
          failure ??= err;
          const w = wake;
          wake = null;
          w?.();
        },
      );
    }
    while (inFlight > 0) await waitSlot();
  } finally {
    // A block read ahead and not sent (the transfer failed meanwhile): its outcome no longer matters.
    ahead?.catch(() => {});
    options.signal?.removeEventListener("abort", onAbort);
  }
  if (failure) {
    Object.assign(failure, { confirmed });
    throw failure;
  }
  return confirmed;
}
