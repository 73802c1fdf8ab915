/**
 * Value syntaxes ssh_config(5) and sshd_config(5) share, read as OpenSSH's misc.c reads them for both
 * readconf.c and servconf.c: TIME FORMATS (convtime), scaled byte counts (scan_scaled), ports (a2port), IPQoS
 * names (ipqos[], parse_ipqos, iptos2str), the syslog facility names and Debian's GSSAPI key exchanges. Each returns a plain value or
 * undefined / -1; the ssh and sshd sides word their own errors (sshConfigValues.ts, sshdConfigValues.ts).
 */

export const INT_MAX = 2147483647;

const TIME_UNIT_SECONDS: Readonly<Record<string, number>> = {
  "": 1,
  s: 1,
  m: 60,
  h: 3600,
  d: 86400,
  w: 604800,
};

/**
 * misc.c convtime without its range check: the sum of numbers each with an optional unit (s, m, h, d, w;
 * none means seconds), e.g. "90", "1h30m"; undefined when malformed. Callers check the INT_MAX limit, as
 * ssh and sshd word its failure differently.
 */
export function sumTimeSpec(text: string): number | undefined {
  if (text === "") return undefined;
  let total = 0;
  const re = /(\d+)([sSmMhHdDwW]?)/y;
  let pos = 0;
  while (pos < text.length) {
    re.lastIndex = pos;
    const m = re.exec(text);
    if (!m) return undefined;
    total += Number(m[1]) * TIME_UNIT_SECONDS[(m[2] ?? "").toLowerCase()]!;
    pos = re.lastIndex;
  }
  return total;
}

/** misc.c convtime: seconds, or undefined when malformed or beyond INT_MAX seconds. */
export function parseTimeSpec(text: string): number | undefined {
  const total = sumTimeSpec(text);
  return total === undefined || total > INT_MAX ? undefined : total;
}

/** misc.c a2port: 0..65535, or -1. (Service names from /etc/services are not looked up.) */
export function parsePort(text: string): number {
  if (!/^\d+$/.test(text)) return -1;
  const n = Number(text);
  return n <= 65535 ? n : -1;
}

/**
 * misc.c scan_scaled (RekeyLimit in both files): a number with an optional fraction and unit B, K, M, G, T,
 * P, E (powers of 1024); undefined when malformed. Not range-checked.
 */
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

/** The value IPQoS "none" stands for (misc.c ipqos[]: INT_MAX, "leave the system default"). */
const IPQOS_NONE = INT_MAX;

/**
 * misc.c ipqos[] (IPQoS names), in OpenSSH's order, which decides how a value is printed: "le" is DSCP LE
 * (RFC 8622, codepoint 1, so TOS byte 0x04, as `ssh -G -o IPQoS=le` and `sshd -T -o IPQoS=le` confirm), and
 * it comes before "reliability" (also 0x04), so 0x04 prints as "le".
 */
const IPQOS_NAMES: readonly (readonly [string, number])[] = [
  ["none", IPQOS_NONE],
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

/** misc.c parse_ipqos: a name (any case) or a number 0..255 (decimal, 0x hex, 0 octal, as strtol base 0); -1 when neither. */
export function parseIpqos(text: string | undefined): number {
  if (text === undefined) return -1;
  const named = IPQOS_NAMES.find(([name]) => name === text.toLowerCase());
  if (named) return named[1];
  let n: number;
  if (/^0x[0-9a-f]+$/i.test(text)) n = parseInt(text.slice(2), 16);
  else if (/^0[0-7]*$/.test(text)) n = parseInt(text, 8);
  else if (/^[1-9]\d*$/.test(text)) n = Number(text);
  else return -1;
  return n <= 255 ? n : -1;
}

/** misc.c iptos2str: the first name for a value, else two hex digits. */
export function formatIpqos(value: number): string {
  const named = IPQOS_NAMES.find(([, v]) => v === value);
  return named ? named[0] : `0x${value.toString(16).padStart(2, "0")}`;
}

/** log.c log_facility_names (SyslogFacility in both files). */
export const SYSLOG_FACILITIES: readonly string[] = [
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
];

/** The GSSAPI key exchange names Debian's OpenSSH knows (GSSAPIKexAlgorithms in both files; kex.h KEX_GSS_*). */
export const GSS_KEX_ALGORITHMS: readonly string[] = [
  "gss-gex-sha1-",
  "gss-group1-sha1-",
  "gss-group14-sha1-",
  "gss-group14-sha256-",
  "gss-group16-sha512-",
  "gss-nistp256-sha256-",
  "gss-curve25519-sha256-",
];

/** Debian's GSSAPIKexAlgorithms default (as `ssh -G` and `sshd -T` print it). */
export const DEFAULT_GSS_KEX =
  "gss-group14-sha256-,gss-group16-sha512-,gss-nistp256-sha256-,gss-curve25519-sha256-,gss-group14-sha1-,gss-gex-sha1-";
