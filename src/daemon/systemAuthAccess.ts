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
import { fileStamp } from "../sftp/systemAccountFiles.js";
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
    const shadow = readShadowEntry(user);
    if (shadow && shadow.expireDay !== null && Math.floor(Date.now() / 86_400_000) > shadow.expireDay) {
      return `Account ${user} has expired`;
    }
    if (shadow && shadow.locked) {
      return `User ${user} not allowed because account is locked`;
    }
  }
  const shell = account.shell || "/bin/sh";
  if (!chrootConfigured(settings.chrootDirectory)) {
    try {
      const st = fs.statSync(shell); // synchronous: one stat(2) is cheaper than a thread-pool round trip
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

/** What allowed_user reads of shadow(5): whether the password is locked, and the account's expiry day. */
interface ShadowEntry {
  /** The password field starts with "!" (Linux's LOCKED_PASSWD_PREFIX). */
  locked: boolean;
  /** Days since 1970-01-01 after which the account is expired; null when none is set. */
  expireDay: number | null;
}

const SHADOW_FILE = "/etc/shadow";

/**
 * /etc/shadow as last read, by user, with the stamp (device, inode, size, mtime, ctime) it had then: read
 * again whenever it changes (passwd, usermod and chage replace or rewrite it), so a lock or an expiry
 * counts from the next login, as with sshd's getspnam. Reading and splitting the whole file for every
 * login cost the monitor more than the rest of this check. No password hash is kept, only the lock.
 */
let shadowTable: { stamp: string; entries: Map<string, ShadowEntry> } | null = null;

function parseShadow(text: string): Map<string, ShadowEntry> {
  const entries = new Map<string, ShadowEntry>();
  for (const line of text.split("\n")) {
    const f = line.split(":");
    if (f.length < 8 || entries.has(f[0]!)) continue; // getspnam: the first line with the name
    const expire = f[7] === "" ? null : Number(f[7]);
    entries.set(f[0]!, {
      locked: f[1]!.startsWith("!"),
      expireDay: expire !== null && Number.isInteger(expire) && expire >= 0 ? expire : null,
    });
  }
  return entries;
}

/**
 * The user's /etc/shadow entry, or null where there is none or it cannot be read (not root: sshd's
 * getspnam fails the same way and skips these checks).
 */
function readShadowEntry(user: string): ShadowEntry | null {
  const stamp = fileStamp(SHADOW_FILE);
  if (shadowTable?.stamp !== stamp) {
    let text: string;
    try {
      text = fs.readFileSync(SHADOW_FILE, "utf8");
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "EACCES" || code === "ENOENT" || code === "EPERM") return null;
      throw err;
    }
    // Kept under the stamp taken before the read: a change meanwhile moves the next stamp (ctime grows).
    shadowTable = { stamp, entries: parseShadow(text) };
  }
  return shadowTable.entries.get(user) ?? null;
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
