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
import { byteLength } from "./packetParser.js";
import type { SftpClient, SftpHandle } from "./client.js";
import { LocalFile } from "./clientLocalFile.js";

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
/** One local write takes at most this much of what is ready (IOV_MAX is 1024 on Linux). */
const MAX_WRITEV_PARTS = 256;
const MAX_WRITEV_BYTES = 4 * 1024 * 1024;
/**
 * READs go out this many at a time (at most a quarter of the pipeline): one write, one SSH packet and
 * one socket write for the lot, instead of one of each per reply.
 */
const MAX_READ_BATCH = 16;

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
    await pipelineReads(client, h, new LocalFile(fh, await fh.stat()), state, total, options);
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

/** Many READs in flight; their data written to `file` strictly in file order, up to `state.written`. */
function pipelineReads(
  client: SftpClient,
  h: SftpHandle,
  file: LocalFile,
  state: { written: number },
  total: number,
  options: TransferOptions,
): Promise<void> {
  const start = state.written;
  const block = options.blockSize ?? client.blockSize("read");
  const maxInFlight = Math.max(1, options.requests ?? DEFAULT_REQUESTS);
  const maxBuffered = maxInFlight * block;
  const batch = Math.max(1, Math.min(MAX_READ_BATCH, Math.floor(maxInFlight / 4)));
  return new Promise<void>((resolve, reject) => {
    let nextOffset = start;
    let writeOffset = start;
    let eofAt = Number.POSITIVE_INFINITY;
    let inFlight = 0;
    let writing = false;
    let buffered = 0;
    let failure: Error | null = null;
    let finished = false;
    // Replies that overtook the one before them (rare: servers answer in order), by offset.
    const ready = new Map<number, Buffer[]>();
    const startMs = Date.now();
    /** The bandwidth cap's wait before the next READs; a failure (an abort) ends it at once. */
    let throttle: NodeJS.Timeout | null = null;

    const onAbort = (): void => fail(abortError());
    options.signal?.addEventListener("abort", onAbort, { once: true });

    function fail(err: Error): void {
      failure ??= err;
      settle();
    }

    function settle(): void {
      if (finished || inFlight > 0 || writing) return;
      // Nothing in flight: either the next block in order is ready to write, the cap holds the next
      // READs back, or the file is done.
      if (!failure && (throttle !== null || ready.has(writeOffset))) return;
      finished = true;
      if (throttle !== null) clearTimeout(throttle);
      options.signal?.removeEventListener("abort", onAbort);
      if (failure) reject(failure);
      else resolve();
    }

    function onReply(offset: number, length: number, err: Error | null, parts: Buffer[] | null): void {
      inFlight--;
      if (err) return fail(err);
      const n = parts === null ? 0 : byteLength(parts);
      if (parts === null || n === 0) {
        eofAt = Math.min(eofAt, offset);
      } else {
        ready.set(offset, parts);
        buffered += n;
        // A short read (filexfer-02 §6.4 allows one): ask for the rest of the block.
        if (n < length && !failure) send([offset + n], [length - n]);
      }
      flush();
      pump();
      settle();
    }

    function send(positions: number[], lengths: number[]): void {
      inFlight += positions.length;
      try {
        client.readMany(h, positions, lengths, (i, err, parts) =>
          onReply(positions[i]!, lengths[i]!, err, parts),
        );
      } catch (err) {
        inFlight -= positions.length;
        fail(err as Error);
      }
    }

    function pump(): void {
      if (failure || throttle !== null) return;
      const free = Math.min(maxInFlight - inFlight, Math.floor((maxBuffered - buffered) / block));
      // Wait for a batch's worth of free slots, unless the pipeline is running dry or nearly done.
      if (free < batch && inFlight > batch && nextOffset + batch * block < total) return;
      const positions: number[] = [];
      while (positions.length < free && nextOffset < eofAt) {
        // Past the size we knew, one READ at a time until the server says EOF (the file may have grown).
        if (nextOffset >= total && inFlight + positions.length > 0) break;
        const wait = throttleDelay(options, nextOffset - start, startMs);
        if (wait > 0) {
          throttle = setTimeout(() => {
            throttle = null;
            pump();
            settle();
          }, wait);
          break;
        }
        positions.push(nextOffset);
        nextOffset += block;
      }
      if (positions.length > 0) send(positions, new Array<number>(positions.length).fill(block));
    }

    /** Write what is ready in order from writeOffset: consecutive blocks together, in one writev. */
    function flush(): void {
      while (!writing && !failure) {
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
        try {
          if (file.writeNow(parts, writeOffset, n)) {
            written(n);
            continue;
          }
        } catch (err) {
          return fail(err as Error);
        }
        writing = true;
        file.write(parts, writeOffset).then(
          () => {
            writing = false;
            written(n);
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
    }

    function written(n: number): void {
      buffered -= n;
      writeOffset += n;
      state.written = writeOffset;
      options.onProgress?.({ transferred: writeOffset, total, startedAt: start });
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
      acked = await pipelineWrites(client, h, new LocalFile(fh, st), start, st.size, options);
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

/** WRITEs in file order, many in flight. Resolves with the end of the prefix the server confirmed. */
function pipelineWrites(
  client: SftpClient,
  h: SftpHandle,
  file: LocalFile,
  start: number,
  total: number,
  options: TransferOptions,
): Promise<number> {
  const block = options.blockSize ?? client.blockSize("write");
  const maxInFlight = Math.max(1, options.requests ?? DEFAULT_REQUESTS);
  const head = client.writeHeaderLength(h);
  const startMs = Date.now();
  return new Promise<number>((resolve, reject) => {
    let nextAt = start;
    let inFlight = 0;
    /** A local read through the thread pool, a throttle's timer or a wait for the channel's drain. */
    let reading = false;
    let waiting = false;
    let localEnd = false;
    /** The bandwidth cap's wait (one of the waits above); a failure (an abort) ends it at once. */
    let throttle: NodeJS.Timeout | null = null;
    let failure: Error | null = null;
    let finished = false;
    // Confirmed ranges, to know the contiguous prefix even if replies arrive out of order.
    let confirmed = start;
    const doneAt = new Map<number, number>();
    // The file's bytes go straight into the request (no copy into a packet), and a request's buffer is
    // used again once the server has answered it (its bytes were sent by then).
    const spare: Buffer[] = [];

    const onAbort = (): void => fail(abortError());
    options.signal?.addEventListener("abort", onAbort, { once: true });

    function fail(err: Error): void {
      failure ??= err;
      settle();
    }

    function settle(): void {
      if (finished || inFlight > 0 || reading) return;
      if (!failure && (waiting || (!localEnd && nextAt < total))) return;
      finished = true;
      if (throttle !== null) clearTimeout(throttle); // an abort does not wait out the cap
      options.signal?.removeEventListener("abort", onAbort);
      if (failure) reject(Object.assign(failure, { confirmed }));
      else resolve(confirmed);
    }

    function resume(): void {
      waiting = false;
      throttle = null;
      pump();
      settle();
    }

    function pump(): void {
      while (!failure && !reading && !waiting && !localEnd && inFlight < maxInFlight && nextAt < total) {
        const wait = throttleDelay(options, nextAt - start, startMs);
        if (wait > 0) {
          waiting = true;
          throttle = setTimeout(resume, wait);
          return;
        }
        if (client.needsDrain) {
          waiting = true;
          void client.waitDrain().then(resume);
          return;
        }
        const packet = spare.pop() ?? Buffer.allocUnsafe(head + block);
        const at = nextAt;
        const want = Math.min(block, total - at);
        let n: number | null;
        try {
          n = file.readNow(packet, head, want, at);
        } catch (err) {
          return fail(err as Error); // a local read error: what was sent is still confirmed
        }
        if (n === null) {
          reading = true;
          file.read(packet, head, want, at).then(
            (bytesRead) => {
              reading = false;
              if (!failure) sendBlock(packet, at, bytesRead);
              pump();
              settle();
            },
            (err: Error) => {
              reading = false;
              fail(err);
            },
          );
          return;
        }
        sendBlock(packet, at, n);
      }
    }

    function sendBlock(packet: Buffer, at: number, n: number): void {
      if (n === 0) {
        localEnd = true; // the local file shrank while we sent it
        return;
      }
      nextAt = at + n;
      inFlight++;
      try {
        client.writeFramed(h, at, packet, n, (err) => onReply(packet, at, n, err));
      } catch (err) {
        inFlight--;
        fail(err as Error);
      }
    }

    function onReply(packet: Buffer, at: number, n: number, err: Error | null): void {
      inFlight--;
      if (err) return fail(err);
      spare.push(packet);
      doneAt.set(at, n);
      while (doneAt.has(confirmed)) {
        const size = doneAt.get(confirmed)!;
        doneAt.delete(confirmed);
        confirmed += size;
      }
      options.onProgress?.({ transferred: confirmed, total, startedAt: start });
      pump();
      settle();
    }

    pump();
    settle();
  });
}
