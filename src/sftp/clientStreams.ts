/**
 * Node streams over a remote file, as fs.createReadStream/createWriteStream: a Readable that keeps a few
 * READs in flight ahead of its consumer, and a Writable whose writes are acknowledged in order.
 */
import { Readable, Writable } from "node:stream";
import type { SftpAttrs } from "./attrs.js";
import type { OpenMode, SftpClient, SftpHandle } from "./client.js";

export interface ReadStreamOptions {
  /** First byte to read (default 0). */
  start?: number;
  /** Last byte to read, inclusive (as fs.createReadStream). */
  end?: number;
  /** READs kept in flight (default 8). */
  requests?: number;
  highWaterMark?: number;
}

export interface WriteStreamOptions {
  /** Open mode (default "w": create or truncate). */
  flags?: OpenMode;
  /** Position of the first byte written (default 0). */
  start?: number;
  /** Attributes for a created file, such as { mode: 0o600 }. */
  attrs?: SftpAttrs;
  /** WRITEs left unacknowledged before the stream waits (default 16). */
  requests?: number;
}

export function createSftpReadStream(client: SftpClient, path: string, options: ReadStreamOptions): Readable {
  let handle: SftpHandle | null = null;
  let next = options.start ?? 0;
  const stop = options.end === undefined ? Number.POSITIVE_INFINITY : options.end + 1;
  const maxInFlight = options.requests ?? 8;
  // Replies in request order: each entry is one READ's promise.
  const queue: Array<Promise<Buffer | null>> = [];
  let ended = false;

  const fill = (): void => {
    const block = client.blockSize("read");
    while (handle && queue.length < maxInFlight && next < stop && !ended) {
      const length = Math.min(block, stop - next);
      const at = next;
      const h = handle;
      const p = client.read(h, at, length).then(async (data) => {
        // A short read: fetch the rest of this block (as many READs as it takes, until EOF) before the
        // next block's data goes out, or the bytes between would be skipped.
        if (!data || data.length >= length) return data;
        const parts = [data];
        let got = data.length;
        while (got < length) {
          const rest = await client.read(h, at + got, length - got);
          if (!rest || rest.length === 0) break;
          parts.push(rest);
          got += rest.length;
        }
        return parts.length === 1 ? data : Buffer.concat(parts, got);
      });
      p.catch(() => {}); // observed when it reaches the head of the queue
      queue.push(p);
      next += length;
    }
  };

  return new Readable({
    highWaterMark: options.highWaterMark ?? 256 * 1024,
    async construct(callback) {
      try {
        handle = await client.open(path, "r");
        callback();
      } catch (err) {
        callback(err as Error);
      }
    },
    async read() {
      fill();
      const head = queue.shift();
      if (!head) {
        ended = true;
        this.push(null);
        return;
      }
      try {
        const data = await head;
        if (data === null) {
          ended = true;
          this.push(null);
        } else {
          this.push(data);
        }
      } catch (err) {
        this.destroy(err as Error);
      }
    },
    destroy(err, callback) {
      ended = true;
      if (!handle) return callback(err);
      client.close(handle).then(
        () => callback(err),
        (closeErr: Error) => callback(err ?? closeErr),
      );
    },
  });
}

export function createSftpWriteStream(
  client: SftpClient,
  path: string,
  options: WriteStreamOptions,
): Writable {
  let handle: SftpHandle | null = null;
  let position = options.start ?? 0;
  const maxInFlight = options.requests ?? 16;
  const inFlight = new Set<Promise<void>>();
  let failure: Error | null = null;

  const send = async (chunk: Buffer): Promise<void> => {
    const block = client.blockSize("write");
    for (let off = 0; off < chunk.length; off += block) {
      if (failure) throw failure;
      while (inFlight.size >= maxInFlight) await Promise.race(inFlight);
      const part = chunk.subarray(off, off + block);
      const p: Promise<void> = client.write(handle!, position, part).then(
        () => void inFlight.delete(p),
        (err: Error) => {
          inFlight.delete(p);
          failure ??= err;
        },
      );
      inFlight.add(p);
      position += part.length;
    }
  };

  return new Writable({
    async construct(callback) {
      try {
        handle = await client.open(path, options.flags ?? "w", options.attrs ?? {});
        callback();
      } catch (err) {
        callback(err as Error);
      }
    },
    write(chunk: Buffer, _encoding, callback) {
      send(chunk).then(
        () => callback(failure),
        (err: Error) => callback(err),
      );
    },
    async final(callback) {
      try {
        await Promise.all(inFlight);
        if (failure) throw failure;
        await client.close(handle!);
        callback();
      } catch (err) {
        callback(err as Error);
      }
    },
    destroy(err, callback) {
      if (!handle || handle.closed) return callback(err);
      client.close(handle).then(
        () => callback(err),
        (closeErr: Error) => callback(err ?? closeErr),
      );
    },
  });
}
