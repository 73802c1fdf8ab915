/**
 * A child whose event loop stopped, or whose IPC channel stopped moving (Node holds every message to a child
 * behind a passed socket until the child acknowledges it), serves nobody but still counts as in service: the
 * pool would keep giving it connections, and each would wait out LoginGraceTime. The monitor asks the child
 * a `ping` every `intervalMs`; one not answered within `timeoutMs` is reported once, and the owner kills the
 * child (its exit ends its connections and starts another).
 */
import type { ChildHandle } from "./childProcesses.js";
import type { IpcPeer } from "./ipc.js";

export interface ChildWatch {
  /** How often the child is asked. */
  intervalMs: number;
  /** How long an answer may take before the child counts as stuck. */
  timeoutMs: number;
}

/** A worker does nothing that blocks its event loop for long: 30 s without an answer is not load. */
export const DEFAULT_WORKER_WATCH: ChildWatch = { intervalMs: 10_000, timeoutMs: 30_000 };

/** Watch `child` until it exits; `stuck` is called at most once. */
export function watchChild(child: ChildHandle, watch: ChildWatch, stuck: () => void): void {
  let waiting: NodeJS.Timeout | null = null;
  const stop = (): void => {
    clearInterval(ticker);
    if (waiting) clearTimeout(waiting);
    waiting = null;
  };
  const ask = (): void => {
    if (waiting) return; // the last question is still open: its own timer decides
    const asked = setTimeout(() => {
      // A monitor that was itself held up may find the answer already waiting in its pipe: let the poll
      // phase read it before deciding.
      setImmediate(() => {
        if (waiting !== asked) return;
        stop();
        stuck();
      });
    }, watch.timeoutMs);
    asked.unref();
    waiting = asked;
    // Any answer, a refusal included, shows the child reads its channel; a closed channel means an exit
    // that its owner hears of anyway.
    const answered = (): void => {
      if (waiting !== asked) return;
      clearTimeout(asked);
      waiting = null;
    };
    child.peer.request("ping", {}, () => true).then(answered, answered);
  };
  const ticker = setInterval(ask, watch.intervalMs);
  ticker.unref();
  child.process.once("exit", stop);
}

/** The child's side: answer the monitor's pings (any answer will do). */
export function answerPings(peer: IpcPeer): void {
  peer.handle(
    "ping",
    () => undefined,
    () => true,
  );
}
