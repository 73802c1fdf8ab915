/**
 * PrivateKey: a private key as a Node KeyObject, with its SSH public half, that makes SSH signature
 * blobs (RFC 4253 §6.6, RFC 5656 §3.1.2, RFC 8332 §3, RFC 8709 §6). File formats live in their own files.
 */
import { createPublicKey, sign as cryptoSign, type KeyObject } from "node:crypto";
import { generatePrivateKey, type KeyPairKind } from "../crypto/index.js";
import { SshError, SshReader, SshWriter } from "../wire/index.js";
import { ECDSA_CURVES, signatureAlgorithm, type KeyType } from "./keyTypes.js";
import { PublicKey } from "./publicKey.js";

export class PrivateKey {
  readonly publicKey: PublicKey;

  constructor(
    readonly keyObject: KeyObject,
    public comment = "",
  ) {
    if (keyObject.type !== "private") throw new SshError("KEY_FORMAT", "not a private key");
    this.publicKey = PublicKey.fromKeyObject(createPublicKey(keyObject));
  }

  get type(): KeyType {
    return this.publicKey.type;
  }

  /**
   * Make a new key, as ssh-keygen -t does. `bits` is the RSA modulus or the ECDSA curve size. Through
   * crypto/keyGeneration.ts: a KeyObject straight from generateKeyPairSync can deadlock a JWK export.
   */
  static generate(type: KeyType, bits?: number): PrivateKey {
    const spec: KeyPairKind =
      type === "ssh-ed25519"
        ? { kind: "ed25519" }
        : type === "ssh-rsa"
          ? { kind: "rsa", bits: bits ?? 3072 }
          : { kind: "ec", namedCurve: ECDSA_CURVES[type].node };
    return new PrivateKey(generatePrivateKey(spec));
  }

  /** Sign `data`, returning the SSH signature blob: string algorithm-name, string signature. */
  sign(data: Buffer, algorithmName: string = this.defaultSignatureAlgorithm()): Buffer {
    const alg = signatureAlgorithm(algorithmName);
    if (!alg || alg.keyType !== this.type) {
      throw new SshError("UNSUPPORTED", `a ${this.type} key cannot make ${algorithmName} signatures`);
    }
    const w = new SshWriter().string(alg.name);
    if (this.type === "ssh-ed25519") {
      w.string(cryptoSign(null, data, this.keyObject));
    } else if (this.type === "ssh-rsa") {
      w.string(cryptoSign(alg.hash!, data, this.keyObject));
    } else {
      const size = ECDSA_CURVES[this.type].bytes;
      const p1363 = cryptoSign(alg.hash!, data, { key: this.keyObject, dsaEncoding: "ieee-p1363" });
      const inner = new SshWriter().mpint(p1363.subarray(0, size)).mpint(p1363.subarray(size)).toBuffer();
      w.string(inner);
    }
    return Buffer.from(w.toBuffer());
  }

  defaultSignatureAlgorithm(): string {
    return this.type === "ssh-rsa" ? "rsa-sha2-512" : this.type;
  }
}

/** The algorithm name inside a signature blob, or null when the blob is malformed. */
export function signatureBlobAlgorithm(blob: Buffer): string | null {
  try {
    return new SshReader(blob).ascii(64);
  } catch {
    return null;
  }
}
