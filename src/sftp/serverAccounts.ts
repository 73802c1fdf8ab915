/**
 * User and group names for the SFTP server: `ls -l` longnames, users-groups-by-id@openssh.com and
 * home-directory need getpwuid/getgrgid/getpwnam, which Node lacks, so /etc/passwd and /etc/group are read
 * (as nss "files" would) and cached for a while. Accounts from other NSS sources show as numbers.
 */
import { readFile } from "node:fs/promises";
import os from "node:os";

interface AccountTables {
  users: Map<number, { name: string; home: string }>;
  usersByName: Map<string, string>;
  groups: Map<number, string>;
}

const CACHE_MS = 30_000;
let cached: { at: number; tables: Promise<AccountTables> } | null = null;

async function readTable(file: string): Promise<string[][]> {
  try {
    const text = await readFile(file, "utf8");
    return text
      .split("\n")
      .filter((l) => l && !l.startsWith("#"))
      .map((l) => l.split(":"));
  } catch {
    // No readable table (a container, a chroot): every id shows as its number, as ls does.
    return [];
  }
}

async function loadTables(): Promise<AccountTables> {
  const [passwd, group] = await Promise.all([readTable("/etc/passwd"), readTable("/etc/group")]);
  const users = new Map<number, { name: string; home: string }>();
  const usersByName = new Map<string, string>();
  for (const f of passwd) {
    const uid = Number(f[2]);
    if (!f[0] || !Number.isInteger(uid)) continue;
    if (!users.has(uid)) users.set(uid, { name: f[0], home: f[5] ?? "/" });
    usersByName.set(f[0], f[5] ?? "/");
  }
  const groups = new Map<number, string>();
  for (const f of group) {
    const gid = Number(f[2]);
    if (f[0] && Number.isInteger(gid) && !groups.has(gid)) groups.set(gid, f[0]);
  }
  return { users, usersByName, groups };
}

function tables(): Promise<AccountTables> {
  const now = Date.now();
  if (!cached || now - cached.at > CACHE_MS) cached = { at: now, tables: loadTables() };
  return cached.tables;
}

export async function systemUserName(uid: number): Promise<string | undefined> {
  return (await tables()).users.get(uid)?.name;
}

export async function systemGroupName(gid: number): Promise<string | undefined> {
  return (await tables()).groups.get(gid);
}

/** A user's home directory; the process's own user also when absent from /etc/passwd. */
export async function systemHomeDirectory(user: string): Promise<string | undefined> {
  const home = (await tables()).usersByName.get(user);
  if (home !== undefined) return home;
  const me = os.userInfo();
  return user === me.username ? me.homedir : undefined;
}
