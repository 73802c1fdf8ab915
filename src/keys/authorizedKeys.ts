/**
 * authorized_keys files (sshd(8) "AUTHORIZED_KEYS FILE FORMAT"): `[options] keytype base64 [comment]`.
 * Options are parsed as sshd's auth-options.c does: comma-separated, names case-insensitive, values in
 * double quotes with `\"` for a quote, evaluated left to right (so `restrict,pty` re-enables the PTY).
 * A line with an unknown option or a bad value is reported and skipped, never half-applied.
 */
import { SshError } from "../wire/index.js";
import { canonicalAddressText, matchHostAndAddress } from "./hostPatterns.js";
import { isKeyType } from "./keyTypes.js";
import type { PublicKey } from "./publicKey.js";
import { parsePublicKeyLine } from "./publicKeyLine.js";

export interface AuthorizedKeyOptions {
  /** command="": forced command. */
  command?: string;
  /** environment="NAME=value", in file order; the first setting of a name wins, as in sshd. */
  environment: string[];
  /** from="pattern-list": host names and addresses (CIDR, wildcards, negation). */
  from?: string;
  /** expiry-time="timespec": the earliest one given. */
  expiryTime?: Date;
  /** permitopen="host:port" (port may be "*"), as written. */
  permitOpen: string[];
  /** permitlisten="[host:]port", with "*:" put in front of a bare port as sshd does. */
  permitListen: string[];
  /** principals="": for cert-authority lines, the certificate principals accepted. */
  principals?: string;
  certAuthority: boolean;
  /** tunnel="n": the tun device number; -1 for "any". */
  tunnel?: number;
  noTouchRequired: boolean;
  verifyRequired: boolean;
  // The effective switches after "restrict" and the explicit re-enables:
  pty: boolean;
  portForwarding: boolean;
  agentForwarding: boolean;
  x11Forwarding: boolean;
  userRc: boolean;
}

export interface AuthorizedKeyEntry {
  file: string;
  line: number;
  options: AuthorizedKeyOptions;
  key: PublicKey;
  comment: string;
}

export interface AuthorizedKeysParseError {
  line: number;
  message: string;
}

/** The options of a line that has none: everything permitted. */
export function defaultAuthorizedKeyOptions(): AuthorizedKeyOptions {
  return {
    environment: [],
    permitOpen: [],
    permitListen: [],
    certAuthority: false,
    noTouchRequired: false,
    verifyRequired: false,
    pty: true,
    portForwarding: true,
    agentForwarding: true,
    x11Forwarding: true,
    userRc: true,
  };
}

/** The largest tun device number (misc.h SSH_TUNID_MAX); SSH_TUNID_ANY is shown as -1. */
const TUNID_MAX = 0x7ffffffd;

/** Every key type name OpenSSH knows: a line starting with one has no options (sshd tries the key first). */
const OPENSSH_KEY_TYPE =
  /^(ssh-(rsa|dss|ed25519|xmss)|ecdsa-sha2-nistp(256|384|521)|sk-\S+@openssh\.com|\S+-cert-v01@openssh\.com|ssh-xmss@openssh\.com)$/;

/**
 * Parse an authorized_keys file. Blank lines and `#` comments are skipped; a line whose options or key
 * cannot be used is reported with its line number (message as sshd logs it) and skipped.
 */
export function parseAuthorizedKeys(
  text: string,
  file: string,
): { entries: AuthorizedKeyEntry[]; errors: AuthorizedKeysParseError[] } {
  const entries: AuthorizedKeyEntry[] = [];
  const errors: AuthorizedKeysParseError[] = [];
  text.split("\n").forEach((raw, i) => {
    try {
      const entry = parseAuthorizedKeysLine(raw.replace(/\r$/, ""), file, i + 1);
      if (entry) entries.push(entry);
    } catch (err) {
      if (!(err instanceof SshError)) throw err;
      errors.push({ line: i + 1, message: err.message });
    }
  });
  return { entries, errors };
}

/** One line: null for blank/comment; SshError for a line sshd would skip. */
export function parseAuthorizedKeysLine(raw: string, file: string, line: number): AuthorizedKeyEntry | null {
  const text = raw.replace(/^[ \t]+/, "");
  if (text === "" || text.startsWith("#")) return null;
  const firstWord = /^[^ \t]*/.exec(text)![0];
  let optionText: string | null = null;
  let keyText = text;
  if (!isKeyType(firstWord) && !OPENSSH_KEY_TYPE.test(firstWord)) {
    const end = endOfOptions(text);
    optionText = text.slice(0, end);
    keyText = text.slice(end).replace(/^[ \t]+/, "");
    if (keyText === "") throw new SshError("KEY_FORMAT", "no key after the options");
  }
  const options = optionText === null ? defaultAuthorizedKeyOptions() : parseAuthorizedKeyOptions(optionText);
  const { key, comment } = parsePublicKeyLine(keyText);
  return { file, line, options, key, comment };
}

/** sshkey_advance_past_options(): the options end at the first space or tab outside double quotes. */
function endOfOptions(text: string): number {
  let quoted = false;
  let i = 0;
  for (; i < text.length; i++) {
    const c = text[i];
    if (!quoted && (c === " " || c === "\t")) break;
    if (c === "\\" && text[i + 1] === '"') i++;
    else if (c === '"') quoted = !quoted;
  }
  if (quoted) throw new SshError("KEY_FORMAT", "bad key options: missing end quote");
  return i;
}

/**
 * Parse the options field (without the key), as sshd's sshauthopt_parse: SshError("KEY_FORMAT") whose
 * message starts "bad key options: " for an unknown option or a bad value.
 */
export function parseAuthorizedKeyOptions(text: string): AuthorizedKeyOptions {
  const o = defaultAuthorizedKeyOptions();
  const bad = (why: string): SshError => new SshError("KEY_FORMAT", `bad key options: ${why}`);
  let rest = text;
  /** A flag option, with "no-" allowed when `negatable`; true/false if it is this option, null if not. */
  const flag = (name: string, negatable: boolean): boolean | null => {
    let s = rest;
    let value = true;
    if (negatable && s.slice(0, 3).toLowerCase() === "no-") {
      s = s.slice(3);
      value = false;
    }
    if (s.slice(0, name.length).toLowerCase() !== name) return null;
    rest = s.slice(name.length);
    return value;
  };
  /** `name="value"`: the dequoted value, or null if it is not this option. */
  const valued = (name: string): string | null => {
    if (rest.slice(0, name.length + 1).toLowerCase() !== `${name}=`) return null;
    rest = rest.slice(name.length + 1);
    // opt_dequote(): only \" is an escape; every other character (a backslash too) is taken as is.
    if (!rest.startsWith('"')) throw bad("missing start quote");
    let out = "";
    let i = 1;
    for (; i < rest.length && rest[i] !== '"'; i++) {
      if (rest[i] === "\\" && rest[i + 1] === '"') i++;
      out += rest[i];
    }
    if (i >= rest.length) throw bad("missing end quote");
    rest = rest.slice(i + 1);
    return out;
  };

  while (rest !== "") {
    let v: boolean | null;
    let s: string | null;
    if ((v = flag("restrict", false)) !== null) {
      o.portForwarding = o.agentForwarding = o.x11Forwarding = o.pty = o.userRc = false;
    } else if ((v = flag("cert-authority", false)) !== null) {
      o.certAuthority = true;
    } else if ((v = flag("port-forwarding", true)) !== null) {
      o.portForwarding = v;
    } else if ((v = flag("agent-forwarding", true)) !== null) {
      o.agentForwarding = v;
    } else if ((v = flag("x11-forwarding", true)) !== null) {
      o.x11Forwarding = v;
    } else if ((v = flag("touch-required", true)) !== null) {
      o.noTouchRequired = !v;
    } else if ((v = flag("verify-required", false)) !== null) {
      o.verifyRequired = true;
    } else if ((v = flag("pty", true)) !== null) {
      o.pty = v;
    } else if ((v = flag("user-rc", true)) !== null) {
      o.userRc = v;
    } else if ((s = valued("command")) !== null) {
      if (o.command !== undefined) throw bad('multiple "command" clauses');
      o.command = s;
    } else if ((s = valued("principals")) !== null) {
      if (o.principals !== undefined) throw bad('multiple "principals" clauses');
      o.principals = s;
    } else if ((s = valued("from")) !== null) {
      if (o.from !== undefined) throw bad('multiple "from" clauses');
      o.from = s;
    } else if ((s = valued("expiry-time")) !== null) {
      const t = parseExpiryTime(s);
      if (!t) throw bad("invalid expires time");
      if (o.expiryTime === undefined || t < o.expiryTime) o.expiryTime = t;
    } else if ((s = valued("environment")) !== null) {
      const m = /^([A-Za-z0-9_]+)=/.exec(s);
      if (!m) throw bad("invalid environment string");
      if (!o.environment.some((e) => e.startsWith(m[0]))) o.environment.push(s);
    } else if ((s = valued("permitopen")) !== null) {
      o.permitOpen.push(checkPermission(s, false, bad));
    } else if ((s = valued("permitlisten")) !== null) {
      o.permitListen.push(checkPermission(s, true, bad));
    } else if ((s = valued("tunnel")) !== null) {
      const n = s.toLowerCase() === "any" ? -1 : /^\d{1,10}$/.test(s) ? Number(s) : NaN;
      if (!(n === -1 || (n >= 0 && n <= TUNID_MAX))) throw bad("invalid tun device");
      o.tunnel = n;
    } else {
      const name = /^[^,= \t]*/.exec(rest)![0];
      throw bad(`unsupported option "${name}"`);
    }
    // Next item: a comma and another option, or the end.
    if (rest === "") break;
    if (!rest.startsWith(",")) throw bad(`unknown key option near "${rest.slice(0, 20)}"`);
    rest = rest.slice(1);
    if (rest === "") throw bad("unexpected end-of-options");
  }
  return o;
}

/**
 * permitopen / permitlisten values (auth-options.c handle_permit): `host:port` or `[v6addr]:port`, the port
 * a number 1-65535 or "*"; a permitlisten without a host gets "*:" in front.
 */
function checkPermission(value: string, listen: boolean, bad: (why: string) => SshError): string {
  const v = listen && !value.includes(":") ? `*:${value}` : value;
  let host: string;
  let port: string;
  const bracketed = /^\[([^\]]*)\]:(.*)$/.exec(v);
  if (bracketed) {
    host = bracketed[1]!;
    port = bracketed[2]!;
  } else {
    const colon = v.indexOf(":");
    if (colon < 0) throw bad("missing permission port");
    host = v.slice(0, colon);
    port = v.slice(colon + 1);
  }
  if (host === "" || host.length >= 1025) throw bad("invalid permission hostname");
  const n = /^\d{1,5}$/.test(port) ? Number(port) : NaN;
  if (port !== "*" && !(n >= 1 && n <= 65535)) throw bad("invalid permission port");
  return v;
}

/**
 * misc.c parse_absolute_time(): YYYYMMDD, YYYYMMDDHHMM or YYYYMMDDHHMMSS, local time unless it ends in
 * "Z" or "UTC". Null if malformed or not a real date.
 */
export function parseExpiryTime(spec: string): Date | null {
  let s = spec;
  let utc = false;
  if (s.length > 1 && s.slice(-1).toLowerCase() === "z") {
    utc = true;
    s = s.slice(0, -1);
  } else if (s.length > 3 && s.slice(-3).toLowerCase() === "utc") {
    utc = true;
    s = s.slice(0, -3);
  }
  if (!/^\d+$/.test(s) || ![8, 12, 14].includes(s.length)) return null;
  const num = (from: number, len: number): number =>
    s.length >= from + len ? Number(s.slice(from, from + len)) : 0;
  const [y, mo, d, h, mi, se] = [num(0, 4), num(4, 2), num(6, 2), num(8, 2), num(10, 2), num(12, 2)];
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) return null;
  const date = utc ? new Date(Date.UTC(y, mo - 1, d, h, mi, se)) : new Date(y, mo - 1, d, h, mi, se);
  // Reject dates that roll over (20230231): the fields must read back unchanged.
  const back = utc
    ? [date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate()]
    : [date.getFullYear(), date.getMonth() + 1, date.getDate()];
  if (back[0] !== y || back[1] !== mo || back[2] !== d) return null;
  return date;
}

/** The first line for this plain key (cert-authority lines are for certificates and never match one). */
export function findAuthorizedKey(
  entries: readonly AuthorizedKeyEntry[],
  key: PublicKey,
): AuthorizedKeyEntry | undefined {
  return entries.find((e) => !e.options.certAuthority && e.key.equals(key));
}

export interface KeyOptionsContext {
  /** The peer's address (an IPv4-mapped IPv6 address counts as IPv4, as sshd normalises it). */
  remoteAddress: string;
  /** The peer's resolved name when UseDNS is on; without it the address stands for the name, as in sshd. */
  remoteHostName?: string;
  /** The account, for the log wording. */
  user?: string;
  now?: Date;
}

/**
 * sshd's auth_authorise_keyopts() for one line: expiry-time first, then from= (match_host_and_ip). The
 * refusal reason is worded as sshd logs it, prefixed with `file:line`.
 */
export function checkKeyOptions(
  entry: AuthorizedKeyEntry,
  ctx: KeyOptionsContext,
): { ok: true } | { ok: false; reason: string } {
  const loc = `${entry.file}:${entry.line}`;
  const now = ctx.now ?? new Date();
  const { expiryTime, from } = entry.options;
  if (expiryTime !== undefined && now.getTime() > expiryTime.getTime()) {
    return { ok: false, reason: `${loc}: entry expired at ${formatLocalTime(expiryTime)}` };
  }
  if (from !== undefined) {
    const ip = canonicalAddressText(ctx.remoteAddress);
    const host = ctx.remoteHostName ?? ip;
    let permitted: boolean;
    let invalid = "";
    try {
      permitted = matchHostAndAddress(host, ip, from);
    } catch (err) {
      if (!(err instanceof SshError)) throw err;
      permitted = false; // sshd: "invalid FROM criteria" refuses the key
      invalid = `${loc}: invalid FROM criteria (${err.message}); `;
    }
    if (!permitted) {
      return {
        ok: false,
        reason:
          `${invalid}${loc}: Authentication tried for ${ctx.user ?? "(unknown)"} with correct key but not from a ` +
          `permitted host (host=${host}, ip=${ip}, required=${from}).`,
      };
    }
  }
  return { ok: true };
}

/**
 * sshd's check_authkeys_file(): the first line with this plain key whose options admit the connection;
 * a line refused by from= or expiry-time does not end the search. The reasons of refused lines are
 * returned for the log.
 */
export function authorizeKey(
  entries: readonly AuthorizedKeyEntry[],
  key: PublicKey,
  ctx: KeyOptionsContext,
): { entry: AuthorizedKeyEntry; refused: string[] } | { entry: undefined; refused: string[] } {
  const refused: string[] = [];
  for (const e of entries) {
    if (e.options.certAuthority || !e.key.equals(key)) continue;
    const r = checkKeyOptions(e, ctx);
    if (r.ok) return { entry: e, refused };
    refused.push(r.reason);
  }
  return { entry: undefined, refused };
}

/** misc.c format_absolute_time(): local time as %Y-%m-%dT%H:%M:%S. */
function formatLocalTime(d: Date): string {
  const p = (n: number, w = 2): string => String(n).padStart(w, "0");
  return (
    `${p(d.getFullYear(), 4)}-${p(d.getMonth() + 1)}-${p(d.getDate())}` +
    `T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`
  );
}
