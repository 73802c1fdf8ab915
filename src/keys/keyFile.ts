/**
 * One entry point for private key files: recognise the format (OpenSSH openssh-key-v1, PEM PKCS#1 / SEC1 /
 * PKCS#8, DER) and read it; write any of OpenSSH, traditional PEM or PKCS#8, as ssh-keygen -m does.
 */
import { SshError } from "../wire/index.js";
import {
  parseOpenSshPrivateKey,
  readOpenSshPrivateKeyInfo,
  serializeOpenSshPrivateKey,
} from "./openSshPrivateKey.js";
import {
  findPemBlock,
  firstPemLabel,
  isPemEncrypted,
  isPemPrivateKeyLabel,
  parseDerPrivateKey,
  parsePemPrivateKey,
  serializePemPrivateKey,
} from "./pem.js";
import type { PrivateKey } from "./privateKey.js";

export type PrivateKeyFileFormat = "openssh" | "pkcs1" | "sec1" | "pkcs8" | "der";

const OPENSSH_MAGIC = Buffer.from("openssh-key-v1\0", "latin1");

/** Labels of key files we recognise but do not read, with what to say about them. */
const REFUSED: Record<string, string> = {
  "DSA PRIVATE KEY": "DSA keys are not supported",
  "PUBLIC KEY": "this is a public key, not a private key",
  "RSA PUBLIC KEY": "this is a public key, not a private key",
  "OPENSSH PUBLIC KEY": "this is a public key, not a private key",
};

function toText(data: Buffer | string): string {
  return typeof data === "string" ? data : data.toString("latin1");
}

const isDer = (data: Buffer | string): data is Buffer => Buffer.isBuffer(data) && data[0] === 0x30;

/** Which format a private key file is in, and whether it needs a passphrase, without decrypting it. */
export function inspectPrivateKey(data: Buffer | string): {
  format: PrivateKeyFileFormat;
  encrypted: boolean;
} {
  if (Buffer.isBuffer(data) && data.subarray(0, OPENSSH_MAGIC.length).equals(OPENSSH_MAGIC)) {
    return { format: "openssh", encrypted: readOpenSshPrivateKeyInfo(data).encrypted };
  }
  if (isDer(data)) return { format: "der", encrypted: false };
  const text = toText(data);
  const label = firstPemLabel(text);
  if (label === "OPENSSH PRIVATE KEY") {
    return { format: "openssh", encrypted: readOpenSshPrivateKeyInfo(text).encrypted };
  }
  if (label !== null && isPemPrivateKeyLabel(label)) {
    const block = findPemBlock(text, label);
    const format = label === "RSA PRIVATE KEY" ? "pkcs1" : label === "EC PRIVATE KEY" ? "sec1" : "pkcs8";
    return { format, encrypted: isPemEncrypted(block) };
  }
  return refuse(text, label);
}

function refuse(text: string, label: string | null): never {
  if (label !== null && REFUSED[label]) throw new SshError("UNSUPPORTED", REFUSED[label]!);
  if (label !== null) throw new SshError("KEY_FORMAT", `"${label}" is not a private key format we know`);
  if (text.includes("---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----")) {
    throw new SshError("UNSUPPORTED", "ssh.com private keys are not supported: convert with ssh-keygen -i");
  }
  if (text.includes("---- BEGIN SSH2 PUBLIC KEY ----")) {
    throw new SshError("KEY_FORMAT", REFUSED["PUBLIC KEY"]!);
  }
  if (/^PuTTY-User-Key-File-/m.test(text)) {
    throw new SshError(
      "UNSUPPORTED",
      "PuTTY key files are not supported: export an OpenSSH key with puttygen",
    );
  }
  if (/^\s*(ssh-|ecdsa-)/.test(text)) throw new SshError("KEY_FORMAT", REFUSED["PUBLIC KEY"]!);
  throw new SshError("KEY_FORMAT", "not a private key file: no BEGIN line");
}

/**
 * Read a private key file in any format we know. Errors: PASSPHRASE_REQUIRED (encrypted and no passphrase),
 * BAD_PASSPHRASE, KEY_FORMAT (corrupt, truncated or not a key), UNSUPPORTED (DSA, PuTTY, unknown cipher…).
 * OpenSSH keys keep their comment; other formats have none ("").
 */
export function parsePrivateKey(data: Buffer | string, passphrase?: string | Buffer): PrivateKey {
  if (Buffer.isBuffer(data) && data.subarray(0, OPENSSH_MAGIC.length).equals(OPENSSH_MAGIC)) {
    return parseOpenSshPrivateKey(data, passphrase);
  }
  if (isDer(data)) return parseDerPrivateKey(data);
  const text = toText(data);
  const label = firstPemLabel(text);
  if (label === "OPENSSH PRIVATE KEY") return parseOpenSshPrivateKey(text, passphrase);
  if (label !== null && isPemPrivateKeyLabel(label)) return parsePemPrivateKey(text, passphrase);
  return refuse(text, label);
}

export interface SerializePrivateKeyOptions {
  /**
   * "openssh": openssh-key-v1 (ssh-keygen's default); "pem": PKCS#1 for RSA, SEC1 for ECDSA (`-m PEM`;
   * Ed25519 has no such form: UNSUPPORTED); "pkcs8": PKCS#8 (`-m PKCS8`).
   */
  format: "openssh" | "pem" | "pkcs8";
  /** Empty or absent: unencrypted. */
  passphrase?: string | Buffer;
  /**
   * openssh: an SSH cipher name (OPENSSH_KEY_CIPHERS, default aes256-ctr). pem/pkcs8: an OpenSSL cipher
   * name or an SSH CBC cipher name (default aes-128-cbc for pem, aes-256-cbc for pkcs8).
   */
  cipher?: string;
  /** openssh only: bcrypt rounds, default 16 (ssh-keygen -a). */
  rounds?: number;
  /** openssh only: default the key's comment (PEM formats hold none). */
  comment?: string;
}

/** Write a private key file's text. */
export function serializePrivateKey(key: PrivateKey, options: SerializePrivateKeyOptions): string {
  if (options.format === "openssh") {
    return serializeOpenSshPrivateKey(key, {
      passphrase: options.passphrase,
      cipher: options.cipher,
      rounds: options.rounds,
      comment: options.comment,
    });
  }
  if (options.format !== "pem" && options.format !== "pkcs8") {
    throw new SshError("UNSUPPORTED", `unknown private key format ${String(options.format)}`);
  }
  return serializePemPrivateKey(key, {
    format: options.format,
    passphrase: options.passphrase,
    cipher: options.cipher,
  });
}
