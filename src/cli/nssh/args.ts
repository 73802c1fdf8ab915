/**
 * ssh(1)'s command line: getopt-style flags (ssh.c's "1246ab:c:e:fgi:kl:m:no:p:qstvxAB:CD:E:F:GI:J:KL:MNO:P:Q:R:S:TVw:W:XYy"),
 * the destination (`[user@]host` or `ssh://[user@]host[:port]`) and the remote command. As ssh does,
 * flags may also follow the destination, until the first word that is not a flag or `--`.
 *
 * Flags that stand for a configuration keyword become "Keyword=value" command-line options, in order, so
 * that the ssh_config engine gives them precedence over the files (ssh_config(5): first value wins).
 */
import os from "node:os";
import { SshError } from "../../wire/index.js";

export interface NsshArgs {
  destination: string | undefined;
  /** The remote command words (joined with spaces, as ssh does). */
  command: string[];
  /** "Keyword=value" in command-line order: -o and the flags that mean a keyword. */
  options: string[];
  /** The user and port from the destination (they come after -l / -p, which take precedence). */
  destinationUser: string | undefined;
  destinationPort: number | undefined;
  configFile: string | undefined;
  verbosity: number;
  quiet: boolean;
  /** How many times -t was given. */
  forceTty: number;
  noTty: boolean;
  nullStdin: boolean;
  noCommand: boolean;
  background: boolean;
  logFile: string | undefined;
  dumpConfig: boolean;
  query: string | undefined;
  version: boolean;
  /** -W host:port */
  stdioForward: string | undefined;
  /** -s: the command is a subsystem name */
  subsystem: boolean;
}

/** ssh's flags that take an argument. */
const WITH_ARGUMENT = new Set("bceilmopBDEFIJLOPQRSwW".split(""));
const WITHOUT_ARGUMENT = new Set("1246afgknqstvxAqCGKMNTVXYy".split(""));

/** Flags that belong to later issues: refused, never silently ignored. */
const NOT_YET: Record<string, string> = {
  L: "local port forwarding (-L) is not supported yet",
  R: "remote port forwarding (-R) is not supported yet",
  D: "dynamic port forwarding (-D) is not supported yet",
  A: "agent forwarding (-A) is not supported yet",
  X: "X11 forwarding (-X) is not supported yet",
  Y: "trusted X11 forwarding (-Y) is not supported yet",
  M: "connection multiplexing (-M) is not supported yet",
  S: "control sockets (-S) are not supported yet",
  O: "multiplexing control commands (-O) are not supported yet",
  w: "tunnel device forwarding (-w) is not supported yet",
  I: "PKCS#11 tokens (-I) are not supported yet",
  K: "GSSAPI authentication (-K) is not supported",
  "1": "protocol 1 (-1) is not supported",
};

export class UsageError extends SshError {
  constructor(message: string) {
    super("CONFIG", message);
    this.name = "UsageError";
  }
}

export const USAGE = `usage: nssh [-46CGNTVafgknqstvx] [-b bind_address] [-c cipher_spec]
            [-E log_file] [-e escape_char] [-F configfile] [-i identity_file]
            [-J destination] [-l login_name] [-m mac_spec] [-o option] [-p port]
            [-Q query_option] [-W host:port] destination [command [argument ...]]
       nssh [-Q query_option]
`;

function logLevelFor(verbosity: number): string {
  return verbosity >= 3 ? "DEBUG3" : verbosity === 2 ? "DEBUG2" : "DEBUG1";
}

/** Parse argv (without node and the script). Throws UsageError for what ssh would answer with usage(). */
export function parseArgs(argv: readonly string[]): NsshArgs {
  const a: NsshArgs = {
    destination: undefined,
    command: [],
    options: [],
    destinationUser: undefined,
    destinationPort: undefined,
    configFile: undefined,
    verbosity: 0,
    quiet: false,
    forceTty: 0,
    noTty: false,
    nullStdin: false,
    noCommand: false,
    background: false,
    logFile: undefined,
    dumpConfig: false,
    query: undefined,
    version: false,
    stdioForward: undefined,
    subsystem: false,
  };
  let i = 0;
  let terminated = false;
  const flagged: string[] = [];
  while (i < argv.length) {
    const word = argv[i]!;
    if (!terminated && word === "--") {
      terminated = true;
      i++;
      if (a.destination === undefined) continue;
      break;
    }
    if (terminated || !word.startsWith("-") || word === "-") {
      if (a.destination !== undefined) break;
      parseDestination(a, flagged, word);
      i++;
      continue;
    }
    i++;
    for (let j = 1; j < word.length; j++) {
      const f = word[j]!;
      if (!WITH_ARGUMENT.has(f) && !WITHOUT_ARGUMENT.has(f)) throw new UsageError(`unknown option -- ${f}`);
      if (NOT_YET[f]) throw new UsageError(NOT_YET[f]);
      let value: string | undefined;
      if (WITH_ARGUMENT.has(f)) {
        value = j + 1 < word.length ? word.slice(j + 1) : argv[i++];
        if (value === undefined) throw new UsageError(`option requires an argument -- ${f}`);
        j = word.length;
      }
      applyFlag(a, flagged, f, value);
    }
  }
  a.command = argv.slice(i);
  if (a.verbosity > 0) flagged.push(`LogLevel=${logLevelFor(a.verbosity)}`);
  else if (a.quiet) flagged.push("LogLevel=QUIET");
  a.options = flagged;
  return a;
}

function applyFlag(a: NsshArgs, o: string[], f: string, value: string | undefined): void {
  const v = value!;
  switch (f) {
    case "4":
      return void o.push("AddressFamily=inet");
    case "6":
      return void o.push("AddressFamily=inet6");
    case "2":
      return;
    case "a":
      return void o.push("ForwardAgent=no");
    case "x":
      return void o.push("ForwardX11=no");
    case "k":
      return void o.push("GSSAPIDelegateCredentials=no");
    case "g":
      return void o.push("GatewayPorts=yes");
    case "y":
      return; // syslog logging: nssh logs to stderr or -E's file
    case "b":
      return void o.push(`BindAddress=${v}`);
    case "B":
      return void o.push(`BindInterface=${v}`);
    case "c":
      return void o.push(`Ciphers=${v}`);
    case "m":
      return void o.push(`MACs=${v}`);
    case "C":
      return void o.push("Compression=yes");
    case "e":
      return void o.push(`EscapeChar=${v}`);
    case "i":
      return void o.push(`IdentityFile=${v}`);
    case "J":
      return void o.push(`ProxyJump=${v}`);
    case "l":
      return void o.push(`User=${v}`);
    case "p": {
      const port = Number(v);
      if (!/^\d+$/.test(v) || port < 1 || port > 65535) throw new UsageError("Bad port '" + v + "'");
      return void o.push(`Port=${port}`);
    }
    case "P":
      return void o.push(`Tag=${v}`);
    case "o": {
      const m = /^\s*([A-Za-z0-9]+)\s*(?:=\s*|\s+)(.*)$/.exec(v);
      if (!m) throw new UsageError(`no argument after keyword "${v.trim()}"`);
      return void o.push(`${m[1]}=${m[2]}`);
    }
    case "F":
      a.configFile = v;
      return;
    case "E":
      a.logFile = v;
      return;
    case "Q":
      a.query = v;
      return;
    case "W":
      a.stdioForward = v;
      a.noTty = true;
      return void o.push("ClearAllForwardings=yes", "ExitOnForwardFailure=yes");
    case "v":
      a.verbosity++;
      return;
    case "q":
      a.quiet = true;
      return;
    case "t":
      a.forceTty++;
      return;
    case "T":
      a.noTty = true;
      return;
    case "n":
      a.nullStdin = true;
      return;
    case "N":
      a.noCommand = true;
      return void o.push("SessionType=none");
    case "f":
      a.background = true;
      a.nullStdin = true;
      return void o.push("ForkAfterAuthentication=yes");
    case "s":
      a.subsystem = true;
      return void o.push("SessionType=subsystem");
    case "G":
      a.dumpConfig = true;
      return;
    case "V":
      a.version = true;
      return;
  }
}

/** `[user@]host` (the last @ separates, as ssh's strrchr) or `ssh://[user@]host[:port]` (RFC 3986). */
function parseDestination(a: NsshArgs, o: string[], dest: string): void {
  a.destination = dest;
  if (/^ssh:\/\//i.test(dest)) {
    const m = /^ssh:\/\/(?:([^@/]*)@)?(\[[^\]]+\]|[^:/]*)(?::(\d*))?\/?$/i.exec(dest);
    if (!m || !m[2]) throw new UsageError(`Invalid URI '${dest}'`);
    if (m[1] !== undefined) a.destinationUser = decodeURIComponent(m[1].split(";")[0]!);
    a.destination = m[2].startsWith("[") ? m[2].slice(1, -1) : m[2];
    if (m[3]) {
      const port = Number(m[3]);
      if (port < 1 || port > 65535) throw new UsageError(`Bad port '${m[3]}'`);
      a.destinationPort = port;
    }
  } else {
    const at = dest.lastIndexOf("@");
    if (at >= 0) {
      a.destinationUser = dest.slice(0, at);
      a.destination = dest.slice(at + 1);
    }
  }
  if (a.destination === "") throw new UsageError("empty host name");
  // Where the destination stands among the flags decides precedence: the first value wins.
  if (a.destinationUser !== undefined) o.push(`User=${a.destinationUser}`);
  if (a.destinationPort !== undefined) o.push(`Port=${a.destinationPort}`);
}

/** The environment's ssh_config request for `host` with these command-line options. */
export function configRequest(args: NsshArgs, host: string, options: string[]) {
  return {
    host,
    commandLineOptions: options,
    ...(args.configFile !== undefined ? { configFile: args.configFile } : {}),
    localUser: os.userInfo().username,
    homeDir: os.homedir(),
  };
}
