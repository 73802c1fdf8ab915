/**
 * X25519 (RFC 7748) through Node's crypto, as the building block of curve25519-sha256 (RFC 8731) and of the
 * post-quantum hybrids. An all-zero shared secret (a low-order peer point) is refused (RFC 8731 §3).
 */
import { createPublicKey, diffieHellman, type KeyObject } from "node:crypto";
import { SshError } from "../../wire/index.js";
import { generatePrivateKey } from "../keyGeneration.js";

export class X25519KeyPair {
  private readonly privateKey: KeyObject;
  readonly publicValue: Buffer;

  constructor() {
    // Not generateKeyPairSync's own KeyObjects: a JWK export of those can deadlock Node 20 (keyGeneration.ts).
    this.privateKey = generatePrivateKey({ kind: "x25519" });
    this.publicValue = Buffer.from(
      createPublicKey(this.privateKey).export({ format: "jwk" }).x!,
      "base64url",
    );
  }

  /** The raw 32-byte shared secret with the peer's public value. */
  sharedSecret(peerPublic: Buffer): Buffer {
    if (peerPublic.length !== 32) {
      throw new SshError("KEX_FAILED", `X25519 public value is ${peerPublic.length} bytes, not 32`);
    }
    let secret: Buffer;
    try {
      const publicKey = createPublicKey({
        key: { kty: "OKP", crv: "X25519", x: peerPublic.toString("base64url") },
        format: "jwk",
      });
      secret = diffieHellman({ privateKey: this.privateKey, publicKey });
    } catch (err) {
      // OpenSSL refuses low-order points by failing the derivation.
      throw new SshError("KEX_FAILED", "X25519 key agreement failed (invalid peer public value)", {
        cause: err,
      });
    }
    if (secret.every((b) => b === 0)) {
      throw new SshError("KEX_FAILED", "X25519 shared secret is all zero (low-order peer public value)");
    }
    return secret;
  }
}
