/**
 * Streamlined NTRU Prime sntrup761 KEM, byte for byte the NIST round-3 submission as shipped in
 * supercop and OpenSSH (sntrup761.c), for the sntrup761x25519-sha512 key exchange.
 * draft-josefsson-ntruprime-streamlined-00 §2 (key generation), §3 (encapsulation) and
 * §4 (decapsulation) describe the same algorithm.
 *
 *   public key  = Encode(h), h = g/(3f) in Rq                                  1158 bytes
 *   secret key  = Encode(f) || Encode(1/g in R3) || pk || rho || Hash4(pk)    1763 bytes
 *   ciphertext  = Encode(Round(h*r)) || Hash2(Hash3(r) || Hash4(pk))          1039 bytes
 *   session key = Hash1(Hash3(r) || ciphertext), or Hash0(Hash3(rho) || ciphertext) on rejection
 *
 * HashN(x) is the first 32 bytes of SHA-512(N || x). Decapsulation never fails: a ciphertext that
 * does not re-encrypt to itself yields the "implicit rejection" key derived from rho.
 *
 * The polynomial work runs in WebAssembly (./sntrup761/kernel.ts); the hashes (node:crypto), the
 * randomness and the ciphertext comparison stay here.
 */
import { createHash, randomBytes } from "node:crypto";

import { decryptAndReencrypt, encrypt, keyHead, KEY_HEAD_BYTES } from "./sntrup761/kernel.js";
import {
  CIPHERTEXT_BYTES,
  HASH_BYTES,
  PUBLIC_KEY_BYTES,
  ROUNDED_BYTES,
  SECRET_KEY_BYTES,
  SMALL_BYTES,
} from "./sntrup761/params.js";
import { checkInputLength } from "./secretWasm.js";
import { randomExact, wordFiller, type RandomSource } from "./sntrup761/sample.js";

export const SNTRUP761_PUBLIC_KEY_BYTES = PUBLIC_KEY_BYTES; // 1158
export const SNTRUP761_SECRET_KEY_BYTES = SECRET_KEY_BYTES; // 1763
export const SNTRUP761_CIPHERTEXT_BYTES = CIPHERTEXT_BYTES; // 1039
export const SNTRUP761_SHARED_SECRET_BYTES = 32;

export type { RandomSource };

/** Hash with a one-byte domain prefix, truncated to 32 bytes (round-3 spec, "Hash_prefix"). */
function hashPrefix(prefix: number, ...parts: Uint8Array[]): Uint8Array {
  const h = createHash("sha512");
  h.update(Uint8Array.of(prefix));
  for (const part of parts) h.update(part);
  return new Uint8Array(h.digest().subarray(0, HASH_BYTES));
}

/**
 * Key generation (draft §2). `random` is called exactly as the reference calls randombytes:
 * 761 times 4 bytes per attempt at g (retried while g is not invertible mod 3), 761 times 4 bytes
 * for f, then once 191 bytes for rho. Without it, node:crypto randomness is used.
 */
export function sntrup761KeyPair(random?: RandomSource): { publicKey: Uint8Array; secretKey: Uint8Array } {
  const head = keyHead(wordFiller(random));
  const publicKey = head.slice(2 * SMALL_BYTES);
  const secretKey = new Uint8Array(SECRET_KEY_BYTES);
  secretKey.set(head, 0);
  head.fill(0);
  const rho = random === undefined ? randomBytes(SMALL_BYTES) : randomExact(random, SMALL_BYTES);
  secretKey.set(rho, KEY_HEAD_BYTES);
  // The cache of Hash4(pk) saves decapsulation a hash of 1158 bytes.
  secretKey.set(hashPrefix(4, publicKey), KEY_HEAD_BYTES + SMALL_BYTES);
  return { publicKey, secretKey };
}

/** Hide's confirmation hash (round-3 reference kem.c): Hash2(Hash3(r) || Hash4(pk)). */
function confirmation(rHash: Uint8Array, pkHash: Uint8Array): Uint8Array {
  return hashPrefix(2, rHash, pkHash);
}

/** Encapsulation (draft §3). `random` is called 761 times for 4 bytes (the short vector r). */
export function sntrup761Encapsulate(
  publicKey: Uint8Array,
  random?: RandomSource,
): { ciphertext: Uint8Array; sharedSecret: Uint8Array } {
  checkInputLength("sntrup761", "public key", publicKey, PUBLIC_KEY_BYTES);
  const { rounded, rEnc } = encrypt(publicKey, wordFiller(random));
  const rHash = hashPrefix(3, rEnc);
  rEnc.fill(0);
  const ciphertext = new Uint8Array(CIPHERTEXT_BYTES);
  ciphertext.set(rounded, 0);
  ciphertext.set(confirmation(rHash, hashPrefix(4, publicKey)), ROUNDED_BYTES);
  return { ciphertext, sharedSecret: hashPrefix(1, rHash, ciphertext) };
}

/**
 * Decapsulation (draft §4), with implicit rejection: a ciphertext that does not re-encrypt to
 * itself gives Hash0(Hash3(rho) || ciphertext), a key the sender cannot know, instead of an error.
 */
export function sntrup761Decapsulate(ciphertext: Uint8Array, secretKey: Uint8Array): Uint8Array {
  checkInputLength("sntrup761", "ciphertext", ciphertext, CIPHERTEXT_BYTES);
  checkInputLength("sntrup761", "secret key", secretKey, SECRET_KEY_BYTES);
  const rho = secretKey.subarray(KEY_HEAD_BYTES, KEY_HEAD_BYTES + SMALL_BYTES);
  const pkHash = secretKey.subarray(KEY_HEAD_BYTES + SMALL_BYTES);

  const { again, rEnc } = decryptAndReencrypt(ciphertext, secretKey);
  const confirm = confirmation(hashPrefix(3, rEnc), pkHash);
  let diff = 0;
  for (let i = 0; i < ROUNDED_BYTES; i++) diff |= ciphertext[i]! ^ again[i]!;
  for (let i = 0; i < HASH_BYTES; i++) diff |= ciphertext[ROUNDED_BYTES + i]! ^ confirm[i]!;
  const reject = ~((diff - 1) >> 31); // -1 when the ciphertexts differ, else 0; no branch
  for (let i = 0; i < SMALL_BYTES; i++) rEnc[i] = rEnc[i]! ^ (reject & (rEnc[i]! ^ rho[i]!));
  const sharedSecret = hashPrefix(1 + reject, hashPrefix(3, rEnc), ciphertext);
  rEnc.fill(0);
  return sharedSecret;
}
