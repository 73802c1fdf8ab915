/**
 * The daemon's log, as sshd(8) writes it (OpenSSH log.c): LogLevel QUIET FATAL ERROR INFO VERBOSE DEBUG
 * DEBUG1-3, "error: ", "fatal: " and "debugN: " prefixes, nothing before INFO and VERBOSE lines, and control
 * characters escaped so that a peer cannot forge log lines.
 *
 * Destinations: stderr (-d, -e), a file (-E, appended), or syslog. Node has no syslog binding and no Unix
 * datagram sockets, so the syslog destination is one long-lived `logger --prio-prefix` child fed a line per
 * message (util-linux logger(1) writes to /dev/log); without /dev/log there is no syslog daemon to receive
 * anything, and messages go to stderr instead (which is /dev/null once the daemon has detached).
 *
 * Callers never pass secrets (passwords, private keys, session keys) to any method here.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import type { LogLevel as TransportLogLevel, TransportLogger } from "../transport/index.js";

export interface DaemonLog {
  error(m: string): void;
  info(m: string): void;
  verbose(m: string): void;
  debug1(m: string): void;
  debug2(m: string): void;
  debug3(m: string): void;
}

/** sshd_config LogLevel values (DEBUG is DEBUG1). */
export const LOG_LEVELS = [
  "QUIET",
  "FATAL",
  "ERROR",
  "INFO",
  "VERBOSE",
  "DEBUG",
  "DEBUG1",
  "DEBUG2",
  "DEBUG3",
] as const;
export type DaemonLogLevel = (typeof LOG_LEVELS)[number];

/** SyslogFacility values sshd accepts, with their syslog(3) numbers. */
const FACILITIES: Record<string, number> = {
  DAEMON: 3,
  USER: 1,
  AUTH: 4,
  AUTHPRIV: 10,
  LOCAL0: 16,
  LOCAL1: 17,
  LOCAL2: 18,
  LOCAL3: 19,
  LOCAL4: 20,
  LOCAL5: 21,
  LOCAL6: 22,
  LOCAL7: 23,
};

export type DaemonLogDestination =
  | { kind: "stderr" }
  | { kind: "file"; path: string }
  | {
      kind: "syslog";
      facility?: string;
      tag?: string;
      /**
       * Without /dev/log: "stderr" (default) or "none". inetd mode takes "none": its stderr may be the
       * client's socket, where a log line would corrupt the SSH stream.
       */
      fallback?: "stderr" | "none";
    };

export interface DaemonLogOptions {
  level: DaemonLogLevel;
  destination: DaemonLogDestination;
}

/** The full logger: the DaemonLog methods plus what the daemon itself needs. */
export interface DaemonLogger extends DaemonLog {
  fatal(m: string): void;
  /** Change the level (SIGHUP with a new LogLevel). */
  setLevel(level: DaemonLogLevel): void;
  /** SyslogFacility from the configuration (used when the destination is syslog). */
  setSyslogFacility(facility: string): void;
  /** Whether a message at this level would be written (to skip building costly debug text). */
  enabled(level: TransportLogLevel | "fatal"): boolean;
  /** The same log, for the transport layer's hooks. */
  readonly transportLogger: TransportLogger;
  /** A view that appends a suffix to every line (" [preauth]" as sshd's unprivileged child does). */
  withSuffix(suffix: string): DaemonLog;
  /** The daemon detached: stderr is gone, so a stderr destination writes nothing from now on. */
  detachStderr(): void;
  /** Flush and release the destination. */
  close(): Promise<void>;
}

/** Numeric rank of a message level: lower is more important. */
const RANK: Record<TransportLogLevel | "fatal", number> = {
  fatal: 1,
  error: 2,
  info: 3,
  verbose: 4,
  debug1: 5,
  debug2: 6,
  debug3: 7,
};

const LEVEL_RANK: Record<DaemonLogLevel, number> = {
  QUIET: 0,
  FATAL: 1,
  ERROR: 2,
  INFO: 3,
  VERBOSE: 4,
  DEBUG: 5,
  DEBUG1: 5,
  DEBUG2: 6,
  DEBUG3: 7,
};

/** syslog(3) severities for each message level. */
const SEVERITY: Record<TransportLogLevel | "fatal", number> = {
  fatal: 2,
  error: 3,
  info: 6,
  verbose: 6,
  debug1: 7,
  debug2: 7,
  debug3: 7,
};

/** Parse a LogLevel keyword value (case-insensitive); undefined when unknown. */
export function parseLogLevel(value: string): DaemonLogLevel | undefined {
  const upper = value.toUpperCase();
  return (LOG_LEVELS as readonly string[]).includes(upper) ? (upper as DaemonLogLevel) : undefined;
}

/** Whether a SyslogFacility value is one sshd accepts. */
export function isSyslogFacility(value: string): boolean {
  return Object.hasOwn(FACILITIES, value.toUpperCase());
}

/** The level -d, -dd, -ddd give (sshd: each -d raises to DEBUG1..DEBUG3). */
export function debugLevelFor(count: number): DaemonLogLevel {
  return count >= 3 ? "DEBUG3" : count === 2 ? "DEBUG2" : "DEBUG1";
}

/**
 * Escape what a peer could use to forge or hide log lines: control characters and DEL as \ooo octal, as
 * OpenSSH's strnvis(VIS_SAFE | VIS_OCTAL) does before logging.
 */
export function escapeLogText(text: string): string {
  return text.replace(
    /[\x00-\x08\x0a-\x1f\x7f]/g,
    (c) => "\\" + c.charCodeAt(0).toString(8).padStart(3, "0"),
  );
}

function prefixFor(level: TransportLogLevel | "fatal"): string {
  if (level === "info" || level === "verbose") return "";
  return `${level}: `;
}

interface Sink {
  write(level: TransportLogLevel | "fatal", line: string): void;
  close(): Promise<void>;
  facility?: number;
}

function stderrSink(): Sink & { detached: boolean } {
  const sink = {
    detached: false,
    write: (_level: TransportLogLevel | "fatal", line: string): void => {
      if (!sink.detached) process.stderr.write(line + "\n");
    },
    close: async (): Promise<void> => {},
  };
  return sink;
}

function fileSink(file: string): Sink {
  // Opened synchronously so that a bad -E path fails at start, and appended to as sshd does.
  const fd = fs.openSync(file, "a", 0o600);
  return {
    write: (_level, line) => {
      try {
        fs.writeSync(fd, line + "\n");
      } catch (err) {
        process.stderr.write(`nsshd: cannot write log file ${file}: ${(err as Error).message}\n`);
      }
    },
    close: async () => {
      fs.closeSync(fd);
    },
  };
}

function syslogSink(facilityName: string, tag: string): Sink {
  let child: ChildProcess | undefined;
  try {
    child = spawn("logger", ["--prio-prefix", "-t", `${tag}[${process.pid}]`], {
      stdio: ["pipe", "ignore", "ignore"],
    });
    child.on("error", (err) => {
      process.stderr.write(`nsshd: syslog via logger(1) failed: ${err.message}\n`);
      child = undefined;
    });
    child.unref();
    (child.stdin as unknown as { unref?: () => void }).unref?.();
  } catch (err) {
    process.stderr.write(`nsshd: syslog via logger(1) failed: ${(err as Error).message}\n`);
  }
  const sink: Sink = {
    facility: FACILITIES[facilityName.toUpperCase()] ?? FACILITIES.AUTH!,
    write: (level, line) => {
      const priority = sink.facility! * 8 + SEVERITY[level];
      if (child?.stdin?.writable) child.stdin.write(`<${priority}>${line}\n`);
      else process.stderr.write(line + "\n");
    },
    close: () =>
      new Promise((resolve) => {
        if (!child?.stdin) return resolve();
        child.stdin.end(() => resolve());
      }),
  };
  return sink;
}

/**
 * The levels of the daemon logs alive in this process, for its children (privsep workers and session
 * processes): they send only the lines some log here would write, instead of every debug line of every
 * packet. With no daemon log (a test's own DaemonLog), children send everything.
 */
const liveLogRanks = new Map<symbol, number>();
const childRankWatchers = new Set<(rank: number) => void>();

/** The most verbose level any daemon log of this process writes now (7, debug3, when there is none). */
export function childLogRank(): number {
  return liveLogRanks.size === 0 ? RANK.debug3 : Math.max(...liveLogRanks.values());
}

/** Be told when childLogRank() changes (SIGHUP with a new LogLevel); returns the way to stop. */
export function watchChildLogRank(watcher: (rank: number) => void): () => void {
  childRankWatchers.add(watcher);
  return () => void childRankWatchers.delete(watcher);
}

function setLiveRank(id: symbol, rank: number | null): void {
  const before = childLogRank();
  if (rank === null) liveLogRanks.delete(id);
  else liveLogRanks.set(id, rank);
  const after = childLogRank();
  if (after !== before) for (const w of childRankWatchers) w(after);
}

/** Create the daemon's log for a level and destination. */
export function createDaemonLog(options: DaemonLogOptions): DaemonLogger {
  let rank = LEVEL_RANK[options.level];
  const id = Symbol("daemon log");
  setLiveRank(id, rank);
  const d = options.destination;
  let sink: Sink & { detached?: boolean };
  if (d.kind === "file") sink = fileSink(d.path);
  else if (d.kind === "syslog" && fs.existsSync("/dev/log")) {
    sink = syslogSink(d.facility ?? "AUTH", d.tag ?? "nsshd");
  } else {
    sink = stderrSink();
    if (d.kind === "syslog" && d.fallback === "none") sink.detached = true;
  }
  const emit = (level: TransportLogLevel | "fatal", message: string, suffix = ""): void => {
    if (RANK[level] > rank) return;
    sink.write(level, prefixFor(level) + escapeLogText(message) + suffix);
  };
  const view = (suffix: string): DaemonLog => ({
    error: (m) => emit("error", m, suffix),
    info: (m) => emit("info", m, suffix),
    verbose: (m) => emit("verbose", m, suffix),
    debug1: (m) => emit("debug1", m, suffix),
    debug2: (m) => emit("debug2", m, suffix),
    debug3: (m) => emit("debug3", m, suffix),
  });
  return {
    ...view(""),
    fatal: (m) => emit("fatal", m),
    setLevel: (level) => {
      rank = LEVEL_RANK[level];
      setLiveRank(id, rank);
    },
    setSyslogFacility: (facility) => {
      const n = FACILITIES[facility.toUpperCase()];
      if (n !== undefined && sink.facility !== undefined) sink.facility = n;
    },
    enabled: (level) => RANK[level] <= rank,
    transportLogger: (level, message) => emit(level, message),
    withSuffix: view,
    detachStderr: () => {
      if ("detached" in sink) sink.detached = true;
    },
    close: () => {
      setLiveRank(id, null);
      return sink.close();
    },
  };
}

/** A log that writes nothing (tests, library embedding). */
export const silentLog: DaemonLog = {
  error: () => {},
  info: () => {},
  verbose: () => {},
  debug1: () => {},
  debug2: () => {},
  debug3: () => {},
};
