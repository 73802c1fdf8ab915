/**
 * How nssh reaches a server (ssh(1), sshconnect.c): a TCP connection with ssh's messages ("Connecting to
 * HOST [ADDR] port N.", "connect to host HOST port N: Connection refused"), ConnectTimeout,
 * ConnectionAttempts, AddressFamily and BindAddress; a ProxyCommand's stdin/stdout; or a direct-tcpip
 * channel through a jump host (ProxyJump, -W).
 */
import { spawn, type ChildProcess } from "node:child_process";
import dns from "node:dns/promises";
import net from "node:net";
import { Duplex, type Readable, type Writable } from "node:stream";
import type { SshClient } from "../../client/index.js";
import type { SshResolvedConfig } from "../../config/sshConfig.js";
import { SshError } from "../../wire/index.js";
import { progname, type CliLog } from "./log.js";

/** A connection failure whose message is already in ssh's words; the command exits 255 with it. */
export class ConnectFailure extends SshError {
  constructor(message: string) {
    super("CONNECTION_LOST", message);
    this.name = "ConnectFailure";
  }
}

const ERRNO_TEXT: Record<string, string> = {
  ECONNREFUSED: "Connection refused",
  ETIMEDOUT: "Connection timed out",
  EHOSTUNREACH: "No route to host",
  ENETUNREACH: "Network is unreachable",
  ECONNRESET: "Connection reset by peer",
  EADDRNOTAVAIL: "Cannot assign requested address",
  EACCES: "Permission denied",
};

export interface TcpOptions {
  host: string;
  port: number;
  family: "any" | "inet" | "inet6";
  bindAddress: string | undefined;
  /** seconds, 0 for the system's own limit */
  connectTimeout: number;
  attempts: number;
  log: CliLog;
}

export interface Connected {
  socket: Duplex;
  /** The remote address, for "Authenticated to HOST ([ADDR]:PORT)" and the host key prompt. */
  address: string;
  /** Ends what was started for this connection (a ProxyCommand's process). */
  cleanup(): void;
}

type ReadArenaSocket = typeof import("../../transport/readArena.js").readArenaSocket;

function connectOnce(address: string, o: TcpOptions, readArenaSocket: ReadArenaSocket): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    // The transport's read buffer takes the socket's reads (transport/readArena.ts), as connect()'s does.
    const socket = readArenaSocket((onread) =>
      net.connect({
        onread,
        host: address,
        port: o.port,
        ...(o.bindAddress ? { localAddress: o.bindAddress } : {}),
      }),
    );
    let timer: NodeJS.Timeout | undefined;
    if (o.connectTimeout > 0) {
      timer = setTimeout(() => {
        const err: NodeJS.ErrnoException = new Error("connect timed out");
        err.code = "ETIMEDOUT";
        socket.destroy();
        reject(err);
      }, o.connectTimeout * 1000);
    }
    socket.once("connect", () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** getaddrinfo through Node, with ssh's message when the name does not resolve. */
async function lookupAddresses(o: TcpOptions): Promise<{ address: string }[]> {
  try {
    return await dns.lookup(o.host, {
      all: true,
      family: o.family === "inet" ? 4 : o.family === "inet6" ? 6 : 0,
      verbatim: true,
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === "ENOTFOUND"
        ? "Name or service not known"
        : code === "EAI_AGAIN"
          ? "Temporary failure in name resolution"
          : String(code);
    throw new ConnectFailure(`${progname()}: Could not resolve hostname ${o.host}: ${why}`);
  }
}

/** ssh_connect_direct: each address of the name in turn, ConnectionAttempts times, a second apart. */
export async function connectTcp(o: TcpOptions): Promise<Connected> {
  let addresses: { address: string }[];
  // An address needs no resolver (getaddrinfo would hand it back as it is, after a trip through libuv's
  // thread pool); one of the wrong family still goes to the resolver, for its error.
  const literal = net.isIP(o.host);
  if ((literal === 4 && o.family !== "inet6") || (literal === 6 && o.family !== "inet")) {
    addresses = [{ address: o.host }];
  } else {
    addresses = await lookupAddresses(o);
  }
  // Loaded here, not at startup: `nssh -V` loads none of the protocol stack (nsshStartup.test.ts).
  const { readArenaSocket } = await import("../../transport/readArena.js");
  let last: NodeJS.ErrnoException | null = null;
  for (let attempt = 0; attempt < Math.max(1, o.attempts); attempt++) {
    if (attempt > 0) {
      await new Promise((r) => setTimeout(r, 1000));
      o.log.debug1(`Trying again...`);
    }
    for (const { address } of addresses) {
      o.log.debug1(`Connecting to ${o.host} [${address}] port ${o.port}.`);
      try {
        const socket = await connectOnce(address, o, readArenaSocket);
        socket.setNoDelay(true);
        o.log.debug1("Connection established.");
        return { socket, address, cleanup: () => socket.destroy() };
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        if (e.syscall === "bind") {
          // ssh_create_socket says why bind failed; the final message then only says "failure".
          o.log.error(`bind ${o.bindAddress}: ${errnoText(e)}`);
          last = null;
          continue;
        }
        last = e;
        o.log.debug1(`connect to address ${address} port ${o.port}: ${errnoText(last)}`);
      }
    }
  }
  throw new ConnectFailure(`${progname()}: connect to host ${o.host} port ${o.port}: ${errnoText(last)}`);
}

function errnoText(err: NodeJS.ErrnoException | null): string {
  if (!err) return "failure"; // ssh: errno 0 after a socket that could not be set up
  return ERRNO_TEXT[err.code ?? ""] ?? err.message;
}

/**
 * A ProxyCommand's stdout and stdin as one stream. Unlike Duplex.from, it is not destroyed when the
 * command's stdin closes first (a proxy that fails at once, before the transport reads): the command's
 * stdout ends this stream's reading side, so that the transport sees the connection closed (ssh:
 * "Connection closed by UNKNOWN port 65535"); writes after the command has gone are dropped.
 */
class ProxyStream extends Duplex {
  constructor(
    private readonly input: Readable,
    private readonly output: Writable,
  ) {
    super();
    input.on("data", (chunk: Buffer) => {
      if (!this.push(chunk)) input.pause();
    });
    input.once("end", () => this.push(null));
  }

  override _read(): void {
    this.input.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    if (this.output.destroyed || this.output.writableEnded) return done();
    // The command's stdin failing (EPIPE) is logged where it is listened to; the stdout side ends us.
    this.output.write(chunk, () => done());
  }

  override _final(done: (err?: Error | null) => void): void {
    this.output.end();
    done();
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    this.input.destroy();
    this.output.destroy();
    done(err);
  }
}

/**
 * ProxyCommand: `exec COMMAND` run by the user's shell (ssh uses $SHELL), its stdin/stdout the connection,
 * its stderr ours. The command text has already had its %-tokens expanded.
 */
export function connectProxyCommand(command: string, log: CliLog): Connected {
  const shell = process.env.SHELL || "/bin/sh";
  log.debug1(`Executing proxy command: exec ${command}`);
  const child: ChildProcess = spawn(shell, ["-c", `exec ${command}`], { stdio: ["pipe", "pipe", "inherit"] });
  const socket = new ProxyStream(child.stdout!, child.stdin!);
  // Until the transport listens, an error here must not go unhandled; the transport reports it.
  socket.on("error", (err) => log.debug2(`proxy command: ${err.message}`));
  child.once("error", (err) =>
    socket.destroy(new ConnectFailure(`${progname()}: proxy command: ${err.message}`)),
  );
  // An EPIPE after the proxy exits shows up at the transport as a lost connection.
  child.stdin!.on("error", (err) => log.debug2(`proxy command stdin: ${err.message}`));
  return {
    socket,
    address: "UNKNOWN",
    cleanup: () => {
      socket.destroy();
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    },
  };
}

/**
 * cfg's server reached without a jump host: its ProxyCommand (`proxy`, tokens expanded), or TCP. nssh
 * starts this as soon as the configuration is known, while the protocol modules still load, as the
 * server takes its own time (sshd forks and re-executes itself) before it sends its version line.
 */
export function connectDirect(
  cfg: SshResolvedConfig,
  proxy: string | undefined,
  log: CliLog,
): Promise<Connected> {
  if (proxy !== undefined && proxy !== "none") {
    try {
      return Promise.resolve(connectProxyCommand(proxy, log));
    } catch (err) {
      return Promise.reject(err);
    }
  }
  return connectTcp({
    host: cfg.hostname,
    port: cfg.port,
    family: cfg.addressFamily,
    bindAddress: cfg.bindAddress,
    connectTimeout: cfg.connectTimeout ?? 0,
    attempts: cfg.connectionAttempts,
    log,
  });
}

/** Whether cfg goes through a jump host (ProxyJump), which needs a logged-in hop first. */
export function usesProxyJump(cfg: SshResolvedConfig): boolean {
  const jump = cfg.proxyJump;
  return Boolean(jump && jump !== "none");
}

/** A direct-tcpip channel (RFC 4254 §7.2) through `via` to host:port: ProxyJump's hop and -W. */
export async function openDirectTcpip(
  via: SshClient,
  host: string,
  port: number,
  log: CliLog,
): Promise<Duplex> {
  log.debug1(`channel 0: new [direct-tcpip] to ${host}:${port}`);
  // Loaded here: this module is part of every start, -V included, and only a jump or -W opens channels.
  const { encodeChannelOpenInfo } = await import("../../connection/channelTypes.js");
  const data = encodeChannelOpenInfo({
    kind: "direct-tcpip",
    host,
    port,
    originatorAddress: "127.0.0.1",
    originatorPort: 65535,
  });
  try {
    return await via.openChannel("direct-tcpip", data);
  } catch (err) {
    throw new ConnectFailure(`channel 0: open failed: ${(err as Error).message}\nstdio forwarding failed`);
  }
}

/**
 * ConnectTimeout also bounds the wait for the server's version line (sshconnect.c
 * ssh_exchange_identification, kex_exchange_identification with timeout_ms): `timedOut` turns true and
 * `onTimeout` runs when no "SSH-" line has arrived in time. `start` must be called once the transport
 * reads the socket, so that this watcher's "data" listener takes no bytes from it.
 */
export class BannerTimeout {
  timedOut = false;
  private timer: NodeJS.Timeout | undefined;
  /** The start of the current incomplete line, kept to 255 bytes (RFC 4253 §4.2's line limit). */
  private line = "";
  private readonly onData = (chunk: Buffer): void => {
    for (const text of chunk.toString("latin1").split(/(?<=\n)/)) {
      const line = this.line + text;
      if (!text.endsWith("\n")) {
        this.line = line.slice(0, 255);
        continue;
      }
      if (line.startsWith("SSH-")) return this.stop();
      this.line = "";
    }
  };

  constructor(
    private readonly socket: Duplex,
    private readonly seconds: number,
    private readonly onTimeout: () => void,
  ) {}

  start(): void {
    if (!(this.seconds > 0)) return;
    this.socket.on("data", this.onData);
    this.timer = setTimeout(() => {
      this.timedOut = true;
      this.stop();
      this.onTimeout();
    }, this.seconds * 1000);
  }

  stop(): void {
    clearTimeout(this.timer);
    this.socket.off("data", this.onData);
  }
}
