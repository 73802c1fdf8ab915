/** Encodings of the shared secret K for the exchange hash and key derivation (RFC 4253 §7.2, §8). */
import { SshWriter } from "../../wire/index.js";

/** K as an mpint (classic DH, ECDH, curve25519: RFC 8731 §3.1 treats the X25519 output as an unsigned integer). */
export function secretAsMpint(magnitude: Buffer): Buffer {
  return Buffer.from(new SshWriter(magnitude.length + 8).mpint(magnitude).toBuffer());
}

/** K as a string (the KEM hybrids: the hash of the concatenated secrets). */
export function secretAsString(bytes: Buffer): Buffer {
  return Buffer.from(new SshWriter(bytes.length + 4).string(bytes).toBuffer());
}
