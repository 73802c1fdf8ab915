#!/usr/bin/env node
/**
 * nsshd: the daemon, a drop-in for sshd(8). Flags as sshd's; see docs/nsshd.md for each and for the
 * differences. Started as root without -f: /etc/ssh/sshd_config, /etc/ssh/ssh_host_*_key, port 22.
 * Started as another user without -f: the embedded mode, a state folder with its own host keys and
 * sshd_config (127.0.0.1:2222), serving only that user.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import {
  checkSshdConfig,
  formatSshdConfigDump,
  loadSshdConfig,
  missingTestSpecField,
  parseConnectionSpec,
  type SshdConfigLoadOptions,
  type SshdConnectionSpec,
} from "../config/sshdConfig.js";
import { Daemon, loadHostKeyFile } from "../daemon/daemon.js";
import { PrivsepMonitor } from "../daemon/privsep/monitor.js";
import {
  ensurePrivsepAccount,
  PRIVSEP_USER,
  readableByOthers,
  type PrivsepIdentity,
} from "../daemon/privsep/privsepAccount.js";
import { CHILD_ENTRY_FILE } from "../daemon/privsep/childProcesses.js";
import { defaultLoginBackend } from "../daemon/daemonLogin.js";
import { stdioConnection } from "../daemon/inetd.js";
import { createDaemonLog, debugLevelFor, silentLog, type DaemonLogger } from "../daemon/log.js";
import {
  defaultStateDir,
  EMBEDDED_LISTEN_ADDRESS,
  EMBEDDED_PORT,
  ensureStateDir,
  SYSTEM_CONFIG_FILE,
  SYSTEM_HOST_KEYS,
} from "../daemon/stateDir.js";
import {
  closeInheritedDescriptorsOnExec,
  missingMonitorOptions,
  reexecWithMonitorOptions,
} from "./nsshd/monitorRuntime.js";

const USAGE =
  "usage: nsshd [-46DdeGiqTtV] [-C connection_spec] [-c host_cert_file]\n" +
  "            [-E log_file] [-f config_file] [-g login_grace_time]\n" +
  "            [-h host_key_file] [-o option] [-p port] [-u len]\n";
const VERSION = "nssh_0.1 (nsshd, OpenSSH-compatible)";
/** Set in the background child so that it knows it was detached by its parent. */
const DETACHED_ENV = "NSSHD_DETACHED_CHILD";

interface Flags {
  ipv: 4 | 6 | null;
  foreground: boolean; // -D
  debug: number; // -d count
  stderr: boolean; // -e
  logFile: string | null; // -E
  configFile: string | null; // -f
  hostKeys: string[]; // -h
  options: string[]; // -o, -g
  ports: number[]; // -p
  inetd: boolean; // -i
  quiet: boolean; // -q
  test: number; // -t 1, -T 2, -G 3
  connectionSpec: string | null; // -C
}

function usage(message?: string): never {
  if (message) process.stderr.write(`nsshd: ${message}\n`);
  process.stderr.write(USAGE);
  process.exit(1);
}

/** getopt(3) for sshd's option string "C:E:c:f:g:h:k:o:p:u:46DGQRTdeiqrtV". */
export function parseFlags(argv: readonly string[]): Flags {
  const f: Flags = {
    ipv: null,
    foreground: false,
    debug: 0,
    stderr: false,
    logFile: null,
    configFile: null,
    hostKeys: [],
    options: [],
    ports: [],
    inetd: false,
    quiet: false,
    test: 0,
    connectionSpec: null,
  };
  const withArg = "CEcfghkopu";
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") {
      if (i + 1 < argv.length) usage(`extra argument ${argv[i + 1]}`);
      break;
    }
    if (!a.startsWith("-") || a === "-") usage(`extra argument ${a}`);
    for (let j = 1; j < a.length; j++) {
      const c = a[j]!;
      let arg = "";
      if (withArg.includes(c)) {
        // -Efile and -E file are both getopt's.
        arg = a.slice(j + 1) || (argv[++i] ?? usage(`option requires an argument -- ${c}`));
        j = a.length;
      }
      switch (c) {
        case "4":
          f.ipv = 4;
          break;
        case "6":
          f.ipv = 6;
          break;
        case "D":
          f.foreground = true;
          break;
        case "d":
          f.debug++;
          break;
        case "e":
          f.stderr = true;
          break;
        case "E":
          f.logFile = arg;
          break;
        case "f":
          f.configFile = arg;
          break;
        case "h":
          f.hostKeys.push(arg);
          break;
        case "o":
          f.options.push(arg);
          break;
        case "g":
          f.options.push(`LoginGraceTime ${arg}`);
          break;
        case "p": {
          const port = Number(arg);
          if (!/^\d+$/.test(arg) || port < 1 || port > 65535) usage(`Bad port number.`);
          f.ports.push(port);
          break;
        }
        case "i":
          f.inetd = true;
          break;
        case "q":
          f.quiet = true;
          break;
        case "t":
          f.test = Math.max(f.test, 1);
          break;
        case "T":
          f.test = 2;
          break;
        case "G":
          f.test = 3;
          break;
        case "C":
          f.connectionSpec = arg;
          break;
        case "V":
          process.stderr.write(`${VERSION}\n`);
          process.exit(0);
        // -c (host certificates), -k (key regeneration, gone from sshd), -u (utmp host length), -r
        // (no re-exec), -R, -Q: accepted and ignored, as docs/nsshd.md says.
        case "c":
        case "k":
        case "u":
        case "r":
        case "R":
        case "Q":
          break;
        default:
          usage(`illegal option -- ${c}`);
      }
    }
  }
  return f;
}

interface Setup {
  load: SshdConfigLoadOptions;
  defaultHostKeys: string[];
  embedded: boolean;
}

/** Which configuration and host keys: -f, root's /etc/ssh, or the embedded state folder. */
function setup(flags: Flags, log: DaemonLogger): Setup {
  const commandLineOptions = [...flags.options];
  for (const p of flags.ports) commandLineOptions.push(`Port ${p}`);
  // -h keys come before the file's HostKey lines, and with them the defaults no longer apply (sshd.c).
  for (const h of flags.hostKeys) commandLineOptions.push(`HostKey ${h}`);
  if (flags.ipv) commandLineOptions.push(`AddressFamily ${flags.ipv === 4 ? "inet" : "inet6"}`);
  const root = process.getuid?.() === 0;
  if (flags.configFile !== null || root) {
    return {
      // sshd's compiled-in host keys when no HostKey line names any (so that -T prints them too).
      load: {
        file: flags.configFile ?? SYSTEM_CONFIG_FILE,
        commandLineOptions,
        defaults: { hostkey: SYSTEM_HOST_KEYS },
      },
      defaultHostKeys: SYSTEM_HOST_KEYS,
      embedded: false,
    };
  }
  const state = ensureStateDir(defaultStateDir(), flags.test ? silentLog : log);
  return {
    load: {
      file: state.configFile,
      commandLineOptions,
      // Should the user's edits remove them, the embedded mode still listens on loopback only.
      defaults: {
        port: [String(EMBEDDED_PORT)],
        listenaddress: [EMBEDDED_LISTEN_ADDRESS],
        pidfile: [state.pidFile],
        hostkey: state.hostKeys,
      },
    },
    defaultHostKeys: state.hostKeys,
    embedded: true,
  };
}

function createLog(flags: Flags, embedded: boolean): DaemonLogger {
  const level = flags.debug > 0 ? debugLevelFor(flags.debug) : flags.quiet ? "QUIET" : "INFO";
  if (flags.logFile !== null) {
    try {
      return createDaemonLog({ level, destination: { kind: "file", path: flags.logFile } });
    } catch (err) {
      process.stderr.write(`nsshd: couldn't open logfile ${flags.logFile}: ${(err as Error).message}\n`);
      process.exit(1);
    }
  }
  // sshd: -d and -e log to stderr; otherwise syslog. The embedded mode in the foreground logs to stderr.
  const toStderr = flags.debug > 0 || flags.stderr || (embedded && flags.foreground && !flags.inetd);
  return createDaemonLog({
    level,
    destination: toStderr
      ? { kind: "stderr" }
      : { kind: "syslog", fallback: flags.inetd ? "none" : "stderr" },
  });
}

/** -t, -T, -G: check (and print) the configuration, then exit. */
async function testMode(flags: Flags, s: Setup): Promise<never> {
  const check = await checkSshdConfig(s.load);
  for (const w of check.warnings) process.stderr.write(`${w}\n`);
  if (!check.config) {
    for (const m of check.messages) process.stderr.write(`${m}\n`);
    process.exit(1);
  }
  if (flags.test !== 3) {
    const named = check.config.global.hostKeys;
    const files = named.length ? named : s.defaultHostKeys;
    const errors: string[] = [];
    const keyLog = { ...silentLog, error: (m: string) => errors.push(m) };
    const loaded = files.filter((file) => loadHostKeyFile(file, keyLog) !== null);
    for (const e of errors) process.stderr.write(`${e}\n`);
    if (loaded.length === 0) {
      process.stderr.write("sshd: no hostkeys available -- exiting.\n");
      process.exit(1);
    }
  }
  if (flags.test >= 2) {
    // sshd -T always applies Match, for an empty connection without -C (so `Match All` overrides -o).
    let spec: SshdConnectionSpec = {};
    if (flags.connectionSpec !== null) {
      try {
        spec = parseConnectionSpec(flags.connectionSpec);
      } catch (err) {
        process.stderr.write(
          `Invalid test mode specification ${flags.connectionSpec}: ${(err as Error).message}\n`,
        );
        process.exit(1);
      }
    }
    const missing = missingTestSpecField(check.config, spec);
    if (missing !== null) {
      process.stderr.write(`${missing}\n`);
      process.exit(255);
    }
    process.stdout.write(formatSshdConfigDump(check.config.forConnection(spec)));
  }
  process.exit(0);
}

/** Without -D: start the daemon as a detached child and exit 0 once it listens (sshd daemon(3)). */
function detach(): void {
  const child = spawn(
    process.execPath,
    [...process.execArgv, ...missingMonitorOptions(), ...process.argv.slice(1)],
    {
      detached: true,
      stdio: ["ignore", "ignore", "pipe", "ipc"],
      env: { ...process.env, [DETACHED_ENV]: "1" },
    },
  );
  child.stderr!.pipe(process.stderr);
  child.on("message", (m: unknown) => {
    if (m !== "listening") return;
    child.stderr!.unpipe(process.stderr);
    child.stderr!.destroy();
    child.disconnect();
    child.unref();
    process.exit(0);
  });
  child.on("exit", (code) => process.exit(code ?? 255));
}

function writePidFile(file: string | null, log: DaemonLogger): string | null {
  if (file === null) return null;
  try {
    fs.writeFileSync(file, `${process.pid}\n`, { mode: 0o644 });
    return file;
  } catch (err) {
    log.error(`Couldn't create pid file "${file}": ${(err as Error).message}`);
    return null;
  }
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2));
  if (flags.connectionSpec !== null && flags.test < 2) usage("-C requires -T");
  const embeddedGuess = flags.configFile === null && process.getuid?.() !== 0;
  const isChild = process.env[DETACHED_ENV] === "1";
  const background = !flags.foreground && flags.debug === 0 && !flags.inetd;
  // The process that will be the monitor starts again with its V8 options (detach() gives them to its child).
  const reexec =
    flags.test === 0 && !flags.inetd && (isChild || !background) ? reexecWithMonitorOptions() : null;
  const log = createLog(flags, embeddedGuess);
  if (reexec !== null) log.debug1(reexec);
  const s = setup(flags, log);
  if (flags.test) return testMode(flags, s);
  log.debug1(closeInheritedDescriptorsOnExec());

  delete process.env[DETACHED_ENV];
  if (background && !isChild) return detach();

  let config;
  try {
    config = await loadSshdConfig(s.load);
  } catch (err) {
    log.fatal((err as Error).message);
    process.exit(255);
  }
  // Privilege separation for sockets this process accepts (inetd mode serves its one stream in-process).
  let monitor: PrivsepMonitor | undefined;
  if (!flags.inetd) {
    try {
      let workerIdentity: PrivsepIdentity | undefined;
      if (process.geteuid?.() === 0) {
        if (readableByOthers(CHILD_ENTRY_FILE)) {
          workerIdentity = await ensurePrivsepAccount(PRIVSEP_USER, (m) => log.info(m));
        } else {
          // The unprivileged account could not even load the worker's code: say so loudly, and go on with
          // workers as root (still split from the monitor, and still without the host keys).
          log.error(
            `${CHILD_ENTRY_FILE} is not readable by other users: pre-auth workers run as root, not ${PRIVSEP_USER}`,
          );
        }
      }
      monitor = new PrivsepMonitor({
        log,
        login: defaultLoginBackend(),
        ...(workerIdentity ? { workerIdentity } : {}),
      });
    } catch (err) {
      log.fatal((err as Error).message);
      process.exit(255);
    }
  }
  let daemon: Daemon;
  try {
    daemon = Daemon.create(
      {
        loadConfig: () => loadSshdConfig(s.load),
        log,
        login: defaultLoginBackend(),
        defaultHostKeys: s.defaultHostKeys,
        commandLinePorts: flags.ports,
        levelFromConfig: flags.debug === 0 && !flags.quiet,
        singleConnection: flags.debug > 0 && !flags.inetd,
        ...(monitor ? { monitor } : {}),
      },
      config,
    );
  } catch (err) {
    log.fatal((err as Error).message);
    process.exit(1);
  }

  if (flags.inetd) {
    const { stream, info } = stdioConnection();
    log.verbose(
      `Connection from ${info.remoteAddress} port ${info.remotePort} on ${info.localAddress} port ${info.localPort} rdomain ""`,
    );
    const conn = daemon.serve(stream, info, false);
    conn.transport.once("close", () => {
      void log.close().finally(() => process.exit(0));
    });
    return;
  }

  if (monitor) {
    const m = monitor;
    // Node decodes IPC messages before any of our code sees them, and throws outside every handler on one
    // that does not decode: a compromised child must not end the monitor (and every session) that way.
    process.on("uncaughtException", (err) => {
      if (/deserialize|parseChannelMessages|Unexpected token|JSON/.test(`${err.message}\n${err.stack}`)) {
        log.error(
          `monitor: a child sent an IPC message that does not decode (${err.message}); replacing the workers`,
        );
        m.replaceWorkers();
        return;
      }
      log.fatal(`${err.stack ?? err.message}`);
      process.exit(255);
    });
  }
  try {
    await monitor?.start();
  } catch (err) {
    log.fatal(`could not start the privilege separation processes: ${(err as Error).message}`);
    process.exit(255);
  }
  // Signals are handled from the moment binding starts: SIGHUP's or SIGTERM's default action would kill
  // the daemon silently.
  const listening = daemon.listen();
  let pidFile: string | null = null;
  const terminate = (signal: NodeJS.Signals, number: number): void => {
    log.info(`Received signal ${number}; terminating.`);
    daemon.stopListening();
    if (pidFile !== null) {
      try {
        fs.unlinkSync(pidFile);
      } catch (err) {
        log.debug1(`unlink ${pidFile}: ${(err as Error).message}`);
      }
    }
    daemon.disconnectAll();
    monitor?.stop();
    void log.close().finally(() => process.exit(signal === "SIGTERM" ? 0 : 255));
  };
  process.on("SIGTERM", () => terminate("SIGTERM", 15));
  process.on("SIGINT", () => terminate("SIGINT", 2));
  process.on("SIGQUIT", () => terminate("SIGQUIT", 3));
  // A SIGHUP before the sockets are bound waits for them (reload rebinds when the addresses change).
  process.on("SIGHUP", () => {
    // A failed bind is reported (and ends the daemon) by the await below.
    void listening.then(
      () => daemon.reload(),
      () => undefined,
    );
  });
  try {
    await listening;
  } catch (err) {
    log.fatal((err as Error).message);
    process.exit(255);
  }
  // sshd(8): no PidFile in debug mode.
  pidFile = flags.debug > 0 ? null : writePidFile(config.global.pidFile, log);
  if (isChild && process.send) {
    process.send("listening");
    process.disconnect?.();
    log.detachStderr();
    // Nobody reads our stderr any more: a stray write (a Node warning) must not end the daemon with EPIPE.
    process.stderr.on("error", (err) => log.debug1(`stderr: ${err.message}`));
  }
  daemon.on("single-connection-done", () => {
    monitor?.stop();
    void log.close().finally(() => process.exit(0));
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`nsshd: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(255);
});
