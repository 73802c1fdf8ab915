/**
 * The next message a bare Transport hands to the layers above (50 and up), queued from the first call
 * on: for tests that play the protocol step by step over a transport.
 */
import type { Transport } from "../../src/transport/index.js";

const queues = new WeakMap<
  Transport,
  { items: Array<{ type: number; payload: Buffer }>; wake: (() => void) | null }
>();

/** The next message of the layers above (50 and up); messages are queued from the first call on. */
export async function nextMessage(t: Transport): Promise<{ type: number; payload: Buffer }> {
  let q = queues.get(t);
  if (!q) {
    const created = {
      items: [] as Array<{ type: number; payload: Buffer }>,
      wake: null as (() => void) | null,
    };
    q = created;
    queues.set(t, created);
    t.setMessageHandler((type, payload) => {
      created.items.push({ type, payload: Buffer.from(payload) });
      created.wake?.();
    });
    t.on("close", () => created.wake?.());
  }
  while (q.items.length === 0) {
    if (t.isClosed) throw new Error("transport closed");
    await new Promise<void>((resolve) => (q.wake = resolve));
    q.wake = null;
  }
  return q.items.shift()!;
}
