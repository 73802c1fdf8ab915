/**
 * One client connection of nsshd, from accept to close: its settings (Match blocks for the connection,
 * then for the user), its auth policy and login, the log lines sshd writes for it (with " [preauth]"
 * until the user is authenticated, as sshd's unprivileged child has it), ClientAliveInterval and
 * TCPKeepAlive.
 */
import type net from "node:net";
import type { Duplex } from "node:stream";
import type { AuthPolicy } from "../auth/index.js";
import type { SshdConfig, SshdSettings } from "../config/sshdConfig.js";
import type { ServerConnection, ServerConnectionInfo, SshServer } from "../server/index.js";
import type { ServerSession } from "../session/index.js";
import { DEFAULT_SOFTWARE_VERSION, type LogLevel, type Transport } from "../transport/index.js";
import type { SshError } from "../wire/index.js";
import type { DaemonLog, DaemonLogger } from "./log.js";
import type { LoginSettings } from "./loginSettings.js";
import { startClientAlive } from "./clientAlive.js";
import { connectionEndLine, connectionLogEntry, observePolicy } from "./connectionLog.js";
import { connectionOverridesFrom, loginSettingsFrom } from "./settingsMapping.js";

/** The policy a login backend makes for one connection (system accounts: systemAuthPolicy.ts). */
export interface ConnectionPolicy<Grant> extends AuthPolicy {
  grantFor(user: string): Grant | undefined;
  /**
   * The connection logged in and its grant was taken: forget what only authentication needed (the users'
   * states, the keys tried), which a connection kept for hours would otherwise hold. grantFor() answers
   * nothing afterwards; close() still ends what the login keeps (its PAM session).
   */
  settle?(): void;
  close?(): void;
}

/** Who authenticates users and runs their sessions: the system-account login, or a test's stand-in. */
export interface LoginBackend<Grant = unknown> {
  createPolicy(
    settingsForUser: (user: string) => Promise<LoginSettings>,
    conn: ServerConnectionInfo,
    log: DaemonLog,
  ): ConnectionPolicy<Grant>;
  startSession(
    session: ServerSession,
    connection: ServerConnection,
    grant: Grant,
    settings: LoginSettings,
    log: DaemonLog,
  ): void;
}

/** What a connection needs from the daemon's current configuration. */
export interface ConnectionContext {
  config: SshdConfig;
  server: SshServer;
  log: DaemonLogger;
  login: LoginBackend;
}

export class DaemonConnection {
  private authenticated = false;
  private username: string | null = null;
  /** The policy said the user does not exist (sshd then says "invalid user"). */
  private invalidUser = false;
  private stopProbes: (() => void) | null = null;
  private closed = false;
  readonly transport: Transport;

  constructor(
    private readonly ctx: ConnectionContext,
    stream: Duplex,
    readonly info: ServerConnectionInfo,
    private readonly onPreauthEnd: () => void,
    private readonly onClose: () => void,
  ) {
    const log = ctx.log;
    const settings = this.settingsFor();
    if ((stream as net.Socket).setKeepAlive) (stream as net.Socket).setKeepAlive(settings.tcpKeepAlive);
    const userSettings = (user: string): SshdSettings => this.settingsFor(user);
    const connLog = this.viewLog();
    const policy = ctx.login.createPolicy(
      (user) => Promise.resolve(loginSettingsFrom(userSettings(user))),
      info,
      connLog,
    );
    // Before the transport exists, as sshd logs it before sending it (sshd.c).
    log.debug1(`Local version string SSH-2.0-${DEFAULT_SOFTWARE_VERSION}`);
    this.transport = ctx.server.handleSocket(stream, info, {
      ...connectionOverridesFrom(settings, connLog),
      auth: this.observe(policy),
      log: (level, message, cause) => this.write(level, message, cause),
      onSession: (session, c) => this.startSession(policy, session, c, userSettings(c.user.username)),
    });
    this.transport.once("close", (err) => {
      policy.close?.();
      this.ended(err);
    });
  }

  /** The server authenticated this connection's user. */
  authenticatedAs(c: ServerConnection): void {
    this.authenticated = true;
    this.username = c.user.username;
    this.onPreauthEnd();
    const s = this.settingsFor(c.user.username);
    this.stopProbes = startClientAlive(c, s.clientAliveInterval, s.clientAliveCountMax, this.ctx.log);
  }

  /**
   * This connection's settings after its Match blocks; with the user once known. UseDNS is never done:
   * Match Host sees the address (sshd with UseDNS no).
   */
  private settingsFor(user?: string): SshdSettings {
    const i = this.info;
    return this.ctx.config.forConnection({
      addr: i.remoteAddress,
      host: i.remoteAddress,
      laddr: i.localAddress,
      lport: i.localPort,
      ...(user !== undefined ? { user } : {}),
    });
  }

  private startSession(
    policy: ConnectionPolicy<unknown>,
    session: ServerSession,
    c: ServerConnection,
    settings: SshdSettings,
  ): void {
    const grant = policy.grantFor(c.user.username);
    if (grant === undefined) {
      this.ctx.log.error(`no login grant for ${c.user.username}: refusing the session`);
      session.channel.destroy();
      return;
    }
    this.ctx.login.startSession(session, c, grant, loginSettingsFrom(settings), this.viewLog());
  }

  private stopClientAlive(): void {
    this.stopProbes?.();
    this.stopProbes = null;
  }

  /** Wraps the policy: remembers the user name and logs each request as sshd's auth2.c does. */
  private observe(policy: ConnectionPolicy<unknown>): AuthPolicy {
    return observePolicy(policy, {
      request: (user, method) => {
        this.username = user;
        this.write("debug1", `userauth-request for user ${user} service ssh-connection method ${method}`);
      },
      userExists: (_user, exists) => {
        this.invalidUser = !exists;
      },
    });
  }

  private peer(): string {
    return `${this.info.remoteAddress} port ${this.info.remotePort}`;
  }

  /** One log line of this connection, in sshd's wording. */
  private write(level: LogLevel, message: string, cause?: SshError): void {
    const entry = connectionLogEntry(level, message, this.peer(), this.authenticated, cause);
    this.ctx.log.transportLogger(entry.level, entry.line);
  }

  private viewLog(): DaemonLog {
    return {
      error: (m) => this.write("error", m),
      info: (m) => this.write("info", m),
      verbose: (m) => this.write("verbose", m),
      debug1: (m) => this.write("debug1", m),
      debug2: (m) => this.write("debug2", m),
      debug3: (m) => this.write("debug3", m),
    };
  }

  private ended(err: SshError | null): void {
    if (this.closed) return;
    this.closed = true;
    this.stopClientAlive();
    const line = connectionEndLine(err, this.peer(), {
      name: this.username,
      invalid: this.invalidUser,
      authenticated: this.authenticated,
    });
    if (line !== null) this.ctx.log.info(line);
    if (!this.authenticated) this.onPreauthEnd();
    this.onClose();
  }
}
