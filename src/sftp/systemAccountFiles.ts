/**
 * /etc/passwd and /etc/group as glibc's `files` module reads them, for what needs getpwnam, getpwuid,
 * getgrgid or getgrouplist and has no native binding: the SFTP server's names (`ls -l`, home-directory)
 * and nsshd's account lookups. The tables are parsed again whenever either file changes (inode, size,
 * mtime, ctime), so a new account or group membership counts from the next question, not after a delay.
 */
import fs from "node:fs";

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  gecos: string;
  home: string;
  shell: string;
}

export interface AccountFiles {
  /** By name, the first line with each name (as getpwnam). */
  users: Map<string, PasswdEntry>;
  /** By uid, the first line with each uid (as getpwuid). */
  usersById: Map<number, PasswdEntry>;
  /** gid -> the first group line's name (as getgrgid). */
  groupNames: Map<number, string>;
  /** user name -> the gids of the groups whose member lists name it, in file order. */
  memberships: Map<string, number[]>;
  /** A compat-style `+`/`-` line: the files alone do not say it all. */
  compat: boolean;
  /** Both files were read (false in a chroot without them, say: every table is then empty). */
  readable: boolean;
}

export const PASSWD_FILE = "/etc/passwd";
export const GROUP_FILE = "/etc/group";

/** Parses one passwd(5) line; null when it is malformed. */
export function parsePasswdLine(line: string): PasswdEntry | null {
  const f = line.replace(/\n$/, "").split(":");
  if (f.length !== 7) return null;
  const uid = Number(f[2]);
  const gid = Number(f[3]);
  if (!Number.isInteger(uid) || !Number.isInteger(gid) || f[2] === "" || f[3] === "") return null;
  return { name: f[0]!, uid, gid, gecos: f[4]!, home: f[5]!, shell: f[6]! };
}

/** Parses one group(5) line; null when it is malformed. */
export function parseGroupLine(line: string): { name: string; gid: number; members: string[] } | null {
  const f = line.split(":");
  if (f.length !== 4 || f[2] === "") return null;
  const gid = Number(f[2]);
  if (!Number.isInteger(gid) || gid < 0) return null;
  return { name: f[0]!, gid, members: f[3] === "" ? [] : f[3]!.split(",") };
}

/** inode, size, mtime and ctime of a file, or why it has none. */
export function fileStamp(file: string): string {
  try {
    const st = fs.statSync(file, { bigint: true });
    return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
  } catch (err) {
    return `-${(err as NodeJS.ErrnoException).code ?? "error"}`;
  }
}

function parseTables(passwdText: string | null, groupText: string | null): AccountFiles {
  const files: AccountFiles = {
    users: new Map(),
    usersById: new Map(),
    groupNames: new Map(),
    memberships: new Map(),
    compat: false,
    readable: passwdText !== null && groupText !== null,
  };
  for (const line of (passwdText ?? "").split("\n")) {
    if (line.startsWith("+") || line.startsWith("-")) files.compat = true;
    const entry = parsePasswdLine(line);
    if (!entry) continue;
    if (!files.users.has(entry.name)) files.users.set(entry.name, entry);
    if (!files.usersById.has(entry.uid)) files.usersById.set(entry.uid, entry);
  }
  for (const line of (groupText ?? "").split("\n")) {
    if (line.startsWith("+") || line.startsWith("-")) files.compat = true;
    const group = parseGroupLine(line);
    if (!group) continue;
    if (!files.groupNames.has(group.gid)) files.groupNames.set(group.gid, group.name);
    for (const member of group.members) {
      const list = files.memberships.get(member);
      if (list) list.push(group.gid);
      else files.memberships.set(member, [group.gid]);
    }
  }
  return files;
}

function readOrNull(file: string): string | null {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return null; // unreadable or absent: AccountFiles.readable says so to whoever must know
  }
}

let current: { stamp: string; files: AccountFiles } | null = null;

/** The two files as they are now. */
export function accountFiles(): AccountFiles {
  const stamp = `${fileStamp(PASSWD_FILE)}|${fileStamp(GROUP_FILE)}`;
  if (current?.stamp !== stamp) {
    current = { stamp, files: parseTables(readOrNull(PASSWD_FILE), readOrNull(GROUP_FILE)) };
  }
  return current.files;
}
