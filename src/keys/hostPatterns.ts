/**
 * Host, user and address patterns as OpenSSH's match.c and addrmatch.c evaluate them (ssh_config(5) and
 * sshd_config(5) PATTERNS): `*` and `?` wildcards, comma-separated lists where a matching `!pattern` wins
 * over any positive match, and address lists with CIDR networks (IPv4 and IPv6). Used by known_hosts,
 * authorized_keys `from=`, `Host`/`Match` blocks and AllowUsers/DenyUsers.
 */
import { SshError } from "../wire/index.js";

export type PatternListResult = "match" | "negated" | "none";

/**
 * match.c match_pattern(): `*` matches any run of characters (also none), `?` exactly one.
 * Case-insensitive unless `caseSensitive` (user names are matched case-sensitively by sshd).
 */
export function matchHostPattern(name: string, pattern: string, caseSensitive = false): boolean {
  const s = caseSensitive ? name : name.toLowerCase();
  const p = caseSensitive ? pattern : pattern.toLowerCase();
  // Iterative glob with one backtrack point: linear in practice, no regex built from user input.
  let si = 0;
  let pi = 0;
  let starP = -1;
  let starS = 0;
  while (si < s.length) {
    const pc = p[pi];
    if (pc === "*") {
      starP = pi++;
      starS = si;
    } else if (pc !== undefined && (pc === "?" || pc === s[si])) {
      pi++;
      si++;
    } else if (starP >= 0) {
      pi = starP + 1;
      si = ++starS;
    } else {
      return false;
    }
  }
  while (p[pi] === "*") pi++;
  return pi === p.length;
}

/**
 * match.c match_pattern_list(): "negated" as soon as a `!pattern` matches, else "match" if any plain
 * pattern matches, else "none".
 */
export function matchPatternList(name: string, list: string, caseSensitive = false): PatternListResult {
  let positive = false;
  for (const raw of list.split(",")) {
    const negated = raw.startsWith("!");
    const pattern = negated ? raw.slice(1) : raw;
    if (matchHostPattern(name, pattern, caseSensitive)) {
      if (negated) return "negated";
      positive = true;
    }
  }
  return positive ? "match" : "none";
}

/** An address as bytes: 4 for IPv4, 16 for IPv6. */
export interface ParsedAddress {
  readonly family: 4 | 6;
  readonly bytes: Uint8Array;
}

/** Parse a numeric IPv4 or IPv6 address (no zone id); null if it is not one. */
export function parseIpAddress(text: string): ParsedAddress | null {
  const v4 = parseIpv4(text);
  if (v4) return { family: 4, bytes: v4 };
  const v6 = parseIpv6(text);
  return v6 ? { family: 6, bytes: v6 } : null;
}

function parseIpv4(text: string): Uint8Array | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^\d{1,3}$/.test(p) || (p.length > 1 && p.startsWith("0"))) return null;
    const n = Number(p);
    if (n > 255) return null;
    out[i] = n;
  }
  return out;
}

function parseIpv6(text: string): Uint8Array | null {
  if (!/^[0-9A-Fa-f:.]+$/.test(text) || text.length > 45) return null;
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const groups = (s: string): number[] | null => {
    if (s === "") return [];
    const out: number[] = [];
    const items = s.split(":");
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      if (i === items.length - 1 && item.includes(".")) {
        const v4 = parseIpv4(item);
        if (!v4) return null;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else {
        if (!/^[0-9A-Fa-f]{1,4}$/.test(item)) return null;
        out.push(parseInt(item, 16));
      }
    }
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !tail) return null;
  let all: number[];
  if (halves.length === 2) {
    const missing = 8 - head.length - tail.length;
    if (missing < 1) return null;
    all = [...head, ...new Array<number>(missing).fill(0), ...tail];
  } else {
    all = head;
  }
  if (all.length !== 8) return null;
  const bytes = new Uint8Array(16);
  all.forEach((g, i) => {
    bytes[2 * i] = g >> 8;
    bytes[2 * i + 1] = g & 0xff;
  });
  return bytes;
}

/**
 * The address a peer connected from, as sshd sees it: an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, what
 * a dual-stack Node socket reports) becomes plain IPv4 (sshd's ipv64_normalise_mapped), a zone id is dropped.
 */
export function normalizeRemoteAddress(addr: string): ParsedAddress | null {
  const parsed = parseIpAddress(addr.replace(/%.*$/, ""));
  if (parsed?.family === 6) {
    const b = parsed.bytes;
    const mapped = b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;
    if (mapped) return { family: 4, bytes: b.slice(12) };
  }
  return parsed;
}

/** `::ffff:a.b.c.d` → `a.b.c.d` and a zone id dropped, as sshd shows a peer; other text is unchanged. */
export function canonicalAddressText(addr: string): string {
  const parsed = normalizeRemoteAddress(addr);
  return parsed?.family === 4 ? Array.from(parsed.bytes).join(".") : addr.replace(/%.*$/, "");
}

/** A CIDR network: its address bytes and prefix length. */
export interface CidrNetwork {
  readonly address: ParsedAddress;
  readonly prefix: number;
}

/**
 * addrmatch.c addr_pton_cidr(): "ok" with the network, "invalid" when the text is not an address[/len]
 * (the caller may then treat it as a wildcard pattern), "inconsistent" when the prefix is out of range or
 * host bits are set (`10.0.0.1/8`), which OpenSSH rejects outright.
 */
function parseCidr(
  text: string,
): { status: "ok"; network: CidrNetwork } | { status: "invalid" | "inconsistent" } {
  const slash = text.indexOf("/");
  const addrText = slash < 0 ? text : text.slice(0, slash);
  const address = parseIpAddress(addrText);
  if (!address) return { status: "invalid" };
  const bits = address.family === 4 ? 32 : 128;
  let prefix = bits;
  if (slash >= 0) {
    const lenText = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(lenText)) return { status: "invalid" };
    prefix = Number(lenText);
    if (prefix > bits) return { status: "inconsistent" };
  }
  for (let bit = prefix; bit < bits; bit++) {
    if (address.bytes[bit >> 3]! & (0x80 >> (bit & 7))) return { status: "inconsistent" };
  }
  return { status: "ok", network: { address, prefix } };
}

function inNetwork(addr: ParsedAddress, net: CidrNetwork): boolean {
  if (addr.family !== net.address.family) return false;
  for (let bit = 0; bit < net.prefix; bit++) {
    const mask = 0x80 >> (bit & 7);
    if ((addr.bytes[bit >> 3]! & mask) !== (net.address.bytes[bit >> 3]! & mask)) return false;
  }
  return true;
}

/**
 * addrmatch.c addr_match_list(): each member is a CIDR network or single address, or else a wildcard
 * pattern matched against the address text; a matching `!member` wins. An inconsistent network
 * (`10.0.0.1/8`, `/33`) or an empty member throws SshError("CONFIG"), where OpenSSH returns -2.
 * An `addr` that is not an IP address matches nothing.
 */
export function matchAddressList(addr: string, list: string): PatternListResult {
  const parsed = normalizeRemoteAddress(addr);
  if (!parsed) return "none";
  const text = canonicalAddressText(addr);
  let positive = false;
  for (const raw of list.split(",")) {
    const negated = raw.startsWith("!");
    const member = negated ? raw.slice(1) : raw;
    if (member === "") throw new SshError("CONFIG", `empty entry in address list "${list}"`);
    const cidr = parseCidr(member);
    if (cidr.status === "inconsistent") {
      throw new SshError("CONFIG", `inconsistent mask length for match network "${member}"`);
    }
    const hit = cidr.status === "ok" ? inNetwork(parsed, cidr.network) : matchHostPattern(text, member, true);
    if (hit) {
      if (negated) return "negated";
      positive = true;
    }
  }
  return positive ? "match" : "none";
}

/**
 * A list of addresses and CIDR networks only (no wildcards), with `!` negation winning, e.g.
 * `192.168.0.0/16,!10.0.0.1,2001:db8::/32`. True when the address matches and no negation does.
 * A member that is not a valid address/network throws SshError("CONFIG") naming it.
 */
export function addressMatchesCidrList(addr: string, list: string): boolean {
  const networks = parseCidrList(list);
  const parsed = normalizeRemoteAddress(addr);
  if (!parsed) return false;
  let positive = false;
  for (const { negated, network } of networks) {
    if (inNetwork(parsed, network)) {
      if (negated) return false;
      positive = true;
    }
  }
  return positive;
}

/** Validate a CIDR list (as addr_match_cidr_list does before use); throws SshError("CONFIG"). */
export function parseCidrList(list: string): { negated: boolean; network: CidrNetwork }[] {
  const out: { negated: boolean; network: CidrNetwork }[] = [];
  for (const raw of list.split(",")) {
    const member = raw.trim();
    const negated = member.startsWith("!");
    const text = negated ? member.slice(1) : member;
    const cidr = parseCidr(text);
    if (cidr.status !== "ok") {
      const why = cidr.status === "inconsistent" ? "inconsistent mask length" : "not an address or network";
      throw new SshError("CONFIG", `invalid CIDR list entry "${member}": ${why}`);
    }
    out.push({ negated, network: cidr.network });
  }
  return out;
}

/**
 * match.c match_host_and_ip(), as sshd uses it for authorized_keys `from=` and `user@host` patterns:
 * the list is tried against the address (CIDR or wildcard) and against the host name (wildcards,
 * case-insensitive); a negation in either refuses. Without a resolved name (UseDNS no) sshd passes the
 * address as the name. Throws SshError("CONFIG") for an inconsistent network in the list.
 */
export function matchHostAndAddress(hostName: string | undefined, addr: string, list: string): boolean {
  const byAddress = matchAddressList(addr, list);
  if (byAddress === "negated") return false;
  const byName = matchPatternList(hostName ?? canonicalAddressText(addr), list);
  if (byName === "negated") return false;
  return byAddress === "match" || byName === "match";
}

/**
 * match.c match_user(): a `user` or `user@host` pattern (AllowUsers, DenyUsers, Match User with @): the user
 * part is case-sensitive; the host part goes through matchHostAndAddress.
 */
export function matchUserHostPattern(
  user: string,
  hostName: string | undefined,
  addr: string,
  pattern: string,
): boolean {
  const at = pattern.indexOf("@");
  if (at < 0) return matchHostPattern(user, pattern, true);
  if (!matchHostPattern(user, pattern.slice(0, at), true)) return false;
  return matchHostAndAddress(hostName, addr, pattern.slice(at + 1));
}
