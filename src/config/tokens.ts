/**
 * Expansions applied to ssh_config(5) values: `%` tokens (TOKENS), `${VAR}` environment variables
 * (ENVIRONMENT VARIABLES), `~` home directories, the `%C` connection hash, and the check that keeps a user or
 * host name typed on the command line from carrying shell syntax into a command (CVE-2023-51385).
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { SshError } from "../wire/index.js";

/** Token letter (without `%`) to its value. */
export type TokenValues = Readonly<Record<string, string>>;

export interface ExpandOptions {
  /** Expand `%` tokens (default true). */
  percent?: boolean;
  /** Expand `${VAR}` from `env` (default false). */
  dollar?: boolean;
  env?: Readonly<Record<string, string | undefined>>;
  /** Names the setting in error messages, e.g. "ControlPath". */
  what?: string;
}

/**
 * OpenSSH misc.c percent_expand / dollar_expand in one pass: `%%` is `%`, `%x` a token (an unknown letter or
 * a lone trailing `%` is an error), `${NAME}` an environment variable that must exist. A `$` not followed by
 * `{` stays as written. Values substituted are not expanded again.
 */
export function expandTokens(text: string, tokens: TokenValues, options: ExpandOptions = {}): string {
  const percent = options.percent ?? true;
  const dollar = options.dollar ?? false;
  const what = options.what ? `${options.what}: ` : "";
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (dollar && c === "$" && text[i + 1] === "{") {
      const end = text.indexOf("}", i + 2);
      if (end < 0)
        throw new SshError("CONFIG", `${what}environment variable '${text.slice(i)}' missing closing '}'`);
      const name = text.slice(i + 2, end);
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
        throw new SshError("CONFIG", `${what}invalid environment variable name '${name}'`);
      }
      const value = (options.env ?? process.env)[name];
      if (value === undefined) throw new SshError("CONFIG", `${what}env var \${${name}} has no value`);
      out += value;
      i = end;
      continue;
    }
    if (percent && c === "%") {
      const key = text[i + 1];
      if (key === undefined) throw new SshError("CONFIG", `${what}invalid format: trailing '%' in "${text}"`);
      if (key === "%") {
        out += "%";
      } else {
        const value = Object.prototype.hasOwnProperty.call(tokens, key) ? tokens[key] : undefined;
        if (value === undefined) throw new SshError("CONFIG", `${what}unknown key %${key} in "${text}"`);
        out += value;
      }
      i++;
      continue;
    }
    out += c;
  }
  return out;
}

/** The home directory of a named local user from /etc/passwd, or undefined. */
function homeOfUser(name: string): string | undefined {
  let passwd: string;
  try {
    passwd = readFileSync("/etc/passwd", "utf8");
  } catch (err) {
    throw new SshError("CONFIG", `cannot read /etc/passwd to expand ~${name}`, { cause: err });
  }
  for (const line of passwd.split("\n")) {
    const fields = line.split(":");
    if (fields[0] === name && fields.length >= 6) return fields[5];
  }
  return undefined;
}

/**
 * misc.c tilde_expand_filename: `~` and `~/...` become `homeDir`, `~user/...` that user's home; anything
 * else is returned unchanged.
 */
export function expandTilde(path: string, homeDir: string): string {
  if (!path.startsWith("~")) return path;
  const slash = path.indexOf("/");
  const name = slash < 0 ? path.slice(1) : path.slice(1, slash);
  const rest = slash < 0 ? "" : path.slice(slash + 1);
  let home = homeDir;
  if (name !== "") {
    const found = homeOfUser(name);
    if (found === undefined) throw new SshError("CONFIG", `tilde_expand_filename: No such user ${name}`);
    home = found;
  }
  if (rest === "") return home;
  return home.endsWith("/") ? home + rest : `${home}/${rest}`;
}

/** `%C`: hex SHA-1 of local hostname, remote host, port and remote user (ssh_connection_hash, OpenSSH 9.2). */
export function connectionHash(localHost: string, host: string, port: string, user: string): string {
  return createHash("sha1").update(localHost).update(host).update(port).update(user).digest("hex");
}

/** Characters a shell gives meaning to; OpenSSH's valid_hostname / valid_ruser (CVE-2023-51385 fix). */
const HOST_FORBIDDEN = "'`\"$\\;&<>|(){},";
const USER_FORBIDDEN = "'`\";&<>|(){}";

// eslint-disable-next-line no-control-regex
const CONTROL_OR_SPACE = /[\u0000-\u0020\u007f]/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** True when `name` may be substituted into a shell command (ssh.c valid_hostname / valid_ruser). */
export function isNameSafeForExpansion(kind: "user" | "host", name: string): boolean {
  if (name.startsWith("-")) return false;
  if (kind === "host") {
    if (CONTROL_OR_SPACE.test(name)) return false;
    for (const c of name) if (HOST_FORBIDDEN.includes(c)) return false;
    return true;
  }
  if (CONTROL.test(name) || name.endsWith("\\")) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name[i]!;
    if (USER_FORBIDDEN.includes(c)) return false;
    // A space or tab followed by '-' could start an option of the command it lands in.
    if ((c === " " || c === "\t") && name[i + 1] === "-") return false;
  }
  return true;
}

/**
 * Refuse a user or host name taken from the command line that holds shell metacharacters, control characters
 * or NUL, before it can be expanded into ProxyCommand, LocalCommand or Match exec (CVE-2023-51385). The
 * messages are OpenSSH's. Names from configuration files are trusted, as in OpenSSH.
 */
export function validateNameForExpansion(kind: "user" | "host", name: string): void {
  if (isNameSafeForExpansion(kind, name)) return;
  throw new SshError(
    "CONFIG",
    kind === "host" ? "hostname contains invalid characters" : "remote username contains invalid characters",
  );
}
