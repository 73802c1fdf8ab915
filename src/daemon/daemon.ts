/**
 * nsshd's listener, in one process: the configuration in force (a "generation": settings, host keys and
 * the library server built from them), the listening sockets, MaxStartups, and the connections. SIGHUP
 * builds a new generation for new connections while existing ones keep theirs (sshd re-executes itself
 * instead; its running sessions are other processes and go on just the same).
 */
import { EventEmitter } from "node:events";
import fs from "node:fs";
import type net from "node:net";
import type { Duplex } from "node:stream";
import type { SshdConfig, SshdSettings } from "../config/sshdConfig.js";
import { parsePrivateKey, type PrivateKey } from "../keys/index.js";
import { createServer, type ServerConnectionInfo, type SshServer } from "../server/index.js";
import { DEFAULT_SOFTWARE_VERSION, type LogLevel, type Transport } from "../transport/index.js";
import { SshError } from "../wire/index.js";
import { DaemonConnection, type LoginBackend } from "./daemonConnection.js";
import { bindAll, closeAll, listenSpecs, noAddressBound, type ListenSpec } from "./listen.js";
import { parseLogLevel, type DaemonLog, type DaemonLogger } from "./log.js";
import { StartupTracker } from "./maxStartups.js";
import { connectionEndLine, connectionLogEntry, observePolicy } from "./connectionLog.js";
import type { PrivsepMonitor } from "./privsep/monitor.js";
import type { LoginGrant } from "./systemAuthPolicy.js";
import { connectionOverridesFrom, loginSettingsFrom } from "./settingsMapping.js";

export interface DaemonOptions {
  /** Reads the configuration (again on SIGHUP). */
  loadConfig(): Promise<SshdConfig>;
  log: DaemonLogger;
  login: LoginBackend;
  /** Host keys when neither -h nor HostKey names any (sshd's compiled-in paths, or the state folder's). */
  defaultHostKeys: readonly string[];
  /** -p ports: the configuration's Port lines are ignored when given (sshd(8) -p). */
  commandLinePorts?: readonly number[];
  /** -h files, used before the configuration's HostKey lines. */
  commandLineHostKeys?: readonly string[];
  /** Take LogLevel from the configuration (false when -d, -q or the caller fixed the level). */
  levelFromConfig?: boolean;
  /** -d: serve one connection, then end (sshd(8): "will only process one connection"). */
  singleConnection?: boolean;
  /**
   * Privilege separation (issue: the network-facing code never runs as root): accepted sockets go to the
   * monitor's pre-auth workers and logged-in users to their session processes. Without it, everything runs
   * in this process (inetd mode always does).
   */
  monitor?: PrivsepMonitor;
}

export interface DaemonEvents {
  /** -d: the one connection has ended. */
  "single-connection-done": [];
}

interface Generation {
  config: SshdConfig;
  server: SshServer;
  hostKeys: PrivateKey[];
}

/**
 * Load one host key file as sshd does (sshd.c, sshkey_perm_ok): a private key readable by others than its
 * owner is refused; an unreadable or unparsable one is logged and skipped.
 */
export function loadHostKeyFile(file: string, log: DaemonLog): PrivateKey | null {
  let data: Buffer;
  try {
    const st = fs.statSync(file);
    if (st.uid === process.getuid?.() && (st.mode & 0o077) !== 0) {
      log.error(`Permissions 0${(st.mode & 0o777).toString(8)} for '${file}' are too open.`);
      log.error(`Unable to load host key: ${file}`);
      return null;
    }
    data = fs.readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // A missing default key is normal (sshd: debug, not error, for ENOENT).
    if (code === "ENOENT") log.debug1(`Unable to load host key "${file}": No such file or directory`);
    else log.error(`Unable to load host key: ${file}`);
    return null;
  }
  try {
    return parsePrivateKey(data);
  } catch (err) {
    log.error(`Unable to load host key "${file}": ${(err as Error).message}`);
    return null;
  }
}

export class Daemon extends EventEmitter<DaemonEvents> {
  private gen: Generation;
  /** Listening sockets by "host port". */
  private readonly sockets = new Map<string, net.Server>();
  private readonly connections = new Map<Transport, DaemonConnection>();
  private readonly startups: StartupTracker;
  private acceptedOne = false;

  private constructor(
    private readonly options: DaemonOptions,
    gen: Generation,
  ) {
    super();
    this.gen = gen;
    this.startups = new StartupTracker(gen.config.global.maxStartups);
  }

  /** Build the daemon from a loaded configuration: host keys and algorithms are checked here. */
  static create(options: DaemonOptions, config: SshdConfig): Daemon {
    return new Daemon(options, Daemon.build(options, config));
  }

  private static build(options: DaemonOptions, config: SshdConfig): Generation {
    const { log } = options;
    const s = config.global;
    if (options.levelFromConfig) {
      const level = parseLogLevel(s.logLevel);
      if (level) log.setLevel(level);
    }
    log.setSyslogFacility(s.syslogFacility);
    for (const w of config.warnings) log.info(w);
    const named = [...(options.commandLineHostKeys ?? []), ...s.hostKeys];
    const files = named.length ? named : options.defaultHostKeys;
    const hostKeys: PrivateKey[] = [];
    for (const file of files) {
      const key = loadHostKeyFile(file, log);
      if (!key) continue;
      log.debug1(`private host key #${hostKeys.length}: ${key.type} ${key.publicKey.fingerprintSha256()}`);
      hostKeys.push(key);
    }
    if (hostKeys.length === 0) throw new SshError("CONFIG", "sshd: no hostkeys available -- exiting.");
    const rekey = s.rekeyLimit;
    // The same algorithm settings serve this process and, with privilege separation, its children.
    const transport = {
      kex: s.kexAlgorithms,
      ciphers: s.ciphers,
      macs: s.macs,
      hostKeyAlgorithms: s.hostKeyAlgorithms,
      // sshd_config Compression yes (= delayed) offers zlib@openssh.com; no offers only none.
      ...(s.compression ? {} : { compression: ["none"] }),
      ...(rekey.bytes || rekey.seconds
        ? {
            rekeyLimit: {
              ...(rekey.bytes ? { bytes: rekey.bytes } : {}),
              ...(rekey.seconds ? { seconds: rekey.seconds } : {}),
            },
          }
        : {}),
    };
    // Every connection gets its own policy (DaemonConnection); this one is never asked.
    const server = createServer({ hostKeys, auth: {}, ...transport });
    options.monitor?.configure(hostKeys, transport);
    return { config, server, hostKeys };
  }

  /** The configuration in force for new connections. */
  get config(): SshdConfig {
    return this.gen.config;
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  private attach(gen: Generation): void {
    gen.server.on("connection", (c) => this.connections.get(c.transport)?.authenticatedAs(c));
    gen.server.on("error", (err) => this.options.log.error(`server: ${err.message}`));
  }

  /** Bind the listening sockets of the configuration (Port, ListenAddress, AddressFamily). */
  async listen(): Promise<void> {
    this.attach(this.gen);
    await this.bind(this.gen);
  }

  /** `reloading`: say "Server listening" for the kept sockets too, as sshd's re-executed process does. */
  private async bind(gen: Generation, reloading = false): Promise<void> {
    const s = gen.config.global;
    let specs: ListenSpec[] = listenSpecs(s.listenAddresses, s.addressFamily);
    const cmdPorts = this.options.commandLinePorts;
    if (cmdPorts?.length) {
      // The -p ports reach the settings as -o Port lines, before the file's: drop what the file's Port
      // lines added; an address whose port no Port line gave had its own (ListenAddress host:port).
      const filePorts = s.ports.filter((p) => !cmdPorts.includes(p));
      specs = specs.filter((spec) => cmdPorts.includes(spec.port) || !filePorts.includes(spec.port));
    }
    // Keep what is still wanted (a reload must not drop a port it keeps), close the rest, bind the new.
    const keyOf = (spec: ListenSpec): string => `${spec.host} ${spec.port}`;
    const wanted = new Set(specs.map(keyOf));
    for (const [key, server] of this.sockets) {
      if (wanted.has(key)) continue;
      closeAll([server]);
      this.sockets.delete(key);
    }
    const fresh = specs.filter((spec) => !this.sockets.has(keyOf(spec)));
    if (reloading) {
      for (const spec of specs) {
        if (this.sockets.has(keyOf(spec)))
          this.options.log.info(`Server listening on ${spec.host} port ${spec.port}.`);
      }
    }
    const pass = this.options.monitor !== undefined;
    for (const { spec, server } of await bindAll(
      fresh,
      (socket) => this.accept(socket),
      this.options.log,
      pass,
    )) {
      this.sockets.set(keyOf(spec), server);
    }
    if (this.sockets.size === 0) throw noAddressBound();
  }

  /** The addresses bound (for tests and the PidFile step). */
  addresses(): net.AddressInfo[] {
    return [...this.sockets.values()].map((l) => l.address() as net.AddressInfo).filter((a) => a !== null);
  }

  private accept(socket: net.Socket): void {
    const log = this.options.log;
    const peer = `${socket.remoteAddress} port ${socket.remotePort}`;
    const local = `${socket.localAddress} port ${socket.localPort}`;
    if (this.options.singleConnection) {
      // sshd -d serves this one connection and listens no more.
      if (this.acceptedOne) return void socket.destroy();
      this.acceptedOne = true;
      closeAll([...this.sockets.values()]);
    }
    const dropped = this.startups.admit(() => log.error("beginning MaxStartups throttling"));
    if (dropped !== null) {
      log.info(
        `drop connection #${dropped} from [${socket.remoteAddress}]:${socket.remotePort} on [${socket.localAddress}]:${socket.localPort} past MaxStartups`,
      );
      // sshd tells the client before closing (sshd.c), so that ssh shows why.
      socket.on("error", () => {});
      socket.end("Exceeded MaxStartups\r\n");
      socket.destroySoon?.();
      return;
    }
    log.verbose(`Connection from ${peer} on ${local} rdomain ""`);
    const info = {
      remoteAddress: socket.remoteAddress ?? "UNKNOWN",
      remotePort: socket.remotePort ?? 0,
      localAddress: socket.localAddress ?? "UNKNOWN",
      localPort: socket.localPort ?? 0,
    };
    if (this.options.monitor) this.dispatch(this.options.monitor, socket, info);
    else this.serve(socket, info);
  }

  /** Privilege separation: the monitor gives the socket to a worker; this process never reads it. */
  private dispatch(monitor: PrivsepMonitor, socket: net.Socket, info: ServerConnectionInfo): void {
    const { config } = this.gen;
    const log = this.options.log;
    const where = {
      addr: info.remoteAddress,
      host: info.remoteAddress,
      laddr: info.localAddress,
      lport: info.localPort,
    };
    const settings = config.forConnection(where);
    // A login asks for its user's settings four times (the policy, the login check, the session, the
    // post-auth limits): forConnection gives the same object for the same Match outcome.
    const forUser = (user: string): SshdSettings => config.forConnection({ ...where, user });
    socket.setKeepAlive(settings.tcpKeepAlive);
    const peer = `${info.remoteAddress} port ${info.remotePort}`;
    let username: string | null = null;
    let invalid = false;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      this.startups.finished((seconds, dropped) =>
        log.info(
          `exited MaxStartups throttling after ${formatDuration(seconds)}, ${dropped} connections dropped`,
        ),
      );
    };
    // Lines the log would drop are not reworded first (workers send only what the level lets through).
    const write = (level: LogLevel, message: string, authenticated: boolean): void => {
      if (!log.enabled(level)) return;
      // A child words a failure it has the cause of itself (messages.ts connectionTransportLog): no cause
      // crosses to here, so the level stays as sent.
      const entry = connectionLogEntry(level, message, peer, authenticated);
      log.transportLogger(entry.level, entry.line);
    };
    const connLog: DaemonLog = {
      error: (m) => write("error", m, false),
      info: (m) => write("info", m, false),
      verbose: (m) => write("verbose", m, false),
      debug1: (m) => write("debug1", m, false),
      debug2: (m) => write("debug2", m, false),
      debug3: (m) => write("debug3", m, false),
    };
    const policy = this.options.login.createPolicy(
      (user) => Promise.resolve(loginSettingsFrom(forUser(user))),
      info,
      connLog,
    );
    const observed = observePolicy(policy, {
      request: (user, method) => {
        username = user;
        write("debug1", `userauth-request for user ${user} service ssh-connection method ${method}`, false);
      },
      userExists: (_user, exists) => {
        invalid = !exists;
      },
    });
    log.debug1(`Local version string SSH-2.0-${DEFAULT_SOFTWARE_VERSION}`);
    const overrides = connectionOverridesFrom(settings, connLog);
    monitor.dispatch(
      socket,
      {
        info,
        preauth: {
          maxAuthTries: overrides.maxAuthTries ?? 6,
          publicKeyAlgorithms: [...(overrides.publicKeyAlgorithms ?? [])],
          loginGraceTime: overrides.loginGraceTime ?? 120,
          ...(overrides.authenticationMethods
            ? { authenticationMethods: overrides.authenticationMethods }
            : {}),
          ...(overrides.banner !== undefined ? { banner: overrides.banner } : {}),
        },
        settingsForUser: (user) => loginSettingsFrom(forUser(user)),
        methodsForUser: (user) => {
          const u = forUser(user);
          const enabled = [
            ...(u.pubkeyAuthentication ? ["publickey"] : []),
            ...(u.passwordAuthentication ? ["password"] : []),
            ...(u.kbdInteractiveAuthentication ? ["keyboard-interactive"] : []),
          ];
          const chains = u.authenticationMethods;
          return { enabled, ...(chains ? { chains } : {}) };
        },
        postauth: (user) => {
          const u = forUser(user);
          return {
            maxSessions: u.maxSessions,
            clientAlive: { interval: u.clientAliveInterval, countMax: u.clientAliveCountMax },
          };
        },
        write,
        preauthEnded: release,
        ended: (how) => {
          const err = how.disconnected
            ? new SshError("DISCONNECTED", how.reason ?? "disconnected")
            : new SshError("CONNECTION_LOST", how.reason ?? "connection closed");
          const line = connectionEndLine(err, peer, {
            name: how.username ?? username,
            invalid,
            authenticated: how.authenticated,
          });
          if (line !== null) log.info(line);
          if (this.options.singleConnection) this.emit("single-connection-done");
        },
      },
      Object.assign(observed, {
        grantFor: (u: string) => policy.grantFor(u) as LoginGrant | undefined,
        settle: () => policy.settle?.(),
        close: () => policy.close?.(),
      }),
    );
  }

  /**
   * Serve one connection on any stream: an accepted socket (already admitted by MaxStartups), or
   * stdin/stdout in inetd mode (`admitted` false: counted without the drop test).
   */
  serve(stream: Duplex, info: ServerConnectionInfo, admitted = true): DaemonConnection {
    if (!admitted) this.startups.add();
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      this.startups.finished((seconds, dropped) =>
        this.options.log.info(
          `exited MaxStartups throttling after ${formatDuration(seconds)}, ${dropped} connections dropped`,
        ),
      );
    };
    const conn = new DaemonConnection(
      { config: this.gen.config, server: this.gen.server, log: this.options.log, login: this.options.login },
      stream,
      info,
      release,
      () => {
        this.connections.delete(conn.transport);
        if (this.options.singleConnection) this.emit("single-connection-done");
      },
    );
    this.connections.set(conn.transport, conn);
    return conn;
  }

  /**
   * SIGHUP: read the configuration again. New connections get it; open ones keep theirs. A configuration
   * that does not load is logged and the old one stays (sshd would exit instead).
   */
  async reload(): Promise<boolean> {
    const log = this.options.log;
    log.info("Received SIGHUP; restarting.");
    let gen: Generation;
    try {
      gen = Daemon.build(this.options, await this.options.loadConfig());
    } catch (err) {
      log.error(`${(err as Error).message}; keeping the configuration in force`);
      return false;
    }
    this.attach(gen);
    this.gen = gen;
    this.startups.limits = gen.config.global.maxStartups;
    try {
      await this.bind(gen, true);
    } catch (err) {
      log.error(`${(err as Error).message}`);
      return false;
    }
    return true;
  }

  /** Stop accepting connections (SIGTERM). */
  stopListening(): void {
    closeAll([...this.sockets.values()]);
  }

  /** End every connection. */
  disconnectAll(): void {
    for (const t of this.connections.keys()) t.disconnect(undefined, "Server shutting down");
  }
}

/** sshd's fmt_timeframe-like duration for the throttling summary ("00:01:05"). */
function formatDuration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return [h, m, s].map((n) => String(n).padStart(2, "0")).join(":");
}
