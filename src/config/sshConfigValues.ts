/**
 * Value syntaxes of ssh_config(5) keywords, read as OpenSSH's readconf.c and misc.c read them: yes/no and
 * the other multi-state words, time intervals (TIME FORMATS in sshd_config(5)), ports, scaled byte counts
 * (RekeyLimit), IPQoS names, forwarding specifications (LocalForward, RemoteForward, DynamicForward) and
 * tun devices. A bad value throws LineProblem, which the reader turns into "file line N: ...".
 */
import { expandTokens } from "./tokens.js";

/** A problem with one configuration line; the reader adds file and line. */
export class LineProblem extends Error {
  /**
   * `preface` is a message OpenSSH prints before the line's own error: "prefixed" ones carry "file line N: "
   * too (e.g. Match's "'all' cannot be combined ..." before "Bad Match condition").
   */
  constructor(
    readonly detail: string,
    readonly preface?: { text: string; prefixed: boolean },
  ) {
    super(preface ? `${preface.text}: ${detail}` : detail);
    this.name = "LineProblem";
  }
}

export const INT_MAX = 2147483647;

/** A multi-state keyword's words and the value each stands for; printing picks the first word of a value. */
export type Multistate = readonly (readonly [string, number])[];

export const MS_FLAG: Multistate = [
  ["true", 1],
  ["false", 0],
  ["yes", 1],
  ["no", 0],
];
export const MS_YESNOASK: Multistate = [...MS_FLAG, ["ask", 2]];
export const STRICT_OFF = 0;
export const STRICT_NEW = 1;
export const STRICT_YES = 2;
export const STRICT_ASK = 3;
export const MS_STRICT_HOSTKEY: Multistate = [
  ["true", STRICT_YES],
  ["false", STRICT_OFF],
  ["yes", STRICT_YES],
  ["no", STRICT_OFF],
  ["ask", STRICT_ASK],
  ["off", STRICT_OFF],
  ["accept-new", STRICT_NEW],
];
export const MS_YESNOASKCONFIRM: Multistate = [...MS_FLAG, ["ask", 2], ["confirm", 3]];
export const MS_ADDRESS_FAMILY: Multistate = [
  ["inet", 4],
  ["inet6", 6],
  ["any", 0],
];
export const MS_CONTROL_MASTER: Multistate = [
  ["true", 1],
  ["yes", 1],
  ["false", 0],
  ["no", 0],
  ["auto", 2],
  ["ask", 3],
  ["autoask", 4],
];
export const TUNNEL_DEFAULT = 0x7fffffff;
export const MS_TUNNEL: Multistate = [
  ["ethernet", 2],
  ["point-to-point", 1],
  ["true", TUNNEL_DEFAULT],
  ["yes", TUNNEL_DEFAULT],
  ["false", 0],
  ["no", 0],
];
export const REQUEST_TTY_NO = 0;
export const REQUEST_TTY_YES = 1;
export const REQUEST_TTY_FORCE = 2;
export const REQUEST_TTY_AUTO = 3;
export const MS_REQUEST_TTY: Multistate = [
  ["true", REQUEST_TTY_YES],
  ["yes", REQUEST_TTY_YES],
  ["false", REQUEST_TTY_NO],
  ["no", REQUEST_TTY_NO],
  ["force", REQUEST_TTY_FORCE],
  ["auto", REQUEST_TTY_AUTO],
];
export const MS_SESSION_TYPE: Multistate = [
  ["none", 0],
  ["subsystem", 1],
  ["default", 2],
];
export const MS_CANONICALIZE_HOSTNAME: Multistate = [
  ["true", 1],
  ["false", 0],
  ["yes", 1],
  ["no", 0],
  ["always", 2],
];
export const PUBKEY_AUTH_NO = 0;
export const PUBKEY_AUTH_ALL = 3;
export const MS_PUBKEY_AUTH: Multistate = [
  ["true", PUBKEY_AUTH_ALL],
  ["false", PUBKEY_AUTH_NO],
  ["yes", PUBKEY_AUTH_ALL],
  ["no", PUBKEY_AUTH_NO],
  ["unbound", 1],
  ["host-bound", 2],
];
export const MS_COMPRESSION: Multistate = [
  ["yes", 1],
  ["no", 0],
];

/** readconf.c parse_multistate_value: case-insensitive; undefined when the word is not in the table. */
export function multistateValue(arg: string | undefined, table: Multistate): number | undefined {
  if (arg === undefined) return undefined;
  const lower = arg.toLowerCase();
  return table.find(([word]) => word === lower)?.[1];
}

/** readconf.c fmt_multistate_int: the first word for a value. */
export function multistateWord(value: number, table: Multistate): string {
  return table.find(([, v]) => v === value)?.[0] ?? "UNKNOWN";
}

/**
 * misc.c convtime: a sequence of numbers each with an optional unit (s, m, h, d, w; none means seconds),
 * e.g. "90", "1h30m". Undefined when malformed or beyond INT_MAX seconds.
 */
export function parseTimeSpec(text: string): number | undefined {
  if (text === "") return undefined;
  let total = 0;
  const re = /(\d+)([sSmMhHdDwW]?)/y;
  let pos = 0;
  while (pos < text.length) {
    re.lastIndex = pos;
    const m = re.exec(text);
    if (!m) return undefined;
    const unit = (m[2] ?? "").toLowerCase();
    const mult = unit === "m" ? 60 : unit === "h" ? 3600 : unit === "d" ? 86400 : unit === "w" ? 604800 : 1;
    total += Number(m[1]) * mult;
    if (total > INT_MAX) return undefined;
    pos = re.lastIndex;
  }
  return total;
}

/** misc.c a2port: 0..65535, or -1. (Service names from /etc/services are not looked up.) */
export function parsePort(text: string): number {
  if (!/^\d+$/.test(text)) return -1;
  const n = Number(text);
  return n <= 65535 ? n : -1;
}

/** misc.c atoi_err: an int in 0..INT_MAX, or the OpenSSH reason ("missing", "invalid", "too small", "too large"). */
export function parseNonNegativeInt(text: string | undefined): number | string {
  if (text === undefined || text === "") return "missing";
  if (!/^\s*[+-]?\d+$/.test(text)) return "invalid";
  const n = Number(text.trim());
  if (n < 0) return "too small";
  if (n > INT_MAX) return "too large";
  return n;
}

/** misc.c scan_scaled: a number with an optional fraction and unit B, K, M, G, T, P, E (powers of 1024). */
export function parseScaledBytes(text: string): number | undefined {
  const m = /^(\d+)(?:\.(\d+))?([bkmgtpeBKMGTPE]?)$/.exec(text);
  if (!m) return undefined;
  const power = " KMGTPE".indexOf((m[3] ?? "").toUpperCase() === "B" ? " " : (m[3] ?? "").toUpperCase());
  const scale = 1024 ** Math.max(power, 0);
  const whole = Number(m[1]) * scale;
  const fraction = m[2] ? Math.floor(Number(`0.${m[2]}`) * scale) : 0;
  if (m[2] && power <= 0) return undefined; // a fraction of a byte
  return whole + fraction;
}

/** misc.c ipqos[] (IPQoS names), in OpenSSH's order, which decides how a value is printed. */
const IPQOS: readonly (readonly [string, number])[] = [
  ["none", INT_MAX],
  ["af11", 0x28],
  ["af12", 0x30],
  ["af13", 0x38],
  ["af21", 0x48],
  ["af22", 0x50],
  ["af23", 0x58],
  ["af31", 0x68],
  ["af32", 0x70],
  ["af33", 0x78],
  ["af41", 0x88],
  ["af42", 0x90],
  ["af43", 0x98],
  ["cs0", 0x00],
  ["cs1", 0x20],
  ["cs2", 0x40],
  ["cs3", 0x60],
  ["cs4", 0x80],
  ["cs5", 0xa0],
  ["cs6", 0xc0],
  ["cs7", 0xe0],
  ["ef", 0xb8],
  ["le", 0x04],
  ["lowdelay", 0x10],
  ["throughput", 0x08],
  ["reliability", 0x04],
];

/** misc.c parse_ipqos: a name or a number 0..255; -1 when neither. */
export function parseIpqos(text: string | undefined): number {
  if (text === undefined) return -1;
  const named = IPQOS.find(([name]) => name === text.toLowerCase());
  if (named) return named[1];
  const m = /^(0x[0-9a-fA-F]+|0[0-7]*|[1-9]\d*)$/.exec(text);
  if (!m) return -1;
  const n =
    text.startsWith("0x") || text.startsWith("0X")
      ? parseInt(text, 16)
      : text.startsWith("0")
        ? parseInt(text, 8)
        : Number(text);
  return n >= 0 && n <= 255 ? n : -1;
}

/** misc.c iptos2str. */
export function formatIpqos(value: number): string {
  const named = IPQOS.find(([, v]) => v === value);
  return named ? named[0] : `0x${value.toString(16).padStart(2, "0")}`;
}

/** vis(3) of one character with VIS_WHITE, as `ssh -G` prints EscapeChar. */
export function visChar(code: number): string {
  const c = code & 0xff;
  if (c === 0x5c) return "\\\\";
  if (c > 0x20 && c < 0x7f) return String.fromCharCode(c);
  if (c === 0x20) return "\\040";
  let out = "\\";
  let low = c;
  if (c & 0x80) {
    out += "M";
    low = c & 0x7f;
  }
  if (low < 0x20 || low === 0x7f) return out + "^" + (low === 0x7f ? "?" : String.fromCharCode(low + 64));
  if (low === 0x20) return out + "-" + " ";
  return out + "-" + String.fromCharCode(low);
}

/** A port forwarding as readconf.c keeps it. Port -2 marks a Unix socket path (PORT_STREAMLOCAL). */
export interface ForwardSpec {
  readonly listenHost?: string;
  readonly listenPort: number;
  readonly listenPath?: string;
  readonly connectHost?: string;
  readonly connectPort: number;
  readonly connectPath?: string;
}
export const PORT_STREAMLOCAL = -2;

interface FwdField {
  arg: string;
  isPath: boolean;
}

/** readconf.c parse_fwd_field: `[literal]`, or up to the next ':' with backslash escapes; '/' marks a path. */
function splitForwardFields(spec: string): FwdField[] | null {
  const fields: FwdField[] = [];
  let i = 0;
  while (i < spec.length && fields.length < 4) {
    if (spec[i] === "[") {
      const end = spec.indexOf("]", i + 1);
      if (end < 0 || (spec[end + 1] !== ":" && spec[end + 1] !== undefined)) return null;
      const arg = spec.slice(i + 1, end);
      fields.push({ arg, isPath: arg.includes("/") });
      i = end + 1 + (spec[end + 1] === ":" ? 1 : 0);
      continue;
    }
    let arg = "";
    let isPath = false;
    let closed = false;
    for (; i < spec.length; i++) {
      const c = spec[i]!;
      if (c === "\\") {
        i++;
        if (i >= spec.length) return null;
        arg += spec[i];
        continue;
      }
      if (c === "/") isPath = true;
      if (c === ":") {
        i++;
        closed = true;
        break;
      }
      arg += c;
    }
    fields.push({ arg, isPath });
    if (!closed) break;
    if (i >= spec.length) {
      // A trailing ':' leaves an empty field that parse_fwd_field reports as the end.
      break;
    }
  }
  if (i < spec.length) return null;
  return fields;
}

/**
 * readconf.c parse_forward: `[listen_host:]port:host:hostport`, `listen_path:host:port`,
 * `port:connect_path`, `listen_path:connect_path`, or for dynamic `[listen_host:]port`. `${VAR}` are
 * expanded first. Null when the specification is bad.
 */
export function parseForwardSpec(
  spec: string,
  dynamic: boolean,
  remote: boolean,
  env: Readonly<Record<string, string | undefined>>,
): ForwardSpec | null {
  let text: string;
  try {
    text = expandTokens(spec, {}, { percent: false, dollar: true, env });
  } catch (err) {
    if (err instanceof Error) return null;
    throw err;
  }
  const f = splitForwardFields(text.replace(/^\s+/, ""));
  if (!f) return null;
  let fwd: {
    listenHost?: string;
    listenPort: number;
    listenPath?: string;
    connectHost?: string;
    connectPort: number;
    connectPath?: string;
  };
  switch (f.length) {
    case 1:
      fwd = f[0]!.isPath
        ? { listenPath: f[0]!.arg, listenPort: PORT_STREAMLOCAL, connectHost: "socks", connectPort: 0 }
        : { listenPort: parsePort(f[0]!.arg), connectHost: "socks", connectPort: 0 };
      break;
    case 2:
      if (f[0]!.isPath && f[1]!.isPath) {
        fwd = {
          listenPath: f[0]!.arg,
          listenPort: PORT_STREAMLOCAL,
          connectPath: f[1]!.arg,
          connectPort: PORT_STREAMLOCAL,
        };
      } else if (f[1]!.isPath) {
        fwd = { listenPort: parsePort(f[0]!.arg), connectPath: f[1]!.arg, connectPort: PORT_STREAMLOCAL };
      } else {
        fwd = {
          listenHost: f[0]!.arg,
          listenPort: parsePort(f[1]!.arg),
          connectHost: "socks",
          connectPort: 0,
        };
      }
      break;
    case 3:
      if (f[0]!.isPath) {
        fwd = {
          listenPath: f[0]!.arg,
          listenPort: PORT_STREAMLOCAL,
          connectHost: f[1]!.arg,
          connectPort: parsePort(f[2]!.arg),
        };
      } else if (f[2]!.isPath) {
        fwd = {
          listenHost: f[0]!.arg,
          listenPort: parsePort(f[1]!.arg),
          connectPath: f[2]!.arg,
          connectPort: PORT_STREAMLOCAL,
        };
      } else {
        fwd = { listenPort: parsePort(f[0]!.arg), connectHost: f[1]!.arg, connectPort: parsePort(f[2]!.arg) };
      }
      break;
    case 4:
      fwd = {
        listenHost: f[0]!.arg,
        listenPort: parsePort(f[1]!.arg),
        connectHost: f[2]!.arg,
        connectPort: parsePort(f[3]!.arg),
      };
      break;
    default:
      return null;
  }
  const n = f.length;
  if (dynamic) {
    if (n !== 1 && n !== 2) return null;
  } else {
    if (n !== 3 && n !== 4 && fwd.connectPath === undefined && fwd.listenPath === undefined) return null;
    if (fwd.connectPort <= 0 && fwd.connectPath === undefined) return null;
  }
  if ((fwd.listenPort < 0 && fwd.listenPath === undefined) || (!remote && fwd.listenPort === 0)) return null;
  if ((fwd.connectHost?.length ?? 0) >= 1025 || (fwd.listenHost?.length ?? 0) >= 1025) return null;
  if ((fwd.connectPath?.length ?? 0) >= 108 || (fwd.listenPath?.length ?? 0) >= 108) return null;
  return fwd;
}

/** readconf.c forward_equals, for OpenSSH's de-duplication of forwards. */
export function forwardsEqual(a: ForwardSpec, b: ForwardSpec): boolean {
  return (
    a.listenHost === b.listenHost &&
    a.listenPort === b.listenPort &&
    a.listenPath === b.listenPath &&
    a.connectHost === b.connectHost &&
    a.connectPort === b.connectPort &&
    a.connectPath === b.connectPath
  );
}

export const TUN_ANY = 0x7fffffff;

/** misc.c a2tun: "any", a number, or "local:remote" of those; undefined when bad. */
export function parseTunDevice(text: string): { local: number; remote: number } | undefined {
  const one = (s: string): number | undefined => {
    if (s === "any") return TUN_ANY;
    if (!/^\d+$/.test(s)) return undefined;
    const n = Number(s);
    return n <= TUN_ANY - 2 ? n : undefined;
  };
  const colon = text.indexOf(":");
  if (colon >= 0) {
    const local = one(text.slice(0, colon));
    const remote = one(text.slice(colon + 1));
    return local === undefined || remote === undefined ? undefined : { local, remote };
  }
  const v = one(text);
  return v === undefined ? undefined : { local: v, remote: TUN_ANY };
}

/** log.c log_level_names; DEBUG and DEBUG1 are the same level, and ssh -G names QUIET "SILENT". */
export const LOG_LEVELS: readonly (readonly [string, number])[] = [
  ["SILENT", 0],
  ["QUIET", 0],
  ["FATAL", 1],
  ["ERROR", 2],
  ["INFO", 3],
  ["VERBOSE", 4],
  ["DEBUG", 5],
  ["DEBUG1", 5],
  ["DEBUG2", 6],
  ["DEBUG3", 7],
];
export const LOG_FACILITIES = [
  "DAEMON",
  "USER",
  "AUTH",
  "AUTHPRIV",
  "LOCAL0",
  "LOCAL1",
  "LOCAL2",
  "LOCAL3",
  "LOCAL4",
  "LOCAL5",
  "LOCAL6",
  "LOCAL7",
] as const;

/** digest.c names accepted by FingerprintHash. */
export const FINGERPRINT_HASHES = ["MD5", "SHA1", "SHA256", "SHA384", "SHA512"] as const;
