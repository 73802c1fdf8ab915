/**
 * nsshd's monitor: the process that holds the host private keys and never parses a byte from the network.
 * It keeps a pool of pre-auth workers (one per core by default, as the unprivileged account when root) and
 * hands each accepted socket to one of them; it answers their privileged questions (authRelay.ts); when a
 * worker says a user logged in, it checks that claim against its own record, then passes the socket and
 * transport state to that user's session process (one per user and ChrootDirectory, taken from a pool of
 * spares started ahead, which chroots if it must and becomes the user as its first act). A child that dies
 * takes only its own connections.
 */
import os from "node:os";
import type net from "node:net";
import type { LoginBackend, ConnectionPolicy } from "../daemonConnection.js";
import { cipherByName, macByName } from "../../crypto/index.js";
import type { PrivateKey } from "../../keys/index.js";
import { checkChrootDirectory, resolveChrootDirectory } from "../chroot.js";
import { nativeHelper } from "../loginExec.js";
import type { LoginSettings } from "../loginSettings.js";
import type { LoginGrant } from "../systemAuthPolicy.js";
import type { DaemonLog } from "../log.js";
import { loginEarned, serveWorkerAuth, type MonitoredConnection } from "./authRelay.js";
import { WorkerLoad, type WorkerRecycling } from "./workerLoad.js";
import { CHILD_ENTRY, startChild, type ChildHandle } from "./childProcesses.js";
import { SessionPool, type SessionProcess } from "./sessionPool.js";
import {
  connectionClosed,
  logLine,
  loginClaim,
  type ConnectionInfo,
  type PreauthSettings,
  type TransportSettings,
} from "./messages.js";
import { object, uint, str } from "./schema.js";
import type { PortableGrant, SessionConnection } from "./sessionMain.js";
import { execFile } from "node:child_process";

const SEEN_SESSION_IDS_MAX = 1 << 20;

type LoginClaim = { username: string; methods: string[]; handoff: SessionConnection["handoff"] };

/** What the monitor needs from the daemon for each connection. */
export interface MonitorConnectionSpec {
  info: ConnectionInfo;
  preauth: PreauthSettings;
  /** LoginSettings for a user (Match blocks applied). */
  settingsForUser(user: string): LoginSettings;
  /** The user's AuthenticationMethods and the methods enabled, to check a claimed login. */
  methodsForUser(user: string): { chains?: string[][]; enabled: string[] };
  postauth(user: string): { maxSessions: number; clientAlive: { interval: number; countMax: number } };
  /** The connection's log, in sshd's wording (connectionLog.ts): authenticated says drop " [preauth]". */
  write(level: keyof DaemonLog, message: string, authenticated: boolean): void;
  /** The pre-auth phase ended (login or not): MaxStartups counts it no more. */
  preauthEnded(): void;
  /** The connection is gone (its user, if any, for the "Disconnected" line). */
  ended(how: {
    reason?: string;
    disconnected?: boolean;
    username: string | null;
    authenticated: boolean;
  }): void;
}

interface Connection extends MonitoredConnection {
  readonly id: number;
  readonly spec: MonitorConnectionSpec;
  readonly policy: ConnectionPolicy<LoginGrant>;
  worker: ChildHandle | null;
  session: SessionProcess | null;
  username: string | null;
  /** preauth: the worker's; login: being handed over (one claim only); session: the session process's. */
  phase: "preauth" | "login" | "session";
  graceTimer: NodeJS.Timeout | null;
  /** The terminals of its sessions whose logins were recorded (each once), for their logout records. */
  ttys: Map<string, number>;
  /**
   * The monitor's own copy of the accepted socket (never read here): the one that goes to the session
   * process, whatever a worker sends back, and closed here should the worker fail to end the connection.
   */
  socket: net.Socket | null;
}

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
}

export class PrivsepMonitor {
  private readonly workers: ChildHandle[] = [];
  private readonly workerLoad: WorkerLoad<ChildHandle>;
  /** Workers ended on purpose (recycled): their exit is not news. */
  private readonly retiredWorkers = new WeakSet<ChildHandle>();
  private readonly sessions: SessionPool;
  private readonly connections = new Map<number, Connection>();
  private readonly seenSessionIds = new Set<string>();
  private nextId = 1;
  private generation = 0;
  private transport: TransportSettings | null = null;
  private hostKeys: PrivateKey[] = [];
  private stopped = false;

  constructor(private readonly opts: MonitorOptions) {
    this.workerLoad = new WorkerLoad((w, served) => this.retireWorker(w, served), opts.workerRecycling);
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
  }

  /** Host keys and transport settings for new connections (at start and on SIGHUP). */
  configure(hostKeys: PrivateKey[], transport: Omit<TransportSettings, "hostKeys">): void {
    this.hostKeys = hostKeys;
    this.transport = { ...transport, hostKeys: hostKeys.map((k) => k.publicKey.blob) };
    this.generation++;
    for (const w of this.workers) this.configureChild(w);
    for (const s of this.sessions.all()) this.configureChild(s.child);
  }

  async start(): Promise<void> {
    const count = this.opts.workers ?? Math.max(1, os.availableParallelism());
    for (let i = 0; i < count; i++) this.workers.push(this.startWorker());
    await Promise.all([...this.workers.map((w) => w.ready), this.sessions.start()]);
  }

  /** The pids of the children, by role (for tests and `ps`). */
  children(): { workers: number[]; sessions: Map<string, number>; spares: number[] } {
    return { workers: this.workers.map((w) => w.process.pid!), ...this.sessions.pids() };
  }

  /** Give an accepted socket to the least busy worker. */
  dispatch(socket: net.Socket, spec: MonitorConnectionSpec, policy: ConnectionPolicy<LoginGrant>): void {
    const worker = this.workerLoad.leastBusy(this.workers);
    this.workerLoad.assigned(worker);
    const id = this.nextId++;
    const c: Connection = {
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
    for (const w of [...this.workers]) w.process.kill("SIGKILL");
  }

  /** Stop every child (SIGTERM of the daemon); their connections end with them. */
  stop(): void {
    this.stopped = true;
    for (const w of this.workers) w.process.kill("SIGTERM");
    this.sessions.stop();
  }

  // ---- children ------------------------------------------------------------------------------------------

  private refused(child: ChildHandle, reason: string): void {
    // A child that sends what the protocol does not allow is not trusted again: log it and replace it.
    this.opts.log.error(`monitor: refused a message from ${child.role} ${child.process.pid}: ${reason}`);
  }

  private configureChild(child: ChildHandle): void {
    if (!this.transport) return;
    child.peer
      .request("configure", { generation: this.generation, transport: this.transport }, () => true)
      .catch((err: Error) =>
        this.opts.log.error(`${child.role} ${child.process.pid}: configure: ${err.message}`),
      );
  }

  private startWorker(): ChildHandle {
    const id = this.opts.workerIdentity;
    const w: ChildHandle = startChild("worker", this.opts.workerEntry ?? CHILD_ENTRY, {
      ...(id ? { uid: id.uid, gid: id.gid } : {}),
      onRefused: (reason) => this.refused(w, reason),
    });
    const monitor = this;
    serveWorkerAuth(w.peer, {
      // The keys in force now: configure() replaces them on SIGHUP.
      get hostKeys() {
        return monitor.hostKeys;
      },
      connection: (cid) => {
        const c = this.connections.get(cid);
        return c && c.worker === w && c.phase === "preauth" ? c : undefined;
      },
      sessionIdSeen: (sid) => this.sessionIdSeen(sid),
      preauth: true,
    });
    const mine = (cid: number): boolean => {
      const c = this.connections.get(cid);
      return c !== undefined && c.worker === w && c.phase === "preauth";
    };
    this.serveLogs(w, mine);
    w.peer.handle("closed", connectionClosed, ({ conn, reason, disconnected }) => {
      const c = this.connections.get(conn);
      if (!c || !mine(conn)) throw new Error(`connection ${conn} is not this worker's`);
      this.endConnection(c, { ...(reason ? { reason } : {}), ...(disconnected ? { disconnected } : {}) });
      return true;
    });
    w.peer.handle(
      "authenticated",
      loginClaim,
      async (claim, socket) => {
        const c = this.connections.get(claim.conn);
        // The worker's copy of the socket is not used: the monitor sends on the one it accepted.
        socket?.destroy();
        if (!c || !mine(claim.conn) || !c.socket) {
          throw new Error(`connection ${claim.conn} is not this worker's`);
        }
        const own = c.socket;
        // One claim per connection; from here the worker has no say over it.
        c.phase = "login";
        this.leaveWorker(c);
        if (c.graceTimer) clearTimeout(c.graceTimer);
        c.graceTimer = null;
        c.socket = null;
        return this.login(c, claim, own);
      },
      { takesSocket: true },
    );
    w.ready.then(() => this.configureChild(w)).catch(() => {});
    w.process.once("exit", (code, signal) => this.workerExited(w, code, signal));
    this.workerLoad.add(w);
    return w;
  }

  /** The hostKeys list the worker auth service signs with must follow configure(): look it up each time. */
  private sessionIdSeen(sid: Buffer): boolean {
    const key = sid.toString("hex");
    if (this.seenSessionIds.has(key)) return true;
    if (this.seenSessionIds.size >= SEEN_SESSION_IDS_MAX) this.seenSessionIds.clear();
    this.seenSessionIds.add(key);
    return false;
  }

  private serveLogs(child: ChildHandle, owns: (conn: number) => boolean): void {
    child.peer.handle("log", logLine, ({ conn, level, message }) => {
      if (conn === undefined)
        return void this.opts.log[level](`${child.role} ${child.process.pid}: ${message}`);
      const c = this.connections.get(conn);
      if (!c || !owns(conn)) throw new Error(`connection ${conn} is not this ${child.role}'s`);
      c.spec.write(level, message, c.session !== null);
      return true;
    });
  }

  private workerExited(w: ChildHandle, code: number | null, signal: NodeJS.Signals | null): void {
    const i = this.workers.indexOf(w);
    if (i >= 0) this.workers.splice(i, 1);
    this.workerLoad.remove(w);
    w.peer.close();
    for (const c of [...this.connections.values()]) {
      if (c.worker === w && c.session === null) this.endConnection(c, { reason: "pre-auth worker died" });
    }
    // A retired one was replaced already; one that died while starting as a replacement (not in the list)
    // leaves the worker it was to replace serving.
    if (this.stopped || this.retiredWorkers.has(w) || i < 0) return;
    this.opts.log.error(`pre-auth worker ${w.process.pid} exited (${signal ?? code}); starting another`);
    this.workers.push(this.startWorker());
  }

  /**
   * A worker that served its share and went idle: a fresh one takes its place once ready (the old one
   * serves meanwhile), and the old one ends when its last pre-auth connection leaves (workerLoad.ts).
   */
  private retireWorker(w: ChildHandle, served: number): void {
    if (this.stopped) return;
    const fresh = this.startWorker();
    void fresh.ready.then(
      () => {
        const i = this.workers.indexOf(w);
        if (i < 0 || this.stopped) {
          // It died meanwhile and was replaced already, or the daemon is stopping.
          this.retiredWorkers.add(fresh);
          fresh.process.kill("SIGTERM");
          return;
        }
        this.workers.splice(i, 1, fresh);
        this.workerLoad.drain(w, () => {
          this.retiredWorkers.add(w);
          this.opts.log.debug1(`pre-auth worker ${w.process.pid} retired after ${served} connections`);
          w.process.kill("SIGTERM");
        });
      },
      (err: Error) => this.opts.log.error(`pre-auth worker ${fresh.process.pid}: ${err.message}`),
    );
  }

  /** The connection is no longer its worker's (handed over, or ended). */
  private leaveWorker(c: Connection): void {
    if (c.worker) this.workerLoad.released(c.worker);
    c.worker = null;
  }

  /** Answer a session process's requests: its log lines, re-key signatures, connection ends, login records. */
  private serveSession(s: SessionProcess): void {
    const owns = (cid: number): boolean => s.connections.has(cid);
    this.serveLogs(s.child, owns);
    const monitor = this;
    serveWorkerAuth(s.child.peer, {
      get hostKeys() {
        return monitor.hostKeys;
      },
      // Re-keys of its own connections only; the session id is known from the pre-auth phase.
      connection: (cid) => (owns(cid) ? this.connections.get(cid) : undefined),
      sessionIdSeen: () => false,
      signOnly: true,
    });
    s.child.peer.handle("closed", connectionClosed, ({ conn, reason, disconnected }) => {
      const c = this.connections.get(conn);
      if (!c || !owns(conn)) throw new Error(`connection ${conn} is not this session process's`);
      this.endConnection(c, { ...(reason ? { reason } : {}), ...(disconnected ? { disconnected } : {}) });
      return true;
    });
    this.serveLoginRecords(s, owns);
    s.child.ready.then(() => this.configureChild(s.child)).catch(() => {});
  }

  // ---- logins --------------------------------------------------------------------------------------------

  private async login(c: Connection, claim: LoginClaim, socket: net.Socket): Promise<boolean> {
    const refuse = (why: string): false => {
      this.opts.log.error(`monitor: refusing the login of ${claim.username} on connection ${c.id}: ${why}`);
      socket.destroy();
      this.endConnection(c, { reason: why });
      return false;
    };
    try {
      return await this.loginChecked(c, claim, socket, refuse);
    } catch (err) {
      return refuse((err as Error).message);
    }
  }

  private async loginChecked(
    c: Connection,
    claim: LoginClaim,
    socket: net.Socket,
    refuse: (why: string) => false,
  ): Promise<boolean> {
    // The connection may end (its worker dies, the client goes) while this waits.
    const gone = (): boolean => this.connections.get(c.id) !== c;
    // The worker's word is checked against the monitor's own record (authRelay.ts).
    const key = await loginEarned(c, claim.username);
    if (key === false) return refuse("no authentication the monitor saw");
    if (!c.sessionId || !claim.handoff.sessionId.equals(c.sessionId)) return refuse("session id mismatch");
    if (!this.hostKeys.some((k) => k.publicKey.blob.equals(claim.handoff.hostKeyBlob))) {
      return refuse("unknown host key");
    }
    const n = claim.handoff.negotiated;
    const known =
      cipherByName(n.cipherC2S) &&
      cipherByName(n.cipherS2C) &&
      (n.macC2S === null || macByName(n.macC2S)) &&
      (n.macS2C === null || macByName(n.macS2C));
    if (!known) return refuse("unknown algorithms in the transport state");
    if (gone()) return refuse("the connection ended");
    const grant = c.policy.grantFor(claim.username);
    if (!grant) return refuse("no login grant");
    c.username = claim.username;
    c.spec.preauthEnded();
    const settings = c.spec.settingsForUser(claim.username);
    // ChrootDirectory (session.c safely_chroot), resolved after authentication: a path that fails the
    // check ends the connection, as sshd's fatal() does, with its message in the log.
    let chroot: string | null;
    try {
      chroot = resolveChrootDirectory(settings.chrootDirectory, grant.account);
      if (chroot !== null && process.geteuid?.() !== 0) {
        throw new Error(`ChrootDirectory ${chroot} needs nsshd to run as root: login refused`);
      }
      if (chroot !== null) await checkChrootDirectory(chroot);
    } catch (err) {
      c.spec.write("error", (err as Error).message, true);
      return refuse((err as Error).message);
    }
    const pamSession = await this.openPamSession(grant, c);
    if (gone()) return refuse("the connection ended");
    const keyAuth = key ? grant.keyFor(key) : undefined;
    const portable: PortableGrant = {
      account: grant.account,
      passwordChangeRequired: grant.passwordChangeRequired,
      pamSession,
      ...(keyAuth
        ? {
            key: {
              blob: keyAuth.key.blob,
              entry: {
                file: keyAuth.entry.file,
                line: keyAuth.entry.line,
                options: keyAuth.entry.options,
                comment: keyAuth.entry.comment,
              },
              where: keyAuth.where,
            },
          }
        : {}),
    };
    let s: SessionProcess;
    try {
      s = await this.sessions.sessionFor(grant, chroot);
    } catch (err) {
      return refuse(`no session process: ${(err as Error).message}`);
    }
    if (gone()) return refuse("the connection ended");
    c.session = s;
    c.phase = "session";
    s.connections.add(c.id);
    // The record of how it authenticated (keys included) was for this check only; the connection stays.
    c.successes.length = 0;
    const post = c.spec.postauth(claim.username);
    const message: SessionConnection = {
      conn: c.id,
      generation: this.generation,
      info: c.spec.info,
      handoff: claim.handoff,
      user: { username: claim.username, methods: claim.methods, ...(key ? { publicKey: key.blob } : {}) },
      grant: portable,
      settings,
      maxSessions: post.maxSessions,
      clientAlive: post.clientAlive,
    };
    await s.child.peer.request("connection", message, () => true, socket);
    return true;
  }

  private async openPamSession(grant: LoginGrant, c: Connection): Promise<PortableGrant["pamSession"]> {
    const pam = grant.pam;
    if (!pam || pam.ended) return null;
    let messages = "";
    pam.conversation = { prompt: () => null, message: (text) => void (messages += `${text}\n`) };
    const { status, env } = await pam.openSession();
    if (!status || status.code !== 0) {
      c.spec.write("error", `PAM: pam_open_session(): ${status?.text ?? "helper failed"}`, true);
      return null;
    }
    return { env, messages };
  }

  private serveLoginRecords(s: SessionProcess, owns: (conn: number) => boolean): void {
    const helper = (): string => {
      const h = nativeHelper("nssh-exec");
      if (!h || process.geteuid?.() !== 0) throw new Error("login records need root and nssh-exec");
      return h;
    };
    const run = (args: string[]): Promise<string> =>
      new Promise((resolve, reject) =>
        execFile(helper(), args, { timeout: 10_000 }, (err, stdout, stderr) =>
          err ? reject(new Error(String(stderr).trim() || err.message)) : resolve(String(stdout)),
        ),
      );
    const ttyArgs = object({ conn: uint(2 ** 31), tty: str(64), pid: uint(2 ** 22) });
    const checkTty = async (conn: number, tty: string): Promise<Connection> => {
      const c = this.connections.get(conn);
      if (!c || !owns(conn)) throw new Error(`connection ${conn} is not this session process's`);
      // Only a pseudo-terminal the user's process opened: it is the user's already.
      const { statSync } = await import("node:fs");
      if (!/^\/dev\/pts\/\d+$/.test(tty) || statSync(tty).uid !== s.uid)
        throw new Error(`not the user's terminal: ${tty}`);
      return c;
    };
    s.child.peer.handle("lastLogin", object({ conn: uint(2 ** 31) }), async ({ conn }) => {
      if (!owns(conn) || s.uid === null) throw new Error(`connection ${conn} is not this session process's`);
      return process.geteuid?.() === 0 && nativeHelper("nssh-exec")
        ? run(["--last-login", String(s.uid)])
        : "";
    });
    s.child.peer.handle("loggedIn", ttyArgs, async ({ conn, tty, pid }) => {
      const c = await checkTty(conn, tty);
      // Once per terminal of this connection: its logout record needs the same pair.
      if (c.ttys.has(tty)) throw new Error(`${tty} is recorded already`);
      c.ttys.set(tty, pid);
      if (process.geteuid?.() !== 0) return true;
      await run([
        "--login-record",
        tty,
        String(pid),
        c.username ?? "",
        String(s.uid),
        c.spec.info.remoteAddress,
      ]);
      return true;
    });
    s.child.peer.handle("loggedOut", ttyArgs, async ({ conn, tty, pid }) => {
      const c = this.connections.get(conn);
      // Only the logout of a login recorded here, terminal and pid as recorded.
      if (!c || !owns(conn) || c.ttys.get(tty) !== pid)
        throw new Error("not a recorded login of this connection");
      c.ttys.delete(tty);
      if (process.geteuid?.() === 0) await run(["--logout", tty, String(pid)]);
      return true;
    });
  }

  private endConnection(c: Connection, how: { reason?: string; disconnected?: boolean }): void {
    if (!this.connections.delete(c.id)) return;
    if (c.graceTimer) clearTimeout(c.graceTimer);
    this.leaveWorker(c);
    c.socket?.destroy();
    c.socket = null;
    c.policy.close?.();
    if (c.session === null) c.spec.preauthEnded();
    c.session?.connections.delete(c.id);
    c.spec.ended({ ...how, username: c.username, authenticated: c.session !== null });
    if (c.session) this.sessions.connectionEnded(c.session);
  }
}
