/**
 * nssh's way to its destination, from its parsed command line, in ssh.c's order: refuse unsafe names
 * (CVE-2023-51385), resolve the configuration (-F, -o, ~/.ssh/config), open the log (LogLevel, -E), reach
 * the server (TCP, ProxyCommand, or ProxyJump through other hosts) while the protocol modules load, check
 * its host key, log in, run LocalCommand; and the way a run reports its failure and ends.
 *
 * nssh (main.ts) runs its session on what this returns. nsftp and nscp, when no ssh program is named
 * (-S), run this in their own process with the argv they would have given nssh (nsftp/sshInProcess.ts),
 * so every connection setting, prompt, message and exit status is nssh's own.
 */
import { spawnSync } from "node:child_process";
import type { SshResolvedConfig } from "../../config/sshConfig.js";
import { markRunWorthCaching } from "../runWorthCaching.cjs";
import { configRequest, USAGE, UsageError, type NsshArgs } from "./args.js";
import { CliLog, parseLogLevel, progname } from "./log.js";
import type { Hop } from "./login.js";
import { restoreTerminals } from "./readPassphrase.js";
import { ConnectFailure, connectDirect, usesProxyJump, type Connected } from "./transports.js";
import { versionLine } from "./version.js";

/** What a run must undo when it ends, and its log (there once the configuration is read). */
export interface RunState {
  log: CliLog | null;
  /** Everything to end when the run ends, innermost last. */
  cleanups: (() => void)[];
}

/** A destination whose configuration is read; the login modules load meanwhile (not for -G). */
export interface ResolvedDestination {
  args: NsshArgs;
  destination: string;
  cfg: SshResolvedConfig;
  config: typeof import("../../config/sshConfig.js");
  /** null for -G, which only prints the configuration. */
  login: Promise<typeof import("./login.js")> | null;
}

/** A destination logged in to. */
export interface LoggedIn {
  hop: Hop;
  cfg: SshResolvedConfig;
  log: CliLog;
}

/**
 * Check the names from the command line and read the configuration. The protocol stack (client,
 * transport, crypto, keys, auth: most of nssh's modules) starts loading first, so that the loading
 * overlaps the configuration's file reads.
 */
export async function resolveDestination(args: NsshArgs): Promise<ResolvedDestination> {
  const destination = args.destination;
  if (destination === undefined) throw new UsageError("no destination");
  const login = args.dumpConfig ? null : import("./login.js");
  // Awaited in loginToDestination; a run that fails before then reports its own error, not this one's.
  login?.catch(() => {});
  const config = await import("../../config/sshConfig.js");
  // CVE-2023-51385: names typed on the command line never reach a shell through %h or %r unchecked.
  config.validateNameForExpansion("host", destination);
  if (args.destinationUser !== undefined) config.validateNameForExpansion("user", args.destinationUser);
  for (const o of args.options) if (/^user=/i.test(o)) config.validateNameForExpansion("user", o.slice(5));
  const cfg = await config.resolveSshConfig(configRequest(args, destination, args.options));
  return { args, destination, cfg, config, login };
}

/** Open the log, reach the server and log in, then run LocalCommand (ssh.c main, after the config). */
export async function loginToDestination(dest: ResolvedDestination, run: RunState): Promise<LoggedIn> {
  const { args, cfg, config } = dest;
  const log = new CliLog(parseLogLevel(cfg.logLevel), args.logFile);
  for (const w of cfg.warnings) log.error(w);
  run.log = log;
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
  // The connection (TCP or ProxyCommand) starts now, while the modules load; a ProxyJump needs the
  // jump host logged in first.
  let transport: Promise<Connected> | undefined;
  if (!usesProxyJump(cfg)) {
    transport = connectDirect(cfg, config.expandProxyCommand(cfg), log);
    // Ended with the run even if it goes before connectHost runs (a signal while the modules load).
    transport.then(
      (conn) => run.cleanups.push(conn.cleanup),
      () => {}, // the failure is connectHost's to report
    );
  }
  if (!dest.login) throw new UsageError("the configuration dump (-G) does not connect");
  const { connectHost } = await dest.login;
  const hop = await connectHost({ args, log, cleanups: run.cleanups }, dest.destination, args.options, {
    cfg,
    ...(transport ? { transport } : {}),
  });
  runLocalCommand(hop.cfg, config.expandLocalCommand, log);
  // A logged-in run has compiled what the next one needs: worth a code cache (cli/launcher.cts).
  markRunWorthCaching();
  return { hop, cfg, log };
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

/** What the command line asks of the server once logged in (ssh.c: the command, -s, -N, -n, SessionType). */
export interface RemoteWork {
  /** The command (its words joined with spaces, as ssh does), or RemoteCommand; undefined for a shell. */
  command: string | undefined;
  /** The command is a subsystem's name (-s, SessionType subsystem). */
  subsystem: boolean;
  /** -N, SessionType none: no session at all. */
  noSession: boolean;
  /** -n, -f, StdinNull. */
  nullStdin: boolean;
  escapeChar: number | null;
}

export function remoteWork(args: NsshArgs, cfg: SshResolvedConfig): RemoteWork {
  let command: string | undefined = args.command.length > 0 ? args.command.join(" ") : undefined;
  if (command === undefined) {
    const rc = cfg.remoteCommand;
    if (rc && rc !== "none") command = rc;
  }
  const sessionType = (cfg.get("sessiontype") ?? "default").toLowerCase();
  return {
    command,
    subsystem: args.subsystem || sessionType === "subsystem",
    noSession: args.noCommand || sessionType === "none",
    nullStdin: args.nullStdin || cfg.get("stdinnull") === "yes",
    escapeChar: cfg.escapeChar ?? null,
  };
}

/** Say why a run failed, as ssh does: usage errors with the usage text, connection failures in ssh's words. */
export function reportFailure(err: unknown, log: CliLog | null): void {
  restoreTerminals();
  const message = (err as Error)?.message ?? String(err);
  if (err instanceof UsageError) {
    process.stderr.write(`${progname()}: ${message}\n`);
    if (/^unknown option|requires an argument/.test(message)) process.stderr.write(USAGE);
  } else if (message) {
    const text = err instanceof ConnectFailure ? message : `${progname()}: ${message}`;
    if (log) for (const line of text.split("\n")) log.error(line);
    else process.stderr.write(text + "\n");
  }
}

/** End what the run started (innermost first), give the terminal back, close the log (-E). */
export function endRun(run: RunState): void {
  for (const c of run.cleanups.splice(0).reverse()) {
    try {
      c();
    } catch (err) {
      run.log?.debug2(`cleanup: ${(err as Error).message}`);
    }
  }
  restoreTerminals();
  run.log?.close();
}
