/**
 * nsftp-server: the SFTP server on stdin/stdout, for any sshd's `Subsystem sftp` line, with the flags of
 * sftp-server(8): -d start directory (%d home, %u user, %% a literal %), -e log to stderr, -f facility
 * (accepted; there is no syslog here, so without -e nothing is logged), -l level, -P/-p denied/allowed
 * requests, -Q requests, -R read-only, -u umask, -h. It exits 0 when the client closes its side, 11 when
 * the client broke the protocol (a packet over the size limit), as sftp-server does. Started by
 * cli/nsftp-server.cts (the launcher).
 */
import os from "node:os";
import path from "node:path";
import { allRequestNames, serveSftp, type SftpServerOptions } from "../../sftp/index.js";
import type { LogLevel } from "../../transport/index.js";
import { SYSLOG_FACILITIES } from "../../config/configValues.js";
import { getopt } from "../nsftp/getopt.js";

const USAGE =
  "usage: nsftp-server [-ehR] [-d start_directory] [-f log_facility] [-l log_level]\n" +
  "\t[-P denied_requests] [-p allowed_requests] [-u umask]\n" +
  "       nsftp-server -Q protocol_feature\n";

/** sftp-server -l names, mapped onto our levels; null is QUIET (nothing at all). */
const LOG_LEVELS: Record<string, LogLevel | null> = {
  QUIET: null,
  FATAL: "error",
  ERROR: "error",
  INFO: "info",
  VERBOSE: "verbose",
  DEBUG: "debug1",
  DEBUG1: "debug1",
  DEBUG2: "debug2",
  DEBUG3: "debug3",
};
const ORDER: LogLevel[] = ["error", "info", "verbose", "debug1", "debug2", "debug3"];

function fail(message: string, code = 1): never {
  process.stderr.write(`nsftp-server: ${message}\n`);
  process.exit(code);
}

function usage(): never {
  process.stderr.write(USAGE);
  process.exit(1);
}

interface Flags {
  startDirectory?: string;
  logToStderr: boolean;
  level: LogLevel | null;
  denied?: string[];
  allowed?: string[];
  query?: string;
  readOnly: boolean;
  umask?: number;
}

/** getopt(3) with sftp-server's option string "d:f:l:P:p:Q:u:cehR". */
function parseFlags(argv: string[]): Flags {
  const flags: Flags = { logToStderr: false, level: "error", readOnly: false };
  const parsed = getopt(argv, "d:f:l:P:p:Q:u:cehR");
  if (typeof parsed === "string" || parsed.operands.length > 0) usage();
  for (const { flag: opt, value = "" } of parsed.flags) {
    switch (opt) {
      case "d":
        flags.startDirectory = value;
        break;
      case "e":
        flags.logToStderr = true;
        break;
      case "c":
        // Old sftp-server builds accepted -c; it is a no-op there too.
        break;
      case "f":
        if (!SYSLOG_FACILITIES.includes(value.toUpperCase())) fail(`Invalid log facility "${value}"`);
        break;
      case "l": {
        const level = LOG_LEVELS[value.toUpperCase()];
        if (level === undefined) fail(`Invalid log level "${value}"`);
        flags.level = level;
        break;
      }
      case "P":
        flags.denied = value.split(",").filter(Boolean);
        break;
      case "p":
        flags.allowed = value.split(",").filter(Boolean);
        break;
      case "Q":
        flags.query = value;
        break;
      case "R":
        flags.readOnly = true;
        break;
      case "u": {
        if (!/^[0-7]{1,4}$/.test(value) || Number.parseInt(value, 8) > 0o777)
          fail(`Invalid umask "${value}"`);
        flags.umask = Number.parseInt(value, 8);
        break;
      }
      case "h":
      default:
        usage();
    }
  }
  return flags;
}

/** sftp-server's -d tokens (percent_expand): %d the home directory, %u the user, %% a percent sign. */
function expandStartDirectory(spec: string, home: string, user: string): string {
  return spec.replace(/%(.)/g, (whole, c: string) => {
    if (c === "d") return home;
    if (c === "u") return user;
    if (c === "%") return "%";
    fail(`Invalid start directory "${spec}": unknown token ${whole}`);
  });
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2));
  if (flags.query !== undefined) {
    if (flags.query !== "requests") fail(`Unsupported query "${flags.query}"`);
    process.stdout.write(allRequestNames.join("\n") + "\n");
    return;
  }
  for (const name of [...(flags.denied ?? []), ...(flags.allowed ?? [])]) {
    if (!allRequestNames.includes(name)) fail(`Unknown request "${name}"`);
  }
  const user = os.userInfo();
  // sshd starts the subsystem in the user's home; its working directory is where relative paths begin.
  let startDirectory = process.cwd();
  if (flags.startDirectory !== undefined) {
    startDirectory = path.resolve(expandStartDirectory(flags.startDirectory, user.homedir, user.username));
  }
  if (flags.umask !== undefined) process.umask(flags.umask);
  const maxLevel = flags.level === null ? -1 : ORDER.indexOf(flags.level);
  const options: SftpServerOptions = {
    readOnly: flags.readOnly,
    startDirectory,
    homeDirectory: user.homedir,
    userName: user.username,
    log: (level, message) => {
      // Without -e sftp-server logs to syslog; stderr here would reach the client, so nothing is written.
      if (flags.logToStderr && ORDER.indexOf(level) <= maxLevel) process.stderr.write(`${message}\n`);
    },
  };
  if (flags.allowed) options.allowedRequests = flags.allowed;
  if (flags.denied) options.deniedRequests = flags.denied;
  // No code cache is read or written for this command (cli/nsftp-server.cts): a server's sftp-server
  // writes nothing into the user's home but what the client asks for, even with -R.
  try {
    await serveSftp(process.stdin, process.stdout, options);
  } catch (err) {
    options.log!("error", `nsftp-server: ${(err as Error).message}`);
    // stdin is still open (the client broke the protocol, it did not hang up): leave now, as
    // sftp-server's cleanup_exit(11) does. Pipe writes to stdout are synchronous, nothing is lost.
    process.exit(11);
  }
}

main().catch((err: Error) => fail(err.message, 255));
