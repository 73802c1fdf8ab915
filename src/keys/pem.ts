/**
 * PEM private keys (RFC 7468 armor): PKCS#1 "RSA PRIVATE KEY" (RFC 8017 App. A.1.2), SEC1 "EC PRIVATE KEY"
 * (RFC 5915), PKCS#8 "PRIVATE KEY" and "ENCRYPTED PRIVATE KEY" (RFC 5958, PBES2 of RFC 8018), and the
 * legacy OpenSSL encryption of PKCS#1/SEC1 with Proc-Type/DEK-Info headers (RFC 1421 §4.6.1) that
 * `ssh-keygen -m PEM -N pass` writes. OpenSSL (node:crypto) does the decoding and the decryption; this file
 * checks the armor and the outer DER first, so that a truncated or corrupt file (KEY_FORMAT) is told apart
 * from a wrong passphrase (BAD_PASSPHRASE), which OpenSSL reports with the same errors.
 *
 * It also holds the armor helpers the other key formats share (findPemBlock, pemEncode, strict base64).
 */
import {
  createDecipheriv,
  createECDH,
  createHash,
  createPrivateKey,
  getCipherInfo,
  type KeyObject,
  type PrivateKeyInput,
} from "node:crypto";
import { SshError } from "../wire/index.js";
import { ECDSA_CURVES } from "./keyTypes.js";
import { PrivateKey } from "./privateKey.js";

/** One `-----BEGIN label-----` … `-----END label-----` block. */
export interface PemBlock {
  readonly label: string;
  /** RFC 1421 headers before the base64 (Proc-Type, DEK-Info), names as written. */
  readonly headers: ReadonlyMap<string, string>;
  /** The decoded base64 body. */
  readonly body: Buffer;
  /** The block's text from BEGIN through END, as found. */
  readonly text: string;
}

const BEGIN_RE = /-----BEGIN ([A-Z0-9 ]+)-----/;

/** The label of the first PEM BEGIN line in `text`, or null when there is none. */
export function firstPemLabel(text: string): string | null {
  return BEGIN_RE.exec(text)?.[1] ?? null;
}

/** Strict base64 (RFC 4648 §4, whitespace removed): a corrupt character is an error, not silently dropped. */
export function decodeBase64Strict(b64: string, what: string): Buffer {
  const s = b64.replace(/\s+/g, "");
  if (s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) {
    throw new SshError("KEY_FORMAT", `${what}: invalid base64`);
  }
  return Buffer.from(s, "base64");
}

/** Base64 in lines of `width` characters (64 for RFC 7468 PEM, 70 as OpenSSH writes its own armor). */
export function wrapBase64(data: Buffer, width: number): string {
  const b64 = data.toString("base64");
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += width) lines.push(b64.slice(i, i + width));
  return lines.join("\n");
}

/** `-----BEGIN label-----`, the body's base64 in `width`-character lines, `-----END label-----`, newline. */
export function pemEncode(label: string, body: Buffer, width = 64): string {
  return `-----BEGIN ${label}-----\n${wrapBase64(body, width)}\n-----END ${label}-----\n`;
}

/**
 * Find the first PEM block (with `label`, when given) in `text`. Missing BEGIN or END lines and bad base64
 * are SshError("KEY_FORMAT"); a file cut short typically loses its END line, so that is said explicitly.
 */
export function findPemBlock(text: string, label?: string): PemBlock {
  const beginRe = label ? new RegExp(`-----BEGIN ${label}-----`) : BEGIN_RE;
  const begin = beginRe.exec(text);
  if (!begin) throw new SshError("KEY_FORMAT", `no "-----BEGIN ${label ?? "…"}-----" line found`);
  const found = label ?? begin[1]!;
  const endLine = `-----END ${found}-----`;
  const endAt = text.indexOf(endLine, begin.index + begin[0].length);
  if (endAt < 0) {
    throw new SshError("KEY_FORMAT", `"${endLine}" line missing: the ${found} file is truncated`);
  }
  const inner = text.slice(begin.index + begin[0].length, endAt).split(/\r?\n/);
  const headers = new Map<string, string>();
  const b64: string[] = [];
  for (const raw of inner) {
    const line = raw.trim();
    if (line === "") continue;
    const colon = line.indexOf(":");
    // Headers come before the body (RFC 1421 §4.4; RFC 7468 §2 allows them to be ignored); base64 has no ':'.
    if (colon > 0 && b64.length === 0) {
      headers.set(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
    } else {
      b64.push(line);
    }
  }
  const body = decodeBase64Strict(b64.join(""), found);
  if (body.length === 0) throw new SshError("KEY_FORMAT", `${found} block is empty`);
  return { label: found, headers, body, text: text.slice(begin.index, endAt + endLine.length) + "\n" };
}

// --- Minimal DER (X.690 §8.1) walking: enough to check the outer structure is whole. ---

interface DerElement {
  tag: number;
  /** Offset of the contents. */
  start: number;
  /** Offset just past the contents. */
  end: number;
}

function derElement(buf: Buffer, pos: number, limit: number, what: string): DerElement {
  const bad = (why: string): SshError => new SshError("KEY_FORMAT", `${what}: corrupt DER (${why})`);
  if (pos + 2 > limit) throw bad("truncated");
  const tag = buf[pos]!;
  if ((tag & 0x1f) === 0x1f) throw bad("multi-byte tag");
  let len = buf[pos + 1]!;
  let start = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw bad("indefinite or oversized length");
    if (start + n > limit) throw bad("truncated length");
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[start + i]!;
    start += n;
  }
  if (start + len > limit) throw bad("truncated: a length runs past the end");
  return { tag, start, end: start + len };
}

/** Check `body` is exactly one DER SEQUENCE; for EncryptedPrivateKeyInfo also its two parts (RFC 5958 §3). */
function checkOuterDer(body: Buffer, encryptedPkcs8: boolean, what: string): void {
  const outer = derElement(body, 0, body.length, what);
  if (outer.tag !== 0x30) throw new SshError("KEY_FORMAT", `${what}: corrupt DER (not a SEQUENCE)`);
  if (outer.end !== body.length) {
    throw new SshError("KEY_FORMAT", `${what}: corrupt DER (${body.length - outer.end} trailing bytes)`);
  }
  if (!encryptedPkcs8) return;
  // EncryptedPrivateKeyInfo ::= SEQUENCE { encryptionAlgorithm AlgorithmIdentifier, encryptedData OCTET STRING }
  const alg = derElement(body, outer.start, outer.end, what);
  const data = alg.tag === 0x30 ? derElement(body, alg.end, outer.end, what) : null;
  if (!data || data.tag !== 0x04 || data.end !== outer.end || data.end === data.start) {
    throw new SshError("KEY_FORMAT", `${what}: corrupt EncryptedPrivateKeyInfo`);
  }
}

interface LegacyEncryption {
  readonly cipher: string;
  readonly iv: Buffer;
  readonly keyLength: number;
  readonly blockSize: number;
}

/** Check the RFC 1421 headers of a legacy encrypted PEM and that the body fits the cipher's block size. */
function legacyEncryption(block: PemBlock): LegacyEncryption {
  const dek = block.headers.get("DEK-Info");
  if (block.headers.get("Proc-Type") !== "4,ENCRYPTED" || !dek) {
    throw new SshError(
      "KEY_FORMAT",
      `${block.label}: Proc-Type must be "4,ENCRYPTED" with a DEK-Info header`,
    );
  }
  const m = /^([A-Za-z0-9-]+),([0-9A-Fa-f]+)$/.exec(dek);
  if (!m) throw new SshError("KEY_FORMAT", `${block.label}: malformed DEK-Info header`);
  const cipher = m[1]!.toLowerCase();
  const info = getCipherInfo(cipher);
  if (!info || info.mode !== "cbc" || !info.ivLength || info.ivLength < 8) {
    throw new SshError("UNSUPPORTED", `${block.label}: unsupported PEM cipher ${m[1]}`);
  }
  if (m[2]!.length !== 2 * info.ivLength) {
    throw new SshError("KEY_FORMAT", `${block.label}: DEK-Info IV has the wrong length for ${m[1]}`);
  }
  const blockSize = info.blockSize ?? 1;
  if (block.body.length % blockSize !== 0) {
    throw new SshError("KEY_FORMAT", `${block.label}: encrypted body is not a whole number of cipher blocks`);
  }
  return { cipher, iv: Buffer.from(m[2]!, "hex"), keyLength: info.keyLength, blockSize };
}

/** OpenSSL's EVP_BytesToKey with MD5 and one iteration, salted with the IV's first 8 bytes (PEM_do_header). */
function bytesToKey(passphrase: Buffer, salt: Buffer, keyLength: number): Buffer {
  const parts: Buffer[] = [];
  let prev = Buffer.alloc(0);
  for (let have = 0; have < keyLength; have += prev.length) {
    prev = createHash("md5").update(prev).update(passphrase).update(salt).digest();
    parts.push(prev);
  }
  return Buffer.concat(parts).subarray(0, keyLength);
}

/**
 * Whether `der` starts like a PKCS#1 RSAPrivateKey or SEC1 ECPrivateKey: SEQUENCE, then INTEGER version
 * 0 or 1 (RFC 8017 App. A.1.2, RFC 5915 §3). A wrong passphrase gives random bytes here (odds of a match
 * about 2^-35), so this tells a wrong passphrase from a damaged file, which legacy PEM cannot otherwise.
 */
function looksLikeKeyDer(der: Buffer): boolean {
  if (der.length < 8 || der[0] !== 0x30) return false;
  const lenByte = der[1]!;
  const at = lenByte < 0x80 ? 2 : lenByte >= 0x81 && lenByte <= 0x83 ? 2 + (lenByte & 0x7f) : -1;
  return at > 0 && der[at] === 0x02 && der[at + 1] === 0x01 && (der[at + 2] === 0 || der[at + 2] === 1);
}

/** Decrypt a legacy Proc-Type/DEK-Info PEM body (RFC 1421 §4.6.1.1 with OpenSSL's key derivation). */
function decryptLegacyPem(block: PemBlock, enc: LegacyEncryption, passphrase: Buffer): Buffer {
  const key = bytesToKey(passphrase, enc.iv.subarray(0, 8), enc.keyLength);
  let plain: Buffer;
  try {
    const d = createDecipheriv(enc.cipher, key, enc.iv).setAutoPadding(false);
    plain = Buffer.concat([d.update(block.body), d.final()]);
  } catch (err) {
    throw new SshError("UNSUPPORTED", `${block.label}: cannot decrypt with ${enc.cipher}`, { cause: err });
  }
  const pad = plain[plain.length - 1]!;
  const padOk =
    pad >= 1 && pad <= enc.blockSize && plain.subarray(plain.length - pad).every((b) => b === pad);
  if (!looksLikeKeyDer(plain)) {
    throw new SshError("BAD_PASSPHRASE", "incorrect passphrase supplied to decrypt private key");
  }
  // The passphrase is right (the key's DER header decrypted), so what is wrong is the file.
  if (!padOk) {
    throw new SshError("KEY_FORMAT", `${block.label}: corrupt or truncated encrypted body (bad padding)`);
  }
  return plain.subarray(0, plain.length - pad);
}

const PEM_LABELS = ["RSA PRIVATE KEY", "EC PRIVATE KEY", "PRIVATE KEY", "ENCRYPTED PRIVATE KEY"] as const;
export type PemLabel = (typeof PEM_LABELS)[number];

export function isPemPrivateKeyLabel(label: string): label is PemLabel {
  return (PEM_LABELS as readonly string[]).includes(label);
}

/** Whether a PEM private key block is passphrase-protected (PKCS#8 encrypted or legacy Proc-Type). */
export function isPemEncrypted(block: PemBlock): boolean {
  return block.label === "ENCRYPTED PRIVATE KEY" || /ENCRYPTED/.test(block.headers.get("Proc-Type") ?? "");
}

const hasPassphrase = (p: string | Buffer | undefined): p is string | Buffer =>
  p !== undefined && p.length > 0;

/**
 * Parse a PEM private key (PKCS#1, SEC1, PKCS#8, plain or encrypted). An encrypted key without a passphrase
 * is PASSPHRASE_REQUIRED; one that a passphrase does not decrypt is BAD_PASSPHRASE; a damaged file is
 * KEY_FORMAT; DSA and other key kinds are UNSUPPORTED. PEM holds no comment: the key's comment is "".
 */
export function parsePemPrivateKey(data: string | Buffer, passphrase?: string | Buffer): PrivateKey {
  const text = typeof data === "string" ? data : data.toString("latin1");
  const block = findPemBlock(text);
  if (block.label === "DSA PRIVATE KEY") throw new SshError("UNSUPPORTED", "DSA keys are not supported");
  if (!isPemPrivateKeyLabel(block.label)) {
    throw new SshError("KEY_FORMAT", `"${block.label}" is not a private key format we read`);
  }
  const encrypted = isPemEncrypted(block);
  const legacy = encrypted && block.label !== "ENCRYPTED PRIVATE KEY" ? legacyEncryption(block) : null;
  if (!legacy) checkOuterDer(block.body, encrypted, block.label);
  if (encrypted && !hasPassphrase(passphrase)) {
    throw new SshError("PASSPHRASE_REQUIRED", `the ${block.label} is encrypted: a passphrase is required`);
  }
  const type =
    block.label === "RSA PRIVATE KEY" ? "pkcs1" : block.label === "EC PRIVATE KEY" ? "sec1" : "pkcs8";
  let keyObject: KeyObject;
  if (legacy) {
    const der = decryptLegacyPem(block, legacy, passBytes(passphrase!));
    checkOuterDer(der, false, block.label);
    keyObject = importPrivateKey({ key: der, format: "der", type }, block.label);
  } else if (encrypted) {
    try {
      keyObject = createPrivateKey({
        key: block.body,
        format: "der",
        type: "pkcs8",
        passphrase: passphrase!,
      });
    } catch (err) {
      // The outer structure was checked above, so the failure is the decryption's: OpenSSL says "bad
      // decrypt" when the padding comes out wrong and "unsupported" when a wrong key's garbage pads
      // correctly but is not DER. PBES2 has no integrity check to tell these from a damaged body.
      throw new SshError("BAD_PASSPHRASE", "incorrect passphrase supplied to decrypt private key", {
        cause: err,
      });
    }
  } else {
    keyObject = importPrivateKey({ key: block.body, format: "der", type }, block.label);
  }
  return privateKeyFromKeyObject(keyObject);
}

function importPrivateKey(input: PrivateKeyInput, what: string): KeyObject {
  try {
    return createPrivateKey(input);
  } catch (err) {
    throw new SshError("KEY_FORMAT", `${what}: ${(err as Error).message}`, { cause: err });
  }
}

const passBytes = (p: string | Buffer): Buffer => (typeof p === "string" ? Buffer.from(p, "utf8") : p);

/** Parse a DER private key (PKCS#8, PKCS#1 or SEC1, unencrypted), as `openssl … -outform DER` writes. */
export function parseDerPrivateKey(der: Buffer): PrivateKey {
  checkOuterDer(der, false, "DER private key");
  const errors: unknown[] = [];
  for (const type of ["pkcs8", "pkcs1", "sec1"] as const) {
    try {
      return privateKeyFromKeyObject(createPrivateKey({ key: der, format: "der", type }));
    } catch (err) {
      if (err instanceof SshError) throw err; // decoded, but not a key we take
      errors.push(err); // not this encoding: try the next
    }
  }
  throw new SshError("KEY_FORMAT", "DER data is not a PKCS#8, PKCS#1 or SEC1 private key", {
    cause: new AggregateError(errors),
  });
}

const toBig = (b: Buffer): bigint => (b.length === 0 ? 0n : BigInt("0x" + b.toString("hex")));

/**
 * Check the identities of an RSA private key (n = pq, ed ≡ 1 mod p-1 and q-1, iqmp·q ≡ 1 mod p). OpenSSL
 * imports a key without them, and a damaged one would then make signatures that never verify.
 */
export function assertRsaPrivateConsistent(f: {
  n: Buffer;
  e: Buffer;
  d: Buffer;
  p: Buffer;
  q: Buffer;
  iqmp: Buffer;
}): void {
  const [n, e, d, p, q, iqmp] = [f.n, f.e, f.d, f.p, f.q, f.iqmp].map(toBig) as [
    bigint,
    bigint,
    bigint,
    bigint,
    bigint,
    bigint,
  ];
  if (p < 3n || q < 3n || p * q !== n || (e * d) % (p - 1n) !== 1n || (e * d) % (q - 1n) !== 1n) {
    throw new SshError("KEY_FORMAT", "RSA private key parameters are inconsistent");
  }
  if ((iqmp * q) % p !== 1n) throw new SshError("KEY_FORMAT", "RSA private key: iqmp is not q⁻¹ mod p");
}

/** The uncompressed public point of an ECDSA private scalar (padded to the curve size). */
export function ecPublicPoint(nodeCurve: string, d: Buffer): Buffer {
  const ecdh = createECDH(nodeCurve);
  try {
    ecdh.setPrivateKey(d);
  } catch (err) {
    throw new SshError("KEY_FORMAT", `invalid ECDSA private scalar: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return ecdh.getPublicKey();
}

/**
 * Wrap a Node private KeyObject, refusing the kinds SSH does not use here (DSA, RSA-PSS, other curves) and
 * keys whose parts do not agree (a damaged file OpenSSL accepted).
 */
export function privateKeyFromKeyObject(keyObject: KeyObject, comment = ""): PrivateKey {
  const kind = keyObject.asymmetricKeyType;
  if (kind === "ec") {
    const curveName = keyObject.asymmetricKeyDetails?.namedCurve;
    const curve = Object.values(ECDSA_CURVES).find((c) => c.node === curveName);
    if (!curve) throw new SshError("UNSUPPORTED", `unsupported elliptic curve ${curveName ?? "(unnamed)"}`);
    const jwk = keyObject.export({ format: "jwk" });
    const point = ecPublicPoint(curve.node, Buffer.from(jwk.d!, "base64url"));
    const x = Buffer.from(jwk.x!, "base64url");
    const y = Buffer.from(jwk.y!, "base64url");
    if (!point.subarray(1, 1 + curve.bytes).equals(x) || !point.subarray(1 + curve.bytes).equals(y)) {
      throw new SshError("KEY_FORMAT", "ECDSA private key does not match its public point");
    }
  } else if (kind === "rsa") {
    const jwk = keyObject.export({ format: "jwk" });
    const f = (v: string | undefined): Buffer => Buffer.from(v ?? "", "base64url");
    assertRsaPrivateConsistent({
      n: f(jwk.n),
      e: f(jwk.e),
      d: f(jwk.d),
      p: f(jwk.p),
      q: f(jwk.q),
      iqmp: f(jwk.qi),
    });
  } else if (kind !== "ed25519") {
    throw new SshError("UNSUPPORTED", `unsupported private key kind ${kind ?? "(unknown)"}`);
  }
  return new PrivateKey(keyObject, comment);
}

export interface PemWriteOptions {
  /**
   * "pem": the traditional per-algorithm form, PKCS#1 for RSA and SEC1 for ECDSA, as `ssh-keygen -m PEM`
   * writes (Ed25519 has none); "pkcs8": PKCS#8, as `ssh-keygen -m PKCS8` writes.
   */
  format: "pem" | "pkcs8";
  /** Empty or absent: unencrypted. */
  passphrase?: string | Buffer;
  /**
   * OpenSSL cipher name (`aes-128-cbc`) or the SSH name of a CBC cipher (`aes128-cbc`, `3des-cbc`). Default
   * aes-128-cbc for "pem" (as ssh-keygen), aes-256-cbc for "pkcs8" (PBES2 with PBKDF2-HMAC-SHA256).
   */
  cipher?: string;
}

const SSH_TO_OPENSSL_CIPHER: Record<string, string> = {
  "aes128-cbc": "aes-128-cbc",
  "aes192-cbc": "aes-192-cbc",
  "aes256-cbc": "aes-256-cbc",
  "3des-cbc": "des-ede3-cbc",
};

/** Write a private key as PEM text (OpenSSL does the encoding and, with a passphrase, the encryption). */
export function serializePemPrivateKey(key: PrivateKey, options: PemWriteOptions): string {
  let type: "pkcs1" | "sec1" | "pkcs8";
  if (options.format === "pkcs8") {
    type = "pkcs8";
  } else if (key.type === "ssh-rsa") {
    type = "pkcs1";
  } else if (key.type === "ssh-ed25519") {
    throw new SshError(
      "UNSUPPORTED",
      "Ed25519 keys have no traditional PEM form: use PKCS#8 or OpenSSH format",
    );
  } else {
    type = "sec1";
  }
  if (!hasPassphrase(options.passphrase)) {
    return key.keyObject.export({ type, format: "pem" }) as string;
  }
  const name = options.cipher ?? (type === "pkcs8" ? "aes-256-cbc" : "aes-128-cbc");
  const cipher = SSH_TO_OPENSSL_CIPHER[name] ?? name;
  if (!getCipherInfo(cipher)) throw new SshError("UNSUPPORTED", `unknown cipher ${name} for PEM encryption`);
  try {
    return key.keyObject.export({ type, format: "pem", cipher, passphrase: options.passphrase }) as string;
  } catch (err) {
    throw new SshError(
      "UNSUPPORTED",
      `cannot write ${type} encrypted with ${name}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
}
