import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { poly1305 as noblePoly1305 } from "@noble/ciphers/_poly1305.js";
import { poly1305Tag } from "../../src/crypto/poly1305.js";

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ""), "hex");

test("RFC 8439 §2.5.2 and Appendix A.3 vectors", () => {
  assert.equal(
    poly1305Tag(
      Buffer.from("Cryptographic Forum Research Group"),
      hex("85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b"),
    ).toString("hex"),
    "a8061dc1305136c6c22b8baf0c0127a9",
  );
  // A.3 #1: all-zero key and message.
  assert.equal(poly1305Tag(Buffer.alloc(64), Buffer.alloc(32)).toString("hex"), "0".repeat(32));
  // A.3 #5: a carry into the top limb.
  assert.equal(
    poly1305Tag(
      hex("ffffffffffffffffffffffffffffffff"),
      hex("0200000000000000000000000000000000000000000000000000000000000000"),
    ).toString("hex"),
    "03000000000000000000000000000000",
  );
  // A.3 #6: s wraps mod 2^128.
  assert.equal(
    poly1305Tag(
      hex("02000000000000000000000000000000"),
      hex("02000000000000000000000000000000ffffffffffffffffffffffffffffffff"),
    ).toString("hex"),
    "03000000000000000000000000000000",
  );
  // A.3 #9: the final reduction's subtraction of p.
  assert.equal(
    poly1305Tag(
      hex("fdffffffffffffffffffffffffffffff"),
      hex("0200000000000000000000000000000000000000000000000000000000000000"),
    ).toString("hex"),
    "faffffffffffffffffffffffffffffff",
  );
});

test("agrees with @noble/ciphers on random and extreme inputs of every length class", () => {
  for (let i = 0; i < 3000; i++) {
    const key = randomBytes(32);
    if (i % 5 === 0) key.fill(0xff, 0, 16);
    const message = randomBytes((i % 97) + (i % 31 === 0 ? 70_000 : 0));
    if (i % 7 === 0) message.fill(0xff);
    assert.deepEqual(poly1305Tag(message, key), Buffer.from(noblePoly1305(message, key)), `case ${i}`);
  }
});

test("a message larger than the module's first memory grows it", () => {
  const key = randomBytes(32);
  const message = randomBytes(1 << 20);
  assert.deepEqual(poly1305Tag(message, key), Buffer.from(noblePoly1305(message, key)));
});
