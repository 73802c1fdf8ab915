/**
 * User and group names for the SFTP server: `ls -l` longnames, users-groups-by-id@openssh.com and
 * home-directory need getpwuid/getgrgid/getpwnam, which Node lacks, so /etc/passwd and /etc/group are read
 * (systemAccountFiles.ts, as nss "files" would). Accounts from other NSS sources show as numbers, as they
 * do where the files are missing (a chroot).
 */
import os from "node:os";
import { accountFiles } from "./systemAccountFiles.js";

export async function systemUserName(uid: number): Promise<string | undefined> {
  return accountFiles().usersById.get(uid)?.name;
}

export async function systemGroupName(gid: number): Promise<string | undefined> {
  return accountFiles().groupNames.get(gid);
}

/** A user's home directory; the process's own user also when absent from /etc/passwd. */
export async function systemHomeDirectory(user: string): Promise<string | undefined> {
  const home = accountFiles().users.get(user)?.home;
  if (home !== undefined) return home;
  const me = os.userInfo();
  return user === me.username ? me.homedir : undefined;
}
