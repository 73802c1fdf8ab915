/**
 * nssh's main flow, in ssh.c's order: parse the command line, answer -V / -Q / -G, resolve the
 * configuration, refuse unsafe names (CVE-2023-51385), reach the server (TCP, ProxyCommand or ProxyJump
 * through other hosts), check its host key, authenticate, run LocalCommand (all of which is in
 * destination.ts, shared with nsftp and nscp), then the session, -W or -N. The exit status is the
 * remote command's, or 255 for any error of nssh itself (ssh(1) EXIT STATUS).
 */
import { spawn } from "node:child_process";
import tty from "node:tty";
import type { SshResolvedConfig } from "../../config/sshConfig.js";
import { parseArgs, USAGE, UsageError, type NsshArgs } from "./args.js";
import {
  endRun,
  loginToDestination,
  remoteWork,
  reportFailure,
  resolveDestination,
  type RunState,
} from "./destination.js";
import { progname, type CliLog } from "./log.js";
import type { Hop } from "./login.js";
import { installSignalRestore } from "./terminal.js";
import { openDirectTcpip } from "./transports.js";
import { versionLine } from "./version.js";

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

async function run(argv: string[], ctx: RunState): Promise<number> {
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
  // The session's modules load while the configuration is read and the server reached.
  const sessionModule = args.dumpConfig ? null : import("./session.js");
  sessionModule?.catch(() => {}); // awaited below; an earlier failure reports itself
  const dest = await resolveDestination(args);
  if (args.dumpConfig || !sessionModule) {
    process.stdout.write(dest.config.formatSshConfigDump(dest.cfg));
    return 0;
  }
  const { hop, cfg, log } = await loginToDestination(dest, ctx);
  if (process.env[FORK_CHILD] === "1" && process.send) {
    // -f: logged in; the parent may go, this process carries on in the background.
    process.send("authenticated");
    process.disconnect();
  }

  const work = remoteWork(args, cfg);
  if (args.stdioForward !== undefined) return stdioForward(hop, args.stdioForward, log);
  if (work.noSession) {
    await new Promise<void>((resolve) => hop.client.once("close", () => resolve()));
    return 255;
  }
  const pty = wantPty(args, cfg, work.command !== undefined || args.subsystem, log);
  const { runSession } = await sessionModule;
  const status = await runSession(hop.client, {
    pty,
    command: work.command,
    subsystem: work.subsystem,
    sendEnv: cfg.sendEnv,
    setEnv: cfg.setEnv,
    escapeChar: work.escapeChar,
    nullStdin: work.nullStdin,
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
  const ctx: RunState = { log: null, cleanups: [] };
  let exiting = false;
  // ssh's signal handlers end it with status 255 after restoring the terminal.
  installSignalRestore((signal) => {
    if (exiting) return;
    exiting = true;
    ctx.log?.debug1(`Killed by signal ${signal}.`);
    endRun(ctx);
    process.exit(255);
  });
  let status: number;
  try {
    status = await run(argv, ctx);
  } catch (err) {
    status = 255;
    reportFailure(err, ctx.log);
  }
  endRun(ctx);
  return status;
}
