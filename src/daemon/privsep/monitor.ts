/**
 * nsshd's monitor: the process that holds the host private keys and never parses a byte from the network.
 * It keeps a pool of pre-auth workers (one per core by default, as the unprivileged account when root;
 * workerPool.ts) and hands each accepted socket to one of them; it answers their privileged questions
 * (authRelay.ts); when a worker says a user logged in, it checks that claim against its own record, then
 * passes the socket and transport state to that user's session process (loginHandoff.ts; one per user and
 * ChrootDirectory, taken from a pool of spares started ahead, which chroots if it must and becomes the user
 * as its first act). A child that dies takes only its own connections.
 */
import os from "node:os";
import type net from "node:net";
import type { LoginBackend, ConnectionPolicy } from "../daemonConnection.js";
import type { PrivateKey } from "../../keys/index.js";
import type { LoginGrant } from "../systemAuthPolicy.js";
import type { DaemonLog } from "../log.js";
import { serveWorkerAuth } from "./authRelay.js";
import type { WorkerRecycling } from "./workerLoad.js";
import type { ChildHandle } from "./childProcesses.js";
import type { ChildWatch } from "./childWatchdog.js";
import { SessionPool, type SessionProcess } from "./sessionPool.js";
import { connectionClosed, logLine, type TransportSettings } from "./messages.js";
import type { ConnectionEnd, MonitorConnection, MonitorConnectionSpec } from "./monitorConnection.js";
import { WorkerPool } from "./workerPool.js";
import { handOverLogin, type LoginHost } from "./loginHandoff.js";
import { serveLoginRecords } from "./loginRecords.js";

export type { MonitorConnectionSpec } from "./monitorConnection.js";

const SEEN_SESSION_IDS_MAX = 1 << 20;

export interface MonitorOptions {
  log: DaemonLog;
  login: LoginBackend<LoginGrant>;
  workers?: number;
  spareSessions?: number;
  /** The account workers run as (when the monitor is root). */
  workerIdentity?: { uid: number; gid: number };
  /** The workers' program (tests give a hostile one); default childMain.js. */
  workerEntry?: URL;
  /** When a worker is replaced by a fresh one (workerLoad.ts). */
  workerRecycling?: WorkerRecycling;
  /** How often a worker is asked whether it still answers, and how long it has (childWatchdog.ts). */
  workerWatch?: ChildWatch;
}

export class PrivsepMonitor {
  private readonly workers: WorkerPool;
  private readonly sessions: SessionPool;
  private readonly connections = new Map<number, MonitorConnection>();
  private readonly seenSessionIds = new Set<string>();
  private readonly loginHost: LoginHost;
  private nextId = 1;
  private generation = 0;
  private transport: TransportSettings | null = null;
  private hostKeys: PrivateKey[] = [];
  private stopped = false;

  constructor(private readonly opts: MonitorOptions) {
    this.workers = new WorkerPool({
      log: opts.log,
      workerIdentity: opts.workerIdentity,
      workerEntry: opts.workerEntry,
      workerRecycling: opts.workerRecycling,
      workerWatch: opts.workerWatch,
      stopped: () => this.stopped,
      hostKeys: () => this.hostKeys,
      connection: (id) => this.connections.get(id),
      connections: () => this.connections.values(),
      sessionIdSeen: (sid) => this.sessionIdSeen(sid),
      serveLogs: (child, owned) => this.serveLogs(child, owned),
      serveConnectionEnds: (child, owned) => this.serveConnectionEnds(child, owned),
      configureChild: (child) => this.configureChild(child),
      refused: (child, reason) => this.refused(child, reason),
      endConnection: (c, how) => this.endConnection(c, how),
      login: (c, claim, socket) => handOverLogin(this.loginHost, c, claim, socket),
    });
    this.sessions = new SessionPool({
      log: opts.log,
      spareSessions: opts.spareSessions ?? 1,
      stopped: () => this.stopped,
      serve: (s) => this.serveSession(s),
      exited: (s) => {
        for (const cid of s.connections) {
          const c = this.connections.get(cid);
          if (c) this.endConnection(c, { reason: "session process died" });
        }
      },
      refused: (child, reason) => this.refused(child, reason),
    });
    this.loginHost = {
      log: opts.log,
      connection: (id) => this.connections.get(id),
      hostKeys: () => this.hostKeys,
      generation: () => this.generation,
      sessions: this.sessions,
      endConnection: (c, how) => this.endConnection(c, how),
    };
  }

  /** Host keys and transport settings for new connections (at start and on SIGHUP). */
  configure(hostKeys: PrivateKey[], transport: Omit<TransportSettings, "hostKeys">): void {
    this.hostKeys = hostKeys;
    this.transport = { ...transport, hostKeys: hostKeys.map((k) => k.publicKey.blob) };
    this.generation++;
    for (const w of this.workers.alive()) this.configureChild(w);
    for (const s of this.sessions.all()) this.configureChild(s.child);
  }

  async start(): Promise<void> {
    this.workers.start(this.opts.workers ?? Math.max(1, os.availableParallelism()));
    await Promise.all([...this.workers.all().map((w) => w.ready), this.sessions.start()]);
  }

  /** The pids of the children, by role (for tests and `ps`). */
  children(): { workers: number[]; sessions: Map<string, number>; spares: number[] } {
    return { workers: this.workers.all().map((w) => w.process.pid!), ...this.sessions.pids() };
  }

  /** Give an accepted socket to the least busy worker. */
  dispatch(socket: net.Socket, spec: MonitorConnectionSpec, policy: ConnectionPolicy<LoginGrant>): void {
    const worker = this.workers.assign();
    const id = this.nextId++;
    const c: MonitorConnection = {
      id,
      spec,
      policy,
      worker,
      session: null,
      username: null,
      phase: "preauth",
      graceTimer: null,
      ttys: new Map(),
      socket,
      sessionId: null,
      successes: [],
      maxAuthTries: spec.preauth.maxAuthTries,
      methodChains: async (user) => spec.methodsForUser(user),
    };
    this.connections.set(id, c);
    // LoginGraceTime is the monitor's too: a worker that does not end a connection in time loses it here.
    const grace = spec.preauth.loginGraceTime;
    if (grace > 0) {
      c.graceTimer = setTimeout(
        () => {
          if (c.phase === "preauth") this.endConnection(c, { reason: "LoginGraceTime exceeded" });
        },
        (grace + 5) * 1000,
      );
      c.graceTimer.unref();
    }
    worker.peer
      .request(
        "connection",
        { conn: id, generation: this.generation, info: spec.info, settings: spec.preauth },
        () => true,
        socket,
        true,
      )
      .catch((err: Error) => {
        if (c.phase !== "preauth") return;
        this.opts.log.error(`worker ${worker.process.pid}: connection ${id}: ${err.message}`);
        this.endConnection(c, { reason: err.message });
      });
  }

  /**
   * A child sent what Node's IPC layer cannot even decode (it throws outside any handler, so which child is
   * not known): the untrusted pre-auth workers are replaced, their connections lost; sessions go on.
   */
  replaceWorkers(): void {
    this.workers.kill("SIGKILL");
  }

  /** Stop every child (SIGTERM of the daemon); their connections end with them. */
  stop(): void {
    this.stopped = true;
    this.workers.kill("SIGTERM");
    this.sessions.stop();
  }

  // ---- children ------------------------------------------------------------------------------------------

  private refused(child: ChildHandle, reason: string): void {
    // A child that sends what the protocol does not allow is not trusted again: log it and replace it.
    this.opts.log.error(`monitor: refused a message from ${child.role} ${child.process.pid}: ${reason}`);
  }

  /** Send the configuration in force to a child. */
  private configureChild(child: ChildHandle): void {
    if (!this.transport) return;
    child.peer
      .request("configure", { generation: this.generation, transport: this.transport }, () => true)
      .catch((err: Error) =>
        this.opts.log.error(`${child.role} ${child.process.pid}: configure: ${err.message}`),
      );
  }

  /**
   * A session id (the first exchange hash a connection signed) seen before: a worker must not replay another
   * connection's. The record is bounded: past SEEN_SESSION_IDS_MAX it starts again.
   */
  private sessionIdSeen(sid: Buffer): boolean {
    const key = sid.toString("hex");
    if (this.seenSessionIds.has(key)) return true;
    if (this.seenSessionIds.size >= SEEN_SESSION_IDS_MAX) this.seenSessionIds.clear();
    this.seenSessionIds.add(key);
    return false;
  }

  private serveLogs(child: ChildHandle, owned: (conn: number) => MonitorConnection | undefined): void {
    child.peer.handle("log", logLine, ({ conn, level, message }) => {
      if (conn === undefined)
        return void this.opts.log[level](`${child.role} ${child.process.pid}: ${message}`);
      const c = owned(conn);
      if (!c) throw new Error(`connection ${conn} is not this ${child.role}'s`);
      c.spec.write(level, message, c.session !== null);
      return true;
    });
  }

  /** A child's note that a connection it owns has ended (`owned` finds it, or not: refused). */
  private serveConnectionEnds(
    child: ChildHandle,
    owned: (conn: number) => MonitorConnection | undefined,
  ): void {
    child.peer.handle("closed", connectionClosed, ({ conn, reason, disconnected }) => {
      const c = owned(conn);
      if (!c) throw new Error(`connection ${conn} is not this ${child.role}'s`);
      this.endConnection(c, { ...(reason ? { reason } : {}), ...(disconnected ? { disconnected } : {}) });
      return true;
    });
  }

  /** Answer a session process's requests: its log lines, re-key signatures, connection ends, login records. */
  private serveSession(s: SessionProcess): void {
    const owned = (cid: number): MonitorConnection | undefined =>
      s.connections.has(cid) ? this.connections.get(cid) : undefined;
    this.serveLogs(s.child, owned);
    const monitor = this;
    serveWorkerAuth(s.child.peer, {
      get hostKeys() {
        return monitor.hostKeys;
      },
      // Re-keys of its own connections only; the session id is known from the pre-auth phase.
      connection: owned,
      sessionIdSeen: () => false,
      signOnly: true,
    });
    this.serveConnectionEnds(s.child, owned);
    serveLoginRecords(s, owned);
    // Configured at start, as a worker is (workerPool.ts): the child reads its messages in order once it
    // listens, so its configuration comes before the "become" and the connections it is sent after ready.
    this.configureChild(s.child);
  }

  // ---- connections ---------------------------------------------------------------------------------------

  private endConnection(c: MonitorConnection, how: ConnectionEnd): void {
    if (!this.connections.delete(c.id)) return;
    if (c.graceTimer) clearTimeout(c.graceTimer);
    this.workers.release(c);
    c.socket?.destroy();
    c.socket = null;
    c.policy.close?.();
    if (c.session === null) c.spec.preauthEnded();
    c.session?.connections.delete(c.id);
    c.spec.ended({ ...how, username: c.username, authenticated: c.session !== null });
    if (c.session) this.sessions.connectionEnded(c.session);
  }
}
