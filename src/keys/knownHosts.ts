/**
 * known_hosts files (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT"): `[marker] patterns keytype base64 [comment]`,
 * with `@cert-authority` / `@revoked` markers, comma-separated host patterns (wildcards, `!` negation,
 * `[host]:port`) or one hashed name `|1|base64(salt)|base64(HMAC-SHA1(salt, name))` as `ssh-keygen -H` and
 * HashKnownHosts write it. The lookup follows ssh's hostfile.c: a matching key is "known"; any other plain
 * key for the name makes it "changed"; a matching `@revoked` key beats everything.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { promises as fsp } from "node:fs";
import path from "node:path";
import { SshError } from "../wire/index.js";
import { matchPatternList } from "./hostPatterns.js";
import { PublicKey } from "./publicKey.js";
import { parsePublicKeyLine } from "./publicKeyLine.js";

export type KnownHostsMarker = "cert-authority" | "revoked";

export interface KnownHostsEntry {
  file: string;
  line: number;
  marker: KnownHostsMarker | null;
  /** The raw host field: a pattern list, or one `|1|salt|hash` name. */
  hostPatterns: string;
  hashed: boolean;
  key: PublicKey;
  comment: string;
}

export interface KnownHostsParseError {
  line: number;
  message: string;
}

/** The magic of a hashed name (hostfile.h HASH_MAGIC) and the salt / HMAC-SHA1 length. */
const HASH_MAGIC = "|1|";
const SHA1_BYTES = 20;

/**
 * Parse a known_hosts file. Blank lines and `#` comments are skipped; a line that cannot be used (unknown
 * marker, bad hash, missing or unreadable key) is reported with its line number and skipped, as ssh does.
 */
export function parseKnownHosts(
  text: string,
  file: string,
): { entries: KnownHostsEntry[]; errors: KnownHostsParseError[] } {
  const entries: KnownHostsEntry[] = [];
  const errors: KnownHostsParseError[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const raw = lines[i]!.replace(/\r$/, "");
    try {
      const entry = parseKnownHostsLine(raw, file, lineNo);
      if (entry) entries.push(entry);
    } catch (err) {
      if (!(err instanceof SshError)) throw err;
      errors.push({ line: lineNo, message: err.message });
    }
  }
  return { entries, errors };
}

/** One line; null for a blank or comment line; SshError("KEY_FORMAT"/"UNSUPPORTED") for a bad one. */
function parseKnownHostsLine(raw: string, file: string, line: number): KnownHostsEntry | null {
  let rest = raw.replace(/^[ \t]+/, "");
  if (rest === "" || rest.startsWith("#")) return null;
  const word = (): string => {
    const m = /^([^ \t]*)[ \t]*/.exec(rest)!;
    rest = rest.slice(m[0].length);
    return m[1]!;
  };
  let marker: KnownHostsMarker | null = null;
  if (rest.startsWith("@")) {
    const m = word();
    if (m === "@cert-authority") marker = "cert-authority";
    else if (m === "@revoked") marker = "revoked";
    else throw new SshError("KEY_FORMAT", `invalid marker "${m}"`);
  }
  const hostPatterns = word();
  if (hostPatterns === "") throw new SshError("KEY_FORMAT", "no host names");
  const hashed = hostPatterns.startsWith("|");
  if (hashed && !decodeHashedName(hostPatterns)) {
    throw new SshError("KEY_FORMAT", `bad host hash "${hostPatterns.slice(0, 32)}"`);
  }
  if (rest === "" || rest.startsWith("#")) throw new SshError("KEY_FORMAT", "truncated before key type");
  const { key, comment } = parsePublicKeyLine(rest);
  return { file, line, marker, hostPatterns, hashed, key, comment };
}

/** `|1|salt|hash` → salt and hash (each 20 bytes), or null when it is not that form. */
function decodeHashedName(field: string): { salt: Buffer; hash: Buffer } | null {
  if (!field.startsWith(HASH_MAGIC)) return null;
  const parts = field.slice(HASH_MAGIC.length).split("|");
  if (parts.length !== 2) return null;
  const b64 = /^[A-Za-z0-9+/]+={0,2}$/;
  if (!b64.test(parts[0]!) || !b64.test(parts[1]!)) return null;
  const salt = Buffer.from(parts[0]!, "base64");
  const hash = Buffer.from(parts[1]!, "base64");
  if (salt.length !== SHA1_BYTES || hash.length !== SHA1_BYTES) return null;
  return { salt, hash };
}

/** The name ssh looks up: `host` on port 22, `[host]:port` otherwise (sshd(8), put_host_port). */
export function knownHostsName(host: string, port: number): string {
  return port === 22 || port === 0 ? host : `[${host}]:${port}`;
}

/** A hashed name as `ssh-keygen -H` writes it: `|1|base64(salt)|base64(HMAC-SHA1(key=salt, name))`. */
export function hashKnownHostName(name: string, salt: Buffer = randomBytes(SHA1_BYTES)): string {
  if (salt.length !== SHA1_BYTES)
    throw new SshError("CONFIG", `known_hosts salt must be ${SHA1_BYTES} bytes`);
  const hash = createHmac("sha1", salt).update(name).digest();
  return `${HASH_MAGIC}${salt.toString("base64")}|${hash.toString("base64")}`;
}

/**
 * Whether an entry is for `name` (already in `[host]:port` form where needed). Plain entries go through
 * the pattern list (case-insensitive, a matching negation refuses); a hashed entry compares the HMAC of the
 * lower-cased name, as ssh lower-cases the host name before any lookup.
 */
export function entryMatchesHost(entry: KnownHostsEntry, name: string): boolean {
  const lower = name.toLowerCase();
  if (!entry.hashed) return matchPatternList(lower, entry.hostPatterns) === "match";
  const decoded = decodeHashedName(entry.hostPatterns);
  if (!decoded) return false;
  const hash = createHmac("sha1", decoded.salt).update(lower).digest();
  return timingSafeEqual(hash, decoded.hash);
}

export type HostKeyCheck =
  | { status: "known"; entry: KnownHostsEntry }
  | { status: "changed"; entry: KnownHostsEntry /* the offending line */ }
  | { status: "revoked"; entry: KnownHostsEntry }
  | { status: "unknown"; otherKeys: KnownHostsEntry[] };

export interface KnownHostsReadOptions {
  /** Told of each malformed line ("file:line: message") and of a file that exists but cannot be read. */
  onWarning?: (message: string) => void;
}

/** Read and parse the files in order; a missing file (or folder) counts as empty, as in ssh. */
export async function readKnownHostsFiles(
  files: readonly string[],
  options: KnownHostsReadOptions = {},
): Promise<KnownHostsEntry[]> {
  const all: KnownHostsEntry[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await fsp.readFile(file, "utf8");
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== "ENOENT" && code !== "ENOTDIR") {
        // ssh carries on without a file it cannot open (hostfile.c load_hostkeys); the caller may log it.
        options.onWarning?.(`${file}: cannot read known hosts: ${(err as Error).message}`);
      }
      continue;
    }
    const { entries, errors } = parseKnownHosts(text, file);
    for (const e of errors) options.onWarning?.(`${file}:${e.line}: ${e.message}`);
    all.push(...entries);
  }
  return all;
}

/** Every entry (any marker) in the files that is for one of `names`, in file and line order. */
export async function findKnownHostEntries(
  files: readonly string[],
  names: string | readonly string[],
  options: KnownHostsReadOptions = {},
): Promise<KnownHostsEntry[]> {
  const list = typeof names === "string" ? [names] : names;
  const entries = await readKnownHostsFiles(files, options);
  return entries.filter((e) => list.some((n) => entryMatchesHost(e, n)));
}

/** The `@cert-authority` entries for the names: CA keys trusted to sign host certificates for them. */
export async function findCertAuthorities(
  files: readonly string[],
  names: string | readonly string[],
  options: KnownHostsReadOptions = {},
): Promise<KnownHostsEntry[]> {
  return (await findKnownHostEntries(files, names, options)).filter((e) => e.marker === "cert-authority");
}

/**
 * Check a plain host key, as ssh's check_key_in_hostkeys does for the lines that match any of `names`
 * (e.g. `[knownHostsName(host, port)]`; call again with the address for CheckHostIP, whose verdict ssh
 * keeps apart): a matching `@revoked` line gives "revoked"; else a plain line with this key gives "known";
 * else any other plain key for the name gives "changed" (OpenSSH 9.2 does so whatever that key's type:
 * checked against ssh, which prints "REMOTE HOST IDENTIFICATION HAS CHANGED" for an ED25519 line when the
 * server shows ECDSA), naming the last such line as ssh's "Offending key" does; else "unknown".
 * `@cert-authority` lines never match a plain key. `otherKeys` is kept for certificate checks and is empty
 * for plain keys.
 */
export async function checkKnownHost(
  files: readonly string[],
  names: string | readonly string[],
  key: PublicKey,
  options: KnownHostsReadOptions = {},
): Promise<HostKeyCheck> {
  const entries = await findKnownHostEntries(files, names, options);
  return checkKeyInEntries(entries, key);
}

/**
 * The client's lookup for a server on `host`:`port` (ssh's sshconnect.c check_host_key): `[host]:port`
 * first; when that is "unknown" on a port other than 22 and no HostKeyAlias is in use, the bare `host` is
 * tried and only a match there counts ("found matching key w/out port"); a different key under the bare
 * name leaves the verdict "unknown", as in ssh.
 */
export async function checkServerHostKey(
  files: readonly string[],
  host: string,
  port: number,
  key: PublicKey,
  options: KnownHostsReadOptions & { hostKeyAlias?: string } = {},
): Promise<HostKeyCheck & { matchedWithoutPort: boolean }> {
  const entries = await readKnownHostsFiles(files, options);
  const lookup = (name: string): HostKeyCheck =>
    checkKeyInEntries(
      entries.filter((e) => entryMatchesHost(e, name)),
      key,
    );
  if (options.hostKeyAlias !== undefined)
    return { ...lookup(options.hostKeyAlias), matchedWithoutPort: false };
  const first = lookup(knownHostsName(host, port));
  if (first.status === "unknown" && port !== 22 && port !== 0) {
    const bare = lookup(host);
    if (bare.status === "known") return { ...bare, matchedWithoutPort: true };
  }
  return { ...first, matchedWithoutPort: false };
}

/** checkKnownHost on entries already filtered to the host's names. */
export function checkKeyInEntries(entries: readonly KnownHostsEntry[], key: PublicKey): HostKeyCheck {
  const revoked = entries.find((e) => e.marker === "revoked" && e.key.equals(key));
  if (revoked) return { status: "revoked", entry: revoked };
  let changed: KnownHostsEntry | undefined;
  for (const e of entries) {
    if (e.marker !== null) continue;
    if (e.key.equals(key)) return { status: "known", entry: e };
    changed = e;
  }
  if (changed) return { status: "changed", entry: changed };
  return { status: "unknown", otherKeys: [] };
}

/**
 * The line(s) ssh would write for these names (hostfile.c write_host_entry): names lower-cased; plain, all
 * names comma-joined on one line; hashed, one `|1|salt|hash` line per name (a hashed field holds one name).
 * Lines are joined with "\n", without a final newline.
 */
export function formatKnownHostsLine(names: readonly string[], key: PublicKey, hash: boolean): string {
  if (names.length === 0) throw new SshError("CONFIG", "a known_hosts line needs at least one host name");
  for (const n of names) {
    if (n === "" || /[\s,]/.test(n)) throw new SshError("CONFIG", `invalid known_hosts host name "${n}"`);
  }
  const lower = names.map((n) => n.toLowerCase());
  const keyText = key.toLine();
  if (!hash) return `${lower.join(",")} ${keyText}`;
  return lower.map((n) => `${hashKnownHostName(n)} ${keyText}`).join("\n");
}

/**
 * Append the host's key to a known_hosts file, as ssh does when the user accepts a new key: the folder is
 * created (0700) and the file (0644) if missing; a newline is added first if the file does not end in one.
 */
export async function appendKnownHost(
  file: string,
  names: readonly string[],
  key: PublicKey,
  hash: boolean,
): Promise<void> {
  const text = formatKnownHostsLine(names, key, hash) + "\n";
  await fsp.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const handle = await fsp.open(file, "a+", 0o644);
  try {
    const { size } = await handle.stat();
    let prefix = "";
    if (size > 0) {
      const last = Buffer.alloc(1);
      await handle.read(last, 0, 1, size - 1);
      if (last[0] !== 0x0a) prefix = "\n";
    }
    await handle.appendFile(prefix + text, "utf8");
  } finally {
    await handle.close();
  }
}

/**
 * `ssh-keygen -H` on a file's text: every plain entry without wildcards or negations becomes one hashed
 * line per name (markers and comments kept); other lines pass through unchanged.
 */
export function hashKnownHostsText(text: string): string {
  const out: string[] = [];
  const lines = text.split("\n");
  const trailing = lines.length > 0 && lines[lines.length - 1] === "";
  if (trailing) lines.pop();
  for (const raw of lines) {
    let entry: KnownHostsEntry | null = null;
    try {
      entry = parseKnownHostsLine(raw.replace(/\r$/, ""), "", 0);
    } catch (err) {
      if (!(err instanceof SshError)) throw err;
      entry = null; // invalid lines are kept as they are, as ssh-keygen -H does
    }
    if (!entry || entry.hashed || /[*?!]/.test(entry.hostPatterns)) {
      out.push(raw);
      continue;
    }
    const marker = entry.marker ? `@${entry.marker} ` : "";
    const tail = entry.comment ? ` ${entry.comment}` : "";
    for (const name of entry.hostPatterns.split(",").filter((n) => n !== "")) {
      out.push(`${marker}${hashKnownHostName(name)} ${entry.key.toLine()}${tail}`);
    }
  }
  return out.join("\n") + (trailing ? "\n" : "");
}

/**
 * `ssh-keygen -R name` on a file's text: drops the plain (unmarked) entries for the name, keeps everything
 * else byte for byte. Returns the new text and the removed entries.
 */
export function removeKnownHostFromText(
  text: string,
  name: string,
  file = "",
): { text: string; removed: KnownHostsEntry[] } {
  const removed: KnownHostsEntry[] = [];
  const kept: string[] = [];
  const lines = text.split("\n");
  lines.forEach((raw, i) => {
    let entry: KnownHostsEntry | null = null;
    try {
      entry = parseKnownHostsLine(raw.replace(/\r$/, ""), file, i + 1);
    } catch (err) {
      if (!(err instanceof SshError)) throw err;
      entry = null; // ssh-keygen -R keeps invalid lines
    }
    if (entry && entry.marker === null && entryMatchesHost(entry, name)) removed.push(entry);
    else kept.push(raw);
  });
  return { text: kept.join("\n"), removed };
}
