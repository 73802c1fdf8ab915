/**
 * The monitor's session processes: spares started ahead (as the monitor's user), each taken by one user
 * (and ChrootDirectory) when that user logs in, becoming that identity as its first act, then serving
 * every connection of that identity; kept a little after its last connection for the user's next login,
 * then ended. A process serves one identity for its whole life: an account change (a group added) gets a
 * new process from the next login on, and the old one ends with its last connection.
 */
import type { LoginGrant } from "../systemAuthPolicy.js";
import type { DaemonLog } from "../log.js";
import { CHILD_ENTRY, startChild, type ChildHandle } from "./childProcesses.js";

/**
 * How long a user's session process outlives the user's last connection, for the next login: starting a
 * Node process cost more CPU than all the rest of a login (and its ~13 MiB was counted again each time).
 */
export const SESSION_LINGER_MS = 10_000;

export interface SessionProcess {
  child: ChildHandle;
  /** Ended on purpose (its user's last connection closed): its exit is not news. */
  retiring?: boolean;
  username: string | null;
  uid: number | null;
  /** Its key in the pool: the user, and the ChrootDirectory it is confined to, if any. */
  key: string | null;
  /** The monitor's ids of the connections it serves. */
  connections: Set<number>;
  /** Resolves once it is the user (the "become" answer). */
  ready: Promise<void>;
  /** uid, gid and groups it became: a login whose account differs (a group added) gets a new process. */
  identity: string | null;
  /** Running while it has no connection: it ends when this fires, unless a login took it again. */
  lingerTimer: NodeJS.Timeout | null;
}

/** What the pool needs of the monitor. */
export interface SessionPoolHost {
  log: DaemonLog;
  /** Spare processes kept started (default 1). */
  spareSessions: number;
  /** The daemon is stopping: no process is started or replaced any more. */
  stopped(): boolean;
  /** A new process: answer its requests (log lines, re-key signatures, connection ends, login records). */
  serve(s: SessionProcess): void;
  /** A process exited: end the connections it served (its `connections`, still filled in). */
  exited(s: SessionProcess): void;
  /** A child sent what the protocol does not allow. */
  refused(child: ChildHandle, reason: string): void;
}

function identityOf(a: LoginGrant["account"]): string {
  return `${a.uid}:${a.gid}:${a.groups.map((g) => g.gid).join(",")}`;
}

export class SessionPool {
  private readonly spares: SessionProcess[] = [];
  /** By user, or "user:/chroot/path" for one confined to a ChrootDirectory (no passwd name holds a ":"). */
  private readonly byKey = new Map<string, SessionProcess>();

  constructor(private readonly host: SessionPoolHost) {}

  /** Start the spares; resolves when they are ready. */
  async start(): Promise<void> {
    for (let i = 0; i < this.host.spareSessions; i++) this.spares.push(this.startSpare());
    await Promise.all(this.spares.map((s) => s.child.ready));
  }

  /** Every running process, spare or taken. */
  all(): SessionProcess[] {
    return [...this.spares, ...this.byKey.values()];
  }

  /** The pids of the processes, taken (by key) and spare. */
  pids(): { sessions: Map<string, number>; spares: number[] } {
    return {
      sessions: new Map([...this.byKey].map(([k, s]) => [k, s.child.process.pid!])),
      spares: this.spares.map((s) => s.child.process.pid!),
    };
  }

  /** Whether this process is the one serving its key now (not superseded, not retired). */
  current(s: SessionProcess): boolean {
    return s.key !== null && this.byKey.get(s.key) === s;
  }

  /**
   * The user's session process for this ChrootDirectory (null: none): the one serving them already, or a
   * spare that chroots (if it must) and becomes the user. Two logins of one user under different
   * ChrootDirectory (Match) never share a process: a chrooted process cannot reach outside its root.
   */
  async sessionFor(grant: LoginGrant, chroot: string | null): Promise<SessionProcess> {
    const name = grant.account.name;
    const key = chroot === null ? name : `${name}:${chroot}`;
    const identity = identityOf(grant.account);
    const existing = this.byKey.get(key);
    // A change to the account counts from the next login (sshd): only a process that became the very same
    // identity serves it; an older one keeps its open connections and ends with the last of them.
    if (existing && existing.identity === identity) {
      await existing.ready;
      return existing;
    }
    if (existing) {
      this.byKey.delete(key);
      if (existing.connections.size === 0) this.retire(existing);
    }
    const s = this.spares.shift() ?? this.startSpare();
    if (!this.host.stopped() && this.spares.length < this.host.spareSessions)
      this.spares.push(this.startSpare());
    s.username = name;
    s.uid = grant.account.uid;
    s.key = key;
    s.identity = identity;
    this.byKey.set(key, s);
    const a = grant.account;
    s.ready = s.child.ready.then(async () => {
      await s.child.peer.request(
        "become",
        {
          uid: a.uid,
          gid: a.gid,
          groups: a.groups.map((g) => g.gid),
          username: a.name,
          ...(chroot !== null ? { chroot } : {}),
        },
        () => true,
      );
    });
    try {
      await s.ready;
    } catch (err) {
      // It may be half-way (chrooted, still root): it serves nobody; a fresh spare replaces it.
      if (this.byKey.get(key) === s) this.byKey.delete(key);
      s.retiring = true;
      s.child.process.kill("SIGKILL");
      throw err;
    }
    return s;
  }

  /**
   * One of its connections ended (already removed from `connections`). A superseded process (its user's
   * account changed) ends with its last connection; the current one waits a little for the user's next
   * login first.
   */
  connectionEnded(s: SessionProcess): void {
    if (s.connections.size > 0 || s.retiring) return;
    if (!this.current(s)) return this.retire(s);
    if (s.lingerTimer) clearTimeout(s.lingerTimer);
    s.lingerTimer = setTimeout(() => {
      s.lingerTimer = null;
      // A login that took it meanwhile added its connection in the same turn as it was chosen.
      if (s.connections.size > 0 || !this.current(s)) return;
      this.byKey.delete(s.key!);
      this.retire(s);
    }, SESSION_LINGER_MS);
    s.lingerTimer.unref();
  }

  /** Stop every process (the daemon's SIGTERM). */
  stop(): void {
    for (const s of this.all()) s.child.process.kill("SIGTERM");
  }

  private startSpare(): SessionProcess {
    const s: SessionProcess = {
      child: startChild("session", CHILD_ENTRY, {
        onRefused: (reason) => this.host.refused(s.child, reason),
      }),
      username: null,
      uid: null,
      key: null,
      connections: new Set(),
      ready: Promise.resolve(),
      identity: null,
      lingerTimer: null,
    };
    this.host.serve(s);
    s.child.process.once("exit", (code, signal) => this.exited(s, code, signal));
    return s;
  }

  private exited(s: SessionProcess, code: number | null, signal: NodeJS.Signals | null): void {
    s.child.peer.close();
    if (s.lingerTimer) clearTimeout(s.lingerTimer);
    const i = this.spares.indexOf(s);
    if (i >= 0) this.spares.splice(i, 1);
    if (this.current(s)) this.byKey.delete(s.key!);
    this.host.exited(s);
    if (this.host.stopped()) return;
    if (!s.retiring) {
      this.host.log.info(
        `session process ${s.child.process.pid}${s.username ? ` of ${s.username}` : ""} exited (${signal ?? code})`,
      );
    }
    if (this.spares.length < this.host.spareSessions) this.spares.push(this.startSpare());
  }

  private retire(s: SessionProcess): void {
    if (s.lingerTimer) clearTimeout(s.lingerTimer);
    s.lingerTimer = null;
    s.retiring = true;
    s.child.process.kill("SIGTERM");
  }
}
