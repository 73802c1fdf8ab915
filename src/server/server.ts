/**
 * createServer(): the library's server front door, in one process. For each connection: the transport
 * with the server's host keys, user authentication through the caller's AuthPolicy, then the connection
 * layer, whose session channels are handed to the caller's handler as ServerSessions.
 */
import { EventEmitter } from "node:events";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import { PassThrough, type Duplex } from "node:stream";
import { authenticateServer, type AuthenticatedUser, type AuthPolicy } from "../auth/index.js";
import { Connection, ChannelOpenFailure, type IncomingChannelOpen } from "../connection/index.js";
import { parsePrivateKey, PrivateKey } from "../keys/index.js";
import { ServerSession, type ServerSessionOptions } from "../session/index.js";
import {
  arenaSocketFor,
  resolveLists,
  Transport,
  type AlgorithmListSpec,
  type HostKeySigner,
  type TransportHandoff,
  type TransportLogger,
  type TransportOptions,
} from "../transport/index.js";
import { DisconnectReason, Msg, SshError } from "../wire/index.js";

export interface ServerConnectionInfo {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
}

/** One client connection, once authenticated. */
export interface ServerConnection extends ServerConnectionInfo {
  readonly user: AuthenticatedUser;
  readonly transport: Transport;
  readonly connection: Connection;
}

export interface ServerOptions {
  /** Host keys: PrivateKey objects, anything that signs (HostKeySigner), key file contents or paths. */
  hostKeys: Array<PrivateKey | HostKeySigner | string | Buffer>;
  /** Every authentication decision. */
  auth: AuthPolicy;
  /** AuthenticationMethods, e.g. [["publickey", "password"]]. */
  authenticationMethods?: string[][];
  maxAuthTries?: number;
  /** Signature algorithms accepted for user keys (sshd_config PubkeyAcceptedAlgorithms); default: the auth layer's. */
  publicKeyAlgorithms?: readonly string[];
  banner?: string;
  failureDelayMs?: number;
  /** Seconds to authenticate before the connection is dropped (LoginGraceTime, 120; 0 = no limit). */
  loginGraceTime?: number;
  /** Session channels open at once per connection (MaxSessions, 10). */
  maxSessions?: number;
  /**
   * Called for each session channel. Listen to its "start" event to accept shell/exec/subsystem, then drive
   * the channel yourself and call session.exit(code), or call session.run(...) to run a real program.
   * Without a handler every session is refused.
   */
  onSession?: (session: ServerSession, connection: ServerConnection) => void;
  session?: ServerSessionOptions;
  kex?: AlgorithmListSpec;
  ciphers?: AlgorithmListSpec;
  macs?: AlgorithmListSpec;
  hostKeyAlgorithms?: AlgorithmListSpec;
  compression?: AlgorithmListSpec;
  rekeyLimit?: { bytes?: number; seconds?: number };
  requireStrictKex?: boolean;
  log?: TransportLogger;
}

/**
 * What one connection may use instead of the server's options: the daemon decides these per connection
 * (its policy knows the peer's address; Match blocks and SIGHUP change them for new connections only).
 */
export type ServerConnectionOverrides = Partial<
  Pick<
    ServerOptions,
    | "auth"
    | "authenticationMethods"
    | "maxAuthTries"
    | "publicKeyAlgorithms"
    | "banner"
    | "failureDelayMs"
    | "loginGraceTime"
    | "maxSessions"
    | "onSession"
    | "session"
    | "log"
  >
> & {
  /** Host keys for this connection only: nsshd's workers sign through the monitor, per connection. */
  hostKeys?: HostKeySigner[];
  /**
   * Once the user is authenticated, give the connection away instead of serving it: USERAUTH_SUCCESS is
   * not sent, and the callback gets the transport to hand off (Transport.handOff) with its socket. nsshd's
   * pre-auth workers pass it to the user's session process, which continues it with resume().
   */
  handOff?: (user: AuthenticatedUser, transport: Transport, info: ServerConnectionInfo) => void;
};

export interface ServerEvents {
  /** A client authenticated. */
  connection: [connection: ServerConnection];
  /** A connection ended before or after authentication (error null for an orderly end). */
  "connection-closed": [info: ServerConnectionInfo, error: SshError | null];
  error: [error: Error];
}

function loadHostKey(k: PrivateKey | HostKeySigner | string | Buffer): HostKeySigner {
  if (typeof k === "string" && !k.includes("-----BEGIN ")) return parsePrivateKey(fs.readFileSync(k));
  if (typeof k === "string" || Buffer.isBuffer(k)) return parsePrivateKey(k);
  return k;
}

export class SshServer extends EventEmitter<ServerEvents> {
  private readonly hostKeys: HostKeySigner[];
  private readonly listener: net.Server;
  private readonly sockets = new Set<Duplex>();

  constructor(private readonly options: ServerOptions) {
    super();
    if (!options.hostKeys?.length) throw new SshError("CONFIG", "createServer() needs at least one host key");
    this.hostKeys = options.hostKeys.map(loadHostKey);
    // Bad algorithm lists are the caller's mistake: report them now, not at the first connection.
    resolveLists({ ...this.transportOptions(), role: "server", socket: new PassThrough() });
    // Accepted sockets read into one reused buffer rather than a new one per read (readArena.ts).
    this.listener = net.createServer((socket) => this.handleSocket(arenaSocketFor(socket)));
    this.listener.on("error", (err) => this.emit("error", err));
  }

  /** Listen on a TCP port (0 for any free one). */
  listen(port: number, host = "127.0.0.1"): Promise<net.AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.listener.once("error", onError);
      this.listener.listen(port, host, () => {
        this.listener.off("error", onError);
        resolve(this.listener.address() as net.AddressInfo);
      });
    });
  }

  address(): net.AddressInfo | null {
    return this.listener.address() as net.AddressInfo | null;
  }

  /** Stop listening and end every connection. */
  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => {
      if (!this.listener.listening) return resolve();
      this.listener.close(() => resolve());
    });
  }

  private transportOptions(): Omit<TransportOptions, "role" | "socket"> {
    const o = this.options;
    return {
      hostKeys: this.hostKeys,
      ...(o.kex !== undefined ? { kex: o.kex } : {}),
      ...(o.ciphers !== undefined ? { ciphers: o.ciphers } : {}),
      ...(o.macs !== undefined ? { macs: o.macs } : {}),
      ...(o.hostKeyAlgorithms !== undefined ? { hostKeyAlgorithms: o.hostKeyAlgorithms } : {}),
      ...(o.compression !== undefined ? { compression: o.compression } : {}),
      ...(o.rekeyLimit ? { rekeyLimit: o.rekeyLimit } : {}),
      ...(o.requireStrictKex ? { requireStrictKex: true } : {}),
      ...(o.log ? { log: o.log } : {}),
    };
  }

  /**
   * Serve one connection on any stream (a TCP socket, or stdin/stdout as sshd -i does), with optional
   * per-connection overrides of the server's options. Returns the connection's transport.
   */
  handleSocket(
    socket: Duplex,
    info?: Partial<ServerConnectionInfo>,
    overrides?: ServerConnectionOverrides,
  ): Transport {
    const s = socket as Partial<net.Socket>;
    const where: ServerConnectionInfo = {
      remoteAddress: info?.remoteAddress ?? s.remoteAddress ?? "UNKNOWN",
      remotePort: info?.remotePort ?? s.remotePort ?? 0,
      localAddress: info?.localAddress ?? s.localAddress ?? "UNKNOWN",
      localPort: info?.localPort ?? s.localPort ?? 0,
    };
    this.sockets.add(socket);
    socket.once("close", () => this.sockets.delete(socket));
    socket.on("error", () => {}); // the transport reports socket errors as its close reason
    const o: ServerOptions = overrides ? { ...this.options, ...overrides } : this.options;
    const hostKeys = overrides?.hostKeys ?? this.hostKeys;
    const transport = new Transport({
      ...this.transportOptions(),
      ...(overrides?.log ? { log: overrides.log } : {}),
      hostKeys,
      role: "server",
      socket,
    });
    transport.once("close", (err) => this.emit("connection-closed", where, err));
    const grace = (o.loginGraceTime ?? 120) * 1000;
    const graceTimer =
      grace > 0
        ? setTimeout(() => {
            o.log?.(
              "info",
              `Timeout before authentication for ${where.remoteAddress} port ${where.remotePort}`,
            );
            transport.disconnect(DisconnectReason.PROTOCOL_ERROR, "Timeout before authentication");
          }, grace)
        : null;
    graceTimer?.unref();
    const handOff = overrides?.handOff;
    authenticateServer(transport, {
      policy: o.auth,
      hostKeys,
      ...(handOff ? { deferSuccess: true } : {}),
      remoteAddress: where.remoteAddress,
      remotePort: where.remotePort,
      ...(o.authenticationMethods ? { authenticationMethods: o.authenticationMethods } : {}),
      ...(o.maxAuthTries !== undefined ? { maxAuthTries: o.maxAuthTries } : {}),
      ...(o.banner !== undefined ? { banner: o.banner } : {}),
      ...(o.failureDelayMs !== undefined ? { failureDelayMs: o.failureDelayMs } : {}),
      ...(o.publicKeyAlgorithms ? { publicKeyAlgorithms: o.publicKeyAlgorithms } : {}),
      ...(o.log ? { log: o.log } : {}),
    }).then(
      (user) => {
        if (handOff) {
          // What the transport still holds would not go with the descriptor; the grace timer runs on
          // until it has gone, so a peer that reads nothing cannot hold the connection here.
          return transport
            .outputFlushed()
            .then(() => {
              if (graceTimer) clearTimeout(graceTimer);
              if (transport.isClosed) return;
              this.sockets.delete(socket);
              handOff(user, transport, where);
            })
            .catch((err: unknown) => {
              o.log?.("error", `hand-off failed: ${(err as Error).message}`);
              socket.destroy();
            });
        }
        if (graceTimer) clearTimeout(graceTimer);
        this.serveConnection(
          {
            ...where,
            user,
            transport,
            connection: new Connection(transport, o.log ? { log: o.log } : {}),
          },
          o,
        );
      },
      (err: unknown) => {
        if (graceTimer) clearTimeout(graceTimer);
        // The auth layer has already disconnected and logged; the transport's close event reports it.
        o.log?.("debug1", `authentication ended: ${(err as Error).message}`);
      },
    );
    return transport;
  }

  /**
   * Go on with a connection another process authenticated and handed off (Transport.handOff): no key
   * exchange, no authentication; USERAUTH_SUCCESS is sent from here, then sessions are served as usual.
   */
  resume(
    socket: Duplex,
    handoff: TransportHandoff,
    info: ServerConnectionInfo,
    user: AuthenticatedUser,
    overrides?: ServerConnectionOverrides,
  ): ServerConnection {
    this.sockets.add(socket);
    socket.once("close", () => this.sockets.delete(socket));
    socket.on("error", () => {}); // the transport reports socket errors as its close reason
    const o: ServerOptions = overrides ? { ...this.options, ...overrides } : this.options;
    const transport = new Transport(
      {
        ...this.transportOptions(),
        ...(overrides?.log ? { log: overrides.log } : {}),
        hostKeys: overrides?.hostKeys ?? this.hostKeys,
        role: "server",
        socket,
      },
      handoff,
    );
    transport.once("close", (err) => this.emit("connection-closed", info, err));
    transport.send(Buffer.from([Msg.USERAUTH_SUCCESS]));
    const c: ServerConnection = {
      ...info,
      user,
      transport,
      connection: new Connection(transport, o.log ? { log: o.log } : {}),
    };
    this.serveConnection(c, o);
    return c;
  }

  private serveConnection(c: ServerConnection, o: ServerOptions): void {
    const maxSessions = o.maxSessions ?? 10;
    let sessions = 0;
    c.connection.setChannelOpenHandler("session", (req: IncomingChannelOpen) => {
      if (!o.onSession) {
        return req.reject(ChannelOpenFailure.ADMINISTRATIVELY_PROHIBITED, "sessions are not served here");
      }
      if (sessions >= maxSessions)
        return req.reject(ChannelOpenFailure.RESOURCE_SHORTAGE, "too many sessions");
      const channel = req.accept();
      sessions++;
      channel.once("close", () => sessions--);
      const session = new ServerSession(channel, {
        ...(o.log ? { log: o.log } : {}),
        ...o.session,
      });
      const failed = (err: unknown): void => {
        o.log?.("error", `session handler failed: ${(err as Error)?.message ?? String(err)}`);
        channel.destroy();
      };
      try {
        // An async handler's rejection ends its session, not the server.
        Promise.resolve(o.onSession(session, c) as unknown).catch(failed);
      } catch (err) {
        failed(err);
      }
    });
    try {
      this.emit("connection", c);
    } catch (err) {
      o.log?.("error", `connection listener failed: ${(err as Error).message}`);
      c.transport.disconnect(DisconnectReason.BY_APPLICATION, "internal error");
    }
  }
}

export function createServer(options: ServerOptions): SshServer {
  return new SshServer(options);
}

/**
 * The environment sshd gives a session (USER, LOGNAME, HOME, PATH, SHELL, SSH_CONNECTION, SSH_CLIENT),
 * for session.run() in a server that runs programs as its own user.
 */
export function defaultSessionEnv(c: ServerConnectionInfo, user = os.userInfo()): Record<string, string> {
  return {
    USER: user.username,
    LOGNAME: user.username,
    HOME: user.homedir,
    SHELL: user.shell ?? "/bin/sh",
    PATH: "/usr/local/bin:/usr/bin:/bin:/usr/games",
    SSH_CLIENT: `${c.remoteAddress} ${c.remotePort} ${c.localPort}`,
    SSH_CONNECTION: `${c.remoteAddress} ${c.remotePort} ${c.localAddress} ${c.localPort}`,
  };
}
