/**
 * nssh's main flow, in ssh.c's order: parse the command line, answer -V / -Q / -G, resolve the
 * configuration, refuse unsafe names (CVE-2023-51385), reach the server (TCP, ProxyCommand or ProxyJump
 * through other hosts), check its host key, authenticate, run LocalCommand, then the session, -W or -N.
 * The exit status is the remote command's, or 255 for any error of nssh itself (ssh(1) EXIT STATUS).
 */
import { spawn, spawnSync } from "node:child_process";
import tty from "node:tty";
import type { SshResolvedConfig } from "../../config/sshConfig.js";
import { configRequest, parseArgs, USAGE, UsageError, type NsshArgs } from "./args.js";
import { CliLog, parseLogLevel, progname } from "./log.js";
import type { Context, Hop } from "./login.js";
import { restoreTerminals } from "./readPassphrase.js";
import { installSignalRestore } from "./terminal.js";
import {
  ConnectFailure,
  connectDirect,
  openDirectTcpip,
  usesProxyJump,
  type Connected,
} from "./transports.js";
import { versionLine } from "./version.js";

/**
 * The protocol stack (client, transport, crypto, keys, auth, connection, session: most of nssh's
 * modules) loads only for a run that connects, and begins to as soon as the command line says it will,
 * so that the loading overlaps the configuration's file reads and the server's own start-up.
 */
function loadProtocolModules() {
  return Promise.all([import("./login.js"), import("./session.js")]);
}

/** RequestTTY with -t/-T: whether the session gets a PTY (ssh.c, "Pseudo-terminal will not be allocated"). */
function wantPty(args: NsshArgs, cfg: SshResolvedConfig, hasCommand: boolean, log: CliLog): boolean {
  const stdinTty = (process.stdin as tty.ReadStream).isTTY === true;
  let mode: string = cfg.requestTTY;
  if (args.noTty) mode = "no";
  else if (args.forceTty >= 2) mode = "force";
  else if (args.forceTty === 1) mode = "yes";
  if (mode === "no" || mode === "false") return false;
  if (mode === "force") return true;
  if (mode === "auto" && hasCommand) return false;
  if (!stdinTty) {
    if (mode === "yes" || mode === "true")
      log.info("Pseudo-terminal will not be allocated because stdin is not a terminal.");
    return false;
  }
  return true;
}

function runLocalCommand(
  cfg: SshResolvedConfig,
  expandLocalCommand: (cfg: SshResolvedConfig) => string | undefined,
  log: CliLog,
): void {
  if (!cfg.permitLocalCommand) return;
  const expanded = expandLocalCommand(cfg);
  if (expanded === undefined || expanded === "none") return;
  log.debug3(`Executing ${process.env.SHELL || "/bin/sh"} -c "${expanded}"`);
  const r = spawnSync(process.env.SHELL || "/bin/sh", ["-c", expanded], {
    stdio: ["ignore", "inherit", "inherit"],
  });
  if (r.status !== 0) log.debug1(`Local command "${expanded}" exited with status ${r.status}`);
}

async function run(argv: string[], ctx: { log: CliLog | null; cleanups: (() => void)[] }): Promise<number> {
  const args = parseArgs(argv);
  if (args.version) {
    process.stderr.write(versionLine() + "\n");
    return 0;
  }
  if (args.query !== undefined) {
    const { queryList } = await import("./queries.js");
    const lines = queryList(args.query);
    if (!lines) throw new UsageError(`Unsupported query "${args.query}"`);
    process.stdout.write(lines.map((l) => l + "\n").join(""));
    return 0;
  }
  if (args.destination === undefined) {
    process.stderr.write(USAGE);
    return 255;
  }
  if (args.background && args.command.length === 0 && !args.noCommand && args.stdioForward === undefined) {
    throw new UsageError("Cannot fork into background without a command to execute.");
  }
  if (args.background && process.env[FORK_CHILD] !== "1") return forkToBackground(argv);
  const modules = args.dumpConfig ? null : loadProtocolModules();
  // Awaited below; a run that fails before then reports its own error, not this one's.
  modules?.catch(() => {});
  const config = await import("../../config/sshConfig.js");
  // CVE-2023-51385: names typed on the command line never reach a shell through %h or %r unchecked.
  config.validateNameForExpansion("host", args.destination);
  if (args.destinationUser !== undefined) config.validateNameForExpansion("user", args.destinationUser);
  for (const o of args.options) if (/^user=/i.test(o)) config.validateNameForExpansion("user", o.slice(5));

  const cfg = await config.resolveSshConfig(configRequest(args, args.destination, args.options));
  if (args.dumpConfig || !modules) {
    process.stdout.write(config.formatSshConfigDump(cfg));
    return 0;
  }
  const log = new CliLog(parseLogLevel(cfg.logLevel), args.logFile);
  for (const w of cfg.warnings) log.error(w);
  ctx.log = log;
  log.debug1(`${versionLine()}`);
  for (const [keyword, what] of [
    ["forwardagent", "agent forwarding"],
    ["forwardx11", "X11 forwarding"],
    ["controlmaster", "connection multiplexing"],
  ] as const) {
    const v = cfg.get(keyword);
    if (v && v !== "no" && v !== "false") log.info(`${what} (${keyword}) is not supported yet; ignored`);
  }
  for (const keyword of ["localforward", "remoteforward", "dynamicforward"]) {
    if (cfg.getAll(keyword).length > 0)
      log.info(`port forwarding (${keyword}) is not supported yet; ignored`);
  }

  let command: string | undefined = args.command.length > 0 ? args.command.join(" ") : undefined;
  if (command === undefined) {
    const rc = cfg.remoteCommand;
    if (rc && rc !== "none") command = rc;
  }
  const escapeChar = cfg.escapeChar ?? null;
  const sessionType = (cfg.get("sessiontype") ?? "default").toLowerCase();
  const noSession = args.noCommand || sessionType === "none";
  const nullStdin = args.nullStdin || cfg.get("stdinnull") === "yes";

  // The connection (TCP or ProxyCommand) starts now, while the modules load; a ProxyJump needs the
  // jump host logged in first.
  let transport: Promise<Connected> | undefined;
  if (!usesProxyJump(cfg)) {
    transport = connectDirect(cfg, config.expandProxyCommand(cfg), log);
    // Ended with nssh even if it goes before connectHost runs (a signal while the modules load).
    transport.then(
      (conn) => ctx.cleanups.push(conn.cleanup),
      () => {}, // the failure is connectHost's to report
    );
  }
  const [{ connectHost }, { runSession }] = await modules;
  const work: Context = { args, log, cleanups: ctx.cleanups };
  const hop = await connectHost(work, args.destination, args.options, {
    cfg,
    ...(transport ? { transport } : {}),
  });
  runLocalCommand(hop.cfg, config.expandLocalCommand, log);
  if (process.env[FORK_CHILD] === "1" && process.send) {
    // -f: logged in; the parent may go, this process carries on in the background.
    process.send("authenticated");
    process.disconnect();
  }

  if (args.stdioForward !== undefined) return stdioForward(hop, args.stdioForward, log);
  if (noSession) {
    await new Promise<void>((resolve) => hop.client.once("close", () => resolve()));
    return 255;
  }
  const pty = wantPty(args, cfg, command !== undefined || args.subsystem, log);
  const status = await runSession(hop.client, {
    pty,
    command,
    subsystem: args.subsystem || sessionType === "subsystem",
    sendEnv: cfg.sendEnv,
    setEnv: cfg.setEnv,
    escapeChar,
    nullStdin,
    hostLabel: cfg.hostname,
    lostReason: hop.lostReason,
    log,
  });
  return status;
}

const FORK_CHILD = "NSSH_FORK_CHILD";

/**
 * -f (ForkAfterAuthentication): Node cannot fork(2), so a copy of nssh runs the connection with stdin on
 * /dev/null and the same terminal (for prompts); this process exits 0 once the copy has logged in, or
 * with the copy's status if it ends first.
 */
function forkToBackground(argv: string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...argv], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      env: { ...process.env, [FORK_CHILD]: "1" },
    });
    child.once("message", () => {
      child.unref();
      child.disconnect();
      resolve(0);
    });
    child.once("exit", (code) => resolve(code ?? 255));
    child.once("error", (err) => {
      process.stderr.write(`${progname()}: fork: ${err.message}\n`);
      resolve(255);
    });
  });
}

/** -W host:port: stdin and stdout carried to host:port through the server (a ProxyCommand for others). */
async function stdioForward(hop: Hop, target: string, log: CliLog): Promise<number> {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(target);
  if (!m) throw new UsageError(`Bad stdio forwarding specification '${target}'`);
  const channel = await openDirectTcpip(hop.client, m[1] ?? m[2]!, Number(m[3]), log);
  process.stdin.pipe(channel);
  channel.pipe(process.stdout);
  await new Promise<void>((resolve) => {
    channel.once("close", () => resolve());
    hop.client.once("close", () => resolve());
  });
  return 0;
}

/** Run nssh; resolves with the exit status (the caller exits with it after stdout is flushed). */
export async function main(argv: string[]): Promise<number> {
  const ctx: { log: CliLog | null; cleanups: (() => void)[] } = { log: null, cleanups: [] };
  let exiting = false;
  // ssh's signal handlers end it with status 255 after restoring the terminal.
  installSignalRestore((signal) => {
    if (exiting) return;
    exiting = true;
    ctx.log?.debug1(`Killed by signal ${signal}.`);
    for (const c of ctx.cleanups.reverse()) c();
    process.exit(255);
  });
  let status: number;
  try {
    status = await run(argv, ctx);
  } catch (err) {
    status = 255;
    restoreTerminals();
    const message = (err as Error).message ?? String(err);
    if (err instanceof UsageError) {
      process.stderr.write(`${progname()}: ${message}\n`);
      if (/^unknown option|requires an argument/.test(message)) process.stderr.write(USAGE);
    } else if (message) {
      const text = err instanceof ConnectFailure ? message : `${progname()}: ${message}`;
      if (ctx.log) for (const line of text.split("\n")) ctx.log.error(line);
      else process.stderr.write(text + "\n");
    }
  }
  for (const c of ctx.cleanups.reverse()) {
    try {
      c();
    } catch (err) {
      ctx.log?.debug2(`cleanup: ${(err as Error).message}`);
    }
  }
  restoreTerminals();
  ctx.log?.close();
  return status;
}
