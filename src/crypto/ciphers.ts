/**
 * The packet ciphers (RFC 4253 §6.3, RFC 4344 for CTR, RFC 5647 and OpenSSH PROTOCOL §1.6 for AES-GCM,
 * OpenSSH PROTOCOL.chacha20poly1305). Each is a plain description; packetProtection.ts turns a negotiated
 * cipher and MAC into a PacketSealer/PacketOpener pair.
 */
import type { CipherAlgorithm } from "./types.js";

/** How the packet layer drives a cipher; not part of the negotiated interface. */
export type CipherMode = "chacha20-poly1305" | "gcm" | "ctr" | "cbc";

export interface CipherSpec extends CipherAlgorithm {
  readonly mode: CipherMode;
  /** OpenSSL cipher name for crypto.createCipheriv (the chacha20 keystream for chacha20-poly1305). */
  readonly openssl: string;
}

function spec(
  name: string,
  mode: CipherMode,
  openssl: string,
  keyLength: number,
  ivLength: number,
  blockSize: number,
  weak: boolean,
): CipherSpec {
  const aead = mode === "gcm" || mode === "chacha20-poly1305";
  return Object.freeze({ name, mode, openssl, keyLength, ivLength, blockSize, aead, weak });
}

const SPECS: readonly CipherSpec[] = Object.freeze([
  // 64-byte key: K_2 (payload) || K_1 (length); no IV, the nonce is the sequence number; padding to 8.
  spec("chacha20-poly1305@openssh.com", "chacha20-poly1305", "chacha20", 64, 0, 8, false),
  // 12-byte IV: 4-byte fixed field || 8-byte invocation counter (RFC 5647 §7.1).
  spec("aes128-gcm@openssh.com", "gcm", "aes-128-gcm", 16, 12, 16, false),
  spec("aes256-gcm@openssh.com", "gcm", "aes-256-gcm", 32, 12, 16, false),
  spec("aes128-ctr", "ctr", "aes-128-ctr", 16, 16, 16, false),
  spec("aes192-ctr", "ctr", "aes-192-ctr", 24, 16, 16, false),
  spec("aes256-ctr", "ctr", "aes-256-ctr", 32, 16, 16, false),
  // CBC is open to the plaintext-recovery attacks of Albrecht et al. (2009): offered only when configured.
  spec("aes128-cbc", "cbc", "aes-128-cbc", 16, 16, 16, true),
  spec("aes192-cbc", "cbc", "aes-192-cbc", 24, 16, 16, true),
  spec("aes256-cbc", "cbc", "aes-256-cbc", 32, 16, 16, true),
  spec("3des-cbc", "cbc", "des-ede3-cbc", 24, 8, 8, true),
]);

/** Every cipher we implement, in OpenSSH's default preference order (weak ones last). */
export const CIPHERS: readonly CipherAlgorithm[] = SPECS;

const BY_NAME = new Map<string, CipherSpec>(SPECS.map((c) => [c.name, c]));

export function cipherByName(name: string): CipherAlgorithm | undefined {
  return BY_NAME.get(name);
}

/** The implementation details of a cipher we implement, looked up by name. */
export function cipherSpec(name: string): CipherSpec | undefined {
  return BY_NAME.get(name);
}
