/**
 * System accounts, as sshd looks them up (getpwnam, getgrouplist).
 *
 * When nsswitch.conf(5) sends the passwd and group databases to `files` alone (or to `files` then
 * `systemd` with no userdb record that could add a membership: the Debian default), the answer is read
 * from /etc/passwd and /etc/group directly, as glibc's files module would give it: the first passwd line
 * with the name; the groups are the primary gid first, then every group whose member list names the
 * user, in file order, each gid once (getgrouplist(3)), named by the first group line with that gid.
 * Anything else (LDAP, sssd, compat `+` lines, actions in brackets, a user files do not know) asks
 * getent(1) and id(1), so that every NSS source the host uses answers, without a native binding.
 *
 * Nothing is kept that would hide a change: the parsed files are reused only while /etc/passwd,
 * /etc/group and /etc/nsswitch.conf keep their inode, size, mtime and ctime, so an account or group
 * change counts from the next login, as with sshd.
 */
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import { accountFiles, fileStamp, parsePasswdLine, type AccountFiles } from "../sftp/systemAccountFiles.js";

export interface SystemAccount {
  name: string;
  uid: number;
  gid: number;
  gecos: string;
  home: string;
  shell: string;
  /** Every group the user is in (primary first), as initgroups(3) would set them. */
  groups: { gid: number; name: string }[];
}

/** Names getent and the helpers get: no option-like or separator characters (useradd's rules are stricter). */
const SAFE_NAME = /^[A-Za-z0-9._][A-Za-z0-9._@-]{0,255}\$?$/;

export function isSafeAccountName(name: string): boolean {
  return SAFE_NAME.test(name);
}

function run(program: string, args: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(program, args, { encoding: "utf8", maxBuffer: 1 << 20, timeout: 10_000 }, (err, stdout) => {
      const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
      resolve({ code, stdout: stdout ?? "" });
    });
  });
}

// ---- nsswitch.conf --------------------------------------------------------------------------------------

/** The sources nsswitch.conf(5) lists for each database (glibc's default when a database has no line). */
export function parseNsswitch(text: string): Map<string, string[]> {
  const dbs = new Map<string, string[]>();
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*/, "").trim();
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    dbs.set(
      line.slice(0, colon).trim(),
      line
        .slice(colon + 1)
        .trim()
        .split(/\s+/)
        .filter(Boolean),
    );
  }
  return dbs;
}

/** Where the systemd module reads membership records (nss-systemd(8), userdb(5)'s drop-in folders). */
const USERDB_DIRS = [
  "/etc/userdb",
  "/run/userdb",
  "/run/host/userdb",
  "/usr/lib/userdb",
  "/usr/local/lib/userdb",
];

/**
 * Whether the files alone answer as NSS would: every database that decides passwd, group and initgroups
 * lists `files` first and nothing after it but `systemd` (which adds nothing for a user in the files when
 * no userdb record exists), with no [action] items.
 */
export function filesAnswerAlone(dbs: Map<string, string[]>, userdbPresent: boolean): boolean {
  const plain = (db: string): boolean => {
    // glibc's default for a database without a line is "files" (group and passwd on Debian; see nss(5)).
    const sources = dbs.get(db) ?? ["files"];
    if (sources[0] !== "files") return false;
    return sources.slice(1).every((s) => s === "systemd" && !userdbPresent);
  };
  // initgroups defaults to the group database's sources.
  return plain("passwd") && plain("group") && (!dbs.has("initgroups") || plain("initgroups"));
}

// ---- whether the files answer alone ----------------------------------------------------------------------

const NSSWITCH_FILE = "/etc/nsswitch.conf";

/** Whether nsswitch.conf lets the files answer alone, decided again whenever it changes. */
let nsswitchVerdict: { stamp: string; filesAlone: boolean } | null = null;

function userdbPresent(): boolean {
  return USERDB_DIRS.some((d) => fs.existsSync(d));
}

function filesAnswer(): boolean {
  const userdb = userdbPresent();
  const stamp = fileStamp(NSSWITCH_FILE) + (userdb ? "|userdb" : "");
  if (nsswitchVerdict?.stamp === stamp) return nsswitchVerdict.filesAlone;
  let text = "";
  let filesAlone = true;
  try {
    text = fs.readFileSync(NSSWITCH_FILE, "utf8");
  } catch (err) {
    // No nsswitch.conf: glibc then uses its built-in defaults, which are "files" for these databases.
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") filesAlone = false;
  }
  filesAlone &&= filesAnswerAlone(parseNsswitch(text), userdb);
  nsswitchVerdict = { stamp, filesAlone };
  return filesAlone;
}

/** The tables when they can answer alone: NSS says files only, both were read, no compat line. */
function filesForLookup(): AccountFiles | null {
  if (!filesAnswer()) return null;
  const files = accountFiles();
  return files.readable && !files.compat ? files : null;
}

/**
 * The account from /etc/passwd and /etc/group; undefined when the files cannot answer alone (the
 * programs must), null when NSS would say there is no such user.
 */
export function lookupAccountInFiles(name: string): SystemAccount | null | undefined {
  const files = filesForLookup();
  if (!files) return undefined;
  const entry = files.users.get(name);
  // Not in the files: another module (systemd's root/nobody or dynamic users) may still know it.
  if (!entry) return undefined;
  const seen = new Set<number>([entry.gid]);
  const groups = [{ gid: entry.gid, name: files.groupNames.get(entry.gid) ?? String(entry.gid) }];
  for (const gid of files.memberships.get(name) ?? []) {
    if (seen.has(gid)) continue;
    seen.add(gid);
    groups.push({ gid, name: files.groupNames.get(gid) ?? String(gid) });
  }
  return { ...entry, groups };
}

// ---- lookups --------------------------------------------------------------------------------------------

/**
 * Lookups through the programs in progress, shared: logins of one user at the same moment start them
 * once. Answers are not kept after that: as with sshd, a change counts from the next login.
 */
const inFlight = new Map<string, Promise<SystemAccount | null>>();

/** getpwnam + getgrouplist: the account, or null when there is no such user. */
export function lookupAccount(name: string): Promise<SystemAccount | null> {
  if (!isSafeAccountName(name)) return Promise.resolve(null);
  const fromFiles = lookupAccountInFiles(name);
  if (fromFiles !== undefined) return Promise.resolve(fromFiles);
  return lookupAccountByPrograms(name);
}

/** The same lookup, always through getent(1) and id(1) (every NSS source). */
export function lookupAccountByPrograms(name: string): Promise<SystemAccount | null> {
  const running = inFlight.get(name);
  if (running) return running;
  const account = lookupAccountNow(name).finally(() => inFlight.delete(name));
  inFlight.set(name, account);
  return account;
}

async function lookupAccountNow(name: string): Promise<SystemAccount | null> {
  if (!isSafeAccountName(name)) return null;
  const pw = await run("getent", ["passwd", "--", name]);
  if (pw.code !== 0) return null;
  const entry = parsePasswdLine(pw.stdout.split("\n")[0] ?? "");
  if (!entry || entry.name !== name) return null;
  const [ids, names] = await Promise.all([run("id", ["-G", "--", name]), run("id", ["-Gn", "--", name])]);
  const gids = ids.code === 0 ? ids.stdout.trim().split(/\s+/).map(Number) : [entry.gid];
  const groupNames = names.code === 0 ? names.stdout.trim().split(/\s+/) : [];
  const groups = gids
    .filter((g) => Number.isInteger(g))
    .map((gid, i) => ({ gid, name: groupNames[i] ?? String(gid) }));
  if (!groups.some((g) => g.gid === entry.gid)) groups.unshift({ gid: entry.gid, name: String(entry.gid) });
  return { ...entry, groups };
}

/** The account this process runs as (the only one that can log in to a daemon not started as root). */
export async function currentAccount(): Promise<SystemAccount | null> {
  return lookupAccount(os.userInfo().username);
}
