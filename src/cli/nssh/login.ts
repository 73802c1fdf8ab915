/**
 * Reaching and logging in to one host, as ssh.c / sshconnect.c do: resolve its configuration, open the
 * transport (TCP, ProxyCommand, or a channel through the previous ProxyJump hop), check the host key,
 * offer keys and answer prompts, then keep the connection alive (ServerAliveInterval).
 */
import net from "node:net";
import { connect, type SshClient } from "../../client/index.js";
import { expandProxyCommand, resolveSshConfig, type SshResolvedConfig } from "../../config/sshConfig.js";
import { findKnownHostEntries, knownHostsName } from "../../keys/knownHosts.js";
import { NegotiationError, negotiationLogLine, type TransportLogger } from "../../transport/index.js";
import { SshError } from "../../wire/index.js";
import { configRequest, UsageError, type NsshArgs } from "./args.js";
import { createHostKeyCheck, type HostKeyCheck } from "./hostKeyCheck.js";
import { prepareIdentities, type Identities } from "./identities.js";
import { progname, type CliLog } from "./log.js";
import { algorithmOptions, authMethods, expandPath, orderHostKeyAlgorithms } from "./options.js";
import { readPassphrase } from "./readPassphrase.js";
import {
  BannerTimeout,
  connectDirect,
  ConnectFailure,
  openDirectTcpip,
  usesProxyJump,
  type Connected,
} from "./transports.js";

/** One authenticated hop: the client, its configuration, and what to clean up. */
export interface Hop {
  client: SshClient;
  cfg: SshResolvedConfig;
  cleanup: () => void;
  /** Set when nssh itself gave up on the server (ServerAliveInterval). */
  lostReason: () => string | null;
}

/**
 * ServerAliveInterval / ServerAliveCountMax (ssh_config(5)): a keepalive@openssh.com request after each
 * silent interval; after CountMax unanswered ones, "Timeout, server HOST not responding." and disconnect.
 */
function serverAlive(
  client: SshClient,
  cfg: SshResolvedConfig,
  log: CliLog,
): { stop: () => void; reason: () => string | null } {
  let reason: string | null = null;
  if (!(cfg.serverAliveInterval > 0)) return { stop: () => {}, reason: () => null };
  let missed = 0;
  const timer = setInterval(() => {
    if (missed >= cfg.serverAliveCountMax) {
      reason = `Timeout, server ${cfg.hostname} not responding.`;
      clearInterval(timer);
      client.transport.disconnect(10, reason);
      return;
    }
    missed++;
    log.debug3(`send packet: type 80 (keepalive@openssh.com), missed ${missed}`);
    client.connection.globalRequest("keepalive@openssh.com", Buffer.alloc(0), true).then(
      () => (missed = 0),
      // sshd answers REQUEST_FAILURE, which is an answer all the same.
      () => (missed = 0),
    );
  }, cfg.serverAliveInterval * 1000);
  timer.unref();
  client.once("close", () => clearInterval(timer));
  return { stop: () => clearInterval(timer), reason: () => reason };
}

export interface Context {
  args: NsshArgs;
  log: CliLog;
  /** Everything to end when nssh exits, innermost last. */
  cleanups: (() => void)[];
}

/** ProxyJump's "[user@]host[:port]" or "ssh://[user@]host[:port]" (ssh.c parse_ssh_uri / parse_user_host_port). */
function parseJumpHop(spec: string): { user?: string; host: string; port?: number } {
  let s = spec.replace(/^ssh:\/\//i, "").replace(/\/$/, "");
  let user: string | undefined;
  const at = s.lastIndexOf("@");
  if (at >= 0) {
    user = s.slice(0, at);
    s = s.slice(at + 1);
  }
  let host = s;
  let port: number | undefined;
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (bracket) {
    host = bracket[1]!;
    if (bracket[2]) port = Number(bracket[2]);
  } else if (s.split(":").length === 2) {
    [host] = s.split(":") as [string];
    port = Number(s.split(":")[1]);
  }
  if (!host || (port !== undefined && !(port > 0 && port < 65536))) {
    throw new UsageError(`Invalid ProxyJump "${spec}"`);
  }
  return { ...(user !== undefined ? { user } : {}), host, ...(port !== undefined ? { port } : {}) };
}

/** Reach cfg's server: through the last ProxyJump hop, a ProxyCommand, or TCP. */
async function openTransport(ctx: Context, cfg: SshResolvedConfig): Promise<Connected> {
  const log = ctx.log;
  if (usesProxyJump(cfg)) {
    const hops = cfg.proxyJump!.split(",").map((h) => h.trim());
    const last = parseJumpHop(hops[hops.length - 1]!);
    const options = [
      ...(last.user !== undefined ? [`User=${last.user}`] : []),
      ...(last.port !== undefined ? [`Port=${last.port}`] : []),
      `ProxyJump=${hops.length > 1 ? hops.slice(0, -1).join(",") : "none"}`,
      ...(ctx.args.verbosity > 0 || ctx.args.quiet ? [`LogLevel=${ctx.log.level}`] : []),
    ];
    log.debug1(`Setting implicit ProxyCommand from ProxyJump: jump host ${hops[hops.length - 1]}`);
    const via = await connectHost(ctx, last.host, options);
    const channel = await openDirectTcpip(via.client, cfg.hostname, cfg.port, log);
    return { socket: channel, address: "UNKNOWN", cleanup: () => channel.destroy() };
  }
  return connectDirect(cfg, expandProxyCommand(cfg), log);
}

/** The agent socket IdentityAgent names: none, SSH_AUTH_SOCK, $VAR or a path. */
function agentSocket(cfg: SshResolvedConfig): string | undefined {
  const v = cfg.identityAgent;
  if (!v || v === "SSH_AUTH_SOCK") return process.env.SSH_AUTH_SOCK || undefined;
  if (v === "none") return undefined;
  if (v.startsWith("$")) return process.env[v.slice(1)] || undefined;
  return expandPath(v);
}

/**
 * What the caller has already done for the destination: its configuration, and the connection it started
 * (whose cleanup it has registered).
 */
export interface Prepared {
  cfg: SshResolvedConfig;
  transport?: Promise<Connected>;
}

/**
 * Connect to `host` (a destination or a jump host) and log in. `prepared` carries the destination's
 * configuration, read once (as ssh does: a `Match exec` runs once), and its connection when started.
 */
export async function connectHost(
  ctx: Context,
  host: string,
  options: string[],
  prepared?: Prepared,
): Promise<Hop> {
  const cfg = prepared?.cfg ?? (await resolveSshConfig(configRequest(ctx.args, host, options)));
  const log = ctx.log;
  const conn = await (prepared?.transport ?? openTransport(ctx, cfg));
  if (!prepared?.transport) ctx.cleanups.push(conn.cleanup); // the caller's own otherwise
  const batchMode = cfg.batchMode;
  const userFiles = cfg.userKnownHostsFiles.map(expandPath);
  const globalFiles = cfg.globalKnownHostsFiles.map(expandPath);
  // sshconnect.c: HostKeyAlias is used as the known_hosts name as it is, without the port.
  const alias = cfg.hostKeyAlias ?? cfg.hostname;
  const hostName = cfg.hostKeyAlias ?? knownHostsName(cfg.hostname, cfg.port);
  const check: HostKeyCheck = createHostKeyCheck({
    hostName,
    address: () => (conn.address === "UNKNOWN" ? "UNKNOWN" : knownHostsName(conn.address, cfg.port)),
    checkHostIP: checkHostIpApplies(cfg, conn),
    strict: cfg.strictHostKeyChecking,
    userKnownHostsFiles: userFiles,
    globalKnownHostsFiles: globalFiles,
    hashKnownHosts: cfg.hashKnownHosts,
    batchMode,
    log,
  });
  const algorithms = algorithmOptions(cfg);
  const known = await findKnownHostEntries([...userFiles, ...globalFiles], [hostName], {
    onWarning: (m) => log.debug1(m),
  });
  const ordered = orderHostKeyAlgorithms(
    algorithms.hostKeyAlgorithms,
    new Set(known.filter((e) => e.marker === null).map((e) => e.key.type)),
  );
  const prompts = cfg.numberOfPasswordPrompts;
  const identities: Identities = await prepareIdentities({
    identityFiles: cfg.identityFiles,
    identitiesOnly: cfg.identitiesOnly,
    agentSocket: agentSocket(cfg),
    numberOfPasswordPrompts: prompts,
    batchMode,
    log,
  });
  ctx.cleanups.push(() => identities.close());
  const user = cfg.user;
  const promptHost = cfg.hostname;
  const peer = conn.address === "UNKNOWN" ? `UNKNOWN port 65535` : `${conn.address} port ${cfg.port}`;
  const gaveUp = new AbortController();
  const banner = new BannerTimeout(conn.socket, cfg.connectTimeout ?? 0, () => gaveUp.abort());
  let client: SshClient;
  try {
    const connecting = connect({
      host: cfg.hostname,
      port: cfg.port,
      username: user,
      sock: conn.socket,
      verifyHostKey: check.verify,
      agent: false,
      signers: identities.signers,
      authMethods: authMethods(cfg),
      maxPasswordPrompts: prompts,
      ...(batchMode
        ? {}
        : {
            password: async () =>
              check.keyChanged ? null : readPassphrase(`${user}@${promptHost}'s password: `, log),
            keyboardInteractive: async (c) => {
              if (check.keyChanged) return null;
              if (c.name) log.info(c.name);
              if (c.instructions) log.info(c.instructions.replace(/\n$/, ""));
              const answers: string[] = [];
              for (const p of c.prompts) {
                const a = await readPassphrase(`(${user}@${alias}) ${p.prompt}`, log, { echo: p.echo });
                if (a === null) return null;
                answers.push(a);
              }
              return answers;
            },
          }),
      onBanner: (message) => process.stderr.write(message),
      ...(algorithms.kex ? { kex: algorithms.kex } : {}),
      ...(algorithms.ciphers ? { ciphers: algorithms.ciphers } : {}),
      ...(algorithms.macs ? { macs: algorithms.macs } : {}),
      ...(ordered ? { hostKeyAlgorithms: ordered } : {}),
      ...(algorithms.compression ? { compression: algorithms.compression } : {}),
      ...(algorithms.publicKeyAlgorithms ? { publicKeyAlgorithms: algorithms.publicKeyAlgorithms } : {}),
      ...(cfg.rekeyLimit.bytes || cfg.rekeyLimit.seconds
        ? {
            rekeyLimit: {
              ...(cfg.rekeyLimit.bytes ? { bytes: cfg.rekeyLimit.bytes } : {}),
              ...(cfg.rekeyLimit.seconds ? { seconds: cfg.rekeyLimit.seconds } : {}),
            },
          }
        : {}),
      // Prompts may wait on a person: ssh has no overall login limit, only ConnectTimeout for the TCP part.
      readyTimeout: 2 ** 31 - 1,
      signal: gaveUp.signal,
      log: libraryLog(log),
    });
    // connect() has attached the transport to the socket by now (synchronously): watching takes nothing.
    banner.start();
    client = await connecting;
  } catch (err) {
    if (banner.timedOut)
      throw new ConnectFailure(
        `Connection timed out during banner exchange\nConnection to ${peer} timed out`,
      );
    throw describeLoginFailure(err, check, user, cfg, conn);
  } finally {
    banner.stop();
  }
  ctx.cleanups.push(() => client.transport.disconnect(11, "disconnected by user"));
  const alive = serverAlive(client, cfg, log);
  ctx.cleanups.push(alive.stop);
  return { client, cfg, cleanup: conn.cleanup, lostReason: alive.reason };
}

/**
 * sshconnect.c check_host_key turns CheckHostIP off for a loopback address, a connection through a
 * ProxyCommand or ProxyJump (no address), and a host name that is already the address (compared with the
 * address as known_hosts writes it, so an address with a port other than 22 is still checked, as in ssh).
 */
function checkHostIpApplies(cfg: SshResolvedConfig, conn: Connected): boolean {
  if (!cfg.checkHostIP || conn.address === "UNKNOWN") return false;
  const address = conn.address.replace(/^::ffff:(?=\d+\.)/i, "");
  const loopback = net.isIPv4(address) ? address.startsWith("127.") : address === "::1";
  return !loopback && cfg.hostname !== knownHostsName(address, cfg.port);
}

/**
 * The library's log for a login. A failed negotiation is logged by the transport and then reported by
 * describeLoginFailure() in ssh's words, with the peer: ssh prints it once, so the transport's line is debug.
 */
function libraryLog(log: CliLog): TransportLogger {
  return (level, message, cause) =>
    cause instanceof NegotiationError ? log.debug1(message) : log.library(level, message);
}

/** The message ssh prints when a login fails (sshconnect2.c, packet.c sshpkt_fatal). */
function describeLoginFailure(
  err: unknown,
  check: HostKeyCheck,
  user: string,
  cfg: SshResolvedConfig,
  conn: Connected,
): Error {
  if (err instanceof ConnectFailure) return err;
  if (check.refused) return new ConnectFailure(""); // the check already said why
  const e = err instanceof SshError ? err : new SshError("PROTOCOL", String((err as Error)?.message ?? err));
  const peer = conn.address === "UNKNOWN" ? `UNKNOWN port 65535` : `${conn.address} port ${cfg.port}`;
  switch (e.code) {
    case "AUTH_FAILED":
      return new ConnectFailure(`${user}@${cfg.hostname}: ${e.message}`);
    case "KEX_FAILED":
      // ssh's one line for no common algorithm (packet.c sshpkt_fatal): the kind and the server's offer.
      return new ConnectFailure(
        `Unable to negotiate with ${peer}: ${e instanceof NegotiationError ? negotiationLogLine(e, "client") : e.message}`,
      );
    case "CONNECTION_LOST":
      return new ConnectFailure(`Connection closed by ${peer}`);
    case "DISCONNECTED":
      return new ConnectFailure(`Disconnected from ${peer}`);
    case "TIMEOUT":
      return new ConnectFailure(
        `Connection timed out during banner exchange\nConnection to ${peer} timed out`,
      );
    default:
      return new ConnectFailure(`${progname()}: ${e.message}`);
  }
}
