/**
 * connect(): the library's client front door. It opens the socket, runs the transport with the caller's
 * host key decision, authenticates (keys, agent, password, keyboard-interactive), and returns an SshClient
 * that runs commands, shells and subsystems over one connection.
 */
import { EventEmitter } from "node:events";
import net from "node:net";
import { PassThrough, Readable, type Duplex } from "node:stream";
import type { AgentClient } from "../agent/index.js";
import {
  authenticateClient,
  type ClientAuthMethod,
  type ClientAuthOptions,
  type ClientAuthResult,
  type UserKeySigner,
} from "../auth/clientAuth.js";
import { Connection, type Channel, type ChannelOptions } from "../connection/index.js";
import type { SftpClient } from "../sftp/client.js";
// The session and auth modules themselves, not their folders' index files: those also export the server
// sides (and their imports), which a client never runs and need not load.
import {
  openSession,
  type ClientSession,
  type PtyOptions,
  type SessionExit,
} from "../session/clientSession.js";
import {
  resolveLists,
  Transport,
  type TransportOptions,
  type AlgorithmListSpec,
  type HostKeyVerifier,
  type NegotiatedAlgorithms,
  type TransportLogger,
  readArenaSocket,
} from "../transport/index.js";
import { DisconnectReason, SshError } from "../wire/index.js";
import { collectSigners, loadIdentities, type IdentitySource } from "./identities.js";

export interface ConnectOptions {
  host: string;
  port?: number;
  username: string;
  /** Decide whether to trust the server's key (known_hosts, a pinned fingerprint, a prompt). Required. */
  verifyHostKey: HostKeyVerifier;
  /** Private keys: PrivateKey objects, key file contents, or paths (`~` expanded). */
  identity?: IdentitySource | IdentitySource[];
  passphrase?: string;
  /**
   * Signers offered after `identity` (and before the agent's keys): keys loaded lazily (a passphrase asked
   * only when the server accepts the key, as ssh does) or filtered agent keys (IdentitiesOnly).
   */
  signers?: UserKeySigner[];
  /** NumberOfPasswordPrompts (3): password and keyboard-interactive attempts, each. */
  maxPasswordPrompts?: number;
  /** PubkeyAcceptedAlgorithms: signature algorithms we may use for user keys. */
  publicKeyAlgorithms?: readonly string[];
  /** An agent socket; default SSH_AUTH_SOCK. `false` uses no agent. */
  agent?: string | false;
  password?: ClientAuthOptions["password"];
  changePassword?: ClientAuthOptions["changePassword"];
  keyboardInteractive?: ClientAuthOptions["keyboardInteractive"];
  onBanner?: ClientAuthOptions["onBanner"];
  /** Methods in the order to try (PreferredAuthentications). */
  authMethods?: ClientAuthMethod[];
  kex?: AlgorithmListSpec;
  ciphers?: AlgorithmListSpec;
  macs?: AlgorithmListSpec;
  hostKeyAlgorithms?: AlgorithmListSpec;
  compression?: AlgorithmListSpec;
  rekeyLimit?: { bytes?: number; seconds?: number };
  /** Seconds between keepalive@openssh.com probes when the server is silent (ServerAliveInterval); 0 = none. */
  keepaliveInterval?: number;
  /** Unanswered probes before giving up (ServerAliveCountMax, 3). */
  keepaliveCountMax?: number;
  /** Milliseconds for TCP connect, key exchange and authentication together (default 20 000). */
  readyTimeout?: number;
  /** An already connected stream (a ProxyCommand's stdio, a jump host's channel) instead of TCP. */
  sock?: Duplex;
  signal?: AbortSignal;
  log?: TransportLogger;
}

export interface ExecOptions {
  /** Bytes to send to the command's stdin, then EOF. Without it stdin gets EOF at once. */
  stdin?: string | Buffer | Readable;
  env?: Record<string, string>;
  pty?: boolean | PtyOptions;
  signal?: AbortSignal;
}

export interface ExecResult<T = string> {
  /** The exit status, or null when a signal ended the command (or the server said nothing). */
  code: number | null;
  signal: string | null;
  stdout: T;
  stderr: T;
}

export interface SessionOptions {
  env?: Record<string, string>;
  pty?: boolean | PtyOptions;
  signal?: AbortSignal;
}

export class SshClient extends EventEmitter<{ close: [error: SshError | null] }> {
  private keepaliveTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly transport: Transport,
    readonly connection: Connection,
    readonly authentication: ClientAuthResult,
    private readonly agent: AgentClient | null,
  ) {
    super();
    connection.once("close", (err) => {
      if (this.keepaliveTimer) clearInterval(this.keepaliveTimer);
      this.agent?.close();
      this.emit("close", err);
    });
  }

  get negotiated(): NegotiatedAlgorithms {
    return this.transport.negotiated!;
  }

  get isClosed(): boolean {
    return this.connection.isClosed;
  }

  /** Run a command and collect its output and exit status (as `ssh host command`). */
  async exec(
    command: string,
    options?: ExecOptions & { encoding?: BufferEncoding },
  ): Promise<ExecResult<string>>;
  async exec(command: string, options: ExecOptions & { encoding: "buffer" }): Promise<ExecResult<Buffer>>;
  async exec(
    command: string,
    options: ExecOptions & { encoding?: BufferEncoding | "buffer" } = {},
  ): Promise<ExecResult<string | Buffer>> {
    const session = await this.spawn(command, options);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    session.channel.on("data", (d: Buffer) => out.push(d));
    session.channel.stderr.on("data", (d: Buffer) => err.push(d));
    // Aborted while it ran: the caller gets ABORTED, not whatever the torn-down channel had collected.
    let aborted = false;
    let ended = false;
    session.exit.then(
      () => (ended = true),
      () => (ended = true),
    );
    const onAbort = (): void => {
      if (!ended) aborted = true;
    };
    if (options.signal?.aborted) onAbort();
    options.signal?.addEventListener("abort", onAbort, { once: true });
    const exit = await session.exit;
    options.signal?.removeEventListener("abort", onAbort);
    if (aborted) throw new SshError("ABORTED", `exec aborted: ${command}`);
    const enc = options.encoding ?? "utf8";
    const decode = (b: Buffer[]): string | Buffer =>
      enc === "buffer" ? Buffer.concat(b) : Buffer.concat(b).toString(enc);
    return { code: exit.code, signal: exit.signal, stdout: decode(out), stderr: decode(err) };
  }

  /** Start a command and stream it: session.channel is its stdin/stdout, session.channel.stderr its stderr. */
  async spawn(command: string, options: ExecOptions = {}): Promise<ClientSession> {
    const session = await this.prepareSession(options);
    try {
      await session.exec(command);
    } catch (err) {
      session.channel.destroy();
      throw abortedOr(err, options.signal);
    }
    const stdin = options.stdin;
    if (stdin === undefined) session.channel.end();
    else if (stdin instanceof Readable) stdin.pipe(session.channel);
    else session.channel.end(stdin);
    return session;
  }

  /** An interactive shell, on a PTY unless `pty: false`. */
  async shell(options: SessionOptions = {}): Promise<ClientSession> {
    const session = await this.prepareSession({ pty: true, ...options });
    await session.shell();
    return session;
  }

  /** A subsystem such as "sftp". */
  async subsystem(name: string, options: { signal?: AbortSignal } = {}): Promise<ClientSession> {
    const session = await this.prepareSession(options);
    await session.subsystem(name);
    return session;
  }

  /** The "sftp" subsystem as an SftpClient, its VERSION exchanged; `sftp.end()` closes the channel. */
  async sftp(options: { signal?: AbortSignal } = {}): Promise<SftpClient> {
    // Loaded on first use (while the subsystem request goes out): most connections never speak SFTP.
    const loading = import("../sftp/client.js");
    loading.catch(() => {}); // awaited below, once the channel is there to close on failure
    const session = await this.subsystem("sftp", options);
    try {
      const { SftpClient } = await loading;
      return await new SftpClient(session.channel, session.channel).init();
    } catch (err) {
      session.channel.destroy();
      throw err;
    }
  }

  /** Open a channel of any type (RFC 4254 §5.1). */
  openChannel(
    type: string,
    data?: Buffer,
    options?: ChannelOptions & { signal?: AbortSignal },
  ): Promise<Channel> {
    return this.connection.openChannel(type, data, options);
  }

  private async prepareSession(options: SessionOptions): Promise<ClientSession> {
    const session = await openSession(this.connection, options.signal ? { signal: options.signal } : {});
    const abort = (): void => {
      // As child_process does with its `signal` option: end the remote program (sshd only closes its
      // pipes when the channel closes, leaving a command that does not write running), then the channel.
      if (!session.channel.destroyed) session.signal("TERM");
      session.channel.destroy();
    };
    options.signal?.addEventListener("abort", abort, { once: true });
    // The exit promise rejects when the connection ends first: that is reported by the session itself.
    session.exit.then(
      () => options.signal?.removeEventListener("abort", abort),
      () => options.signal?.removeEventListener("abort", abort),
    );
    try {
      if (options.pty) await session.requestPty(options.pty === true ? {} : options.pty);
      for (const [k, v] of Object.entries(options.env ?? {})) await session.setEnv(k, v);
    } catch (err) {
      session.channel.destroy();
      throw abortedOr(err, options.signal);
    }
    return session;
  }

  /** Disconnect (SSH_MSG_DISCONNECT by application) and resolve when the connection has ended. */
  close(): Promise<void> {
    if (this.connection.isClosed) return Promise.resolve();
    const done = new Promise<void>((resolve) => this.connection.once("close", () => resolve()));
    this.transport.disconnect(DisconnectReason.BY_APPLICATION, "disconnected by user");
    return done;
  }

  /** ServerAliveInterval: probe a silent server, give up after countMax unanswered probes. */
  startKeepalive(intervalSeconds: number, countMax: number): void {
    let missed = 0;
    this.keepaliveTimer = setInterval(() => {
      if (missed >= countMax) {
        this.transport.disconnect(DisconnectReason.CONNECTION_LOST, "Timeout, server not responding.");
        return;
      }
      missed++;
      this.connection.globalRequest("keepalive@openssh.com", Buffer.alloc(0), true).then(
        () => (missed = 0),
        () => {},
      );
    }, intervalSeconds * 1000);
    this.keepaliveTimer.unref();
  }
}

export type { SessionExit };

/** A request that failed because the caller's signal tore the channel down is reported as ABORTED. */
function abortedOr(err: unknown, signal: AbortSignal | undefined): unknown {
  return signal?.aborted && !(err instanceof SshError && err.code === "ABORTED")
    ? new SshError("ABORTED", "session aborted", { cause: err })
    : err;
}

function openSocket(options: ConnectOptions): Duplex {
  if (options.sock) return options.sock;
  return readArenaSocket((onread) => net.connect({ host: options.host, port: options.port ?? 22, onread }));
}

/** Connect, verify the host key, authenticate. Rejects with a typed SshError (and ends the connection). */
export async function connect(options: ConnectOptions): Promise<SshClient> {
  if (typeof options.verifyHostKey !== "function") {
    throw new SshError("CONFIG", "connect() needs verifyHostKey: nssh never trusts a host key silently");
  }
  const keys = loadIdentities(
    options.identity === undefined
      ? []
      : Array.isArray(options.identity)
        ? options.identity
        : [options.identity],
    options.passphrase,
  );
  const transportOptions: Omit<TransportOptions, "socket"> = {
    role: "client",
    verifyHostKey: options.verifyHostKey,
    ...(options.kex !== undefined ? { kex: options.kex } : {}),
    ...(options.ciphers !== undefined ? { ciphers: options.ciphers } : {}),
    ...(options.macs !== undefined ? { macs: options.macs } : {}),
    ...(options.hostKeyAlgorithms !== undefined ? { hostKeyAlgorithms: options.hostKeyAlgorithms } : {}),
    ...(options.compression !== undefined ? { compression: options.compression } : {}),
    ...(options.rekeyLimit ? { rekeyLimit: options.rekeyLimit } : {}),
    ...(options.log ? { log: options.log } : {}),
  };
  // A bad option is reported before any socket exists, so none is left open.
  resolveLists({ ...transportOptions, socket: new PassThrough() });
  const socket = openSocket(options);
  const transport = new Transport({ ...transportOptions, socket });
  const timeoutMs = options.readyTimeout ?? 20_000;
  let agent: AgentClient | null = null;
  // Why we ended the connection ourselves (timeout, abort, a failure below), for the close it causes.
  let failure: SshError | null = null;
  const fail = (err: SshError): void => {
    failure ??= err;
    if (!transport.isClosed) transport.disconnect(err.disconnectReason, err.message);
    agent?.close();
  };
  const abort = (): void => fail(new SshError("ABORTED", "connect() aborted"));
  options.signal?.addEventListener("abort", abort, { once: true });
  const timer = setTimeout(
    () => fail(new SshError("TIMEOUT", `connection setup timed out after ${timeoutMs} ms`)),
    timeoutMs,
  );
  try {
    const closed = new Promise<never>((_, reject) =>
      transport.once("close", (err) => {
        const reason =
          failure ?? (options.signal?.aborted ? new SshError("ABORTED", "connect() aborted") : err);
        if (reason) return reject(reason);
        // A local, orderly close: the layer that closed (authentication giving up disconnects first, then
        // rejects with its own error) has the real reason; let it win the race below.
        setImmediate(() => reject(new SshError("CONNECTION_LOST", "connection closed during setup")));
      }),
    );
    closed.catch(() => {}); // observed below through Promise.race
    if (options.signal?.aborted) abort();
    await Promise.race([new Promise<void>((resolve) => transport.once("ready", () => resolve())), closed]);
    const agentSocket = options.agent === false ? undefined : (options.agent ?? process.env.SSH_AUTH_SOCK);
    const ownSigners: UserKeySigner[] = [...keys, ...(options.signers ?? [])];
    let signers: ClientAuthOptions["keys"] = ownSigners;
    if (agentSocket) {
      try {
        const collected = await collectSigners(ownSigners, agentSocket, options.signal);
        signers = collected.signers;
        agent = collected.agent;
      } catch (err) {
        // As ssh does: an unreachable agent is reported and authentication goes on without it.
        options.log?.("debug1", `get_agent_identities: ${(err as Error).message}`);
      }
    }
    const auth = await Promise.race([
      authenticateClient(transport, {
        username: options.username,
        keys: signers,
        host: options.host,
        ...(options.authMethods ? { methods: options.authMethods } : {}),
        ...(options.maxPasswordPrompts !== undefined
          ? { maxPasswordPrompts: options.maxPasswordPrompts }
          : {}),
        ...(options.publicKeyAlgorithms ? { publicKeyAlgorithms: options.publicKeyAlgorithms } : {}),
        ...(options.password !== undefined ? { password: options.password } : {}),
        ...(options.changePassword ? { changePassword: options.changePassword } : {}),
        ...(options.keyboardInteractive ? { keyboardInteractive: options.keyboardInteractive } : {}),
        ...(options.onBanner ? { onBanner: options.onBanner } : {}),
        ...(options.log ? { log: options.log } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      }),
      closed,
    ]);
    // The auth layer leaves the transport paused until the next macrotask: take over its messages now.
    const connection = new Connection(transport, options.log ? { log: options.log } : {});
    const client = new SshClient(transport, connection, auth, agent);
    if (options.keepaliveInterval)
      client.startKeepalive(options.keepaliveInterval, options.keepaliveCountMax ?? 3);
    return client;
  } catch (err) {
    const e =
      err instanceof SshError
        ? err
        : new SshError("PROTOCOL", String((err as Error)?.message ?? err), { cause: err });
    fail(e);
    throw e;
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener("abort", abort);
  }
}
