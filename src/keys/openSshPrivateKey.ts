/**
 * OpenSSH private keys, "openssh-key-v1" (OpenSSH PROTOCOL.key), read and written, plain or protected by a
 * passphrase through the bcrypt KDF and any cipher `ssh-keygen -Z` takes.
 *
 *   "openssh-key-v1\0" string ciphername  string kdfname  string kdfoptions  uint32 N(=1)
 *   string publickey  string encrypted  [auth tag of AEAD ciphers, after the string]
 *
 * and the decrypted section is: uint32 checkint, uint32 checkint (equal: a wrong passphrase makes them
 * differ), the private key fields, string comment, then padding 1, 2, 3, … to the cipher's block size.
 */
import {
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  randomBytes,
  timingSafeEqual,
  type CipherGCMTypes,
  type KeyObject,
} from "node:crypto";
import { createRequire } from "node:module";
import { poly1305Tag } from "../crypto/poly1305.js";
import { SshError, SshReader, SshWriter } from "../wire/index.js";
import { ECDSA_CURVES, type EcdsaKeyType } from "./keyTypes.js";
import { assertRsaPrivateConsistent, ecPublicPoint, findPemBlock, wrapBase64 } from "./pem.js";
import { PrivateKey } from "./privateKey.js";
import { PublicKey } from "./publicKey.js";

const MAGIC = Buffer.from("openssh-key-v1\0", "latin1");

interface BcryptPbkdf {
  pbkdf(
    pass: Uint8Array,
    passLength: number,
    salt: Uint8Array,
    saltLength: number,
    key: Uint8Array,
    keyLength: number,
    rounds: number,
  ): number;
}
let bcryptPbkdfModule: BcryptPbkdf | undefined;
/** bcrypt-pbkdf (CommonJS, with tweetnacl) is loaded on the first passphrase only: most runs never need it. */
function bcryptPbkdf(): BcryptPbkdf {
  return (bcryptPbkdfModule ??= createRequire(import.meta.url)("bcrypt-pbkdf") as BcryptPbkdf);
}
const LABEL = "OPENSSH PRIVATE KEY";

/** The cipher OpenSSH uses for new keys (ssh-keygen's default) and the bcrypt rounds (`ssh-keygen -a`). */
export const DEFAULT_KEY_CIPHER = "aes256-ctr";
export const DEFAULT_KDF_ROUNDS = 16;

interface KeyFileCipher {
  /** OpenSSL name; null for "none" and for chacha20-poly1305, which is built here. */
  readonly node: string | null;
  readonly keyLength: number;
  readonly ivLength: number;
  readonly blockSize: number;
  /** Bytes of authentication tag following the encrypted string (AEAD ciphers). */
  readonly authLength: number;
  readonly mode: "none" | "ctr" | "cbc" | "gcm" | "chachapoly";
}

/** OpenSSH cipher.c's table, restricted to what `ssh -Q cipher` lists in 9.2 (the key/iv/block/tag sizes). */
const CIPHERS: Record<string, KeyFileCipher> = {
  none: { node: null, keyLength: 0, ivLength: 0, blockSize: 8, authLength: 0, mode: "none" },
  "aes128-ctr": {
    node: "aes-128-ctr",
    keyLength: 16,
    ivLength: 16,
    blockSize: 16,
    authLength: 0,
    mode: "ctr",
  },
  "aes192-ctr": {
    node: "aes-192-ctr",
    keyLength: 24,
    ivLength: 16,
    blockSize: 16,
    authLength: 0,
    mode: "ctr",
  },
  "aes256-ctr": {
    node: "aes-256-ctr",
    keyLength: 32,
    ivLength: 16,
    blockSize: 16,
    authLength: 0,
    mode: "ctr",
  },
  "aes128-cbc": {
    node: "aes-128-cbc",
    keyLength: 16,
    ivLength: 16,
    blockSize: 16,
    authLength: 0,
    mode: "cbc",
  },
  "aes192-cbc": {
    node: "aes-192-cbc",
    keyLength: 24,
    ivLength: 16,
    blockSize: 16,
    authLength: 0,
    mode: "cbc",
  },
  "aes256-cbc": {
    node: "aes-256-cbc",
    keyLength: 32,
    ivLength: 16,
    blockSize: 16,
    authLength: 0,
    mode: "cbc",
  },
  "3des-cbc": { node: "des-ede3-cbc", keyLength: 24, ivLength: 8, blockSize: 8, authLength: 0, mode: "cbc" },
  "aes128-gcm@openssh.com": {
    node: "aes-128-gcm",
    keyLength: 16,
    ivLength: 12,
    blockSize: 16,
    authLength: 16,
    mode: "gcm",
  },
  "aes256-gcm@openssh.com": {
    node: "aes-256-gcm",
    keyLength: 32,
    ivLength: 12,
    blockSize: 16,
    authLength: 16,
    mode: "gcm",
  },
  // Two 256-bit keys (the second, the length key, is unused here) and no IV: PROTOCOL.chacha20poly1305.
  "chacha20-poly1305@openssh.com": {
    node: null,
    keyLength: 64,
    ivLength: 0,
    blockSize: 8,
    authLength: 16,
    mode: "chachapoly",
  },
};

/** Every cipher an OpenSSH private key may be encrypted with (as `ssh-keygen -Z` accepts). */
export const OPENSSH_KEY_CIPHERS: readonly string[] = Object.keys(CIPHERS).filter((c) => c !== "none");

/** What can be learnt from an OpenSSH private key file without its passphrase. */
export interface OpenSshPrivateKeyInfo {
  readonly cipherName: string;
  readonly kdfName: string;
  /** bcrypt rounds, when the KDF is bcrypt. */
  readonly rounds: number | undefined;
  readonly encrypted: boolean;
  /** The public key, which the file keeps in clear (so ssh-keygen -l needs no passphrase). */
  readonly publicKey: PublicKey;
}

interface OuterFields extends OpenSshPrivateKeyInfo {
  readonly cipher: KeyFileCipher;
  readonly salt: Buffer;
  readonly section: Buffer;
  readonly tag: Buffer;
}

/** Turn the reader's MALFORMED (a short or oversized field) into KEY_FORMAT naming the file kind. */
function asKeyFormat<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof SshError && err.code === "MALFORMED") {
      throw new SshError("KEY_FORMAT", `corrupt OpenSSH private key: ${err.message}`, { cause: err });
    }
    throw err;
  }
}

/** The binary openssh-key-v1 blob from the armored text (or from the raw binary itself). */
function decodeFile(data: string | Buffer): Buffer {
  if (Buffer.isBuffer(data) && data.subarray(0, MAGIC.length).equals(MAGIC)) return data;
  const text = typeof data === "string" ? data : data.toString("latin1");
  return findPemBlock(text, LABEL).body;
}

function readOuter(bin: Buffer): OuterFields {
  return asKeyFormat(() => {
    const r = new SshReader(bin);
    if (bin.length < MAGIC.length || !r.bytes(MAGIC.length).equals(MAGIC)) {
      throw new SshError("KEY_FORMAT", 'not an OpenSSH private key: no "openssh-key-v1" magic');
    }
    const cipherName = r.ascii(64, "cipher name");
    const kdfName = r.ascii(64, "kdf name");
    const kdfOptions = r.string(1024, "kdf options");
    const count = r.uint32();
    // OpenSSH itself reads exactly one key per file (sshkey.c, sshkey_parse_private2).
    if (count !== 1) throw new SshError("KEY_FORMAT", `OpenSSH private key file holds ${count} keys, not 1`);
    const publicBlob = r.string(16 * 1024, "public key");
    const section = r.string(1024 * 1024, "private key section");
    const cipher = CIPHERS[cipherName];
    if (!cipher) throw new SshError("UNSUPPORTED", `unsupported private key cipher ${cipherName}`);
    const tag = r.bytes(cipher.authLength, "authentication tag");
    r.done("OpenSSH private key");

    let salt: Buffer = Buffer.alloc(0);
    let rounds: number | undefined;
    if (kdfName === "bcrypt") {
      const k = new SshReader(kdfOptions);
      salt = k.string(1024, "bcrypt salt");
      rounds = k.uint32();
      k.done("bcrypt kdf options");
      if (salt.length === 0 || rounds === 0) {
        throw new SshError("KEY_FORMAT", "bcrypt salt or rounds is zero");
      }
    } else if (kdfName !== "none") {
      throw new SshError("UNSUPPORTED", `unsupported private key KDF ${kdfName}`);
    } else if (kdfOptions.length !== 0) {
      throw new SshError("KEY_FORMAT", 'kdf "none" with kdf options');
    }
    if ((cipherName === "none") !== (kdfName === "none")) {
      throw new SshError("KEY_FORMAT", `cipher ${cipherName} does not go with kdf ${kdfName}`);
    }
    if (section.length < cipher.blockSize || section.length % cipher.blockSize !== 0) {
      throw new SshError(
        "KEY_FORMAT",
        `private key section of ${section.length} bytes is not a whole number of ${cipher.blockSize}-byte blocks`,
      );
    }
    const publicKey = PublicKey.fromBlob(publicBlob);
    return {
      cipherName,
      kdfName,
      rounds,
      encrypted: cipherName !== "none",
      publicKey,
      cipher,
      salt,
      section,
      tag,
    };
  });
}

/** Read the clear part of an OpenSSH private key file: the cipher, KDF and public key. */
export function readOpenSshPrivateKeyInfo(data: string | Buffer): OpenSshPrivateKeyInfo {
  const { cipherName, kdfName, rounds, encrypted, publicKey } = readOuter(decodeFile(data));
  return { cipherName, kdfName, rounds, encrypted, publicKey };
}

const passBytes = (p: string | Buffer): Buffer => (typeof p === "string" ? Buffer.from(p, "utf8") : p);

/** bcrypt_pbkdf(passphrase, salt, rounds) → key || iv (PROTOCOL.key: "the key and IV are derived together"). */
function deriveKeyIv(
  cipher: KeyFileCipher,
  passphrase: Buffer,
  salt: Buffer,
  rounds: number,
): [Buffer, Buffer] {
  const out = Buffer.alloc(cipher.keyLength + cipher.ivLength);
  if (bcryptPbkdf().pbkdf(passphrase, passphrase.length, salt, salt.length, out, out.length, rounds) !== 0) {
    throw new SshError("KEY_FORMAT", "bcrypt_pbkdf refused its parameters");
  }
  return [out.subarray(0, cipher.keyLength), out.subarray(cipher.keyLength)];
}

/**
 * OpenSSH's chacha20-poly1305 (cipher-chachapoly.c) at sequence number 0 with no length field: the Poly1305
 * key is the first 32 bytes of the ChaCha20 keystream at block counter 0, the data is encrypted from block
 * counter 1, and the tag is Poly1305 over the ciphertext. Only the first 32-byte key ("main" key) is used.
 * OpenSSL's 16-byte chacha20 IV is the 64-bit little-endian block counter then the 64-bit nonce (here the
 * big-endian sequence number, 0).
 */
function chachaPoly(key: Buffer, data: Buffer, encrypt: boolean, tag?: Buffer): { out: Buffer; tag: Buffer } {
  const mainKey = key.subarray(0, 32);
  const polyKey = createCipheriv("chacha20", mainKey, Buffer.alloc(16)).update(Buffer.alloc(32));
  const ivData = Buffer.alloc(16);
  ivData[0] = 1;
  if (encrypt) {
    const out = createCipheriv("chacha20", mainKey, ivData).update(data);
    return { out, tag: poly1305Tag(out, polyKey) };
  }
  const expected = poly1305Tag(data, polyKey);
  if (!tag || !timingSafeEqual(expected, tag)) {
    throw new SshError("BAD_PASSPHRASE", "incorrect passphrase supplied to decrypt private key");
  }
  return { out: createCipheriv("chacha20", mainKey, ivData).update(data), tag: expected };
}

function decryptSection(outer: OuterFields, passphrase: Buffer): Buffer {
  const { cipher, section } = outer;
  const [key, iv] = deriveKeyIv(cipher, passphrase, outer.salt, outer.rounds!);
  if (cipher.mode === "chachapoly") return chachaPoly(key, section, false, outer.tag).out;
  if (cipher.mode === "gcm") {
    // No additional data; the 12-byte IV is used as derived (OpenSSH's first EVP_CTRL_GCM_IV_GEN).
    const d = createDecipheriv(cipher.node as CipherGCMTypes, key, iv, { authTagLength: 16 });
    d.setAuthTag(outer.tag);
    const out = d.update(section);
    try {
      d.final();
    } catch (err) {
      // GCM authentication failed: as in OpenSSH (SSH_ERR_MAC_INVALID → wrong passphrase).
      throw new SshError("BAD_PASSPHRASE", "incorrect passphrase supplied to decrypt private key", {
        cause: err,
      });
    }
    return out;
  }
  const d = createDecipheriv(cipher.node!, key, iv).setAutoPadding(false);
  return Buffer.concat([d.update(section), d.final()]);
}

function encryptSection(cipher: KeyFileCipher, key: Buffer, iv: Buffer, plain: Buffer): Buffer {
  if (cipher.mode === "chachapoly") {
    const { out, tag } = chachaPoly(key, plain, true);
    return Buffer.concat([out, tag]);
  }
  if (cipher.mode === "gcm") {
    const c = createCipheriv(cipher.node as CipherGCMTypes, key, iv, { authTagLength: 16 });
    const out = Buffer.concat([c.update(plain), c.final()]);
    return Buffer.concat([out, c.getAuthTag()]);
  }
  const c = createCipheriv(cipher.node!, key, iv).setAutoPadding(false);
  return Buffer.concat([c.update(plain), c.final()]);
}

// --- BigInt helpers for RSA (JWK needs dp and dq, which OpenSSH files do not hold). ---

const toBig = (b: Buffer): bigint => (b.length === 0 ? 0n : BigInt("0x" + b.toString("hex")));
function fromBig(v: bigint): Buffer {
  let hex = v.toString(16);
  if (hex.length % 2) hex = "0" + hex;
  return Buffer.from(hex, "hex");
}
const b64u = (b: Buffer): string => b.toString("base64url");

/** An mpint as OpenSSH reads it (sshbuf_get_bignum2_bytes_direct): non-negative, leading zeros skipped. */
function readMpint(r: SshReader, maxBytes: number, what: string): Buffer {
  const raw = r.string(maxBytes + 1, what);
  if (raw.length > 0 && raw[0]! & 0x80) throw new SshError("KEY_FORMAT", `${what} is negative`);
  let i = 0;
  while (i < raw.length && raw[i] === 0) i++;
  return raw.subarray(i);
}

function importKey(jwkOrDer: Parameters<typeof createPrivateKey>[0], what: string): KeyObject {
  try {
    return createPrivateKey(jwkOrDer);
  } catch (err) {
    throw new SshError("KEY_FORMAT", `invalid ${what} private key: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** Ed25519 private key from its 32-byte seed: PKCS#8 (RFC 8410 §7) prefix + seed. */
const ED25519_PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

/** The private key fields of PROTOCOL.key's private section (sshkey_private_serialize's layout). */
function readPrivateFields(r: SshReader, publicKey: PublicKey): KeyObject {
  const type = r.ascii(64, "key type");
  if (type !== publicKey.type) {
    throw new SshError(
      "KEY_FORMAT",
      `private key type ${type} does not match public key type ${publicKey.type}`,
    );
  }
  if (type === "ssh-ed25519") {
    // string pk (32), string sk (64 = seed || pk)
    const pk = r.string(32, "ed25519 public key");
    const sk = r.string(64, "ed25519 private key");
    if (pk.length !== 32 || sk.length !== 64 || !sk.subarray(32).equals(pk)) {
      throw new SshError("KEY_FORMAT", "ed25519 private key is not seed || public key");
    }
    return importKey(
      { key: Buffer.concat([ED25519_PKCS8_PREFIX, sk.subarray(0, 32)]), format: "der", type: "pkcs8" },
      "ed25519",
    );
  }
  if (type === "ssh-rsa") {
    // mpint n, e, d, iqmp, p, q
    const [n, e, d, iqmp, p, q] = ["n", "e", "d", "iqmp", "p", "q"].map((f) =>
      readMpint(r, 2048, `rsa ${f}`),
    );
    assertRsaPrivateConsistent({ n: n!, e: e!, d: d!, p: p!, q: q!, iqmp: iqmp! });
    const [D, P, Q] = [d!, p!, q!].map(toBig) as [bigint, bigint, bigint];
    const jwk = {
      kty: "RSA",
      n: b64u(n!),
      e: b64u(e!),
      d: b64u(d!),
      p: b64u(p!),
      q: b64u(q!),
      dp: b64u(fromBig(D % (P - 1n))),
      dq: b64u(fromBig(D % (Q - 1n))),
      qi: b64u(iqmp!),
    };
    return importKey({ key: jwk, format: "jwk" }, "RSA");
  }
  // ECDSA (RFC 5656 §3.1): string curve, string Q, mpint d
  const curve = ECDSA_CURVES[type as EcdsaKeyType];
  const ident = r.ascii(32, "curve name");
  if (ident !== curve.ident) throw new SshError("KEY_FORMAT", `curve ${ident} does not match ${type}`);
  const point = r.string(1 + 2 * curve.bytes, "ecdsa public point");
  const d = readMpint(r, curve.bytes, "ecdsa private scalar");
  if (d.length > curve.bytes) {
    throw new SshError("KEY_FORMAT", "ecdsa private scalar too large for the curve");
  }
  const dPadded = Buffer.concat([Buffer.alloc(curve.bytes - d.length), d]);
  const derived = ecPublicPoint(curve.node, dPadded);
  if (!derived.equals(point)) {
    throw new SshError("KEY_FORMAT", "ecdsa private scalar does not match its point");
  }
  const jwk = {
    kty: "EC",
    crv: curve.jwk,
    x: b64u(derived.subarray(1, 1 + curve.bytes)),
    y: b64u(derived.subarray(1 + curve.bytes)),
    d: b64u(dPadded),
  };
  return importKey({ key: jwk, format: "jwk" }, "ECDSA");
}

/**
 * The key type and private fields as openssh-key-v1's private section lays them out (PROTOCOL.key), which
 * is also the agent protocol's key encoding (draft-miller-ssh-agent §4.2.2-§4.2.4).
 */
export function writePrivateFields(w: SshWriter, key: PrivateKey): void {
  const jwk = key.keyObject.export({ format: "jwk" });
  const f = (name: keyof typeof jwk): Buffer => Buffer.from(jwk[name] as string, "base64url");
  w.string(key.type);
  if (key.type === "ssh-ed25519") {
    const pk = f("x");
    w.string(pk).string(Buffer.concat([f("d"), pk]));
  } else if (key.type === "ssh-rsa") {
    w.mpint(f("n")).mpint(f("e")).mpint(f("d")).mpint(f("qi")).mpint(f("p")).mpint(f("q"));
  } else {
    const curve = ECDSA_CURVES[key.type];
    const q = new SshReader(key.publicKey.blob);
    q.string(); // type
    q.string(); // curve identifier
    w.string(curve.ident).string(q.string()).mpint(f("d"));
  }
}

/**
 * Parse an OpenSSH private key (armored text, or the raw binary). The key keeps the file's comment.
 * Errors: PASSPHRASE_REQUIRED (encrypted, no passphrase), BAD_PASSPHRASE (the check integers or the AEAD tag
 * do not match after decryption), KEY_FORMAT (truncated or corrupt), UNSUPPORTED (key type, cipher or KDF).
 */
export function parseOpenSshPrivateKey(data: string | Buffer, passphrase?: string | Buffer): PrivateKey {
  const outer = readOuter(decodeFile(data));
  let plain = outer.section;
  if (outer.encrypted) {
    if (passphrase === undefined || passphrase.length === 0) {
      throw new SshError(
        "PASSPHRASE_REQUIRED",
        "the OpenSSH private key is encrypted: a passphrase is required",
      );
    }
    plain = decryptSection(outer, passBytes(passphrase));
  }
  return asKeyFormat(() => {
    const r = new SshReader(plain);
    const check1 = r.uint32();
    const check2 = r.uint32();
    if (check1 !== check2) {
      if (outer.encrypted) {
        throw new SshError("BAD_PASSPHRASE", "incorrect passphrase supplied to decrypt private key");
      }
      throw new SshError("KEY_FORMAT", "corrupt OpenSSH private key: the check integers differ");
    }
    const keyObject = readPrivateFields(r, outer.publicKey);
    const comment = r.string(64 * 1024, "comment").toString("utf8");
    // Padding is 1, 2, 3, … (PROTOCOL.key; OpenSSH's private2_check_padding).
    const pad = r.rest();
    for (let i = 0; i < pad.length; i++) {
      if (pad[i] !== ((i + 1) & 0xff)) {
        throw new SshError("KEY_FORMAT", "corrupt OpenSSH private key: bad padding");
      }
    }
    const key = new PrivateKey(keyObject, comment);
    if (!key.publicKey.equals(outer.publicKey)) {
      throw new SshError("KEY_FORMAT", "the private key does not match the public key stored in the file");
    }
    return key;
  });
}

export interface OpenSshWriteOptions {
  /** Empty or absent: the key is written unencrypted (cipher and KDF "none"), as ssh-keygen -N "". */
  passphrase?: string | Buffer;
  /** One of OPENSSH_KEY_CIPHERS; default aes256-ctr. Ignored without a passphrase. */
  cipher?: string;
  /** bcrypt rounds (`ssh-keygen -a`), default 16. */
  rounds?: number;
  /** Default: the key's own comment. */
  comment?: string;
}

/** Write a private key in OpenSSH's format (`-----BEGIN OPENSSH PRIVATE KEY-----`, 70-column base64). */
export function serializeOpenSshPrivateKey(key: PrivateKey, options: OpenSshWriteOptions = {}): string {
  const encrypted = options.passphrase !== undefined && options.passphrase.length > 0;
  const cipherName = encrypted ? (options.cipher ?? DEFAULT_KEY_CIPHER) : "none";
  const cipher = CIPHERS[cipherName];
  if (!cipher) throw new SshError("UNSUPPORTED", `unsupported private key cipher ${cipherName}`);
  const rounds = options.rounds ?? DEFAULT_KDF_ROUNDS;
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 0xffffffff) {
    throw new SshError("CONFIG", `bcrypt rounds must be a positive integer, not ${rounds}`);
  }

  const checkint = randomBytes(4).readUInt32BE(0);
  const priv = new SshWriter().uint32(checkint).uint32(checkint);
  writePrivateFields(priv, key);
  priv.string(options.comment ?? key.comment);
  for (let i = 1; priv.length % cipher.blockSize !== 0; i++) priv.byte(i);
  const plain = priv.toBuffer(); // a view of the writer's memory, wiped below once encrypted

  const w = new SshWriter(2048).raw(MAGIC).string(cipherName);
  let section: Buffer = plain;
  let tag: Buffer = Buffer.alloc(0);
  if (encrypted) {
    const salt = randomBytes(16);
    const [k, iv] = deriveKeyIv(cipher, passBytes(options.passphrase!), salt, rounds);
    const sealed = encryptSection(cipher, k, iv, plain);
    plain.fill(0);
    k.fill(0);
    section = sealed.subarray(0, sealed.length - cipher.authLength);
    tag = sealed.subarray(section.length);
    w.string("bcrypt").string(new SshWriter().string(salt).uint32(rounds).toBuffer());
  } else {
    w.string("none").string("");
  }
  // PROTOCOL.key: the AEAD tag follows the encrypted string, outside it.
  w.uint32(1).string(key.publicKey.blob).string(section).raw(tag);
  return `-----BEGIN ${LABEL}-----\n${wrapBase64(w.toBuffer(), 70)}\n-----END ${LABEL}-----\n`;
}
