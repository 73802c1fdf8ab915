/**
 * Value syntaxes of ssh_config(5) keywords, read as OpenSSH's readconf.c and misc.c read them: yes/no and
 * the other multi-state words, time intervals (TIME FORMATS in sshd_config(5)), ports, scaled byte counts
 * (RekeyLimit), IPQoS names, forwarding specifications (LocalForward, RemoteForward, DynamicForward) and
 * tun devices. A bad value throws LineProblem, which the reader turns into "file line N: ...".
 */
import { INT_MAX, parsePort } from "./configValues.js";
import { expandTokens } from "./tokens.js";

// Shared with sshd_config; re-exported here for the names ssh_config code has always imported.
export {
  INT_MAX,
  formatIpqos,
  parseIpqos,
  parsePort,
  parseScaledBytes,
  parseTimeSpec,
} from "./configValues.js";

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
const STRICT_YES = 2;
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
const TUNNEL_DEFAULT = 0x7fffffff;
export const MS_TUNNEL: Multistate = [
  ["ethernet", 2],
  ["point-to-point", 1],
  ["true", TUNNEL_DEFAULT],
  ["yes", TUNNEL_DEFAULT],
  ["false", 0],
  ["no", 0],
];
export const REQUEST_TTY_NO = 0;
const REQUEST_TTY_YES = 1;
const REQUEST_TTY_FORCE = 2;
const REQUEST_TTY_AUTO = 3;
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
const PUBKEY_AUTH_ALL = 3;
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

/** misc.c atoi_err: an int in 0..INT_MAX, or the OpenSSH reason ("missing", "invalid", "too small", "too large"). */
export function parseNonNegativeInt(text: string | undefined): number | string {
  if (text === undefined || text === "") return "missing";
  if (!/^\s*[+-]?\d+$/.test(text)) return "invalid";
  const n = Number(text.trim());
  if (n < 0) return "too small";
  if (n > INT_MAX) return "too large";
  return n;
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
/** digest.c names accepted by FingerprintHash. */
export const FINGERPRINT_HASHES = ["MD5", "SHA1", "SHA256", "SHA384", "SHA512"] as const;
