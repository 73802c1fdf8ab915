/**
 * Poly1305 (wasm/poly1305.c, through poly1305Tag) against the RFC 8439 vectors, @noble/ciphers' independent
 * JavaScript Poly1305 and the Poly1305 inside Node's (OpenSSL's) IETF ChaCha20-Poly1305 AEAD. The module hashes
 * the bulk of a message three blocks per step (two SIMD lanes and a scalar one) and the rest one block at a
 * time, so lengths are chosen to cover every split: below the three-lane threshold, each remainder mod 3
 * blocks, partial last blocks, and sizes far past the module's first memory.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createCipheriv, randomBytes } from "node:crypto";
import { poly1305 as noblePoly1305 } from "@noble/ciphers/_poly1305.js";
import { poly1305Tag } from "../../src/crypto/poly1305.js";
import { POLY1305_SCALAR_WASM_BASE64, POLY1305_WASM_BASE64 } from "../../src/crypto/poly1305Wasm.js";

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ""), "hex");
const noble = (message: Uint8Array, key: Uint8Array) => Buffer.from(noblePoly1305(message, key));

const IETF_CONTRIBUTION = Buffer.from(
  "Any submission to the IETF intended by the Contributor for publication as all or part of an IETF " +
    'Internet-Draft or RFC and any statement made within the context of an IETF activity is considered an "IETF ' +
    'Contribution". Such statements include oral statements in IETF sessions, as well as written and electronic ' +
    "communications made at any time or place, which are addressed to",
);

/** RFC 8439 §2.5.2 and Appendix A.3 #1-#11: [name, key (r || s), message, tag]. */
const RFC_VECTORS: [string, string, Buffer, string][] = [
  [
    "§2.5.2",
    "85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b",
    Buffer.from("Cryptographic Forum Research Group"),
    "a8061dc1305136c6c22b8baf0c0127a9",
  ],
  ["A.3 #1", "00".repeat(32), Buffer.alloc(64), "00".repeat(16)],
  [
    "A.3 #2",
    "00".repeat(16) + "36e5f6b5c5e06070f0efca96227a863e",
    IETF_CONTRIBUTION,
    "36e5f6b5c5e06070f0efca96227a863e",
  ],
  [
    "A.3 #3",
    "36e5f6b5c5e06070f0efca96227a863e" + "00".repeat(16),
    IETF_CONTRIBUTION,
    "f3477e7cd95417af89a6b8794c310cf0",
  ],
  [
    "A.3 #4",
    "1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0",
    Buffer.from(
      "'Twas brillig, and the slithy toves\nDid gyre and gimble in the wabe:\nAll mimsy were the borogoves,\n" +
        "And the mome raths outgrabe.",
    ),
    "4541669a7eaaee61e708dc7cbcc5eb62",
  ],
  ["A.3 #5", "02" + "00".repeat(31), hex("ff".repeat(16)), "03" + "00".repeat(15)],
  ["A.3 #6", "02" + "00".repeat(15) + "ff".repeat(16), hex("02" + "00".repeat(15)), "03" + "00".repeat(15)],
  [
    "A.3 #7",
    "01" + "00".repeat(31),
    hex("ff".repeat(16) + "f0" + "ff".repeat(15) + "11" + "00".repeat(15)),
    "05" + "00".repeat(15),
  ],
  [
    "A.3 #8",
    "01" + "00".repeat(31),
    hex("ff".repeat(16) + "fb" + "fe".repeat(15) + "01".repeat(16)),
    "00".repeat(16),
  ],
  ["A.3 #9", "02" + "00".repeat(31), hex("fd" + "ff".repeat(15)), "fa" + "ff".repeat(15)],
  [
    "A.3 #10",
    "0100000000000000040000000000000000000000000000000000000000000000",
    hex(
      "e33594d7505e43b9" + "00".repeat(8) + "3394d7505e4379cd01" + "00".repeat(23) + "01" + "00".repeat(15),
    ),
    "14000000000000005500000000000000",
  ],
  [
    "A.3 #11",
    "0100000000000000040000000000000000000000000000000000000000000000",
    hex("e33594d7505e43b9" + "00".repeat(8) + "3394d7505e4379cd01" + "00".repeat(23)),
    "13000000000000000000000000000000",
  ],
];

test("RFC 8439 §2.5.2 and every Appendix A.3 vector", () => {
  for (const [name, key, message, tag] of RFC_VECTORS) {
    assert.equal(poly1305Tag(message, hex(key)).toString("hex"), tag, name);
  }
});

test("the A.3 vectors' messages repeated past the three-lane threshold agree with @noble/ciphers", () => {
  for (const [name, key, message] of RFC_VECTORS) {
    for (const copies of [3, 7, 40]) {
      const long = Buffer.concat(Array.from({ length: copies }, () => message));
      assert.deepEqual(poly1305Tag(long, hex(key)), noble(long, hex(key)), `${name} x${copies}`);
    }
  }
});

/** Keys whose r sits at the clamp's limits and whose s is 0 or 2^128 - 1, plus random ones. */
function keysFor(i: number): Buffer[] {
  const rMax = Buffer.alloc(32, 0xff); // clamps to the largest r; s = 2^128 - 1
  const rMaxS0 = Buffer.concat([Buffer.alloc(16, 0xff), Buffer.alloc(16)]);
  const rZero = Buffer.concat([Buffer.alloc(16), randomBytes(16)]);
  const rOne = Buffer.concat([Buffer.from([1]), Buffer.alloc(15), Buffer.alloc(16, 0xff)]);
  return [randomBytes(32), randomBytes(32), [rMax, rMaxS0, rZero, rOne][i % 4]!];
}

test("every length 0..300 agrees with @noble/ciphers: random, all-0xff and all-zero messages", () => {
  for (let length = 0; length <= 300; length++) {
    const messages = [randomBytes(length), Buffer.alloc(length, 0xff), Buffer.alloc(length)];
    for (const key of keysFor(length)) {
      for (const message of messages) {
        assert.deepEqual(poly1305Tag(message, key), noble(message, key), `length ${length}`);
      }
    }
  }
});

test("large messages, at and around the three-lane step and packet sizes, agree with @noble/ciphers", () => {
  const lengths = [383, 384, 385, 767, 768, 769, 4096 + 5, 32768, 32768 + 13, 32768 + 48, 131072, 131072 + 7];
  lengths.push((1 << 20) + 3, 3 << 20);
  for (const [i, length] of lengths.entries()) {
    for (const fill of [undefined, 0xff]) {
      const message = fill === undefined ? randomBytes(length) : Buffer.alloc(length, fill);
      for (const key of keysFor(i)) {
        assert.deepEqual(poly1305Tag(message, key), noble(message, key), `length ${length}`);
      }
    }
  }
});

test("r = 0 gives s whatever the message, and s wraps mod 2^128 on a long message", () => {
  const s = randomBytes(16);
  const key = Buffer.concat([Buffer.alloc(16), s]);
  for (const length of [0, 15, 16, 200, 5000]) assert.deepEqual(poly1305Tag(randomBytes(length), key), s);
  const rMax = Buffer.alloc(32, 0xff);
  const message = Buffer.alloc(10_000, 0xff);
  assert.deepEqual(poly1305Tag(message, rMax), noble(message, rMax));
});

/**
 * Node's chacha20-poly1305 (RFC 8439 §2.8) computes Poly1305 with OpenSSL's code over
 * AAD || pad16 || ciphertext || pad16 || le64(len AAD) || le64(len ciphertext), keyed by the first 32 bytes
 * of ChaCha20's block 0; Node's raw "chacha20" (IV = le32 block counter || 96-bit nonce) gives that key.
 */
function aeadTagByNode(
  key: Buffer,
  nonce: Buffer,
  aad: Buffer,
  plaintext: Buffer,
): { tag: Buffer; mac: Buffer } {
  const cipher = createCipheriv("chacha20-poly1305", key, nonce, { authTagLength: 16 });
  cipher.setAAD(aad, { plaintextLength: plaintext.length });
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  const lengths = Buffer.alloc(16);
  lengths.writeBigUInt64LE(BigInt(aad.length), 0);
  lengths.writeBigUInt64LE(BigInt(ciphertext.length), 8);
  const pad = (n: number) => Buffer.alloc((16 - (n % 16)) % 16);
  const mac = Buffer.concat([aad, pad(aad.length), ciphertext, pad(ciphertext.length), lengths]);
  return { tag: cipher.getAuthTag(), mac };
}

test("agrees with the Poly1305 in Node's IETF ChaCha20-Poly1305 AEAD", () => {
  const sizes = [0, 1, 15, 16, 17, 100, 127, 128, 300, 1000, 32768 + 5, 131072];
  for (const [i, size] of sizes.entries()) {
    const key = randomBytes(32);
    const nonce = randomBytes(12);
    const oneTimeKey = createCipheriv("chacha20", key, Buffer.concat([Buffer.alloc(4), nonce])).update(
      Buffer.alloc(32),
    );
    const { tag, mac } = aeadTagByNode(key, nonce, randomBytes(i % 3 === 0 ? 0 : i * 7), randomBytes(size));
    assert.deepEqual(poly1305Tag(mac, oneTimeKey), tag, `plaintext ${size}`);
  }
});

test("a message view at an odd offset of a larger buffer gives the tag of its own bytes", () => {
  const key = randomBytes(32);
  const backing = randomBytes(70_001);
  const view = backing.subarray(3, 3 + 65_537);
  assert.deepEqual(poly1305Tag(view, key), noble(Buffer.from(view), key));
  assert.deepEqual(poly1305Tag(view, key), poly1305Tag(Buffer.from(view), key));
});

test("a key that is not 32 bytes is a RangeError", () => {
  assert.throws(() => poly1305Tag(Buffer.alloc(16), Buffer.alloc(31)), RangeError);
});

test("this Node runs the SIMD build (so the tests above cover it)", () => {
  assert.equal(WebAssembly.validate(Buffer.from(POLY1305_WASM_BASE64, "base64")), true);
});

/** A tag function over a fresh instance of one build of the module, called as poly1305.ts calls it. */
function moduleTag(base64: string): (message: Uint8Array, key: Uint8Array) => Buffer {
  const wasm = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(base64, "base64")), {})
    .exports as {
    memory: WebAssembly.Memory;
    poly1305(out: number, msg: number, len: number, key: number): void;
    __heap_base: WebAssembly.Global;
  };
  const keyAt = ((wasm.__heap_base.value as number) + 15) & ~15;
  return (message, key) => {
    const needed = keyAt + 48 + message.length - wasm.memory.buffer.byteLength;
    if (needed > 0) wasm.memory.grow(Math.ceil(needed / 65536));
    const memory = new Uint8Array(wasm.memory.buffer);
    memory.set(key, keyAt);
    memory.set(message, keyAt + 48);
    wasm.poly1305(keyAt + 32, keyAt + 48, message.length, keyAt);
    return Buffer.from(memory.subarray(keyAt + 32, keyAt + 48));
  };
}

test("the build without SIMD (for a runtime that rejects the other) agrees with @noble/ciphers", () => {
  const scalarTag = moduleTag(POLY1305_SCALAR_WASM_BASE64);
  for (const [name, key, message, tag] of RFC_VECTORS) {
    assert.equal(scalarTag(message, hex(key)).toString("hex"), tag, name);
  }
  for (const length of [...Array(300).keys(), 4096 + 5, 32768 + 13, 131072]) {
    for (const [i, key] of keysFor(length).entries()) {
      const message = i === 2 ? Buffer.alloc(length, 0xff) : randomBytes(length);
      assert.deepEqual(scalarTag(message, key), noble(message, key), `length ${length}`);
    }
  }
});
