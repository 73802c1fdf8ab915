/**
 * ECDH key exchange: curve25519-sha256 (RFC 8731) and ecdh-sha2-nistp256/384/521 (RFC 5656 §4).
 * Q_C and Q_S travel as strings; K is an mpint.
 */
import { createECDH } from "node:crypto";
import { SshError } from "../../wire/index.js";
import type { HashName, KexAlgorithm, KexClientSide, KexServerSide } from "../types.js";
import { secretAsMpint } from "./encodeSecret.js";
import { X25519KeyPair } from "./x25519.js";

class Curve25519Side implements KexClientSide, KexServerSide {
  private readonly pair = new X25519KeyPair();
  get publicValue(): Buffer {
    return this.pair.publicValue;
  }
  computeSecret(peer: Buffer): Buffer {
    return secretAsMpint(this.pair.sharedSecret(peer));
  }
  respond(clientPublic: Buffer): { publicValue: Buffer; secret: Buffer } {
    return { publicValue: this.publicValue, secret: this.computeSecret(clientPublic) };
  }
}

export function curve25519Kex(name: string): KexAlgorithm {
  return {
    name,
    hash: "sha256",
    weak: false,
    kind: "single",
    publicEncoding: "string",
    secretEncoding: "mpint",
    createClient: () => new Curve25519Side(),
    createServer: () => new Curve25519Side(),
  };
}

class NistEcdhSide implements KexClientSide, KexServerSide {
  private readonly ecdh;
  readonly publicValue: Buffer;
  constructor(
    curve: string,
    private readonly pointBytes: number,
  ) {
    this.ecdh = createECDH(curve);
    this.publicValue = this.ecdh.generateKeys();
  }
  computeSecret(peer: Buffer): Buffer {
    // RFC 5656 §4: the peer point must be an uncompressed point on the curve; OpenSSL checks the curve.
    if (peer.length !== this.pointBytes || peer[0] !== 4) {
      throw new SshError("KEX_FAILED", "ECDH public value is not an uncompressed point of the right size");
    }
    try {
      return secretAsMpint(this.ecdh.computeSecret(peer));
    } catch (err) {
      throw new SshError("KEX_FAILED", "ECDH public value is not a point on the curve", { cause: err });
    }
  }
  respond(clientPublic: Buffer): { publicValue: Buffer; secret: Buffer } {
    return { publicValue: this.publicValue, secret: this.computeSecret(clientPublic) };
  }
}

export function nistEcdhKex(bits: 256 | 384 | 521): KexAlgorithm {
  const spec = {
    256: { curve: "prime256v1", hash: "sha256", field: 32 },
    384: { curve: "secp384r1", hash: "sha384", field: 48 },
    521: { curve: "secp521r1", hash: "sha512", field: 66 },
  }[bits];
  const side = (): NistEcdhSide => new NistEcdhSide(spec.curve, 1 + 2 * spec.field);
  return {
    name: `ecdh-sha2-nistp${bits}`,
    hash: spec.hash as HashName,
    weak: false,
    kind: "single",
    publicEncoding: "string",
    secretEncoding: "mpint",
    createClient: side,
    createServer: side,
  };
}
