/**
 * System accounts, as sshd looks them up (getpwnam, getgrouplist): through getent(1) and id(1), so that
 * every NSS source the host uses (files, LDAP, sssd) answers, without a native binding.
 */
import { execFile } from "node:child_process";
import os from "node:os";

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

/** Parses one passwd(5) line; null when it is malformed. */
export function parsePasswdLine(line: string): Omit<SystemAccount, "groups"> | null {
  const f = line.replace(/\n$/, "").split(":");
  if (f.length !== 7) return null;
  const uid = Number(f[2]);
  const gid = Number(f[3]);
  if (!Number.isInteger(uid) || !Number.isInteger(gid) || f[2] === "" || f[3] === "") return null;
  return { name: f[0]!, uid, gid, gecos: f[4]!, home: f[5]!, shell: f[6]! };
}

/**
 * Lookups in progress, shared: logins of one user at the same moment start the programs once. Answers are
 * not kept after that: as with sshd, a change to an account or its groups counts from the next login.
 */
const inFlight = new Map<string, Promise<SystemAccount | null>>();

/** getpwnam + getgrouplist: the account, or null when there is no such user. */
export function lookupAccount(name: string): Promise<SystemAccount | null> {
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
