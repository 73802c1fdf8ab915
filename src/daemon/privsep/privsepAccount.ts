/**
 * The unprivileged account nsshd's pre-auth workers run as: `nsshd`, with no shell and no home, made on first
 * start if missing, as Debian's openssh-server package makes `sshd` (adduser --system).
 */
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { lookupAccount } from "../accounts.js";
import { SshError } from "../../wire/index.js";

export const PRIVSEP_USER = "nsshd";

export interface PrivsepIdentity {
  uid: number;
  gid: number;
}

function useradd(name: string): Promise<void> {
  const args = ["--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent"];
  args.push("--shell", "/usr/sbin/nologin", "--comment", "nsshd privilege separation", name);
  return new Promise((resolve, reject) => {
    execFile("useradd", args, { timeout: 10_000 }, (err, _stdout, stderr) => {
      // 9: the name was taken meanwhile (another nsshd starting): fine, it exists.
      if (err && err.code !== 9) {
        reject(
          new SshError(
            "CONFIG",
            `could not create the ${name} account: ${String(stderr).trim() || err.message}`,
          ),
        );
      } else resolve();
    });
  });
}

/** The uid and gid of the privilege separation account, creating it when it does not exist. */
export async function ensurePrivsepAccount(
  name = PRIVSEP_USER,
  log: (message: string) => void = () => {},
): Promise<PrivsepIdentity> {
  let account = await lookupAccount(name);
  if (!account) {
    log(`creating the privilege separation account ${name}`);
    await useradd(name);
    account = await lookupAccount(name);
  }
  if (!account) throw new SshError("CONFIG", `the privilege separation account ${name} does not exist`);
  if (account.uid === 0) throw new SshError("CONFIG", `the privilege separation account ${name} has uid 0`);
  return { uid: account.uid, gid: account.gid };
}

/**
 * Can an account other than root and the owner run the program at `file`? Every folder on the way must be
 * searchable by others and the file readable by them: a checkout under /root is not, and workers started
 * as the unprivileged account could not load nsshd's code.
 */
export function readableByOthers(file: string): boolean {
  const parts = path.resolve(file).split(path.sep).filter(Boolean);
  let at: string = path.sep;
  for (const [i, part] of parts.entries()) {
    at = path.join(at, part);
    let mode: number;
    try {
      mode = fs.statSync(at).mode;
    } catch {
      return false; // missing: certainly not usable by the account
    }
    const last = i === parts.length - 1;
    if ((mode & (last ? 0o004 : 0o001)) === 0) return false;
  }
  return true;
}
