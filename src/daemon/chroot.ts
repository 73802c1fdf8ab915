/**
 * ChrootDirectory (sshd_config(5)): the path after its tokens, sshd's check that every component is a
 * root-owned directory not writable by group or others (session.c safely_chroot), and chroot(2) itself
 * for a Node process, through the small Node-API addon native/nssh-chroot.c (Node has no chroot).
 *
 * Two ways nsshd uses it: a privilege-separated session process chroots itself (enterChroot) before it
 * becomes the user, and from then on serves SFTP in-process and runs programs from inside the root; a
 * single-process daemon (-i) stays outside and has each program chrooted by nssh-exec --chroot, and its
 * internal-sftp by a Node child that chroots itself (loginSftpServer.ts).
 */
import fs from "node:fs";
import path from "node:path";
import { expandTilde, expandTokens } from "../config/tokens.js";
import { SshError } from "../wire/index.js";
import { loadNativeAddon } from "./loginExec.js";

/** The account fields the tokens need. */
export interface ChrootAccount {
  name: string;
  uid: number;
  home: string;
}

/** The ChrootDirectory value names a directory (it is set and not "none"). */
export function chrootConfigured(value: string | undefined): value is string {
  return value !== undefined && value !== "" && value.toLowerCase() !== "none";
}

/**
 * The directory to chroot to for this account, or null when there is none: session.c expands `~` first
 * (tilde_expand_filename), then %h %u %U and %% (sshd_config(5) TOKENS); %i, the uid as ssh_config has it,
 * is taken as well. An unknown token is a CONFIG error naming the setting.
 */
export function resolveChrootDirectory(value: string | undefined, account: ChrootAccount): string | null {
  if (!chrootConfigured(value)) return null;
  const uid = String(account.uid);
  const tilded = expandTilde(value, account.home);
  return expandTokens(
    tilded,
    { h: account.home, u: account.name, U: uid, i: uid },
    { what: "ChrootDirectory" },
  );
}

/**
 * session.c safely_chroot's checks, with its messages (what sshd's fatal() logs): the path is absolute, and
 * each of "/", "/a/", "/a/b/", ..., "/a/b/c" (stat follows symbolic links, as sshd's) exists, belongs to
 * root, is not writable by group or others, and is a directory.
 */
export async function checkChrootDirectory(dir: string): Promise<void> {
  if (!path.isAbsolute(dir)) throw new SshError("CONFIG", "chroot path does not begin at root");
  if (dir.length >= 4096) throw new SshError("CONFIG", "chroot path too long");
  let at = 0;
  for (;;) {
    const slash = dir.indexOf("/", at);
    const last = slash < 0;
    const component = last ? dir : dir.slice(0, slash + 1);
    const what = last ? "" : "component ";
    let st: fs.Stats;
    try {
      st = await fs.promises.stat(component);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new SshError("CONFIG", `safely_chroot: stat("${component}"): ${errnoText(e)}`);
    }
    if (st.uid !== 0 || (st.mode & 0o022) !== 0) {
      throw new SshError("CONFIG", `bad ownership or modes for chroot directory ${what}"${component}"`);
    }
    if (!st.isDirectory())
      throw new SshError("CONFIG", `chroot path ${what}"${component}" is not a directory`);
    if (last) return;
    at = slash + 1;
    if (at >= dir.length) return; // a trailing slash: the last component was checked
  }
}

/** strerror(3)'s words for the errors a stat can give. */
function errnoText(e: NodeJS.ErrnoException): string {
  switch (e.code) {
    case "ENOENT":
      return "No such file or directory";
    case "ENOTDIR":
      return "Not a directory";
    case "EACCES":
      return "Permission denied";
    case "ELOOP":
      return "Too many levels of symbolic links";
    case "ENAMETOOLONG":
      return "File name too long";
    default:
      return e.message;
  }
}

interface ChrootAddon {
  chroot(dir: string): void;
}

/**
 * The addon, or why it is not there; loaded once (it must be loaded before any chroot: nothing on disk is
 * reachable after).
 */
function loadChrootAddon(): ChrootAddon | string {
  return loadNativeAddon<ChrootAddon>("nssh-chroot.node", ["chroot"]);
}

let root: string | null = null;

/** The directory this process chrooted to, or null. */
export function chrootedTo(): string | null {
  return root;
}

/**
 * chroot(2) this process to `dir` (root only; checkChrootDirectory first). Afterwards nothing outside is
 * reachable: modules must be imported before, and programs are run from inside the new root.
 */
export function enterChroot(dir: string): void {
  if (root !== null) throw new SshError("PROTOCOL", `already chrooted to ${root}`);
  const native = loadChrootAddon();
  if (typeof native === "string") {
    throw new SshError(
      "UNSUPPORTED",
      `ChrootDirectory needs nssh-chroot.node (scripts/build-native.mjs): ${native}`,
    );
  }
  try {
    native.chroot(dir);
  } catch (err) {
    process.chdir("/"); // the chdir into dir may have happened: leave no working directory there
    throw new SshError("CONFIG", (err as Error).message);
  }
  root = dir;
  // The addon changed the working directory behind Node's back; this refreshes Node's cached cwd.
  process.chdir("/");
}

/** Is `dir` a directory (inside the current root)? For the chdir to the home after a chroot. */
export function isDirectory(dir: string): boolean {
  try {
    return fs.statSync(dir).isDirectory();
  } catch {
    return false;
  }
}
