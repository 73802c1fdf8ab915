/**
 * The monitor's record of one connection, from the accept to its end: which worker (pre-auth) or session
 * process serves it, the phase it is in, its LoginGraceTime timer, and what the daemon gave for it (its
 * spec: settings, log, MaxStartups accounting).
 */
import type net from "node:net";
import type { ConnectionPolicy } from "../daemonConnection.js";
import type { LoginSettings } from "../loginSettings.js";
import type { LoginGrant } from "../systemAuthPolicy.js";
import type { DaemonLog } from "../log.js";
import type { MonitoredConnection } from "./authRelay.js";
import type { ChildHandle } from "./childProcesses.js";
import type { SessionProcess } from "./sessionPool.js";
import type { ConnectionInfo, PreauthSettings } from "./messages.js";
import type { SessionConnection } from "./sessionMain.js";

/** A worker's word that a user logged in (messages.ts loginClaim). */
export type LoginClaim = { username: string; methods: string[]; handoff: SessionConnection["handoff"] };

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

/** How a connection ended, as a child reported it or the monitor decided. */
export type ConnectionEnd = { reason?: string; disconnected?: boolean };

export interface MonitorConnection extends MonitoredConnection {
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
