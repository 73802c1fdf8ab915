import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { SNTRUP761_SCALAR_WASM_BASE64, SNTRUP761_WASM_BASE64 } from "../../src/crypto/sntrup761Wasm.js";

/*
 * src/crypto/sntrup761/kernel.ts runs the SIMD build wherever WebAssembly SIMD exists, which is everywhere
 * these tests run; the build without SIMD (own code paths for the products and the Rq reciprocal) is
 * checked here by driving both modules' exports with the same input and comparing every output byte.
 */

interface KernelExports {
  memory: WebAssembly.Memory;
  __data_end: WebAssembly.Global;
  __heap_base: WebAssembly.Global;
  keygen_attempt(g: number, ginv: number, words: number): number;
  keygen_finish(pk: number, f: number, g: number, words: number): void;
  encapsulate(ct: number, rEnc: number, pk: number, words: number): void;
  decapsulate(again: number, rEnc: number, ct: number, sk: number): void;
}

/** One instance with its buffers: words (4p), g (p), the key head f || 1/g || pk, ct, rEnc. */
class Module {
  readonly e: KernelExports;
  readonly mem: Uint8Array;
  readonly words: number;
  readonly g: number;
  readonly key: number;
  readonly ct: number;
  readonly rEnc: number;

  constructor(base64: string) {
    this.e = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(base64, "base64")), {})
      .exports as unknown as KernelExports;
    this.mem = new Uint8Array(this.e.memory.buffer);
    this.words = this.e.__heap_base.value as number;
    this.g = this.words + 4 * 761;
    this.key = this.g + 761;
    this.ct = this.key + 1763;
    this.rEnc = this.ct + 1007;
  }

  bytes(at: number, n: number): Buffer {
    return Buffer.from(this.mem.subarray(at, at + n));
  }

  keygen(gWords: Uint8Array, fWords: Uint8Array): { invertible: boolean; head: Buffer } {
    this.mem.set(gWords, this.words);
    const invertible = this.e.keygen_attempt(this.g, this.key + 191, this.words) === 0;
    this.mem.set(fWords, this.words);
    this.e.keygen_finish(this.key + 382, this.key, this.g, this.words);
    return { invertible, head: this.bytes(this.key, 382 + 1158) };
  }

  encapsulate(pk: Uint8Array, rWords: Uint8Array): Buffer {
    this.mem.set(rWords, this.words);
    this.mem.set(pk, this.key);
    this.e.encapsulate(this.ct, this.rEnc, this.key, this.words);
    return Buffer.concat([this.bytes(this.ct, 1007), this.bytes(this.rEnc, 191)]);
  }

  decapsulate(ct: Uint8Array, head: Uint8Array): Buffer {
    this.mem.set(head, this.key);
    this.mem.set(ct.subarray(0, 1007), this.ct);
    this.e.decapsulate(this.words, this.rEnc, this.ct, this.key);
    return Buffer.concat([this.bytes(this.words, 1007), this.bytes(this.rEnc, 191)]);
  }
}

test("the builds with and without WebAssembly SIMD give the same bytes for every step", () => {
  const simd = new Module(SNTRUP761_WASM_BASE64);
  const scalar = new Module(SNTRUP761_SCALAR_WASM_BASE64);
  let invertibleSeen = 0;
  for (let i = 0; i < 4; i++) {
    const gWords = randomBytes(4 * 761);
    const fWords = randomBytes(4 * 761);
    const a = simd.keygen(gWords, fWords);
    const b = scalar.keygen(gWords, fWords);
    assert.equal(a.invertible, b.invertible);
    assert.deepEqual(a.head, b.head, `key head ${i}`);
    if (a.invertible) invertibleSeen++;
    const pk = a.head.subarray(382);
    const rWords = randomBytes(4 * 761);
    const encrypted = simd.encapsulate(pk, rWords);
    assert.deepEqual(scalar.encapsulate(pk, rWords), encrypted, `encapsulation ${i}`);
    const ct = encrypted.subarray(0, 1007);
    const decrypted = simd.decapsulate(ct, a.head);
    assert.deepEqual(scalar.decapsulate(ct, a.head), decrypted, `decapsulation ${i}`);
    if (a.invertible) assert.deepEqual(decrypted, encrypted, "decrypting recovers r and the ciphertext");
    const tampered = Buffer.from(ct);
    tampered[i * 100]! ^= 1;
    assert.deepEqual(scalar.decapsulate(tampered, a.head), simd.decapsulate(tampered, a.head));
  }
  assert.ok(invertibleSeen > 0, "at least one random g was invertible");
  // A g of zero has no inverse in either build.
  const zeroG = Buffer.alloc(4 * 761);
  for (let i = 0; i < 761; i++) zeroG.writeUInt32LE(0x20000000, 4 * i);
  assert.equal(simd.keygen(zeroG, randomBytes(4 * 761)).invertible, false);
  assert.equal(scalar.keygen(zeroG, randomBytes(4 * 761)).invertible, false);
});
