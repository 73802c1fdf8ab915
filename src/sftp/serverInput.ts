/**
 * The SFTP server's input as chunks, one at a time, as they were pushed. Node's own async iterator calls
 * read() without a size, which joins every chunk buffered by then into a new buffer: a copy of all bulk
 * data (a WRITE's bytes), measured at a tenth of a session's CPU during an upload. Flowing mode hands
 * chunks over as they are; the stream is paused while a few wait for the consumer, so that the channel's
 * window (or the pipe) holds the peer back. The stream is left open when the loop ends (a session
 * channel still has to carry its exit-status).
 */
import type { Readable } from "node:stream";

/** Chunks held before the stream is paused. */
const MAX_QUEUED = 4;

function prematureClose(): Error {
  return Object.assign(new Error("Premature close"), { code: "ERR_STREAM_PREMATURE_CLOSE" });
}

export async function* chunksOf(input: Readable): AsyncGenerator<Buffer> {
  const queue: Buffer[] = [];
  let ended = input.readableEnded;
  let failure: Error | null = !ended && input.destroyed ? prematureClose() : null;
  let wake: (() => void) | null = null;
  const notify = (): void => {
    const w = wake;
    wake = null;
    w?.();
  };
  const onData = (chunk: Buffer | string): void => {
    queue.push(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
    if (queue.length >= MAX_QUEUED) input.pause();
    notify();
  };
  const onEnd = (): void => {
    ended = true;
    notify();
  };
  const onClose = (): void => {
    if (!ended) failure ??= prematureClose();
    notify();
  };
  const onError = (err: Error): void => {
    failure ??= err;
    notify();
  };
  input.on("data", onData);
  input.on("end", onEnd);
  input.on("close", onClose);
  input.on("error", onError);
  try {
    for (;;) {
      const chunk = queue.shift();
      if (chunk !== undefined) {
        if (queue.length === 0 && input.isPaused() && !ended) input.resume();
        yield chunk;
        continue;
      }
      if (failure) throw failure;
      if (ended) return;
      await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    input.off("data", onData);
    input.off("end", onEnd);
    input.off("close", onClose);
    input.off("error", onError);
    input.pause();
  }
}
