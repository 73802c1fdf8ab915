/**
 * sshd_config(5) Match blocks: the criteria line (All, User, Group, Host, LocalAddress, LocalPort, Address,
 * RDomain, several per line, all must match) and its evaluation against one connection, as servconf.c
 * match_cfg_line() does. Patterns follow sshd_config(5) PATTERNS (`!` negation inside a list).
 */
import { readFileSync } from "node:fs";
import { matchAddressList, matchPatternList, parseCidrList } from "../keys/hostPatterns.js";
import { ValueError, parsePort } from "./sshdConfigValues.js";

export interface SshdConnectionSpec {
  user?: string;
  host?: string;
  addr?: string;
  laddr?: string;
  lport?: number;
  rdomain?: string;
  /** The user's groups; looked up in /etc/passwd and /etc/group when absent and a Group criterion needs them. */
  groups?: string[];
}

export type MatchAttribute =
  "all" | "user" | "group" | "host" | "localaddress" | "localport" | "address" | "rdomain";

export interface MatchCriterion {
  readonly attribute: MatchAttribute;
  /** The pattern list as written (empty for All). */
  readonly patterns: string;
}

const ATTRIBUTES: readonly MatchAttribute[] = [
  "all",
  "user",
  "group",
  "host",
  "localaddress",
  "localport",
  "address",
  "rdomain",
];

/** Parse a Match line's arguments; throws ValueError with sshd's wording ("Bad Match condition: ..."). */
export function parseMatchCriteria(args: string[]): MatchCriterion[] {
  if (args.length === 0) throw new ValueError("Bad Match condition: missing criteria");
  const out: MatchCriterion[] = [];
  for (let i = 0; i < args.length; i++) {
    const word = args[i]!;
    const attribute = word.toLowerCase() as MatchAttribute;
    if (!ATTRIBUTES.includes(attribute)) {
      throw new ValueError(`Bad Match condition: Unsupported Match attribute ${word}`);
    }
    if (attribute === "all") {
      if (args.length !== 1) {
        throw new ValueError("Bad Match condition: 'all' cannot be combined with other Match attributes");
      }
      out.push({ attribute, patterns: "" });
      continue;
    }
    const patterns = args[++i];
    if (patterns === undefined || patterns === "") {
      throw new ValueError(`Bad Match condition: Missing Match criteria for ${word}`);
    }
    if (attribute === "address" || attribute === "localaddress") {
      checkAddressList(patterns, word);
    } else if (attribute === "localport") {
      try {
        parsePort(patterns);
      } catch {
        throw new ValueError(`Bad Match condition: Invalid LocalPort '${patterns}' on Match line`);
      }
    }
    out.push({ attribute, patterns });
  }
  return out;
}

/** servconf.c checks address lists when the line is read, whether or not the block ever applies. */
function checkAddressList(list: string, word: string): void {
  const networks = list
    .split(",")
    .map((m) => (m.startsWith("!") ? m.slice(1) : m))
    .filter((m) => m.includes("/"));
  try {
    if (list.split(",").some((m) => m === "" || m === "!")) throw new Error("empty entry");
    if (networks.length > 0) parseCidrList(networks.join(","));
  } catch (e) {
    throw new ValueError(
      `Bad Match condition: Invalid Match ${word} argument '${list}': ${(e as Error).message}`,
    );
  }
}

/**
 * Whether the criteria hold for `ci`. With no connection (the global view and `sshd -T` without -C) only
 * `Match All` holds; a criterion whose connection field is unknown does not hold (servconf.c test mode).
 */
export function matchCriteria(criteria: readonly MatchCriterion[], ci: SshdConnectionSpec | null): boolean {
  for (const c of criteria) {
    if (c.attribute === "all") return true;
    if (ci === null || !criterionHolds(c, ci)) return false;
  }
  return true;
}

function criterionHolds(c: MatchCriterion, ci: SshdConnectionSpec): boolean {
  switch (c.attribute) {
    case "user":
      return ci.user !== undefined && matchPatternList(ci.user, c.patterns, true) === "match";
    case "group": {
      if (ci.user === undefined) return false;
      const groups = ci.groups ?? systemGroupsOf(ci.user);
      let found = false;
      for (const g of groups) {
        const r = matchPatternList(g, c.patterns, true);
        if (r === "negated") return false;
        if (r === "match") found = true;
      }
      return found;
    }
    case "host":
      return ci.host !== undefined && matchPatternList(ci.host, c.patterns) === "match";
    case "address":
      return ci.addr !== undefined && matchAddressList(ci.addr, c.patterns) === "match";
    case "localaddress":
      return ci.laddr !== undefined && matchAddressList(ci.laddr, c.patterns) === "match";
    case "localport":
      return ci.lport !== undefined && ci.lport === Number(c.patterns);
    case "rdomain":
      return ci.rdomain !== undefined && matchPatternList(ci.rdomain, c.patterns) === "match";
    default:
      return false;
  }
}

/** The user's primary and supplementary groups from /etc/passwd and /etc/group (getgrouplist), [] if unknown. */
function systemGroupsOf(user: string): string[] {
  let passwd: string;
  let group: string;
  try {
    passwd = readFileSync("/etc/passwd", "utf8");
    group = readFileSync("/etc/group", "utf8");
  } catch (e) {
    // No account database: no groups, so Group criteria do not match (as for an unknown user in sshd).
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw e;
  }
  const entry = passwd.split("\n").find((l) => l.split(":")[0] === user);
  if (!entry) return [];
  const gid = entry.split(":")[3];
  const out: string[] = [];
  for (const line of group.split("\n")) {
    const [name, , id, members] = line.split(":");
    if (!name) continue;
    if (id === gid || (members ?? "").split(",").includes(user)) out.push(name);
  }
  return out;
}

/**
 * The -C argument of `sshd -T`: comma-separated user=, host=, addr=, laddr=, lport=, rdomain= (sshd(8)).
 */
export function parseMatchSpec(spec: string): SshdConnectionSpec {
  const ci: SshdConnectionSpec = {};
  for (const item of spec.split(",")) {
    if (item === "") continue;
    const eq = item.indexOf("=");
    const key = eq < 0 ? item : item.slice(0, eq);
    const value = eq < 0 ? "" : item.slice(eq + 1);
    switch (key) {
      case "user":
        ci.user = value;
        break;
      case "host":
        ci.host = value;
        break;
      case "addr":
        ci.addr = value;
        break;
      case "laddr":
        ci.laddr = value;
        break;
      case "rdomain":
        ci.rdomain = value;
        break;
      case "lport":
        try {
          ci.lport = parsePort(value);
        } catch {
          throw new ValueError(`Invalid port '${value}' in test mode specification ${item}`);
        }
        break;
      default:
        throw new ValueError(`Invalid test mode specification ${item}`);
    }
  }
  return ci;
}
