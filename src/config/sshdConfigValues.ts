/**
 * Value syntax of sshd_config(5) arguments, checked as OpenSSH's servconf.c checks them: yes/no flags and the
 * other fixed choices, integers, TIME FORMATS (`1h30m`), ports, MaxStartups, RekeyLimit, IPQoS, octal masks.
 * Each parser returns the value as `sshd -T` prints it, or throws ValueError with sshd's wording; the caller
 * adds the file and line. The syntaxes ssh_config shares are read by configValues.ts; this file words sshd's
 * errors for them.
 */
import {
  INT_MAX,
  formatIpqos,
  parsePort as a2port,
  parseIpqos,
  parseScaledBytes,
  sumTimeSpec,
} from "./configValues.js";

/** A bad argument; sshdConfig.ts turns it into a ConfigError naming the file and line. */
export class ValueError extends Error {
  /**
   * servconf.c reports some mistakes (a missing or extra argument) and goes on, counting them for its
   * "terminating, N bad configuration options" line, where the others are fatal at once.
   */
  constructor(
    message: string,
    readonly countsAsBadOption = false,
  ) {
    super(message);
    this.name = "ValueError";
  }
}

/** A keyword with a fixed set of words (servconf.c multistate tables); `map` gives what -T prints. */
export function parseChoice(arg: string, map: Record<string, string>, keyword: string): string {
  const v = map[arg.toLowerCase()];
  if (v === undefined) {
    const words = Object.keys(map).join(", ");
    throw new ValueError(`unsupported option "${arg}" for ${keyword} (expected one of: ${words}).`);
  }
  return v;
}

export const YES_NO: Record<string, string> = { yes: "yes", no: "no" };

/** sshd_config(5) TIME FORMATS: a number with an optional s/m/h/d/w unit, several concatenated (misc.c convtime). */
export function parseTime(arg: string): number {
  const total = sumTimeSpec(arg);
  if (total === undefined) throw new ValueError(`invalid time value "${arg}".`);
  if (total > INT_MAX) throw new ValueError(`time value "${arg}" too large.`);
  return total;
}

/** An integer as servconf.c's SSHCFG integer keywords take it ("X integer value invalid/too small."). */
export function parseInteger(arg: string, keyword: string, min = 0, max = INT_MAX): number {
  if (!/^-?\d+$/.test(arg)) throw new ValueError(`${keyword} integer value invalid: "${arg}".`);
  const n = Number(arg);
  if (n < min) throw new ValueError(`${keyword} integer value too small: ${arg}.`);
  if (n > max) throw new ValueError(`${keyword} integer value too large: ${arg}.`);
  return n;
}

/** A TCP port, 1-65535 (misc.c a2port). */
export function parsePort(arg: string): number {
  if (!/^\d+$/.test(arg)) throw new ValueError(`Badly formatted port number "${arg}".`);
  const n = a2port(arg);
  if (n < 1) throw new ValueError(`Badly formatted port number "${arg}" (1-65535).`);
  return n;
}

export interface MaxStartups {
  readonly start: number;
  readonly rate: number;
  readonly full: number;
}

/** MaxStartups `start[:rate:full]`; a single number means full = start, rate 30 (as sshd -T shows it). */
export function parseMaxStartups(arg: string): MaxStartups {
  const bad = (): never => {
    throw new ValueError(
      `Invalid MaxStartups spec "${arg}" (expected start or start:rate:full, rate 1-100).`,
    );
  };
  const parts = arg.split(":");
  if (!parts.every((p) => /^\d+$/.test(p))) bad();
  const nums = parts.map(Number);
  if (nums.length === 1) return { start: nums[0]!, rate: 30, full: nums[0]! };
  if (nums.length !== 3) bad();
  const [start, rate, full] = nums as [number, number, number];
  if (start > full || full < 1 || rate > 100 || rate < 1) bad();
  return { start, rate, full };
}

export function formatMaxStartups(m: MaxStartups): string {
  return `${m.start}:${m.rate}:${m.full}`;
}

/** A byte count as RekeyLimit takes it (misc.c scan_scaled: `1G`, `1.5G`, `100B`, up to E). */
function parseScaledSize(arg: string): number {
  const n = parseScaledBytes(arg);
  if (n === undefined) throw new ValueError(`Bad RekeyLimit number '${arg}'.`);
  if (!Number.isSafeInteger(n)) throw new ValueError(`RekeyLimit too large: '${arg}'.`);
  return n;
}

/** RekeyLimit `default|bytes [default|none|time]`: printed as "bytes seconds" (0 for the defaults). */
export function parseRekeyLimit(args: string[]): string {
  const [size, time] = args;
  let bytes = 0;
  if (size !== "default") {
    bytes = parseScaledSize(size!);
    if (bytes !== 0 && bytes < 16) throw new ValueError(`RekeyLimit too small: '${size}'.`);
  }
  // The interval takes "none" but not "default" (OpenSSH 9.2 servconf.c).
  let seconds = 0;
  if (time !== undefined && time !== "none") seconds = parseTime(time);
  return `${bytes} ${seconds}`;
}

/** One IPQoS value: a name, "none", or a number (decimal, 0x hex, 0 octal) up to 255; returns its -T name. */
export function parseIpQos(arg: string): string {
  const n = parseIpqos(arg);
  if (n < 0) throw new ValueError(`Bad IPQoS value: ${arg}`);
  return formatIpqos(n);
}

/** An octal permission mask up to 0777 (StreamLocalBindMask), printed as sshd does ("0" + octal digits). */
export function parseOctalMask(arg: string, keyword: string): string {
  if (!/^[0-7]+$/.test(arg))
    throw new ValueError(`Invalid ${keyword} "${arg}" (an octal mask such as 0177).`);
  const n = parseInt(arg, 8);
  if (n > 0o777) throw new ValueError(`Invalid ${keyword} "${arg}" (at most 0777).`);
  return "0" + n.toString(8);
}

/** `host:port` as PermitOpen/PermitListen take it; `*` may stand for a port (and a host in PermitListen). */
export function parsePermitEntry(arg: string, keyword: string): string {
  const lower = arg.toLowerCase();
  if (lower === "any" || lower === "none") return lower;
  let host: string;
  let port: string;
  if (keyword === "PermitListen" && !arg.includes(":")) {
    host = "*";
    port = arg;
  } else {
    const m = /^\[([^\]]+)\]:(.+)$/.exec(arg) ?? /^([^:]+):([^:]+)$/.exec(arg);
    if (!m) throw new ValueError(`${keyword} bad entry "${arg}" (expected host:port)`);
    host = m[1]!;
    port = m[2]!;
  }
  if (port !== "*") {
    try {
      parsePort(port);
    } catch {
      throw new ValueError(`${keyword} bad port number in "${arg}"`);
    }
  }
  // -T prints the entry as written ("[::1]:443"), a bare PermitListen port as "*:port".
  return arg.includes(":") ? arg : `${host}:${port}`;
}

/** ChannelTimeout `type=interval` entries (sshd_config(5)); "none" alone clears them. */
export function parseChannelTimeout(arg: string): string {
  if (arg.toLowerCase() === "none") return "none";
  const eq = arg.indexOf("=");
  if (eq <= 0) throw new ValueError(`Invalid ChannelTimeout entry "${arg}" (expected type=interval).`);
  parseTime(arg.slice(eq + 1));
  return arg;
}

/** sshd's log levels (log.c): DEBUG is DEBUG1 and prints as DEBUG. */
export const LOG_LEVELS: Record<string, string> = {
  quiet: "QUIET",
  fatal: "FATAL",
  error: "ERROR",
  info: "INFO",
  verbose: "VERBOSE",
  debug: "DEBUG",
  debug1: "DEBUG",
  debug2: "DEBUG2",
  debug3: "DEBUG3",
};

/** Authentication method names AuthenticationMethods accepts (auth2.c authmethods, plus submethods). */
const AUTH_METHODS = [
  "publickey",
  "password",
  "keyboard-interactive",
  "hostbased",
  "gssapi-with-mic",
  "none",
];

/** One AuthenticationMethods list: comma-separated methods, `keyboard-interactive:bsdauth`-style submethods. */
export function parseAuthMethodList(arg: string): string {
  for (const method of arg.split(",")) {
    const base = method.split(":")[0]!;
    if (!AUTH_METHODS.includes(base)) {
      throw new ValueError(
        `invalid AuthenticationMethods method list: unknown method "${method}" in "${arg}".`,
      );
    }
  }
  return arg;
}

/** PerSourcePenalties `yes|no` or `kind:value` entries (OpenSSH 9.8 sshd_config(5)). */
export function parsePenaltyEntry(arg: string): string {
  const lower = arg.toLowerCase();
  if (lower === "yes" || lower === "no") return lower;
  const m = /^([a-z0-9-]+):(.+)$/.exec(lower);
  const durations = ["crash", "authfail", "noauth", "grace-exceeded", "refuseconnection", "max", "min"];
  try {
    if (m && durations.includes(m[1]!)) {
      parseTime(m[2]!);
      return arg;
    }
    if (m && (m[1] === "max-sources4" || m[1] === "max-sources6")) {
      parseInteger(m[2]!, "PerSourcePenalties", 1);
      return arg;
    }
  } catch (e) {
    if (!(e instanceof ValueError)) throw e;
    throw new ValueError(`Invalid PerSourcePenalties entry "${arg}": ${e.message}`);
  }
  if (m && (m[1] === "overflow" || m[1] === "overflow6") && (m[2] === "deny-all" || m[2] === "permissive")) {
    return arg;
  }
  throw new ValueError(`Invalid PerSourcePenalties entry "${arg}".`);
}
