/**
 * PublicKey: an SSH public key from its wire blob (RFC 4253 §6.6), as a Node KeyObject that verifies
 * SSH signature blobs. The blob is kept byte for byte: it is what goes in exchange hashes, known_hosts
 * and authorized_keys comparisons.
 */
import { createHash, createPublicKey, verify as cryptoVerify, type KeyObject } from "node:crypto";
import { SshError, SshReader, SshWriter } from "../wire/index.js";
import { ECDSA_CURVES, isKeyType, signatureAlgorithm, type EcdsaKeyType, type KeyType } from "./keyTypes.js";

const b64url = (b: Buffer): string => b.toString("base64url");

function ed25519KeyObject(pk: Buffer): KeyObject {
  return createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: b64url(pk) }, format: "jwk" });
}

export class PublicKey {
  private constructor(
    readonly type: KeyType,
    /** The exact wire blob. */
    readonly blob: Buffer,
    /** Made on first use for Ed25519 (see parse); given for the others, whose import is their check. */
    private made: KeyObject | null,
  ) {}

  /** The key as Node's KeyObject. */
  get keyObject(): KeyObject {
    this.made ??= ed25519KeyObject(this.blob.subarray(this.blob.length - 32));
    return this.made;
  }

  /** Parse a public key blob; anything short, trailing, or off-curve is SshError("KEY_FORMAT"). */
  static fromBlob(blob: Buffer): PublicKey {
    try {
      return PublicKey.parse(Buffer.from(blob));
    } catch (err) {
      if (err instanceof SshError && err.code !== "MALFORMED") throw err;
      throw new SshError("KEY_FORMAT", `invalid public key blob: ${(err as Error).message}`, { cause: err });
    }
  }

  private static parse(blob: Buffer): PublicKey {
    const r = new SshReader(blob);
    const type = r.ascii(64, "key type");
    if (!isKeyType(type)) throw new SshError("UNSUPPORTED", `unsupported key type ${type}`);
    let keyObject: KeyObject | null;
    if (type === "ssh-ed25519") {
      const pk = r.string(32);
      if (pk.length !== 32) throw new SshError("KEY_FORMAT", "ed25519 public key is not 32 bytes");
      // Any 32 bytes import (OpenSSL checks an Ed25519 point only when verifying), so the KeyObject waits
      // for its first use: nsshd's pre-auth worker never verifies (its monitor does) and a login's
      // question and signed request parse the client's key twice.
      keyObject = null;
    } else if (type === "ssh-rsa") {
      const e = r.mpintUnsigned(16, "rsa exponent");
      const n = r.mpintUnsigned(2048, "rsa modulus");
      if (n.length * 8 < 1024) throw new SshError("KEY_FORMAT", "RSA key shorter than 1024 bits");
      keyObject = createPublicKey({ key: { kty: "RSA", n: b64url(n), e: b64url(e) }, format: "jwk" });
    } else {
      const curve = ECDSA_CURVES[type as EcdsaKeyType];
      const ident = r.ascii(32, "curve name");
      if (ident !== curve.ident) throw new SshError("KEY_FORMAT", `curve ${ident} does not match ${type}`);
      const q = r.string(1 + 2 * curve.bytes, "ecdsa point");
      if (q.length !== 1 + 2 * curve.bytes || q[0] !== 4) {
        throw new SshError("KEY_FORMAT", "ecdsa point is not an uncompressed point of the right size");
      }
      keyObject = createPublicKey({
        key: {
          kty: "EC",
          crv: curve.jwk,
          x: b64url(q.subarray(1, 1 + curve.bytes)),
          y: b64url(q.subarray(1 + curve.bytes)),
        },
        format: "jwk",
      });
    }
    r.done("public key blob");
    return new PublicKey(type, blob, keyObject);
  }

  /** Build from a Node public KeyObject (ed25519, P-256/384/521, RSA). */
  static fromKeyObject(key: KeyObject): PublicKey {
    const jwk = key.export({ format: "jwk" });
    const w = new SshWriter();
    if (jwk.kty === "OKP" && jwk.crv === "Ed25519") {
      w.string("ssh-ed25519").string(Buffer.from(jwk.x!, "base64url"));
    } else if (jwk.kty === "RSA") {
      w.string("ssh-rsa").mpint(Buffer.from(jwk.e!, "base64url")).mpint(Buffer.from(jwk.n!, "base64url"));
    } else if (jwk.kty === "EC") {
      const entry = Object.entries(ECDSA_CURVES).find(([, c]) => c.jwk === jwk.crv);
      if (!entry) throw new SshError("UNSUPPORTED", `unsupported curve ${jwk.crv}`);
      const [type, curve] = entry;
      const pad = (b: Buffer): Buffer => Buffer.concat([Buffer.alloc(curve.bytes - b.length), b]);
      const q = Buffer.concat([
        Buffer.from([4]),
        pad(Buffer.from(jwk.x!, "base64url")),
        pad(Buffer.from(jwk.y!, "base64url")),
      ]);
      w.string(type).string(curve.ident).string(q);
    } else {
      throw new SshError("UNSUPPORTED", `unsupported key kind ${jwk.kty}`);
    }
    const made = PublicKey.fromBlob(Buffer.from(w.toBuffer()));
    // An Ed25519 key waits for its KeyObject (fromBlob): this one is at hand, and public.
    if (made.made === null && key.type === "public") made.made = key;
    return made;
  }

  /** Key size in bits, as ssh-keygen -l prints it. */
  get bits(): number {
    if (this.type === "ssh-ed25519") return 256;
    if (this.type === "ssh-rsa") return this.keyObject.asymmetricKeyDetails?.modulusLength ?? 0;
    return { "ecdsa-sha2-nistp256": 256, "ecdsa-sha2-nistp384": 384, "ecdsa-sha2-nistp521": 521 }[this.type];
  }

  /** `SHA256:base64-without-padding`, as ssh-keygen -l prints it. */
  fingerprintSha256(): string {
    return "SHA256:" + createHash("sha256").update(this.blob).digest("base64").replace(/=+$/, "");
  }

  /** `MD5:aa:bb:…`, as ssh-keygen -l -E md5 prints it. */
  fingerprintMd5(): string {
    const hex = createHash("md5").update(this.blob).digest("hex");
    return "MD5:" + hex.match(/../g)!.join(":");
  }

  /** An authorized_keys / .pub line: `type base64 [comment]`. */
  toLine(comment = ""): string {
    const line = `${this.type} ${this.blob.toString("base64")}`;
    return comment ? `${line} ${comment}` : line;
  }

  equals(other: PublicKey): boolean {
    return this.blob.equals(other.blob);
  }

  /**
   * Verify an SSH signature blob (string algorithm, string signature) over `data`. `allowedAlgorithms`, when
   * given, restricts which signature algorithm names are accepted (e.g. the negotiated host key algorithm).
   * Returns false for a signature that does not verify or does not fit this key; never throws for bad input.
   */
  verify(data: Buffer, signatureBlob: Buffer, allowedAlgorithms?: readonly string[]): boolean {
    let algName: string;
    let sig: Buffer;
    try {
      const r = new SshReader(signatureBlob);
      algName = r.ascii(64, "signature algorithm");
      sig = r.string(2048, "signature");
      r.done("signature blob");
    } catch {
      return false; // a malformed signature blob is simply a signature that does not verify
    }
    if (allowedAlgorithms && !allowedAlgorithms.includes(algName)) return false;
    const alg = signatureAlgorithm(algName);
    if (!alg || alg.keyType !== this.type) return false;
    try {
      if (this.type === "ssh-ed25519") {
        return sig.length === 64 && cryptoVerify(null, data, this.keyObject, sig);
      }
      if (this.type === "ssh-rsa") {
        // Some signers drop leading zero bytes (RFC 8332 §3 says pad; OpenSSH accepts the short form).
        const modBytes = Math.ceil(this.bits / 8);
        if (sig.length > modBytes) return false;
        const padded =
          sig.length < modBytes ? Buffer.concat([Buffer.alloc(modBytes - sig.length), sig]) : sig;
        return cryptoVerify(alg.hash!, data, this.keyObject, padded);
      }
      // ECDSA: the signature is string(mpint r || mpint s), RFC 5656 §3.1.2.
      const size = ECDSA_CURVES[this.type].bytes;
      const sr = new SshReader(sig);
      const rr = sr.mpintUnsigned(size, "ecdsa r");
      const ss = sr.mpintUnsigned(size, "ecdsa s");
      sr.done("ecdsa signature");
      const p1363 = Buffer.alloc(2 * size);
      rr.copy(p1363, size - rr.length);
      ss.copy(p1363, 2 * size - ss.length);
      return cryptoVerify(alg.hash!, data, { key: this.keyObject, dsaEncoding: "ieee-p1363" }, p1363);
    } catch {
      return false; // OpenSSL rejects a malformed signature by throwing; for us it is a failed verification
    }
  }
}
