/**
 * Getting a user's authorized keys the way sshd does (auth2-pubkey.c, auth.c): the AuthorizedKeysFile
 * paths with their tokens, each file checked as StrictModes asks (the file and every folder above it,
 * up to the home folder or /, owned by the user or root and not writable by group or others) and read
 * with the user's rights; and the AuthorizedKeysCommand's output, run as AuthorizedKeysCommandUser.
 */
import fs from "node:fs";
import path from "node:path";
import { fingerprint, type PublicKey } from "../keys/index.js";
import { lookupAccount, type SystemAccount } from "./accounts.js";
import { needsIdentityChange, readFileAsUser, runAsUser } from "./loginExec.js";
import type { LoginLog, LoginSettings } from "./loginSettings.js";

/** The most of an authorized_keys file or command output read (sshd reads line by line without limit). */
const MAX_KEYS_BYTES = 4 << 20;

/**
 * percent_expand for sshd's tokens: `%%` and each given letter; an unknown token is an error (sshd
 * refuses such a configuration).
 */
export function expandTokens(text: string, tokens: Record<string, string>): string {
  return text.replace(/%(.)?/g, (_m, c: string | undefined) => {
    if (c === "%") return "%";
    if (c !== undefined && Object.prototype.hasOwnProperty.call(tokens, c)) return tokens[c]!;
    throw new Error(`unknown token %${c ?? ""} in "${text}"`);
  });
}

/** AuthorizedKeysFile entries expanded for this user (%h %u %U), relative ones under the home folder. */
export function authorizedKeysPaths(files: readonly string[], account: SystemAccount): string[] {
  const out: string[] = [];
  for (const f of files) {
    if (f.toLowerCase() === "none") continue;
    const p = expandTokens(f, { h: account.home, u: account.name, U: String(account.uid) });
    out.push(path.isAbsolute(p) ? p : path.join(account.home, p));
  }
  return out;
}

function badOwner(st: fs.Stats, uid: number): boolean {
  return (st.uid !== 0 && st.uid !== uid) || (st.mode & 0o022) !== 0;
}

/**
 * auth.c auth_secure_path: null when `file` may be trusted, else the reason in sshd's words ("bad
 * ownership or modes for directory /home/alice/.ssh").
 */
export async function securePathProblem(file: string, home: string, uid: number): Promise<string | null> {
  return securePathProblemNow(file, home, uid);
}

/**
 * The same walk with synchronous stat(2) calls, as sshd's: each costs a few microseconds, where a round
 * trip through libuv's thread pool cost the monitor about 40 µs of CPU (every login walks it twice).
 */
function securePathProblemNow(file: string, home: string, uid: number): string | null {
  let real: string;
  try {
    real = fs.realpathSync.native(file);
  } catch (err) {
    return `realpath ${file} failed: ${(err as NodeJS.ErrnoException).message}`;
  }
  let realHome: string | null = null;
  try {
    realHome = fs.realpathSync.native(home);
  } catch {
    realHome = null; // no home folder: check every folder up to /
  }
  const st = fs.statSync(real);
  if (!st.isFile()) return `${real} is not a regular file`;
  if (badOwner(st, uid)) return `bad ownership or modes for file ${real}`;
  let dir = real;
  for (;;) {
    dir = path.dirname(dir);
    let ds: fs.Stats | undefined;
    try {
      ds = fs.statSync(dir);
    } catch {
      ds = undefined;
    }
    if (!ds || badOwner(ds, uid)) return `bad ownership or modes for directory ${dir}`;
    if (realHome !== null && dir === realHome) return null;
    if (dir === "/") return null;
  }
}

export interface AuthorizedKeysSource {
  /** The file's path, or "AuthorizedKeysCommand". */
  origin: string;
  text: string;
}

/** Read one authorized_keys file for the user: null when absent, unreadable or refused by StrictModes. */
export async function readAuthorizedKeysFile(
  file: string,
  account: SystemAccount,
  settings: Pick<LoginSettings, "strictModes">,
  log: LoginLog,
): Promise<AuthorizedKeysSource | null> {
  log.debug1(`trying public key file ${file}`);
  let st: fs.Stats;
  try {
    st = fs.statSync(file); // synchronous, as securePathProblemNow
  } catch (err) {
    log.debug1(
      `Could not open user '${account.name}' authorized keys '${file}': ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "No such file or directory" : (err as Error).message}`,
    );
    return null;
  }
  if (!st.isFile()) {
    log.info(`User ${account.name} authorized keys ${file} is not a regular file`);
    return null;
  }
  if (settings.strictModes) {
    const problem = securePathProblemNow(file, account.home, account.uid);
    if (problem) {
      log.info(`Authentication refused: ${problem}`);
      return null;
    }
  }
  const text = needsIdentityChange(account)
    ? await readFileAsUserRemembered(account, file)
    : await readOwnFile(file, MAX_KEYS_BYTES);
  if (text === null) {
    log.debug1(`Could not open user '${account.name}' authorized keys '${file}': Permission denied`);
    return null;
  }
  return { origin: file, text };
}

/** Texts read with a user's rights, by user identity and path, with the stamp of the path when read. */
const readAsUser = new Map<string, { stamp: string; text: string }>();
const READ_AS_USER_ENTRIES = 256;
const READ_AS_USER_MAX_TEXT = 64 * 1024;

/**
 * What decides a read of `file` by a user: the file's content and identity (inode, size, mtime) and, for
 * the file and every folder above its real path, owner, mode and ctime (which chmod, chown and ACL changes
 * move). Null when any of it cannot be seen. Synchronous stat(2) calls, as securePathProblemNow.
 */
function pathStamp(file: string): string | null {
  try {
    const real = fs.realpathSync.native(file);
    const st = fs.statSync(real, { bigint: true });
    const parts = [
      `${real}:${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.mode}:${st.uid}:${st.gid}:${st.ctimeNs}`,
    ];
    for (let dir = path.dirname(real); ; dir = path.dirname(dir)) {
      const ds = fs.statSync(dir, { bigint: true });
      parts.push(`${ds.dev}:${ds.ino}:${ds.mode}:${ds.uid}:${ds.gid}:${ds.ctimeNs}`);
      if (dir === "/") break;
    }
    return parts.join("|");
  } catch {
    return null; // the read as the user decides
  }
}

/**
 * readFileAsUser (a helper process with the user's rights, as sshd's temporarily_use_uid) for a file not
 * seen before, or changed (content, ownership, modes or ACLs of it or of a folder above it) since it was
 * last read for this same identity: a login reads authorized_keys twice (the query, then the signature),
 * and starting that process each time cost the monitor more than the rest of the login. The answer is the
 * one the user's read gave for the very same file state.
 */
async function readFileAsUserRemembered(account: SystemAccount, file: string): Promise<string | null> {
  const key = `${account.uid}:${account.gid}:${account.groups.map((g) => g.gid).join(",")}\0${file}`;
  const stamp = pathStamp(file);
  const known = readAsUser.get(key);
  if (stamp !== null && known?.stamp === stamp) {
    readAsUser.delete(key);
    readAsUser.set(key, known); // most recently used last
    return known.text;
  }
  readAsUser.delete(key);
  const text = await readFileAsUser(account, file, MAX_KEYS_BYTES);
  // Kept under the stamp taken before the read: had anything moved since, the next stamp differs (ctime
  // only grows), so a newer text is never served for an older state. Small texts only (authorized_keys).
  if (text !== null && stamp !== null && text.length <= READ_AS_USER_MAX_TEXT) {
    readAsUser.set(key, { stamp, text });
    if (readAsUser.size > READ_AS_USER_ENTRIES) readAsUser.delete(readAsUser.keys().next().value!);
  }
  return text;
}

/**
 * Read a file with this process's rights (those of the user already), at most `maxBytes`, in buffers sized
 * by the file: a login reads its authorized_keys twice (the query, then the signature), and a zero-filled
 * buffer of the whole bound each time cost more than the read. Null when it cannot be opened or read.
 */
async function readOwnFile(file: string, maxBytes: number): Promise<string | null> {
  let fh: fs.promises.FileHandle;
  try {
    fh = await fs.promises.open(file, "r");
  } catch {
    return null; // reported by the caller as sshd does ("Could not open ...")
  }
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    // The size is a hint only (the file may grow, and /proc files say 0): read until the end or the bound.
    let want = Math.min(Math.max((await fh.stat()).size + 1, 4096), maxBytes);
    while (total < maxBytes) {
      const buf = Buffer.allocUnsafe(Math.min(want, maxBytes - total));
      const { bytesRead } = await fh.read(buf, 0, buf.length, total);
      if (bytesRead === 0) break;
      chunks.push(buf.subarray(0, bytesRead));
      total += bytesRead;
      want = 64 * 1024;
    }
    return Buffer.concat(chunks, total).toString("utf8");
  } catch {
    return null; // a read error (EISDIR, EIO): the caller reports the file as unreadable
  } finally {
    await fh.close();
  }
}

/** Split a command line into words as sshd's argv_split does: blanks separate, quotes and \ escape. */
export function splitCommandLine(line: string): string[] {
  const words: string[] = [];
  let cur = "";
  let inWord = false;
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === "\\" && i + 1 < line.length && (line[i + 1] === quote || line[i + 1] === "\\"))
        cur += line[++i];
      else if (c === quote) quote = null;
      else cur += c;
    } else if (c === " " || c === "\t") {
      if (inWord) words.push(cur);
      cur = "";
      inWord = false;
    } else if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (c === "\\" && i + 1 < line.length) {
      cur += line[++i];
      inWord = true;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (quote) throw new Error("unterminated quote");
  if (inWord) words.push(cur);
  return words;
}

/**
 * Run AuthorizedKeysCommand for this user and key (tokens %u %U %h %t %k %f %%) as
 * AuthorizedKeysCommandUser; its output is authorized_keys text. Null when not configured or failed.
 */
export async function runAuthorizedKeysCommand(
  account: SystemAccount,
  key: PublicKey,
  settings: Pick<LoginSettings, "authorizedKeysCommand" | "authorizedKeysCommandUser" | "strictModes">,
  log: LoginLog,
): Promise<AuthorizedKeysSource | null> {
  const command = settings.authorizedKeysCommand;
  if (!command || command.toLowerCase() === "none") return null;
  if (!settings.authorizedKeysCommandUser) {
    log.error("AuthorizedKeysCommand without AuthorizedKeysCommandUser, skipping");
    return null;
  }
  const runAs = await lookupAccount(settings.authorizedKeysCommandUser);
  if (!runAs) {
    log.error(`AuthorizedKeysCommandUser "${settings.authorizedKeysCommandUser}" not found`);
    return null;
  }
  let argv: string[];
  try {
    const tokens = {
      u: account.name,
      U: String(account.uid),
      h: account.home,
      t: key.type,
      k: key.blob.toString("base64"),
      f: fingerprint(key),
    };
    argv = splitCommandLine(command).map((w) => expandTokens(w, tokens));
  } catch (err) {
    log.error(`AuthorizedKeysCommand "${command}": ${(err as Error).message}`);
    return null;
  }
  const program = argv[0];
  if (!program || !path.isAbsolute(program)) {
    log.error(`AuthorizedKeysCommand "${command}" contains a relative path`);
    return null;
  }
  // subprocess() in sshd: the program must exist and sit on a safe path (as StrictModes, owner root).
  try {
    const problem = await securePathProblem(program, "/", 0);
    if (problem) {
      log.error(`Unsafe AuthorizedKeysCommand "${program}": ${problem}`);
      return null;
    }
  } catch (err) {
    log.error(`Could not stat AuthorizedKeysCommand "${program}": ${(err as Error).message}`);
    return null;
  }
  log.debug1(`restore_uid: running AuthorizedKeysCommand: "${argv.join(" ")}" as "${runAs.name}"`);
  const r = await runAsUser(runAs, program, argv.slice(1), { maxBytes: MAX_KEYS_BYTES });
  if (r.code !== 0) {
    log.error(`AuthorizedKeysCommand ${program} failed, status ${r.code ?? "signal"}`);
    return null;
  }
  return { origin: "AuthorizedKeysCommand", text: r.stdout.toString("utf8") };
}
