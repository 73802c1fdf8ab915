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
import { connectionOverridesFrom, loginSettingsFrom } from "./settingsMapping.js";

/** The policy a login backend makes for one connection (system accounts: systemAuthPolicy.ts). */
export interface ConnectionPolicy<Grant> extends AuthPolicy {
  grantFor(user: string): Grant | undefined;
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

/** Log lines the monitor writes in sshd (no " [preauth]" even before authentication). */
const MONITOR_LINE = /^(Accepted|Failed|Invalid user|Partial|Disconnected from|Received disconnect) /;

export class DaemonConnection {
  private authenticated = false;
  private username: string | null = null;
  /** The policy said the user does not exist (sshd then says "invalid user"). */
  private invalidUser = false;
  private clientAlive: NodeJS.Timeout | null = null;
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
      log: (level, message) => this.write(level, message),
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
    this.startClientAlive(c, s.clientAliveInterval, s.clientAliveCountMax);
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

  /**
   * ClientAliveInterval / ClientAliveCountMax (sshd_config(5)): a keepalive@openssh.com request every
   * interval; any answer resets the count; CountMax unanswered ones end the connection.
   */
  private startClientAlive(c: ServerConnection, interval: number, countMax: number): void {
    if (interval <= 0) return;
    let unanswered = 0;
    this.clientAlive = setInterval(() => {
      if (unanswered >= countMax) {
        this.ctx.log.info(
          `Timeout, client not responding from user ${c.user.username} ${this.info.remoteAddress} port ${this.info.remotePort}`,
        );
        this.stopClientAlive();
        c.transport.disconnect(undefined, "Timeout, client not responding");
        return;
      }
      unanswered++;
      c.connection.globalRequest("keepalive@openssh.com").then(
        () => (unanswered = 0),
        (err: Error) => this.ctx.log.debug1(`client alive request: ${err.message}`),
      );
    }, interval * 1000);
    this.clientAlive.unref();
  }

  private stopClientAlive(): void {
    if (this.clientAlive) clearInterval(this.clientAlive);
    this.clientAlive = null;
  }

  /** Wraps the policy: remembers the user name and logs each request as sshd's auth2.c does. */
  private observe(policy: ConnectionPolicy<unknown>): AuthPolicy {
    const request = (user: string, method: string): void => {
      this.username = user;
      this.write("debug1", `userauth-request for user ${user} service ssh-connection method ${method}`);
    };
    const wrapped: AuthPolicy = {
      allowNone: (c) => {
        request(c.username, "none");
        return policy.allowNone?.(c) ?? false;
      },
    };
    if (policy.userExists)
      wrapped.userExists = async (u) => {
        const exists = await policy.userExists!(u);
        this.invalidUser = !exists;
        return exists;
      };
    if (policy.checkPublicKey)
      wrapped.checkPublicKey = (c) => {
        request(c.username, "publickey");
        return policy.checkPublicKey!(c);
      };
    if (policy.checkPassword)
      wrapped.checkPassword = (c) => {
        request(c.username, "password");
        return policy.checkPassword!(c);
      };
    if (policy.changePassword) wrapped.changePassword = (c) => policy.changePassword!(c);
    if (policy.keyboardInteractive)
      wrapped.keyboardInteractive = (c, ask) => {
        request(c.username, "keyboard-interactive");
        return policy.keyboardInteractive!(c, ask);
      };
    return wrapped;
  }

  private peer(): string {
    return `${this.info.remoteAddress} port ${this.info.remotePort}`;
  }

  /** One log line of this connection, in sshd's wording. */
  private write(level: LogLevel, message: string): void {
    const disconnect = /^Received disconnect: (\d+): (.*)$/s.exec(message);
    // sshd names the peer in this line (packet.c): "Received disconnect from ADDR port N:11: text".
    if (disconnect) message = `Received disconnect from ${this.peer()}:${disconnect[1]}: ${disconnect[2]}`;
    // The connection layer's "input_channel_open" is sshd's server_input_channel_open (serverloop.c).
    else if (message.startsWith("input_channel_open: ")) message = "server_" + message;
    const suffix = this.authenticated || MONITOR_LINE.test(message) ? "" : " [preauth]";
    this.ctx.log.transportLogger(level, message + suffix);
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
    const log = this.ctx.log;
    const user = this.username;
    if (this.authenticated) {
      log.info(`Disconnected from user ${user} ${this.peer()}`);
    } else {
      const who = user === null ? "" : `${this.invalidUser ? "invalid" : "authenticating"} user ${user} `;
      const preauth = " [preauth]";
      if (err?.code === "DISCONNECTED") log.info(`Disconnected from ${who}${this.peer()}${preauth}`);
      else if (err?.code === "CONNECTION_LOST")
        log.info(`Connection closed by ${who}${this.peer()}${preauth}`);
      this.onPreauthEnd();
    }
    this.onClose();
  }
}
