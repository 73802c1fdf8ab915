import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";

import { SNTRUP761_SCALAR_WASM_BASE64, SNTRUP761_WASM_BASE64 } from "../../src/crypto/sntrup761Wasm.js";
import {
  decryptAndReencrypt,
  encrypt,
  instantiateKernel,
  KEY_HEAD_BYTES,
  keyHead,
} from "../../src/crypto/sntrup761/kernel.js";
import { ROUNDED_BYTES, RQ_BYTES } from "../../src/crypto/sntrup761/params.js";

/*
 * src/crypto/sntrup761/kernel.ts runs the SIMD build wherever WebAssembly SIMD exists, which is everywhere
 * these tests run; the build without SIMD (own code paths for the products and the Rq reciprocal) is
 * checked here by driving both builds through the kernel with the same words and comparing every byte.
 */

/** The same words for both builds: each call hands out the next block of a fixed random stream. */
function wordStream(blocks: Uint8Array[]): (target: Uint8Array) => void {
  let next = 0;
  return (target) => target.set(blocks[next++ % blocks.length]!.subarray(0, target.length));
}

test("the builds with and without WebAssembly SIMD give the same bytes for every step", () => {
  const simd = instantiateKernel(SNTRUP761_WASM_BASE64);
  const scalar = instantiateKernel(SNTRUP761_SCALAR_WASM_BASE64);
  // A g of zero first: it has no inverse in either build, so both draw again from the stream.
  const zeroG = Buffer.alloc(4 * 761);
  for (let i = 0; i < 761; i++) zeroG.writeUInt32LE(0x20000000, 4 * i);
  for (let i = 0; i < 4; i++) {
    const blocks = [zeroG, ...Array.from({ length: 7 }, () => randomBytes(4 * 761))];
    const head = keyHead(wordStream(blocks), simd);
    assert.equal(head.length, KEY_HEAD_BYTES);
    assert.deepEqual(keyHead(wordStream(blocks), scalar), head, `key head ${i}`);
    const pk = head.subarray(KEY_HEAD_BYTES - RQ_BYTES);
    const rBlocks = [randomBytes(4 * 761)];
    const encrypted = encrypt(pk, wordStream(rBlocks), simd);
    assert.deepEqual(encrypt(pk, wordStream(rBlocks), scalar), encrypted, `encapsulation ${i}`);
    const decrypted = decryptAndReencrypt(encrypted.rounded, head, simd);
    assert.deepEqual(decryptAndReencrypt(encrypted.rounded, head, scalar), decrypted, `decapsulation ${i}`);
    assert.deepEqual(decrypted.again, encrypted.rounded, "decrypting recovers the ciphertext");
    assert.deepEqual(decrypted.rEnc, encrypted.rEnc, "decrypting recovers r");
    const tampered = Buffer.from(encrypted.rounded.subarray(0, ROUNDED_BYTES));
    tampered[i * 100]! ^= 1;
    assert.deepEqual(decryptAndReencrypt(tampered, head, scalar), decryptAndReencrypt(tampered, head, simd));
  }
});
