/**
 * The kinds of sshd_config(5) keyword (servconf.c): the spec every keyword has (where it may appear, how
 * repeated lines combine, how -T prints it) and builders for the common argument shapes (flags, integers,
 * times, paths, lists), plus the parsers of the keywords with a shape of their own (ListenAddress, Subsystem).
 */
import { ValueError, YES_NO, parseChoice, parseInteger, parsePort, parseTime } from "./sshdConfigValues.js";
import { defaultSshdAlgorithms, resolveSshdAlgorithms } from "./sshdConfigAlgorithms.js";

/**
 * How repeated lines combine (servconf.c): "first" the first value obtained wins; "append" every line adds
 * (Port, HostKey, AllowUsers, AcceptEnv, ...); "firstLine" the whole first line wins (AuthorizedKeysFile,
 * PermitOpen, SetEnv, ...).
 */
export type Combine = "first" | "append" | "firstLine";

/** How `sshd -T` prints a keyword: one value, one line per entry, all entries on one line, or not at all. */
export type DumpStyle = "value" | "lines" | "oneline" | "hidden";

export interface KeywordSpec {
  /** Spelling in sshd_config(5). */
  readonly name: string;
  /** Allowed inside a Match block (SSHCFG_ALL); otherwise global only. */
  readonly inMatch: boolean;
  readonly combine: Combine;
  /** Checks the arguments and returns the entries as -T prints them. Throws ValueError. */
  readonly parse: (args: string[], name: string) => string[];
  readonly dump: DumpStyle;
  /** sshd's compiled-in default entries (as -T prints them). */
  readonly defaults: readonly string[];
  /** Keywords sshd accepts but no longer acts on, with its notice. */
  readonly notice?: "Deprecated" | "Unsupported" | "Ignored";
}

/** The canonical spec for aliases such as ChallengeResponseAuthentication. */
export interface KeywordEntry {
  readonly key: string;
  readonly spec: KeywordSpec;
}

export function needArgs(args: string[], name: string, min: number, max: number): void {
  if (args.length < min || (args.length === 1 && args[0] === "" && min > 0)) {
    throw new ValueError(`no argument after keyword "${name}"`, true);
  }
  if (args.length > max) throw new ValueError(`keyword ${name} extra arguments at end of line`, true);
}

type KeywordOptions = {
  inMatch?: boolean;
  dump?: DumpStyle;
  notice?: KeywordSpec["notice"];
  combine?: Combine;
};

export function make(
  name: string,
  defaults: readonly string[],
  parse: KeywordSpec["parse"],
  opts: KeywordOptions = {},
): KeywordSpec {
  return {
    name,
    inMatch: opts.inMatch ?? false,
    combine: opts.combine ?? "first",
    parse,
    dump: opts.dump ?? "value",
    defaults,
    ...(opts.notice ? { notice: opts.notice } : {}),
  };
}

export function single(fn: (arg: string, name: string) => string) {
  return (args: string[], name: string): string[] => {
    needArgs(args, name, 1, 1);
    return [fn(args[0]!, name)];
  };
}

export const choice = (map: Record<string, string>) => single((arg, name) => parseChoice(arg, map, name));

export const flag = (name: string, def: "yes" | "no", inMatch = false): KeywordSpec =>
  make(name, [def], choice(YES_NO), { inMatch });

export const integer = (name: string, def: number, min: number, inMatch = false): KeywordSpec =>
  make(
    name,
    [String(def)],
    single((a, n) => String(parseInteger(a, n, min))),
    { inMatch },
  );

export const timeValue = (name: string, def: number, inMatch = false): KeywordSpec =>
  make(
    name,
    [String(def)],
    single((a) => String(parseTime(a))),
    { inMatch },
  );

/** A path or word kept as written ("none" included). */
export const text = (name: string, def: string, inMatch = false, dump: DumpStyle = "value"): KeywordSpec =>
  make(
    name,
    [def],
    single((a) => a),
    { inMatch, dump },
  );

/** The rest of the line as one value (ForceCommand, AuthorizedKeysCommand, VersionAddendum). */
export const restOfLine = (name: string, inMatch: boolean): KeywordSpec =>
  make(
    name,
    ["none"],
    (args, n) => {
      needArgs(args, n, 1, Infinity);
      // sshd keeps the raw rest of the line; re-quote arguments that the split unquoted.
      return [args.map((a) => (/[\s"'\\]/.test(a) ? `"${a.replace(/(["\\])/g, "\\$1")}"` : a)).join(" ")];
    },
    { inMatch },
  );

/** Every argument is one entry; every line adds (AllowUsers, AcceptEnv, HostKey, ...). */
export const appendList = (
  name: string,
  inMatch: boolean,
  check?: (arg: string) => void,
  defaults: readonly string[] = [],
): KeywordSpec =>
  make(
    name,
    defaults,
    (args, n) => {
      needArgs(args, n, 1, Infinity);
      if (check) args.forEach(check);
      return [...args];
    },
    { inMatch, combine: "append", dump: "lines" },
  );

/** Every argument is one entry; only the first line counts. */
export const firstLineList = (
  name: string,
  defaults: readonly string[],
  inMatch: boolean,
  check: (arg: string, name: string) => string,
  dump: DumpStyle = "oneline",
): KeywordSpec =>
  make(
    name,
    defaults,
    (args, n) => {
      needArgs(args, n, 1, Infinity);
      return args.map((a) => check(a, n));
    },
    { inMatch, combine: "firstLine", dump },
  );

/** An algorithm list (+append, -remove, ^prepend resolved against the default), printed resolved. */
export const algorithms = (name: string, inMatch: boolean): KeywordSpec =>
  make(
    name,
    [defaultSshdAlgorithms(name.toLowerCase())],
    single((a) => resolveSshdAlgorithms(name.toLowerCase(), a)),
    { inMatch },
  );

/** Accepted and ignored, with sshd's notice. Arguments are not checked (servconf.c argv_consume). */
export const retired = (name: string, notice: "Deprecated" | "Unsupported" | "Ignored"): KeywordSpec =>
  make(name, [], () => [], { notice, dump: "hidden", combine: "append" });

export function listenAddress(args: string[], name: string): string[] {
  needArgs(args, name, 1, 3);
  const [addr, word, rdomain] = args as [string, string | undefined, string | undefined];
  if (word !== undefined && (word !== "rdomain" || rdomain === undefined)) {
    throw new ValueError(
      `bad ListenAddress syntax "${args.join(" ")}" (expected address[:port] [rdomain name])`,
    );
  }
  let host = addr;
  let port = "";
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(addr);
  if (bracketed) {
    host = bracketed[1]!;
    port = bracketed[2] ?? "";
  } else if ((addr.match(/:/g) ?? []).length === 1) {
    [host, port] = addr.split(":") as [string, string];
  }
  if (port !== "") {
    try {
      parsePort(port);
    } catch {
      throw new ValueError(`bad port number "${port}" in ListenAddress "${addr}"`);
    }
  }
  if (host === "") throw new ValueError(`missing address in ListenAddress "${addr}"`);
  // Internal form, expanded with the Port lines when settings are built: host TAB port TAB rdomain.
  return [`${host}\t${port}\t${rdomain ?? ""}`];
}

export function subsystem(args: string[], name: string): string[] {
  needArgs(args, name, 1, Infinity);
  if (args.length < 2) throw new ValueError("Missing subsystem command.");
  return [args.join(" ")];
}

export function setEnv(arg: string): string {
  const eq = arg.indexOf("=");
  if (eq <= 0) throw new ValueError(`Invalid environment "${arg}" (expected NAME=value).`);
  return arg;
}

export function acceptEnvName(arg: string): void {
  if (arg.includes("=")) throw new ValueError(`Invalid environment name "${arg}".`);
}

/** AllowTcpForwarding and AllowStreamLocalForwarding: "all" is "yes". */
export const FORWARDING: Record<string, string> = {
  yes: "yes",
  all: "yes",
  no: "no",
  local: "local",
  remote: "remote",
};
