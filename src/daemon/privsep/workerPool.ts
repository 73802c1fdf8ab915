/**
 * The monitor's pool of pre-auth workers: unprivileged processes (the privsep account when the monitor is
 * root) that run version exchange, key exchange and user authentication for many connections each. The pool
 * starts them, answers their requests (authentication questions, log lines, connection ends, login claims),
 * replaces one that dies, and retires one that served its share for a fresh one (workerLoad.ts).
 */
import type net from "node:net";
import type { PrivateKey } from "../../keys/index.js";
import type { DaemonLog } from "../log.js";
import { serveWorkerAuth } from "./authRelay.js";
import { WorkerLoad, type WorkerRecycling } from "./workerLoad.js";
import { DEFAULT_WORKER_WATCH, watchChild, type ChildWatch } from "./childWatchdog.js";
import { CHILD_ENTRY, startChild, type ChildHandle } from "./childProcesses.js";
import { loginClaim } from "./messages.js";
import type { ConnectionEnd, LoginClaim, MonitorConnection } from "./monitorConnection.js";

/** What the pool needs of the monitor. */
export interface WorkerPoolHost {
  log: DaemonLog;
  /** The account workers run as (when the monitor is root). */
  workerIdentity?: { uid: number; gid: number } | undefined;
  /** The workers' program (tests give a hostile one); default childMain.js. */
  workerEntry?: URL | undefined;
  /** When a worker is replaced by a fresh one (workerLoad.ts). */
  workerRecycling?: WorkerRecycling | undefined;
  /** How often a worker is asked whether it still answers, and how long it has (childWatchdog.ts). */
  workerWatch?: ChildWatch | undefined;
  /** The daemon is stopping: no worker is started or replaced any more. */
  stopped(): boolean;
  /** The hostKeys list the worker auth service signs with must follow configure(): look it up each time. */
  hostKeys(): readonly PrivateKey[];
  connection(id: number): MonitorConnection | undefined;
  /** Every connection the monitor has (pre-auth and logged in). */
  connections(): Iterable<MonitorConnection>;
  /** Session ids already used (authRelay.ts MonitorAuthOptions). */
  sessionIdSeen(sid: Buffer): boolean;
  /** Answer the child's log lines, for the connections it owns (`owned` finds them). */
  serveLogs(child: ChildHandle, owned: (conn: number) => MonitorConnection | undefined): void;
  /** Send the configuration in force (host keys, transport settings) to a child. */
  configureChild(child: ChildHandle): void;
  /** A child sent what the protocol does not allow. */
  refused(child: ChildHandle, reason: string): void;
  endConnection(c: MonitorConnection, how: ConnectionEnd): void;
  /** Answer the child's "closed" notes for the connections it owns (`owned` finds them). */
  serveConnectionEnds(child: ChildHandle, owned: (conn: number) => MonitorConnection | undefined): void;
  /** A worker's login claim, taken from it: check it and hand the connection over (loginHandoff.ts). */
  login(c: MonitorConnection, claim: LoginClaim, socket: net.Socket): Promise<boolean>;
}

export class WorkerPool {
  private readonly workers: ChildHandle[] = [];
  private readonly workerLoad: WorkerLoad<ChildHandle>;
  /** Workers ended on purpose (recycled): their exit is not news. */
  private readonly retiredWorkers = new WeakSet<ChildHandle>();

  constructor(private readonly host: WorkerPoolHost) {
    this.workerLoad = new WorkerLoad((w, served) => this.retireWorker(w, served), host.workerRecycling);
  }

  /** Start `count` workers (their `ready` tells when they are). */
  start(count: number): void {
    for (let i = 0; i < count; i++) this.workers.push(this.startWorker());
  }

  /** The workers in service. */
  all(): readonly ChildHandle[] {
    return this.workers;
  }

  /** Every worker process alive: in service, starting (a replacement) or draining (retired). */
  alive(): Iterable<ChildHandle> {
    return this.workerLoad.workers();
  }

  /** The least busy worker, counted as serving one connection more. */
  assign(): ChildHandle {
    const worker = this.workerLoad.leastBusy(this.workers);
    this.workerLoad.assigned(worker);
    return worker;
  }

  /** The connection is no longer its worker's (handed over, or ended). */
  release(c: MonitorConnection): void {
    if (c.worker) this.workerLoad.released(c.worker);
    c.worker = null;
  }

  /** Signal every worker in service. */
  kill(signal: NodeJS.Signals): void {
    for (const w of [...this.workers]) w.process.kill(signal);
  }

  private startWorker(): ChildHandle {
    const host = this.host;
    const id = host.workerIdentity;
    const w: ChildHandle = startChild("worker", host.workerEntry ?? CHILD_ENTRY, {
      ...(id ? { uid: id.uid, gid: id.gid } : {}),
      onRefused: (reason) => host.refused(w, reason),
    });
    /** A connection of this worker's, still before its login. */
    const mine = (cid: number): MonitorConnection | undefined => {
      const c = host.connection(cid);
      return c && c.worker === w && c.phase === "preauth" ? c : undefined;
    };
    serveWorkerAuth(w.peer, {
      // The keys in force now: configure() replaces them on SIGHUP.
      get hostKeys() {
        return host.hostKeys();
      },
      connection: mine,
      sessionIdSeen: (sid) => host.sessionIdSeen(sid),
      preauth: true,
    });
    host.serveLogs(w, mine);
    host.serveConnectionEnds(w, mine);
    w.peer.handle(
      "authenticated",
      loginClaim,
      // No socket comes with a claim (the IPC layer refuses one): the monitor hands on the one it accepted.
      async (claim) => {
        const c = mine(claim.conn);
        if (!c || !c.socket) throw new Error(`connection ${claim.conn} is not this worker's`);
        const own = c.socket;
        // One claim per connection; from here the worker has no say over it.
        c.phase = "login";
        this.release(c);
        if (c.graceTimer) clearTimeout(c.graceTimer);
        c.graceTimer = null;
        c.socket = null;
        return host.login(c, claim, own);
      },
    );
    // Configured at once, so that a connection given to it before it is ready (a replacement) finds its
    // generation: the child reads its messages in order once it listens. A later SIGHUP reaches it
    // through alive().
    host.configureChild(w);
    w.ready.then(() => this.readied(w)).catch(() => {});
    w.process.once("exit", (code, signal) => this.workerExited(w, code, signal));
    this.workerLoad.add(w);
    return w;
  }

  /** A worker said it is ready: from now on check that it still answers. */
  private readied(w: ChildHandle): void {
    const watch = this.host.workerWatch ?? DEFAULT_WORKER_WATCH;
    watchChild(w, watch, () => {
      this.host.log.error(
        `pre-auth worker ${w.process.pid} did not answer for ${watch.timeoutMs / 1000} s; killing it`,
      );
      // Its exit ends its connections and starts another (workerExited).
      w.process.kill("SIGKILL");
    });
  }

  private workerExited(w: ChildHandle, code: number | null, signal: NodeJS.Signals | null): void {
    const i = this.workers.indexOf(w);
    if (i >= 0) this.workers.splice(i, 1);
    this.workerLoad.remove(w);
    w.peer.close();
    for (const c of [...this.host.connections()]) {
      if (c.worker === w && c.session === null)
        this.host.endConnection(c, { reason: "pre-auth worker died" });
    }
    // A retired one was replaced already; one that died while starting as a replacement (not in the list)
    // leaves the worker it was to replace serving.
    if (this.host.stopped() || this.retiredWorkers.has(w) || i < 0) return;
    this.host.log.error(`pre-auth worker ${w.process.pid} exited (${signal ?? code}); starting another`);
    this.workers.push(this.startWorker());
  }

  /**
   * A worker that served its share and went idle: a fresh one takes its place once ready (the old one
   * serves meanwhile), and the old one ends when its last pre-auth connection leaves (workerLoad.ts).
   */
  private retireWorker(w: ChildHandle, served: number): void {
    if (this.host.stopped()) return;
    const fresh = this.startWorker();
    void fresh.ready.then(
      () => {
        const i = this.workers.indexOf(w);
        if (i < 0 || this.host.stopped()) {
          // It died meanwhile and was replaced already, or the daemon is stopping.
          this.retiredWorkers.add(fresh);
          fresh.process.kill("SIGTERM");
          return;
        }
        this.workers.splice(i, 1, fresh);
        this.workerLoad.drain(w, () => {
          this.retiredWorkers.add(w);
          this.host.log.debug1(`pre-auth worker ${w.process.pid} retired after ${served} connections`);
          w.process.kill("SIGTERM");
        });
      },
      (err: Error) => this.host.log.error(`pre-auth worker ${fresh.process.pid}: ${err.message}`),
    );
  }
}
