/**
 * May this system user log in from here at all? sshd's allowed_user (auth.c): without PAM, an account
 * that has expired or is locked (shadow password starting with "!", Linux's LOCKED_PASSWD_PREFIX) is
 * refused; the shell must exist and be executable (unless a ChrootDirectory applies: it is looked up
 * inside), DenyUsers/AllowUsers (`user` or `user@host` patterns), DenyGroups/AllowGroups; and a daemon not
 * started as root serves only the user who started it. Also PermitRootLogin per method (auth_root_allowed).
 * Null means allowed; otherwise the log line sshd would write.
 */
import fs from "node:fs";
import { chrootConfigured } from "./chroot.js";
import { matchHostPattern, matchUserHostPattern } from "../keys/index.js";
import type { SystemAccount } from "./accounts.js";
import type { LoginSettings } from "./loginSettings.js";

function anyMatch(name: string, patterns: readonly string[]): boolean {
  return patterns.some((p) => matchHostPattern(name, p, true));
}

export async function notAllowedReason(
  account: SystemAccount,
  settings: LoginSettings,
  remoteAddress: string,
): Promise<string | null> {
  const user = account.name;
  const from = `User ${user} from ${remoteAddress} not allowed because`;
  if (process.geteuid?.() !== 0 && account.uid !== process.geteuid?.()) {
    return `${from} the daemon runs as another user`;
  }
  if (!settings.usePAM) {
    const shadow = await readShadowEntry(user);
    if (shadow && shadow.expireDay !== null && Math.floor(Date.now() / 86_400_000) > shadow.expireDay) {
      return `Account ${user} has expired`;
    }
    if (shadow && shadow.password.startsWith("!")) {
      return `User ${user} not allowed because account is locked`;
    }
  }
  const shell = account.shell || "/bin/sh";
  if (!chrootConfigured(settings.chrootDirectory)) {
    try {
      const st = await fs.promises.stat(shell);
      if (!st.isFile() || (st.mode & 0o111) === 0) {
        return `User ${user} not allowed because shell ${shell} is not executable`;
      }
    } catch {
      return `User ${user} not allowed because shell ${shell} does not exist`;
    }
  }
  const host = remoteAddress; // UseDNS no: the address stands for the name
  if (settings.denyUsers.some((p) => matchUserHostPattern(user, host, remoteAddress, p))) {
    return `${from} listed in DenyUsers`;
  }
  if (
    settings.allowUsers.length > 0 &&
    !settings.allowUsers.some((p) => matchUserHostPattern(user, host, remoteAddress, p))
  ) {
    return `${from} not listed in AllowUsers`;
  }
  const groups = account.groups.map((g) => g.name);
  if (settings.denyGroups.length > 0 && groups.some((g) => anyMatch(g, settings.denyGroups))) {
    return `${from} a group is listed in DenyGroups`;
  }
  if (settings.allowGroups.length > 0 && !groups.some((g) => anyMatch(g, settings.allowGroups))) {
    return `${from} none of user's groups are listed in AllowGroups`;
  }
  return null;
}

/** What allowed_user reads of shadow(5): the password field and the account's expiry day. */
interface ShadowEntry {
  password: string;
  /** Days since 1970-01-01 after which the account is expired; null when none is set. */
  expireDay: number | null;
}

/**
 * The user's /etc/shadow line, or null where there is none or it cannot be read (not root: sshd's
 * getspnam fails the same way and skips these checks).
 */
async function readShadowEntry(user: string): Promise<ShadowEntry | null> {
  let text: string;
  try {
    text = await fs.promises.readFile("/etc/shadow", "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EACCES" || code === "ENOENT" || code === "EPERM") return null;
    throw err;
  }
  for (const line of text.split("\n")) {
    const f = line.split(":");
    if (f[0] !== user || f.length < 8) continue;
    const expire = f[7] === "" ? null : Number(f[7]);
    return {
      password: f[1]!,
      expireDay: expire !== null && Number.isInteger(expire) && expire >= 0 ? expire : null,
    };
  }
  return null;
}

/**
 * auth_root_allowed: may root log in with this method? `forcedCommand`: the authorized_keys line has a
 * command= option (forced-commands-only).
 */
export function rootLoginAllowed(
  settings: Pick<LoginSettings, "permitRootLogin">,
  method: "publickey" | "password" | "keyboard-interactive",
  forcedCommand = false,
): boolean {
  switch (settings.permitRootLogin) {
    case "yes":
      return true;
    case "prohibit-password":
      return method === "publickey";
    case "forced-commands-only":
      return method === "publickey" && forcedCommand;
    default:
      return false;
  }
}
