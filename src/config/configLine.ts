/**
 * The line syntax shared by ssh_config(5) and sshd_config(5): "Keyword arguments" or "Keyword=arguments", `#`
 * comments, and arguments split as OpenSSH's argv_split() does (misc.c): whitespace separates, double or single
 * quotes group, a backslash escapes a quote or another backslash, and a `#` that starts an argument ends the line.
 */
import { SshError } from "../wire/index.js";

export interface ConfigLine {
  readonly file: string;
  /** 1-based line number in `file`. */
  readonly line: number;
  /** The keyword as written. */
  readonly keyword: string;
  /** The keyword lowercased: keywords are case-insensitive. */
  readonly key: string;
  readonly args: string[];
  /** The text after the keyword (and its "="), quotes kept: ProxyCommand and the like take it whole. */
  readonly rest: string;
}

/** A configuration error that names where it was found, as OpenSSH's messages do ("file line N: ..."). */
export class ConfigError extends SshError {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly detail: string,
  ) {
    super("CONFIG", line > 0 ? `${file} line ${line}: ${detail}` : `${file}: ${detail}`);
    this.name = "ConfigError";
  }
}

/**
 * Split one line's arguments (argv_split in OpenSSH misc.c). Unterminated quotes are an error. `#` at the start
 * of an argument ends the line (it is a comment), but inside an argument it is literal.
 */
export function splitConfigArgs(text: string, file = "<input>", line = 0): string[] {
  const args: string[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    while (i < n && isSpace(text[i])) i++;
    if (i >= n) break;
    if (text[i] === "#") break;
    let arg = "";
    let quote: string | null = null;
    for (; i < n; i++) {
      const c = text[i];
      if (quote === null && isSpace(c)) break;
      const next = text[i + 1];
      if (c === "\\" && (next === '"' || next === "'" || next === "\\" || (quote === null && next === " "))) {
        // OpenSSH keeps a backslash before anything else, and unescapes only these.
        arg += text[++i];
      } else if (quote !== null && c === quote) {
        quote = null;
      } else if (quote === null && (c === '"' || c === "'")) {
        quote = c;
      } else {
        arg += c;
      }
    }
    if (quote !== null) throw new ConfigError(file, line, "invalid quotes");
    args.push(arg);
  }
  return args;
}

function isSpace(c: string | undefined): boolean {
  return c === " " || c === "\t" || c === "\r" || c === "\n";
}

/**
 * Split "Keyword arguments", "Keyword=arguments" or "Keyword = arguments" into keyword and arguments, or null
 * for a blank or comment line.
 */
export function parseConfigLine(text: string, file: string, line: number): ConfigLine | null {
  let s = text.replace(/^[ \t\r\n\f]+/, "").replace(/[ \t\r\n\f]+$/, "");
  if (s === "" || s.startsWith("#")) return null;
  const m = /^([^\s=]+)/.exec(s);
  if (!m) throw new ConfigError(file, line, "Missing keyword");
  const keyword = m[1];
  s = s.slice(keyword.length).replace(/^[ \t]*/, "");
  // One "=" may stand between the keyword and the first argument (ssh_config(5)).
  if (s.startsWith("=")) s = s.slice(1);
  const args = splitConfigArgs(s, file, line);
  return { file, line, keyword, key: keyword.toLowerCase(), args, rest: s.replace(/^[ \t]+/, "") };
}

/** Every keyword line of a file's text, with line numbers. */
export function parseConfigLines(text: string, file: string): ConfigLine[] {
  const out: ConfigLine[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const parsed = parseConfigLine(lines[i], file, i + 1);
    if (parsed) out.push(parsed);
  }
  return out;
}
