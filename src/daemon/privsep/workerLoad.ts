/**
 * The pre-auth workers' load, and when a worker is replaced by a fresh one. A worker's memory grows with the
 * key exchanges it has done (V8 and malloc keep what a burst of handshakes used) and never shrinks, and a
 * worker sees every pre-auth connection it serves (passwords typed included): sshd gives each connection a
 * pre-auth process of its own. Here a worker is retired once it has served `after` connections and then
 * been idle (no pre-auth connection) for `idleMs`: a busy daemon pays no process start, and the memory of a
 * burst of logins goes back to the system when the burst ends. Most of that growth comes with the first
 * connections (a worker went from 13 to 15.4 MiB of private memory over 16 key exchanges, to 15.8 over 32),
 * so a worker is retired early: a process start (~50 ms of CPU) at an idle moment after 16 connections.
 */
export interface WorkerRecycling {
  /** Connections a worker serves before it is retired at its next idle moment. */
  after: number;
  /** How long it must have had no pre-auth connection. */
  idleMs: number;
}

export const DEFAULT_WORKER_RECYCLING: WorkerRecycling = { after: 16, idleMs: 1000 };

interface Load {
  active: number;
  served: number;
  idleTimer: NodeJS.Timeout | null;
  /** Its replacement is starting: no second retirement. */
  retiring: boolean;
  /** Replaced: called when its last pre-auth connection leaves. */
  drained: (() => void) | null;
}

export class WorkerLoad<W> {
  readonly #load = new Map<W, Load>();

  /** `retire`: start its replacement, then call drain() once that one is ready. */
  constructor(
    private readonly retire: (worker: W, served: number) => void,
    private readonly recycling: WorkerRecycling = DEFAULT_WORKER_RECYCLING,
  ) {}

  add(worker: W): void {
    this.#load.set(worker, { active: 0, served: 0, idleTimer: null, retiring: false, drained: null });
  }

  /** Every worker added and not removed: in service, starting, or draining. */
  workers(): IterableIterator<W> {
    return this.#load.keys();
  }

  remove(worker: W): void {
    const l = this.#load.get(worker);
    if (l?.idleTimer) clearTimeout(l.idleTimer);
    this.#load.delete(worker);
  }

  /** The worker with the fewest pre-auth connections (the first of equals). */
  leastBusy(workers: readonly W[]): W {
    let best = workers[0] as W;
    let bestActive = Infinity;
    for (const w of workers) {
      const active = this.#load.get(w)?.active ?? 0;
      if (active < bestActive) [best, bestActive] = [w, active];
    }
    return best;
  }

  /** A connection was given to the worker. */
  assigned(worker: W): void {
    const l = this.#load.get(worker);
    if (!l) return;
    l.active++;
    l.served++;
    if (l.idleTimer) clearTimeout(l.idleTimer);
    l.idleTimer = null;
  }

  /** A connection left the worker (logged in and handed over, or ended). */
  released(worker: W): void {
    const l = this.#load.get(worker);
    if (!l) return;
    l.active = Math.max(0, l.active - 1);
    if (l.active > 0) return;
    if (l.drained) return this.#drained(worker, l);
    if (l.retiring || l.served < this.recycling.after || l.idleTimer) return;
    l.idleTimer = setTimeout(() => {
      l.idleTimer = null;
      if (this.#load.get(worker) !== l || l.active > 0) return;
      l.retiring = true;
      this.retire(worker, l.served);
    }, this.recycling.idleMs);
    l.idleTimer.unref();
  }

  /** The worker gets no new connection (its replacement serves): `done` once it has none. */
  drain(worker: W, done: () => void): void {
    const l = this.#load.get(worker);
    if (!l) return done();
    l.drained = done;
    if (l.active === 0) this.#drained(worker, l);
  }

  #drained(worker: W, l: Load): void {
    const done = l.drained!;
    this.remove(worker);
    done();
  }
}
