/**
 * Reading ssh_config(5) files as readconf.c read_config_file does: line by line, Host/Match switching the
 * lines that apply, Include with glob(3) patterns (relative to ~/.ssh for the user's files, /etc/ssh for the
 * system file; at most 16 deep), bad lines counted and reported together ("file: terminating, N bad
 * configuration options"), and the permission check on the user's files ("Bad owner or permissions").
 */
import { readFile, readdir, stat } from "node:fs/promises";
import { ConfigError, parseConfigLine, type ConfigLine } from "./configLine.js";
import { matchPatternList } from "../keys/hostPatterns.js";
import { SshError } from "../wire/index.js";
import { ArgCursor, SSH_CONFIG_KEYWORDS, type KeywordContext } from "./sshConfigKeywords.js";
import { evaluateMatch, hostLineMatches, type MatchContext } from "./sshConfigMatch.js";
import { LineProblem } from "./sshConfigValues.js";
import { expandTilde } from "./tokens.js";

const MAX_INCLUDE_DEPTH = 16;

/** Several bad lines in one file: each "file line N: ..." and OpenSSH's closing line. */
export class SshConfigFileError extends ConfigError {
  constructor(
    file: string,
    readonly problems: readonly LineFault[],
  ) {
    super(file, problems[0]?.line ?? 0, problems[0] ? describeFault(problems[0]) : "bad configuration");
    this.name = "SshConfigFileError";
    const lines: string[] = [];
    for (const p of problems) {
      if (p.preface)
        lines.push(p.preface.prefixed ? `${file} line ${p.line}: ${p.preface.text}` : p.preface.text);
      // OpenSSH words an unknown keyword "file: line N: ..." and everything else "file line N: ...".
      lines.push(
        p.detail.startsWith("Bad configuration option:")
          ? `${file}: line ${p.line}: ${p.detail}`
          : `${file} line ${p.line}: ${p.detail}`,
      );
    }
    lines.push(`${file}: terminating, ${problems.length} bad configuration options`);
    this.message = lines.join("\n");
  }
}

/** One line's error with its reason, for ConfigError.detail. */
export function describeFault(p: { detail: string; preface?: { text: string } }): string {
  return p.preface ? `${p.detail}: ${p.preface.text}` : p.detail;
}

/** One reading of the files: what Match needs, and the warnings collected. */
export interface ReadPass extends MatchContext {
  readonly warnings: string[];
}

interface FileFlags {
  readonly userConfig: boolean;
  readonly checkPerm: boolean;
  readonly neverMatch: boolean;
}

/** The text after the keyword and any '=' or blanks, trailing blanks removed (commands take it as written). */
function restOfLine(text: string): string {
  const s = text.replace(/^[ \t\r\n\f]+/, "");
  const m = /^[^ \t\r\n=]+/.exec(s);
  const after = m ? s.slice(m[0].length) : s;
  return after.replace(/^[ \t\r\n=]+/, "").replace(/[ \t\r\n\f]+$/, "");
}

interface LineOutcome {
  problem?: string;
  preface?: { text: string; prefixed: boolean };
}

/** A bad line: its error, and any message OpenSSH prints before it. */
export interface LineFault {
  readonly line: number;
  readonly detail: string;
  readonly preface?: { text: string; prefixed: boolean };
}

/**
 * Process one configuration line (readconf.c process_config_line_depth). `activeRef` is the Host/Match
 * state shared with Include. Returns a problem text for a bad line.
 */
export async function processLine(
  pass: ReadPass,
  parsed: ConfigLine,
  text: string,
  activeRef: { active: boolean } | null,
  flags: FileFlags,
  depth: number,
): Promise<LineOutcome> {
  const cmdline = activeRef === null;
  const active = activeRef?.active ?? true;
  const raw = restOfLine(text);
  if (parsed.args.length === 0 && raw === "") return { problem: `no argument after keyword "${parsed.key}"` };
  const def = SSH_CONFIG_KEYWORDS.get(parsed.key);
  if (!def) {
    const ignored = pass.store.get<string>("ignoreunknown");
    if (ignored !== undefined && matchPatternList(parsed.key, ignored) === "match") return {};
    return { problem: `Bad configuration option: ${parsed.key}` };
  }
  const args = new ArgCursor(parsed.args);
  try {
    if (def.key === "host") {
      if (cmdline) return { problem: "Host directive not supported as a command-line option" };
      if (parsed.args.some((a) => a === "")) return { problem: `keyword ${parsed.key} empty argument` };
      activeRef!.active = flags.neverMatch ? false : hostLineMatches(pass.host, parsed.args);
      return {};
    }
    if (def.key === "match") {
      if (cmdline) return { problem: "Host directive not supported as a command-line option" };
      const matched = await evaluateMatch(args, {
        store: pass.store,
        local: pass.local,
        host: pass.host,
        originalHost: pass.originalHost,
        finalPass: pass.finalPass,
        ...(pass.wantFinalPass ? { wantFinalPass: pass.wantFinalPass } : {}),
      });
      activeRef!.active = flags.neverMatch ? false : matched;
    } else if (def.key === "include") {
      if (cmdline) return { problem: "Include directive not supported as a command-line option" };
      await include(pass, args, activeRef!, flags, depth);
    } else {
      const ctx: KeywordContext = {
        store: pass.store,
        active,
        key: def.key,
        keyword: parsed.key,
        args,
        raw,
        origin: { file: parsed.file, line: parsed.line },
        userConfig: flags.userConfig,
        env: pass.local.env,
        warn: (message) => pass.warnings.push(`${parsed.file} line ${parsed.line}: ${message}`),
      };
      def.handle!(ctx);
    }
  } catch (err) {
    if (err instanceof LineProblem)
      return { problem: err.detail, ...(err.preface ? { preface: err.preface } : {}) };
    if (err instanceof SshError && err.code === "CONFIG" && !(err instanceof ConfigError)) {
      return { problem: err.message };
    }
    throw err;
  }
  if (args.remaining() > 0) return { problem: `keyword ${parsed.key} extra arguments at end of line` };
  return {};
}

async function include(
  pass: ReadPass,
  args: ArgCursor,
  activeRef: { active: boolean },
  flags: FileFlags,
  depth: number,
): Promise<void> {
  let arg: string | undefined;
  while ((arg = args.next()) !== undefined) {
    if (arg === "") throw new LineProblem("keyword include empty argument");
    if (arg.startsWith("~") && !flags.userConfig) throw new LineProblem(`bad include path ${arg}.`);
    const pattern =
      arg.startsWith("/") || arg.startsWith("~") ? arg : `${flags.userConfig ? "~/.ssh" : "/etc/ssh"}/${arg}`;
    // glob(3) GLOB_TILDE takes the home directory from $HOME first.
    const home = pass.local.env.HOME ?? pass.local.homeDir;
    const files = await globPaths(expandTilde(pattern, home));
    const wasActive = activeRef.active;
    for (const file of files) {
      const opened = await readConfigFile(
        pass,
        file,
        { userConfig: flags.userConfig, checkPerm: true, neverMatch: flags.neverMatch || !wasActive },
        activeRef,
        depth + 1,
      );
      if (!opened) throw new LineProblem(`Can't open user config file ${file}`);
      // An included file's Host/Match must not change the including file's state.
      activeRef.active = wasActive;
    }
  }
}

/**
 * Read one file; false when it does not exist. Bad lines are collected and reported together when the file
 * ends, as OpenSSH does.
 */
export async function readConfigFile(
  pass: ReadPass,
  file: string,
  flags: FileFlags,
  activeRef: { active: boolean } = { active: true },
  depth = 0,
): Promise<boolean> {
  if (depth > MAX_INCLUDE_DEPTH) throw new SshError("CONFIG", "Too many recursive configuration includes");
  let text: string;
  try {
    if (flags.checkPerm) await checkPermissions(file);
    text = await readFile(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return false;
    // fopen() of a directory succeeds and reading it yields no lines.
    if (code === "EISDIR") return true;
    if (err instanceof SshError) throw err;
    throw new SshError("CONFIG", `Can't open user config file ${file}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const problems: LineFault[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const lineText = lines[i]!;
    let parsed: ConfigLine | null;
    try {
      parsed = parseConfigLine(lineText, file, i + 1);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push({ line: i + 1, detail: err.detail });
      continue;
    }
    if (!parsed) continue;
    const outcome = await processLine(pass, parsed, lineText, activeRef, flags, depth);
    if (outcome.problem !== undefined) {
      problems.push({
        line: i + 1,
        detail: outcome.problem,
        ...(outcome.preface ? { preface: outcome.preface } : {}),
      });
    }
  }
  if (problems.length > 0) throw new SshConfigFileError(file, problems);
  return true;
}

/** readconf.c SSHCONF_CHECKPERM: owned by root or the user, not writable by group or others. */
async function checkPermissions(file: string): Promise<void> {
  let st;
  try {
    st = await stat(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") throw err;
    throw new SshError("CONFIG", `fstat ${file}: ${(err as Error).message}`, { cause: err });
  }
  const uid = process.getuid ? process.getuid() : 0;
  if ((st.uid !== 0 && st.uid !== uid) || (st.mode & 0o022) !== 0) {
    throw new SshError("CONFIG", `Bad owner or permissions on ${file}`);
  }
}

/** A glob(3) segment (`*`, `?`, `[...]`) as a regular expression; a leading '.' is matched only explicitly. */
function segmentRegExp(segment: string): RegExp {
  let re = "";
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i]!;
    if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "[") {
      const end = segment.indexOf("]", i + 2);
      if (end < 0) {
        re += "\\[";
        continue;
      }
      let body = segment.slice(i + 1, end);
      const negated = body.startsWith("!");
      if (negated) body = body.slice(1);
      re += `[${negated ? "^" : ""}${body.replace(/[\\\]^]/g, "\\$&")}]`;
      i = end;
    } else re += c.replace(/[.+^${}()|\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

const hasMagic = (s: string): boolean => /[*?[]/.test(s);

/** The existing paths matching an absolute glob pattern, sorted as glob(3) sorts them. */
async function globPaths(pattern: string): Promise<string[]> {
  const segments = pattern.split("/").filter((s, i) => s !== "" || i === 0);
  let current = [segments[0] === "" ? "/" : segments[0]!];
  for (const segment of segments.slice(1)) {
    const next: string[] = [];
    for (const dir of current) {
      const join = (name: string): string => (dir.endsWith("/") ? dir + name : `${dir}/${name}`);
      if (!hasMagic(segment)) {
        next.push(join(segment));
        continue;
      }
      let entries: string[];
      try {
        entries = await readdir(dir);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "ENOENT" || code === "ENOTDIR" || code === "EACCES") continue;
        throw err;
      }
      const re = segmentRegExp(segment);
      for (const name of entries) {
        if (name.startsWith(".") && !segment.startsWith(".")) continue;
        if (re.test(name)) next.push(join(name));
      }
    }
    current = next;
  }
  const existing: string[] = [];
  for (const p of current) {
    try {
      await stat(p);
      existing.push(p);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== "ENOENT" && code !== "ENOTDIR") throw err;
    }
  }
  return existing.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
