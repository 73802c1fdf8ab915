/**
 * The environment of a login session, built in the order of sshd's do_setup_env (session.c): the
 * client's accepted variables, then USER LOGNAME HOME PATH MAIL SHELL, environment= from the key (with
 * PermitUserEnvironment), SSH_CLIENT SSH_CONNECTION SSH_ORIGINAL_COMMAND, PAM's environment (pam_env:
 * /etc/environment, /etc/default/locale), ~/.ssh/environment (with PermitUserEnvironment), and SetEnv,
 * which overrides all of them (sshd_config(5) SetEnv). A later source overrides an earlier one.
 */
import { matchHostPattern } from "../keys/index.js";
import type { SystemAccount } from "./accounts.js";
import type { LoginConnectionInfo, LoginSettings } from "./loginSettings.js";

/** Debian's sshd is built with these (--with-default-path, --with-superuser-path). */
export const DEFAULT_USER_PATH = "/usr/local/bin:/usr/bin:/bin:/usr/games";
export const DEFAULT_ROOT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/** sshd's _PATH_MAILDIR. */
const MAIL_DIR = "/var/mail";
/** read_environment_file stops at this many variables (as sshd caps them, 1000). */
const MAX_USER_ENV = 1000;

function userEnvAllowed(settings: Pick<LoginSettings, "permitUserEnvironment">, name: string): boolean {
  const p = settings.permitUserEnvironment;
  if (p === true) return true;
  if (p === false) return false;
  return p.some((pattern) => matchHostPattern(name, pattern, true));
}

function splitAssignment(entry: string): [string, string] | null {
  const eq = entry.indexOf("=");
  if (eq <= 0) return null;
  return [entry.slice(0, eq), entry.slice(eq + 1)];
}

/**
 * ~/.ssh/environment (sshd(8) FILES): NAME=value lines, blank lines and # comments ignored; a line
 * without "=" is reported through `bad` and skipped.
 */
export function parseEnvironmentFile(text: string, bad?: (lineNumber: number) => void): [string, string][] {
  const out: [string, string][] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.replace(/\r$/, "").replace(/^[ \t]+/, "");
    if (line === "" || line.startsWith("#")) return;
    const kv = splitAssignment(line);
    if (!kv) return bad?.(i + 1);
    if (out.length < MAX_USER_ENV) out.push(kv);
  });
  return out;
}

export interface LoginEnvironmentInput {
  account: SystemAccount;
  conn: LoginConnectionInfo;
  settings: LoginSettings;
  /** Accepted env requests from the client. */
  clientEnv: Record<string, string>;
  /** environment="NAME=value" options of the authorized_keys line. */
  keyEnvironment?: readonly string[];
  /** The client's command when ForceCommand or command= replaced it (SSH_ORIGINAL_COMMAND). */
  originalCommand?: string;
  pamEnv?: Record<string, string>;
  /** Entries of ~/.ssh/environment, when it was read. */
  userEnvironmentFile?: [string, string][];
  term?: string;
}

export function buildLoginEnvironment(input: LoginEnvironmentInput): Record<string, string> {
  const { account, conn, settings } = input;
  const env: Record<string, string> = { ...input.clientEnv };
  Object.assign(env, {
    USER: account.name,
    LOGNAME: account.name,
    HOME: account.home,
    PATH: account.uid === 0 ? DEFAULT_ROOT_PATH : DEFAULT_USER_PATH,
    MAIL: `${MAIL_DIR}/${account.name}`,
    SHELL: account.shell || "/bin/sh",
  });
  if (process.env.TZ) env.TZ = process.env.TZ;
  for (const entry of input.keyEnvironment ?? []) {
    const kv = splitAssignment(entry);
    if (kv && userEnvAllowed(settings, kv[0])) env[kv[0]] = kv[1];
  }
  env.SSH_CLIENT = `${conn.remoteAddress} ${conn.remotePort} ${conn.localPort}`;
  env.SSH_CONNECTION = `${conn.remoteAddress} ${conn.remotePort} ${conn.localAddress} ${conn.localPort}`;
  if (input.term) env.TERM = input.term;
  if (input.originalCommand !== undefined) env.SSH_ORIGINAL_COMMAND = input.originalCommand;
  Object.assign(env, input.pamEnv ?? {});
  for (const [k, v] of input.userEnvironmentFile ?? []) {
    if (userEnvAllowed(settings, k)) env[k] = v;
  }
  for (const entry of settings.setEnv) {
    const kv = splitAssignment(entry);
    if (kv) env[kv[0]] = kv[1];
  }
  return env;
}
