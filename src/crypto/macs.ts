/**
 * The MACs (RFC 4253 §6.4, RFC 6668 for SHA-2, OpenSSH PROTOCOL §1.5 for the -etm@openssh.com variants,
 * which authenticate the ciphertext instead of the plaintext). All are HMAC over Node's hashes.
 */
import type { HashName, MacAlgorithm } from "./types.js";

export interface MacSpec extends MacAlgorithm {
  readonly hash: HashName;
}

function spec(name: string, hash: HashName, length: number, etm: boolean): MacSpec {
  // RFC 4253 §6.4 / RFC 6668: the key is as long as the digest and the whole digest is sent.
  return Object.freeze({ name, hash, keyLength: length, digestLength: length, etm, weak: false });
}

const SPECS: readonly MacSpec[] = Object.freeze([
  spec("hmac-sha2-256-etm@openssh.com", "sha256", 32, true),
  spec("hmac-sha2-512-etm@openssh.com", "sha512", 64, true),
  spec("hmac-sha1-etm@openssh.com", "sha1", 20, true),
  spec("hmac-sha2-256", "sha256", 32, false),
  spec("hmac-sha2-512", "sha512", 64, false),
  // HMAC-SHA1 is not broken as a MAC and OpenSSH still offers it by default.
  spec("hmac-sha1", "sha1", 20, false),
]);

/** Every MAC we implement, in OpenSSH's default preference order. */
export const MACS: readonly MacAlgorithm[] = SPECS;

const BY_NAME = new Map<string, MacSpec>(SPECS.map((m) => [m.name, m]));

export function macByName(name: string): MacAlgorithm | undefined {
  return BY_NAME.get(name);
}

/** The implementation details of a MAC we implement, looked up by name. */
export function macSpec(name: string): MacSpec | undefined {
  return BY_NAME.get(name);
}
