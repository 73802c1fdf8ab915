/**
 * Replies in request order. RFC 4254 §4 and §5.4 match SUCCESS/FAILURE to requests only by their order,
 * so when the decisions are made out of order (an asynchronous handler, a slow policy check) each reply
 * is held until every earlier one has gone.
 */
import { SshError } from "../wire/index.js";

interface Slot<T> {
  done: boolean;
  value: T | undefined;
}

export class ReplyQueue<T> {
  private slots: Slot<T>[] = [];

  constructor(private readonly sendReply: (value: T) => void) {}

  /** Reserve the next place in line; the returned function sends the reply once its turn comes. */
  reserve(): (value: T) => void {
    const slot: Slot<T> = { done: false, value: undefined };
    this.slots.push(slot);
    return (value: T) => {
      if (slot.done) throw new SshError("PROTOCOL", "this request has already been answered");
      slot.done = true;
      slot.value = value;
      this.flush();
    };
  }

  /** Drop every reply still waiting (the channel or connection is gone). */
  clear(): void {
    this.slots = [];
  }

  private flush(): void {
    while (this.slots.length > 0 && this.slots[0]!.done) {
      this.sendReply(this.slots.shift()!.value as T);
    }
  }
}

/** Our requests waiting for the peer's SUCCESS/FAILURE, oldest first. */
export class PendingReplies<T> {
  private readonly waiting: Array<{ resolve: (value: T) => void; reject: (err: Error) => void }> = [];

  get size(): number {
    return this.waiting.length;
  }

  add(): Promise<T> {
    return new Promise<T>((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  /** The peer's next reply; a reply nobody asked for is a protocol error. */
  settle(value: T, what: string): void {
    const next = this.waiting.shift();
    if (!next) throw new SshError("PROTOCOL", `unexpected ${what}: no request is waiting for a reply`);
    next.resolve(value);
  }

  /** Reject every waiting request; the error is made only if one waits (most channels close with none). */
  failAll(reason: () => Error): void {
    if (this.waiting.length === 0) return;
    const err = reason();
    for (const w of this.waiting.splice(0)) w.reject(err);
  }
}
