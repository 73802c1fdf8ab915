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
 */
import { createHash, randomBytes } from "node:crypto";

import { SshError } from "../wire/errors.js";
import {
  rqDecode,
  rqEncode,
  roundedDecode,
  roundedEncode,
  smallDecode,
  smallEncode,
} from "./sntrup761/encode.js";
import {
  CIPHERTEXT_BYTES,
  HASH_BYTES,
  PUBLIC_KEY_BYTES,
  ROUNDED_BYTES,
  RQ_BYTES,
  SECRET_KEY_BYTES,
  SMALL_BYTES,
} from "./sntrup761/params.js";
import { r3FromRqTimes3, r3Mult, r3Recip, rqMultSmall, rqRecip3, weightForce } from "./sntrup761/poly.js";
import { randomExact, shortRandom, smallRandom, type RandomSource } from "./sntrup761/sample.js";

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

function checkLength(what: string, value: Uint8Array, expected: number): void {
  if (!(value instanceof Uint8Array) || value.length !== expected) {
    const got = value instanceof Uint8Array ? `${value.length} bytes` : typeof value;
    throw new SshError("MALFORMED", `sntrup761 ${what} must be ${expected} bytes, got ${got}`);
  }
}

/**
 * Hide (round-3 reference kem.c): encrypt r under pk and append the confirmation hash.
 * Returns the ciphertext and the encoding of r, whose Hash3 the session key uses.
 */
function hide(
  r: Int8Array,
  pk: Uint8Array,
  pkHash: Uint8Array,
): { ciphertext: Uint8Array; rEnc: Uint8Array } {
  const rEnc = smallEncode(r);
  const c = roundedEncode(rqMultSmall(rqDecode(pk), r));
  const ciphertext = new Uint8Array(CIPHERTEXT_BYTES);
  ciphertext.set(c, 0);
  ciphertext.set(hashPrefix(2, hashPrefix(3, rEnc), pkHash), ROUNDED_BYTES);
  return { ciphertext, rEnc };
}

/**
 * Key generation (draft §2). `random` is called exactly as the reference calls randombytes:
 * 761 times 4 bytes per attempt at g (retried while g is not invertible mod 3), 761 times 4 bytes
 * for f, then once 191 bytes for rho. Without it, node:crypto randomBytes is used.
 */
export function sntrup761KeyPair(random?: RandomSource): { publicKey: Uint8Array; secretKey: Uint8Array } {
  let g: Int8Array;
  let ginv: Int8Array | null;
  do {
    g = smallRandom(random);
    ginv = r3Recip(g);
  } while (ginv === null);
  const f = shortRandom(random);
  const h = rqMultSmall(rqRecip3(f), g); // g/(3f)
  const publicKey = rqEncode(h);

  const secretKey = new Uint8Array(SECRET_KEY_BYTES);
  let at = 0;
  secretKey.set(smallEncode(f), at);
  secretKey.set(smallEncode(ginv), (at += SMALL_BYTES));
  secretKey.set(publicKey, (at += SMALL_BYTES));
  const rho = random === undefined ? randomBytes(SMALL_BYTES) : randomExact(random, SMALL_BYTES);
  secretKey.set(rho, (at += RQ_BYTES));
  // The cache of Hash4(pk) saves decapsulation a hash of 1158 bytes.
  secretKey.set(hashPrefix(4, publicKey), (at += SMALL_BYTES));
  return { publicKey, secretKey };
}

/** Encapsulation (draft §3). `random` is called 761 times for 4 bytes (the short vector r). */
export function sntrup761Encapsulate(
  publicKey: Uint8Array,
  random?: RandomSource,
): { ciphertext: Uint8Array; sharedSecret: Uint8Array } {
  checkLength("public key", publicKey, PUBLIC_KEY_BYTES);
  const pkHash = hashPrefix(4, publicKey);
  const r = shortRandom(random);
  const { ciphertext, rEnc } = hide(r, publicKey, pkHash);
  return { ciphertext, sharedSecret: hashPrefix(1, hashPrefix(3, rEnc), ciphertext) };
}

/**
 * Decapsulation (draft §4), with implicit rejection: a ciphertext that does not re-encrypt to
 * itself gives Hash0(Hash3(rho) || ciphertext), a key the sender cannot know, instead of an error.
 */
export function sntrup761Decapsulate(ciphertext: Uint8Array, secretKey: Uint8Array): Uint8Array {
  checkLength("ciphertext", ciphertext, CIPHERTEXT_BYTES);
  checkLength("secret key", secretKey, SECRET_KEY_BYTES);
  const f = smallDecode(secretKey.subarray(0, SMALL_BYTES));
  const ginv = smallDecode(secretKey.subarray(SMALL_BYTES, 2 * SMALL_BYTES));
  const pk = secretKey.subarray(2 * SMALL_BYTES, 2 * SMALL_BYTES + RQ_BYTES);
  const rho = secretKey.subarray(2 * SMALL_BYTES + RQ_BYTES, 3 * SMALL_BYTES + RQ_BYTES);
  const pkHash = secretKey.subarray(3 * SMALL_BYTES + RQ_BYTES);

  // Decrypt: e = 3*f*c mod 3 = g*r mod 3, so r = e/g; then force weight w.
  const e = r3FromRqTimes3(rqMultSmall(roundedDecode(ciphertext), f));
  const r = weightForce(r3Mult(e, ginv));

  const { ciphertext: again, rEnc } = hide(r, pk, pkHash);
  let diff = 0;
  for (let i = 0; i < CIPHERTEXT_BYTES; i++) diff |= ciphertext[i]! ^ again[i]!;
  const reject = ~((diff - 1) >> 31); // -1 when the ciphertexts differ, else 0; no branch
  for (let i = 0; i < SMALL_BYTES; i++) rEnc[i] = rEnc[i]! ^ (reject & (rEnc[i]! ^ rho[i]!));
  return hashPrefix(1 + reject, hashPrefix(3, rEnc), ciphertext);
}
