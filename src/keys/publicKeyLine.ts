/**
 * Public key text: the OpenSSH one-line form `type base64(blob) [comment]` (.pub files, the key part of
 * authorized_keys and known_hosts lines; sshd(8) AUTHORIZED_KEYS FILE FORMAT), the RFC 4716 "SSH2 PUBLIC
 * KEY" file that `ssh-keygen -e` writes and `-i` reads, and the PEM SubjectPublicKeyInfo / PKCS#1 public
 * keys `ssh-keygen -i -m PKCS8|PEM` reads.
 */
import { createPublicKey } from "node:crypto";
import { SshError } from "../wire/index.js";
import { isKeyType } from "./keyTypes.js";
import { decodeBase64Strict, firstPemLabel, wrapBase64 } from "./pem.js";
import { PublicKey } from "./publicKey.js";

export interface ParsedPublicKey {
  readonly key: PublicKey;
  /** The comment ("" when there is none). */
  readonly comment: string;
}

/**
 * Parse `type base64 [comment]`. The type word must name the same key type as the blob (KEY_FORMAT
 * otherwise); an unknown type word is UNSUPPORTED; bad base64 or a bad blob is KEY_FORMAT.
 */
export function parsePublicKeyLine(line: string): ParsedPublicKey {
  const m = /^\s*(\S+)\s+(\S+)(?:\s+(.*?))?\s*$/.exec(line.replace(/\r?\n$/, ""));
  if (!m) throw new SshError("KEY_FORMAT", "not a public key line: expected `type base64 [comment]`");
  const [, typeWord, b64, comment = ""] = m;
  if (!isKeyType(typeWord!)) {
    if (/^[A-Za-z0-9@.-]+$/.test(typeWord!) && /^[A-Za-z0-9+/]+=*$/.test(b64!)) {
      throw new SshError("UNSUPPORTED", `unsupported public key type ${typeWord}`);
    }
    throw new SshError("KEY_FORMAT", `not a public key line: "${typeWord}" is not a key type`);
  }
  const key = PublicKey.fromBlob(decodeBase64Strict(b64!, `${typeWord} public key`));
  if (key.type !== typeWord) {
    throw new SshError("KEY_FORMAT", `key type mismatch: the line says ${typeWord}, the key is ${key.type}`);
  }
  return { key, comment };
}

/** `type base64 [comment]`, as written to .pub files (with no newline). */
export function formatPublicKeyLine(key: PublicKey, comment = ""): string {
  return key.toLine(comment);
}

const RFC4716_BEGIN = "---- BEGIN SSH2 PUBLIC KEY ----";
const RFC4716_END = "---- END SSH2 PUBLIC KEY ----";

/** Parse an RFC 4716 public key file; its Comment header (quotes removed) is the comment. */
export function parseRfc4716PublicKey(text: string): ParsedPublicKey {
  const begin = text.indexOf(RFC4716_BEGIN);
  if (begin < 0) throw new SshError("KEY_FORMAT", `no "${RFC4716_BEGIN}" line`);
  const end = text.indexOf(RFC4716_END, begin);
  if (end < 0) throw new SshError("KEY_FORMAT", `"${RFC4716_END}" line missing: the file is truncated`);
  const lines = text.slice(begin + RFC4716_BEGIN.length, end).split(/\r?\n/);
  let comment = "";
  const body: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!.trim();
    if (line === "") continue;
    // RFC 4716 §3.3: a header is `Tag: value`; base64 never holds ':'. A trailing '\' continues it (§3.3).
    if (body.length === 0 && line.includes(":")) {
      while (line.endsWith("\\") && i + 1 < lines.length) line = line.slice(0, -1) + lines[++i]!.trim();
      const colon = line.indexOf(":");
      const tag = line.slice(0, colon).trim();
      let value = line.slice(colon + 1).trim();
      if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
      // §3.3.2: Comment; tags are case-insensitive (§3.3).
      if (tag.toLowerCase() === "comment") comment = value;
      continue;
    }
    body.push(line);
  }
  const key = PublicKey.fromBlob(decodeBase64Strict(body.join(""), "SSH2 public key"));
  return { key, comment };
}

/** Write an RFC 4716 public key file (as `ssh-keygen -e`: 70-column base64; lines under 72 bytes, §3.1). */
export function publicKeyToRfc4716(key: PublicKey, comment = ""): string {
  const out = [RFC4716_BEGIN];
  if (comment) {
    // §3.3: header lines longer than 72 bytes are continued with a backslash.
    const header = `Comment: "${comment.replace(/[\r\n]/g, " ")}"`;
    const chunks: string[] = [];
    let rest = header;
    while (Buffer.byteLength(rest) > 72) {
      let cut = 71;
      while (Buffer.byteLength(rest.slice(0, cut)) > 71) cut--;
      chunks.push(rest.slice(0, cut) + "\\");
      rest = rest.slice(cut);
    }
    chunks.push(rest);
    out.push(...chunks);
  }
  out.push(wrapBase64(key.blob, 70), RFC4716_END);
  return out.join("\n") + "\n";
}

/**
 * Read a public key file: a .pub line (the first line that is neither blank nor a # comment), an RFC 4716
 * file, or a PEM "PUBLIC KEY" (SubjectPublicKeyInfo) / "RSA PUBLIC KEY" (PKCS#1).
 */
export function parsePublicKeyFile(data: string | Buffer): ParsedPublicKey {
  const text = typeof data === "string" ? data : data.toString("utf8");
  if (text.includes(RFC4716_BEGIN)) return parseRfc4716PublicKey(text);
  const label = firstPemLabel(text);
  if (label === "PUBLIC KEY" || label === "RSA PUBLIC KEY") {
    try {
      return { key: PublicKey.fromKeyObject(createPublicKey({ key: text, format: "pem" })), comment: "" };
    } catch (err) {
      if (err instanceof SshError) throw err;
      throw new SshError("KEY_FORMAT", `invalid ${label}: ${(err as Error).message}`, { cause: err });
    }
  }
  if (label !== null) throw new SshError("KEY_FORMAT", `"${label}" is not a public key file`);
  const line = text.split(/\r?\n/).find((l) => l.trim() !== "" && !l.trimStart().startsWith("#"));
  if (line === undefined) throw new SshError("KEY_FORMAT", "the public key file is empty");
  return parsePublicKeyLine(line);
}
