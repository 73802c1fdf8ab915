/**
 * AuthMessageQueue: the auth layer's hold on a Transport while authentication runs. It takes the
 * transport's message handler, hands messages out one at a time (next()), and pauses the transport while
 * a message is being worked on, so that a peer that pipelines requests gets them processed strictly in
 * order and its input is back-pressured, never buffered without bound.
 *
 * release() ends the hold: the transport is left paused and is resumed on the next macrotask
 * (setImmediate), after the awaiting caller's continuation has run. A layer above that sets its own
 * message handler in that continuation (`await authenticateClient(t, o); t.setMessageHandler(...)`) gets
 * every message that follows USERAUTH_SUCCESS, including those that arrived in the same TCP segment.
 */
import type { Transport } from "../transport/index.js";
import { SshError } from "../wire/index.js";

export interface AuthMessage {
  type: number;
  payload: Buffer;
}

export class AuthMessageQueue {
  private readonly items: AuthMessage[] = [];
  private waiter: { resolve: (m: AuthMessage) => void; reject: (e: Error) => void } | null = null;
  private error: Error | null = null;
  private released = false;
  private readonly onClose = (err: SshError | null): void =>
    this.fail(err ?? new SshError("CONNECTION_LOST", "connection closed during authentication"));
  private readonly onAbort = (): void => {
    const err = new SshError("ABORTED", "authentication aborted");
    this.fail(err);
    this.abortHook?.(err);
  };

  /** Called on abort, after waiters are rejected with ABORTED (to send DISCONNECT). */
  abortHook: ((err: SshError) => void) | null = null;

  constructor(
    private readonly transport: Transport,
    private readonly signal?: AbortSignal,
  ) {
    transport.setMessageHandler((type, payload) => {
      if (this.released) return;
      this.items.push({ type, payload: Buffer.from(payload) });
      // One message at a time: the transport dispatches nothing more until next() asks for it.
      transport.pause();
      this.deliver();
    });
    transport.on("close", this.onClose);
    if (transport.isClosed) this.onClose(null);
    signal?.addEventListener("abort", this.onAbort, { once: true });
    if (signal?.aborted) queueMicrotask(this.onAbort);
  }

  /** The next message of the layers above the transport (50 and up). */
  next(): Promise<AuthMessage> {
    if (this.error) return Promise.reject(this.error);
    const item = this.items.shift();
    if (item) return Promise.resolve(item);
    return new Promise<AuthMessage>((resolve, reject) => {
      this.waiter = { resolve, reject };
      // resume() may dispatch synchronously, straight into the waiter.
      this.transport.resume();
    });
  }

  /** Drop a pending next() (its promise rejects): whoever waited no longer wants the message. */
  cancelWait(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.reject(new SshError("ABORTED", "no longer waiting for a message"));
  }

  /** Put a message back at the head of the queue (a request that interrupted a conversation). */
  unshift(m: AuthMessage): void {
    this.items.unshift(m);
  }

  /** Rejects every pending and later next() with this error. */
  fail(err: Error): void {
    if (this.error) return;
    this.error = err;
    for (const reject of this.guards) reject(err);
    this.guards.clear();
    const w = this.waiter;
    this.waiter = null;
    w?.reject(err);
  }

  get failed(): Error | null {
    return this.error;
  }

  /**
   * `p`, or the queue's failure (close, abort) if that comes first: a callback (a prompt, an agent, a
   * policy) that never answers cannot keep authentication from ending.
   */
  guard<T>(p: T | Promise<T>): Promise<T> {
    if (this.error) return Promise.reject(this.error);
    return new Promise<T>((resolve, reject) => {
      this.guards.add(reject);
      Promise.resolve(p).then(
        (v) => {
          this.guards.delete(reject);
          resolve(v);
        },
        (e: unknown) => {
          this.guards.delete(reject);
          reject(e);
        },
      );
    });
  }

  private readonly guards = new Set<(e: Error) => void>();

  private deliver(): void {
    const w = this.waiter;
    if (!w || this.items.length === 0) return;
    this.waiter = null;
    w.resolve(this.items.shift()!);
  }

  /** Stop listening; resume the transport on the next macrotask (see the header). */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.transport.off("close", this.onClose);
    this.signal?.removeEventListener("abort", this.onAbort);
    this.transport.pause();
    this.transport.setMessageHandler(() => {});
    setImmediate(() => {
      if (!this.transport.isClosed) this.transport.resume();
    });
  }
}

/**
 * Run one side's authentication with the transport's messages in a queue: an abort calls `onAbort`; a
 * failure disconnects with its reason (an internal error is not described to the peer); the queue gives
 * the transport back whatever happens.
 */
export async function runAuthExchange<T>(
  transport: Transport,
  signal: AbortSignal | undefined,
  onAbort: () => void,
  run: (queue: AuthMessageQueue) => Promise<T>,
): Promise<T> {
  const queue = new AuthMessageQueue(transport, signal);
  queue.abortHook = onAbort;
  try {
    return await run(queue);
  } catch (err) {
    // Once the connection has ended (or the caller aborted), that is the reason, not what it broke.
    if (queue.failed) throw queue.failed;
    if (err instanceof SshError) {
      if (!transport.isClosed) transport.disconnect(err.disconnectReason, err.message);
      throw err;
    }
    const e = new SshError("PROTOCOL", `internal error: ${(err as Error)?.message}`, { cause: err });
    if (!transport.isClosed) transport.disconnect(e.disconnectReason, "internal error");
    throw e;
  } finally {
    queue.release();
  }
}
