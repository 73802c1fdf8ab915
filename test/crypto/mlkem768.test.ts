import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { ml_kem768 } from "@noble/post-quantum/ml-kem.js";

import {
  mlkem768Decapsulate,
  mlkem768Encapsulate,
  mlkem768KeyPair,
  MLKEM768_CIPHERTEXT_BYTES,
  MLKEM768_PUBLIC_KEY_BYTES,
  MLKEM768_SECRET_KEY_BYTES,
} from "../../src/crypto/mlkem768.js";
import { SshError } from "../../src/wire/errors.js";

/*
 * src/crypto/mlkem768.ts runs ML-KEM-768 in WebAssembly (wasm/mlkem768.c). test/crypto/mlkemHybrid.test.ts
 * holds it to NIST's ACVP vectors; here every step is compared byte for byte with @noble/post-quantum, an
 * audited implementation of the same FIPS 203, over many random seeds, messages and damaged ciphertexts.
 */

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

test("key generation, encapsulation and decapsulation match @noble/post-quantum for 200 random inputs", () => {
  for (let i = 0; i < 200; i++) {
    const seed = randomBytes(64);
    const ours = mlkem768KeyPair(seed);
    const theirs = ml_kem768.keygen(seed);
    assert.equal(hex(ours.publicKey), hex(theirs.publicKey), `ek ${i}`);
    assert.equal(hex(ours.secretKey), hex(theirs.secretKey), `dk ${i}`);

    const m = randomBytes(32);
    const sealed = mlkem768Encapsulate(ours.publicKey, m);
    const reference = ml_kem768.encapsulate(theirs.publicKey, m);
    assert.equal(hex(sealed.ciphertext), hex(reference.cipherText), `c ${i}`);
    assert.equal(hex(sealed.sharedSecret), hex(reference.sharedSecret), `K ${i}`);
    assert.equal(hex(mlkem768Decapsulate(sealed.ciphertext, ours.secretKey)), hex(sealed.sharedSecret));

    // One flipped bit anywhere in c: implicit rejection, J(z || c), as the reference computes it.
    const damaged = Uint8Array.from(sealed.ciphertext);
    damaged[(i * 131) % MLKEM768_CIPHERTEXT_BYTES]! ^= 1 << (i % 8);
    const rejected = mlkem768Decapsulate(damaged, ours.secretKey);
    assert.equal(hex(rejected), hex(ml_kem768.decapsulate(damaged, theirs.secretKey)), `rejection ${i}`);
    assert.notEqual(hex(rejected), hex(sealed.sharedSecret));
  }
});

test("a ciphertext of all zeros or all ones decapsulates to J(z || c), not an error", () => {
  const seed = randomBytes(64);
  const { secretKey } = mlkem768KeyPair(seed);
  for (const fill of [0x00, 0xff]) {
    const c = new Uint8Array(MLKEM768_CIPHERTEXT_BYTES).fill(fill);
    const expected = createHash("shake256", { outputLength: 32 })
      .update(seed.subarray(32))
      .update(c)
      .digest();
    assert.equal(hex(mlkem768Decapsulate(c, secretKey)), hex(expected));
  }
});

function refusedAs(pattern: RegExp): (e: unknown) => boolean {
  return (e) => e instanceof SshError && e.code === "MALFORMED" && pattern.test(e.message);
}

test("an encapsulation key with a coefficient of q or more fails the FIPS 203 §7.2 check", () => {
  const { publicKey } = mlkem768KeyPair(randomBytes(64));
  const qAtStart = Uint8Array.from(publicKey);
  qAtStart[0] = 0x01;
  qAtStart[1] = (qAtStart[1]! & 0xf0) | 0x0d; // coefficient 0 = 0xd01 = q
  const maxAtEnd = Uint8Array.from(publicKey);
  maxAtEnd[1150] = maxAtEnd[1150]! | 0xf0;
  maxAtEnd[1151] = 0xff; // coefficient 767 = 0xfff
  for (const bad of [qAtStart, maxAtEnd]) {
    assert.throws(() => mlkem768Encapsulate(bad, randomBytes(32)), refusedAs(/not below q/));
    assert.throws(() => ml_kem768.encapsulate(bad, randomBytes(32)));
  }
  // q - 1 is a valid coefficient, at either end.
  const qMinus1 = Uint8Array.from(publicKey);
  qMinus1[0] = 0x00;
  qMinus1[1] = (qMinus1[1]! & 0xf0) | 0x0d; // coefficient 0 = 0xd00 = q - 1
  qMinus1[1150] = (qMinus1[1150]! & 0x0f) | 0x00;
  qMinus1[1151] = 0xd0; // coefficient 767 = 0xd00
  const sealed = mlkem768Encapsulate(qMinus1, new Uint8Array(32).fill(7));
  assert.equal(
    hex(sealed.ciphertext),
    hex(ml_kem768.encapsulate(qMinus1, new Uint8Array(32).fill(7)).cipherText),
  );
  // rho (the last 32 bytes) is not checked: any bytes are fine there.
  const rhoChanged = Uint8Array.from(publicKey);
  rhoChanged.fill(0xff, MLKEM768_PUBLIC_KEY_BYTES - 32);
  assert.equal(mlkem768Encapsulate(rhoChanged, randomBytes(32)).ciphertext.length, MLKEM768_CIPHERTEXT_BYTES);
});

test("a decapsulation key whose stored H(ek) does not match fails the FIPS 203 §7.3 check", () => {
  const { publicKey, secretKey } = mlkem768KeyPair(randomBytes(64));
  const { ciphertext } = mlkem768Encapsulate(publicKey, randomBytes(32));
  const ekChanged = Uint8Array.from(secretKey);
  ekChanged[1152 + 7]! ^= 0x10;
  const hashChanged = Uint8Array.from(secretKey);
  hashChanged[2336]! ^= 0x01;
  for (const bad of [ekChanged, hashChanged]) {
    assert.throws(() => mlkem768Decapsulate(ciphertext, bad), refusedAs(/H\(ek\) check/));
  }
});

test("arguments of the wrong length are refused with their name and sizes", () => {
  const { publicKey, secretKey } = mlkem768KeyPair(randomBytes(64));
  assert.throws(
    () => mlkem768KeyPair(randomBytes(32)),
    refusedAs(/seed d \|\| z must be 64 bytes, got 32 bytes/),
  );
  assert.throws(
    () => mlkem768Encapsulate(publicKey.subarray(1), randomBytes(32)),
    refusedAs(/encapsulation key must be 1184 bytes, got 1183/),
  );
  assert.throws(
    () => mlkem768Encapsulate(publicKey, randomBytes(31)),
    refusedAs(/message m must be 32 bytes/),
  );
  assert.throws(
    () => mlkem768Decapsulate(new Uint8Array(1087), secretKey),
    refusedAs(/ciphertext must be 1088 bytes, got 1087/),
  );
  assert.throws(
    () => mlkem768Decapsulate(new Uint8Array(1088), secretKey.subarray(0, MLKEM768_SECRET_KEY_BYTES - 1)),
    refusedAs(/decapsulation key must be 2400 bytes/),
  );
});

test("a call's inputs and outputs are copies: the caller's buffers are not kept or changed", () => {
  const seed = randomBytes(64);
  const before = Buffer.from(seed);
  const first = mlkem768KeyPair(seed);
  assert.deepEqual(seed, before);
  first.publicKey.fill(0);
  const again = mlkem768KeyPair(seed);
  assert.equal(hex(again.publicKey), hex(ml_kem768.keygen(seed).publicKey));
});
