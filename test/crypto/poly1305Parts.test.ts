/**
 * poly1305TagParts: the tag of the parts' concatenation, each part copied once into the module's memory
 * (the sealer's length field and ciphertext need no joining first).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes, randomInt } from "node:crypto";
import { poly1305 as noblePoly1305 } from "@noble/ciphers/_poly1305.js";
import { poly1305Tag, poly1305TagParts } from "../../src/crypto/poly1305.js";

const noble = (message: Uint8Array, key: Uint8Array) => Buffer.from(noblePoly1305(message, key));

/** `message` cut at `cuts` random places (empty parts included when two cuts coincide). */
function split(message: Buffer, cuts: number): Buffer[] {
  const at = Array.from({ length: cuts }, () => randomInt(0, message.length + 1)).sort((a, b) => a - b);
  const parts: Buffer[] = [];
  let from = 0;
  for (const to of [...at, message.length]) {
    parts.push(message.subarray(from, to));
    from = to;
  }
  return parts;
}

test("the tag of the parts is the tag of their concatenation, however the message is cut", () => {
  for (let length = 0; length <= 300; length++) {
    const key = randomBytes(32);
    const message = length % 5 === 0 ? Buffer.alloc(length, 0xff) : randomBytes(length);
    const expected = noble(message, key);
    for (const cuts of [0, 1, 2, 7]) {
      assert.deepEqual(
        poly1305TagParts(split(message, cuts), key),
        expected,
        `length ${length}, ${cuts} cuts`,
      );
    }
  }
});

test("as the chacha20-poly1305 sealer uses it: encrypted length field, then a large body", () => {
  for (const bodyLength of [8, 1000, 32768 + 12, 131072 + 12, 262144 + 4]) {
    const key = randomBytes(32);
    const lengthField = randomBytes(4);
    const body = randomBytes(bodyLength);
    const tag = poly1305TagParts([lengthField, body], key);
    assert.deepEqual(tag, noble(Buffer.concat([lengthField, body]), key), `body ${bodyLength}`);
    assert.deepEqual(tag, poly1305Tag(Buffer.concat([lengthField, body]), key));
  }
});

test("no parts, empty parts and one-byte parts", () => {
  const key = randomBytes(32);
  assert.deepEqual(poly1305TagParts([], key), key.subarray(16)); // empty message: the tag is s
  assert.deepEqual(poly1305TagParts([Buffer.alloc(0), new Uint8Array(0)], key), key.subarray(16));
  const message = randomBytes(500);
  const bytes = Array.from(message, (b) => Uint8Array.of(b));
  assert.deepEqual(poly1305TagParts(bytes, key), noble(message, key));
});

test("views at odd offsets of a shared buffer, and a part reused twice", () => {
  const key = randomBytes(32);
  const backing = randomBytes(100_003);
  const a = backing.subarray(1, 40_001);
  const b = backing.subarray(40_003, 100_002);
  assert.deepEqual(poly1305TagParts([a, b, a], key), noble(Buffer.concat([a, b, a]), key));
});

test("parts larger than the module's first memory grow it, and later small calls are unaffected", () => {
  const key = randomBytes(32);
  const parts = [randomBytes(1 << 20), randomBytes(3), randomBytes(2 << 20)];
  assert.deepEqual(poly1305TagParts(parts, key), noble(Buffer.concat(parts), key));
  const small = randomBytes(33);
  assert.deepEqual(poly1305TagParts([small], key), noble(small, key));
});

test("a key that is not 32 bytes is a RangeError", () => {
  assert.throws(() => poly1305TagParts([Buffer.alloc(16)], Buffer.alloc(33)), RangeError);
});
