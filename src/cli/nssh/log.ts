/**
 * ssh's log (log.c): LogLevel QUIET, FATAL, ERROR, INFO, VERBOSE, DEBUG1-3; debug lines prefixed
 * "debug1: ", the others bare; lines end with "\r\n" because the terminal may be in raw mode. -E appends
 * to a file instead of stderr. Errors and fatal messages name nothing else: the caller writes them as
 * ssh does ("ssh: connect to host ..." uses the program name, see progname()).
 */
import fs from "node:fs";
import path from "node:path";
import type { LogLevel } from "../../transport/index.js";

export const LOG_LEVELS = [
  "QUIET",
  "FATAL",
  "ERROR",
  "INFO",
  "VERBOSE",
  "DEBUG1",
  "DEBUG2",
  "DEBUG3",
] as const;
export type SshLogLevel = (typeof LOG_LEVELS)[number];

const RANK: Record<string, number> = Object.fromEntries(LOG_LEVELS.map((l, i) => [l, i]));

/** LogLevel's value, as ssh_config(5) spells it (DEBUG is DEBUG1). */
export function parseLogLevel(value: string | undefined): SshLogLevel {
  const v = (value ?? "INFO").toUpperCase();
  if (v === "DEBUG") return "DEBUG1";
  if (v === "SILENT") return "QUIET"; // how ssh -G names QUIET
  return (LOG_LEVELS as readonly string[]).includes(v) ? (v as SshLogLevel) : "INFO";
}

let nameOverride: string | null = null;

/**
 * Name the program for its messages. nsftp and nscp run nssh's connection code in their own process and
 * say "nssh", as the nssh they used to start did (sftp and scp show ssh's own messages likewise).
 */
export function setProgname(name: string): void {
  nameOverride = name;
}

/** The name ssh prints before its own errors: OpenSSH uses __progname, so `nssh: connect to host ...`. */
export function progname(): string {
  if (nameOverride !== null) return nameOverride;
  const script = process.argv[1];
  return script ? path.basename(script).replace(/\.[cm]?js$/, "") : "nssh";
}

export class CliLog {
  private fd: number | null = null;

  constructor(
    public level: SshLogLevel,
    logFile?: string,
  ) {
    if (logFile) this.fd = fs.openSync(logFile, "a", 0o600);
  }

  enabled(level: SshLogLevel): boolean {
    return RANK[level]! <= RANK[this.level]!;
  }

  private write(text: string): void {
    const line = text + "\r\n";
    if (this.fd !== null) fs.writeSync(this.fd, line.replace(/\r\n$/, "\n"));
    else {
      try {
        fs.writeSync(2, line);
      } catch (err) {
        // stderr closed: nothing left to tell anyone; say so where a debugger would look.
        if ((err as NodeJS.ErrnoException).code !== "EAGAIN") process.exitCode ??= 255;
      }
    }
  }

  at(level: SshLogLevel, message: string): void {
    if (!this.enabled(level)) return;
    this.write(level.startsWith("DEBUG") ? `${level.toLowerCase()}: ${message}` : message);
  }

  fatal(message: string): void {
    this.at("FATAL", message);
  }
  error(message: string): void {
    this.at("ERROR", message);
  }
  info(message: string): void {
    this.at("INFO", message);
  }
  verbose(message: string): void {
    this.at("VERBOSE", message);
  }
  debug1(message: string): void {
    this.at("DEBUG1", message);
  }
  debug2(message: string): void {
    this.at("DEBUG2", message);
  }
  debug3(message: string): void {
    this.at("DEBUG3", message);
  }

  /** The library's logger (transport, auth, connection) feeding this log. */
  readonly library = (level: LogLevel, message: string): void => {
    const map: Record<LogLevel, SshLogLevel> = {
      error: "ERROR",
      info: "INFO",
      verbose: "VERBOSE",
      debug1: "DEBUG1",
      debug2: "DEBUG2",
      debug3: "DEBUG3",
    };
    this.at(map[level], message);
  };

  close(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }
}
