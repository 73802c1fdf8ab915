/**
 * sshd_config(5) for nsshd: reads the main file with its Include files and Match blocks, applies the -o
 * command-line options (read before the file, so that, first value winning, they take precedence, as sshd(8)
 * does), checks every value with its file and line, and builds the global settings and, for one connection,
 * the settings after Match blocks. Also the `sshd -T` dump and the `-C` connection spec.
 */
import { readFile, readdir } from "node:fs/promises";
import { homedir } from "node:os";
import { ConfigError, parseConfigLine, parseConfigLines, type ConfigLine } from "./configLine.js";
import { lookupKeyword, KEYWORDS, type KeywordSpec } from "./sshdConfigKeywords.js";
import {
  matchCriteria,
  parseMatchCriteria,
  parseMatchSpec,
  type MatchAttribute,
  type MatchCriterion,
} from "./sshdConfigMatch.js";
import type { SshdConnectionSpec } from "./sshdConfigMatch.js";
import { SshdSettings } from "./sshdConfigSettings.js";
import { ValueError } from "./sshdConfigValues.js";
import { matchHostPattern } from "../keys/hostPatterns.js";
import { SshError } from "../wire/index.js";

export { SshdSettings, expandAuthorizedKeysPath } from "./sshdConfigSettings.js";
export type { PermitRootLogin, ForwardingPermission, ListenAddress } from "./sshdConfigSettings.js";
export type { SshdConnectionSpec, MatchAttribute } from "./sshdConfigMatch.js";
export { formatSshdConfigDump } from "./sshdConfigDump.js";

export interface SshdConfigLoadOptions {
  file: string;
  /** -o values, in order ("Keyword value" or "Keyword=value"). */
  commandLineOptions?: string[];
  /** Overrides of the built-in defaults, e.g. { port: ["2222"] } for the non-root embedded mode. */
  defaults?: Record<string, string[]>;
  /** Where a relative Include is taken from (sshd: /etc/ssh). */
  includeDir?: string;
}

export interface SshdConfig {
  readonly global: SshdSettings;
  /**
   * The settings for one connection after its Match blocks. `sshd -T` without -C prints forConnection({}):
   * sshd runs the Match pass with an empty connection, in which only `Match All` holds.
   */
  forConnection(spec: SshdConnectionSpec): SshdSettings;
  /** Notices for the daemon to log ("file line N: Deprecated option X"). */
  readonly warnings: string[];
  /** The Match attributes the configuration uses (for `-T`: sshd refuses a -C spec lacking one of them). */
  readonly matchAttributes: ReadonlySet<MatchAttribute>;
}

/** What `nsshd -t` reports: every error (not only the first), the notices, and sshd's closing line. */
export interface SshdConfigCheck {
  readonly errors: ConfigError[];
  readonly warnings: string[];
  /** The lines sshd -t would print: each error, then "file: terminating, N bad configuration options". */
  readonly messages: string[];
  /** The configuration, when there was no error. */
  readonly config: SshdConfig | null;
}

/** The file name sshd uses for -o options in messages. */
export const COMMAND_LINE = "command-line";
/** sshd's limit on nested Include (servconf.c SERVCONF_MAX_DEPTH). */
const MAX_INCLUDE_DEPTH = 16;

/** A Match block; `parent` is the block the Include that read it stood in, which must hold too. */
interface MatchBlock {
  readonly criteria: readonly MatchCriterion[];
  readonly parent: MatchBlock | null;
}

interface Entry {
  readonly key: string;
  readonly spec: KeywordSpec;
  readonly values: string[];
  readonly block: MatchBlock | null;
  readonly line: ConfigLine;
}

class Reader {
  readonly entries: Entry[] = [];
  readonly errors: ConfigError[] = [];
  readonly warnings: string[] = [];
  /** How many keywords were unknown, for sshd's "terminating, N bad configuration options". */
  badOptions = 0;
  readonly subsystems = new Set<string>();
  includeOverflow = false;
  constructor(readonly includeDir: string) {}

  fail(file: string, line: number, detail: string): void {
    this.errors.push(new ConfigError(file, line, detail));
  }

  async readFileLines(file: string, parent: MatchBlock | null, depth: number): Promise<void> {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      this.errors.push(new ConfigError(file, 0, `cannot read configuration: ${err.code ?? err.message}`));
      return;
    }
    let lines: ConfigLine[];
    try {
      lines = parseConfigLines(text, file);
    } catch (e) {
      if (e instanceof ConfigError) {
        this.errors.push(e);
        return;
      }
      throw e;
    }
    await this.processLines(lines, parent, depth);
  }

  async processLines(lines: ConfigLine[], parent: MatchBlock | null, depth: number): Promise<void> {
    let block = parent;
    for (const line of lines) {
      const where = (detail: string): void => this.fail(line.file, line.line, detail);
      const fromCommandLine = line.file === COMMAND_LINE;
      if (line.key === "match") {
        if (fromCommandLine) {
          where("Match directive not supported as a command-line option");
          continue;
        }
        try {
          block = { criteria: parseMatchCriteria(line.args), parent };
        } catch (e) {
          if (!(e instanceof ValueError)) throw e;
          where(e.message);
          // Keep the lines that follow out of the global settings.
          block = { criteria: [{ attribute: "user", patterns: "" }], parent };
        }
        continue;
      }
      if (line.key === "include") {
        if (fromCommandLine) {
          where("Include directive not supported as a command-line option");
          continue;
        }
        if (line.args.length === 0) {
          where('no argument after keyword "Include"');
          continue;
        }
        if (this.includeOverflow) continue;
        if (depth >= MAX_INCLUDE_DEPTH) {
          // Reported once: an Include loop would otherwise repeat the same error at every level.
          this.includeOverflow = true;
          where("Too many recursive configuration includes");
          continue;
        }
        for (const pattern of line.args) {
          // sshd_config(5) Include: glob(3) patterns, relative ones from /etc/ssh, `~` for the home directory;
          // a pattern matching no file is not an error.
          const path = pattern.startsWith("/")
            ? pattern
            : pattern === "~" || pattern.startsWith("~/")
              ? homedir() + pattern.slice(1)
              : `${this.includeDir.replace(/\/$/, "")}/${pattern}`;
          let files: string[];
          try {
            files = await expandGlob(path);
          } catch (e) {
            const err = e as NodeJS.ErrnoException;
            where(`Include ${pattern}: cannot list files: ${err.code ?? err.message}`);
            continue;
          }
          for (const file of files) await this.readFileLines(file, block, depth + 1);
        }
        continue;
      }
      const found = lookupKeyword(line.keyword);
      if (!found) {
        where(`Bad configuration option: ${line.keyword}`);
        this.badOptions++;
        continue;
      }
      const { key, spec } = found;
      if (block !== null && !spec.inMatch) {
        where(`Directive '${line.keyword}' is not allowed within a Match block`);
        continue;
      }
      if (spec.notice) {
        if (spec.notice !== "Ignored") {
          this.warnings.push(`${line.file} line ${line.line}: ${spec.notice} option ${line.keyword}`);
        }
        continue;
      }
      let values: string[];
      try {
        values = spec.parse(line.args, spec.name);
      } catch (e) {
        if (!(e instanceof ValueError)) throw e;
        where(e.message);
        if (e.countsAsBadOption) this.badOptions++;
        continue;
      }
      if (key === "subsystem" && block === null) {
        const name = values[0]!.split(" ")[0]!;
        if (this.subsystems.has(name)) {
          where(`Subsystem '${name}' already defined.`);
          continue;
        }
        this.subsystems.add(name);
      }
      this.entries.push({ key, spec, values, block, line });
    }
  }
}

/** Expand a glob(3) pattern (`*`, `?` in any path component), sorted as glob does. */
async function expandGlob(pattern: string): Promise<string[]> {
  if (!/[*?[]/.test(pattern)) return [pattern];
  const parts = pattern.split("/");
  let bases = [parts[0] === "" ? "/" : parts[0]!];
  for (let i = 1; i < parts.length; i++) {
    const part = parts[i]!;
    if (part === "") continue;
    const next: string[] = [];
    for (const base of bases) {
      const join = (name: string): string => (base.endsWith("/") ? base + name : `${base}/${name}`);
      if (!/[*?[]/.test(part)) {
        next.push(join(part));
        continue;
      }
      let names: string[];
      try {
        names = await readdir(base);
      } catch (e) {
        // A directory that does not exist matches nothing (glob(3) GLOB_NOMATCH); other failures are errors.
        const code = (e as NodeJS.ErrnoException).code;
        if (code === "ENOENT" || code === "ENOTDIR") continue;
        throw e;
      }
      for (const name of names.sort()) {
        if (name.startsWith(".") && !part.startsWith(".")) continue;
        if (matchHostPattern(name, part, true)) next.push(join(name));
      }
    }
    bases = next;
  }
  return bases.sort();
}

function blockHolds(block: MatchBlock, ci: SshdConnectionSpec | null): boolean {
  return matchCriteria(block.criteria, ci) && (block.parent === null || blockHolds(block.parent, ci));
}

/** Apply entries in order: the first value wins, lists of "append" keywords grow (servconf.c). */
function combine(entries: Iterable<Entry>): Map<string, string[]> {
  const store = new Map<string, string[]>();
  for (const e of entries) {
    const old = store.get(e.key);
    if (e.spec.combine === "append") store.set(e.key, [...(old ?? []), ...e.values]);
    else if (old === undefined) store.set(e.key, e.values);
  }
  return store;
}

/** Distinct Match outcomes forConnection keeps (a Match User block makes one per user it names). */
const MATCHED_SETTINGS_KEPT = 64;

class LoadedSshdConfig implements SshdConfig {
  readonly global: SshdSettings;
  readonly matchAttributes: ReadonlySet<MatchAttribute>;
  readonly #globalStore: Map<string, string[]>;
  /** forConnection's results by the Match lines that held (their indices in entries). */
  readonly #byMatchedLines = new Map<string, SshdSettings>();

  constructor(
    readonly entries: readonly Entry[],
    readonly defaults: Map<string, string[]>,
    readonly warnings: string[],
  ) {
    // The global pass: lines outside Match, plus `Match All` blocks (servconf.c evaluates All as true even
    // without connection information).
    this.#globalStore = combine(entries.filter((e) => e.block === null || blockHolds(e.block, null)));
    this.global = this.#build(this.#globalStore);
    const used = new Set<MatchAttribute>();
    const collect = (b: MatchBlock | null): void => {
      if (!b) return;
      for (const c of b.criteria) used.add(c.attribute);
      collect(b.parent);
    };
    for (const e of entries) collect(e.block);
    this.matchAttributes = used;
  }

  forConnection(spec: SshdConnectionSpec): SshdSettings {
    // The Match pass (servconf.c parse_server_match_config): a fresh set from the blocks that hold, whose
    // values then replace the global ones; within it the first value wins again.
    const holding: Entry[] = [];
    const lines: number[] = [];
    this.entries.forEach((e, i) => {
      if (e.block === null || !blockHolds(e.block, spec)) return;
      holding.push(e);
      lines.push(i);
    });
    // Connections for which the same lines hold share one (immutable) SshdSettings: nsshd asks for every
    // connection and login, and each held a copy of every keyword's values until it ended.
    const key = lines.join(",");
    let settings = this.#byMatchedLines.get(key);
    if (!settings) {
      const store = new Map(this.#globalStore);
      for (const [k, v] of combine(holding)) store.set(k, v);
      settings = this.#build(store);
      if (this.#byMatchedLines.size >= MATCHED_SETTINGS_KEPT) this.#byMatchedLines.clear();
      this.#byMatchedLines.set(key, settings);
    }
    return settings;
  }

  #build(store: Map<string, string[]>): SshdSettings {
    const values = new Map<string, string[]>();
    for (const [key, spec] of KEYWORDS) {
      if (spec.notice) continue;
      values.set(key, store.get(key) ?? this.defaults.get(key) ?? [...spec.defaults]);
    }
    values.set("listenaddress", expandListenAddresses(values));
    return new SshdSettings(values);
  }
}

/**
 * ListenAddress as sshd -T prints it: an address without a port gets one entry per Port; no ListenAddress
 * means the wildcard addresses of the AddressFamily, IPv6 first, for each port.
 */
function expandListenAddresses(values: Map<string, string[]>): string[] {
  const ports = values.get("port") ?? ["22"];
  const family = values.get("addressfamily")?.[0] ?? "any";
  const format = (host: string, port: string, rdomain: string): string =>
    `${host.includes(":") ? `[${host}]` : host}:${port}${rdomain ? ` rdomain ${rdomain}` : ""}`;
  const listen = values.get("listenaddress") ?? [];
  const out: string[] = [];
  if (listen.length === 0) {
    for (const port of ports) {
      if (family !== "inet") out.push(format("::", port, ""));
      if (family !== "inet6") out.push(format("0.0.0.0", port, ""));
    }
    return out;
  }
  for (const entry of listen) {
    const [host, port, rdomain] = entry.split("\t") as [string, string, string];
    if (port) out.push(format(host, port, rdomain));
    else for (const p of ports) out.push(format(host, p, rdomain));
  }
  return out;
}

async function readAll(
  opts: SshdConfigLoadOptions,
): Promise<{ reader: Reader; defaults: Map<string, string[]> }> {
  const reader = new Reader(opts.includeDir ?? "/etc/ssh");
  // -o options first: the first value obtained wins, so they override the file (sshd(8) -o).
  const cmdLines: ConfigLine[] = [];
  for (const option of opts.commandLineOptions ?? []) {
    try {
      const line = parseConfigLine(option, COMMAND_LINE, 0);
      if (line) cmdLines.push(line);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      reader.errors.push(e);
    }
  }
  await reader.processLines(cmdLines, null, 0);
  await reader.readFileLines(opts.file, null, 0);
  const defaults = new Map<string, string[]>();
  for (const [keyword, args] of Object.entries(opts.defaults ?? {})) {
    const found = lookupKeyword(keyword);
    if (!found) throw new SshError("CONFIG", `default for an unknown sshd_config keyword: ${keyword}`);
    try {
      defaults.set(found.key, found.spec.parse(args, found.spec.name));
    } catch (e) {
      if (!(e instanceof ValueError)) throw e;
      throw new SshError("CONFIG", `bad default for ${found.spec.name}: ${e.message}`);
    }
  }
  return { reader, defaults };
}

/**
 * Check a configuration as `sshd -t` does, collecting every error with its file and line. `messages` holds
 * what to print: the errors, then "file: terminating, N bad configuration options" when keywords were unknown.
 */
export async function checkSshdConfig(opts: SshdConfigLoadOptions): Promise<SshdConfigCheck> {
  const { reader, defaults } = await readAll(opts);
  const messages = reader.errors.map((e) => e.message);
  if (reader.badOptions > 0) {
    messages.push(`${opts.file}: terminating, ${reader.badOptions} bad configuration options`);
  }
  const config =
    reader.errors.length === 0 ? new LoadedSshdConfig(reader.entries, defaults, reader.warnings) : null;
  return { errors: reader.errors, warnings: reader.warnings, messages, config };
}

/** Load the configuration; throws the first ConfigError (use checkSshdConfig to see them all). */
export async function loadSshdConfig(opts: SshdConfigLoadOptions): Promise<SshdConfig> {
  const check = await checkSshdConfig(opts);
  if (!check.config) throw check.errors[0]!;
  return check.config;
}

/**
 * For `-T`: sshd 9.2 refuses to dump when the configuration has `Match LocalPort` and the -C spec (or its
 * absence) gives no lport, since a port cannot be "unknown" there. Returns sshd's message, or null.
 */
export function missingTestSpecField(config: SshdConfig, spec: SshdConnectionSpec | null): string | null {
  if (config.matchAttributes.has("localport") && spec?.lport === undefined) {
    return "'Match LocalPort' in configuration but 'lport' not in connection test specification.";
  }
  return null;
}

/** The -C argument (`user=,host=,addr=,laddr=,lport=,rdomain=`); throws SshError("CONFIG") for a bad item. */
export function parseConnectionSpec(spec: string): SshdConnectionSpec {
  try {
    return parseMatchSpec(spec);
  } catch (e) {
    if (e instanceof ValueError) throw new SshError("CONFIG", e.message);
    throw e;
  }
}
