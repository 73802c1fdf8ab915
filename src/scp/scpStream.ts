/**
 * The byte stream the legacy SCP protocol runs on (the stdio of `scp -t` / `scp -f`, see scp.c): reading
 * one response byte, one bounded control line, or an exact count of file bytes; writing lines and acks.
 * Every buffer is bounded: a control line longer than MAX_LINE is a protocol error.
 */
import type { Readable, Writable } from "node:stream";

export const MAX_LINE = 64 * 1024;

export class ScpProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ScpProtocolError";
  }
}

export class ScpStream {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private ended = false;
  private waiter: (() => void) | null = null;

  constructor(
    private readonly input: Readable,
    private readonly output: Writable,
  ) {
    input.on("data", (d: Buffer) => {
      this.chunks.push(d);
      this.buffered += d.length;
      // Hold at most a megabyte ahead of the reader: the peer waits on the pipe, not on our memory.
      if (this.buffered > 1024 * 1024) input.pause();
      this.wake();
    });
    const end = (): void => {
      this.ended = true;
      this.wake();
    };
    input.once("end", end);
    input.once("close", end);
    input.once("error", end);
    output.on("error", () => {}); // a peer that went away shows as the end of its input
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  private async fill(): Promise<boolean> {
    if (this.buffered > 0) return true;
    if (this.ended) return false;
    this.input.resume();
    await new Promise<void>((resolve) => (this.waiter = resolve));
    return this.buffered > 0;
  }

  private take(n: number): Buffer {
    const head = this.chunks[0]!;
    const part = head.subarray(0, n);
    if (part.length === head.length) this.chunks.shift();
    else this.chunks[0] = head.subarray(n);
    this.buffered -= part.length;
    if (this.buffered < 256 * 1024) this.input.resume();
    return part;
  }

  /** One byte, or null at the end of the stream. */
  async byte(): Promise<number | null> {
    if (!(await this.fill())) return null;
    return this.take(1)[0]!;
  }

  /** Bytes up to a newline (not included); null at the end of the stream before any byte. */
  async line(): Promise<string | null> {
    const parts: Buffer[] = [];
    let length = 0;
    for (;;) {
      if (!(await this.fill())) {
        if (length === 0) return null;
        throw new ScpProtocolError("lost connection");
      }
      const head = this.chunks[0]!;
      const nl = head.indexOf(10);
      const n = nl >= 0 ? nl + 1 : head.length;
      const part = this.take(n);
      parts.push(nl >= 0 ? part.subarray(0, nl) : part);
      length += part.length;
      if (length > MAX_LINE) throw new ScpProtocolError("protocol error: control line too long");
      if (nl >= 0) return Buffer.concat(parts).toString("utf8");
    }
  }

  /** Exactly `n` bytes, handed to `sink` in pieces as they arrive. */
  async exact(n: number, sink: (piece: Buffer) => Promise<void> | void): Promise<void> {
    let left = n;
    while (left > 0) {
      if (!(await this.fill())) throw new ScpProtocolError("lost connection");
      const piece = this.take(Math.min(left, this.chunks[0]!.length));
      left -= piece.length;
      await sink(piece);
    }
  }

  write(data: string | Buffer): Promise<void> {
    return new Promise((resolve) => {
      if (this.output.destroyed || this.output.writableEnded) return resolve();
      if (this.output.write(data)) resolve();
      else this.output.once("drain", () => resolve());
    });
  }

  ok(): Promise<void> {
    return this.write(Buffer.from([0]));
  }

  /** A warning (1) or fatal error (2) line for the peer, as scp.c run_err(): "\x01scp: message\n". */
  error(message: string, fatal = false): Promise<void> {
    return this.write(Buffer.concat([Buffer.from([fatal ? 2 : 1]), Buffer.from(`scp: ${message}\n`)]));
  }

  end(): void {
    this.output.end();
  }

  /** Wait for the peer's response (scp.c response()): null for OK, else its message; fatal ones throw. */
  async response(): Promise<string | null> {
    const b = await this.byte();
    if (b === null) throw new ScpProtocolError("lost connection");
    if (b === 0) return null;
    const text = (await this.line()) ?? "";
    if (b === 1) return text;
    if (b === 2) throw new ScpProtocolError(text);
    throw new ScpProtocolError(`protocol error: unexpected <${b}>${text}`);
  }
}
