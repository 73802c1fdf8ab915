/**
 * ChaCha20Key (src/crypto/chacha20.ts): inputs up to CHACHA20_WASM_MAX_BYTES run in our WebAssembly module,
 * longer ones in OpenSSL. Both give RFC 8439's keystream, the same bytes as Node's own "chacha20" and as
 * @noble/ciphers' chacha20orig for every length around a block and around the switch, from any counter
 * (the 64-bit counter carries from word 12 into word 13), and leave their input untouched.
 */
import assert from "node:assert/strict";
import { createCipheriv, randomBytes } from "node:crypto";
import { test } from "node:test";
import { chacha20orig } from "@noble/ciphers/chacha.js";
import { CHACHA20_WASM_MAX_BYTES, ChaCha20Key } from "../../src/crypto/chacha20.js";
import { SshError } from "../../src/wire/index.js";

const nodeChaCha20 = (key: Buffer, iv: Buffer, input: Buffer): Buffer =>
  createCipheriv("chacha20", key, iv).update(input);

/** The 16-byte IV: 64-bit little-endian block counter, then the 8-byte nonce. */
function ivOf(counter: bigint, nonce: Buffer): Buffer {
  const iv = Buffer.alloc(16);
  iv.writeBigUInt64LE(counter, 0);
  nonce.copy(iv, 8);
  return iv;
}

test("ChaCha20: RFC 8439 §2.4.2's example (its nonce's first word is 0, so the layouts agree)", () => {
  const key = Buffer.from([...Array(32).keys()]);
  const iv = Buffer.from("01000000" + "00000000" + "0000004a00000000", "hex");
  const plaintext = Buffer.from(
    "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
  );
  const expected =
    "6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0bf91b65c5524733ab8f593dabcd62b3571639d624e65152ab8f530c359f0861d807ca0dbf500d6a6156a38e088a22b65e52bc514d16ccf806818ce91ab77937365af90bbf74a35be6b40b8eedf2785e42874d";
  assert.equal(new ChaCha20Key(key).xor(iv, plaintext).toString("hex"), expected);
});

test("ChaCha20: every length to 300 bytes and around the switch to OpenSSL matches Node's and noble's", () => {
  const lengths = [...Array(301).keys()];
  for (let n = CHACHA20_WASM_MAX_BYTES - 70; n <= CHACHA20_WASM_MAX_BYTES + 70; n++) lengths.push(n);
  lengths.push(33000);
  for (const length of lengths) {
    const key = randomBytes(32);
    const nonce = randomBytes(8);
    const counter = BigInt(length % 3); // 0, 1 (the two counters SSH uses) and 2
    const input = randomBytes(length);
    const kept = Buffer.from(input);
    const got = new ChaCha20Key(key).xor(ivOf(counter, nonce), input);
    assert.equal(
      got.toString("hex"),
      nodeChaCha20(key, ivOf(counter, nonce), input).toString("hex"),
      `${length}`,
    );
    const noble = chacha20orig(key, nonce, input, undefined, Number(counter));
    assert.equal(got.toString("hex"), Buffer.from(noble).toString("hex"), `noble ${length}`);
    assert.deepEqual(input, kept, "the input is left as it was");
  }
});

test("ChaCha20: the block counter carries from its low word into its high word", () => {
  const key = randomBytes(32);
  const nonce = randomBytes(8);
  const input = randomBytes(64 * 4);
  const iv = ivOf(0xfffffffen, nonce);
  const got = new ChaCha20Key(key).xor(iv, input);
  // Block by block from the counter each block has: 2^32 - 2, 2^32 - 1, 2^32, 2^32 + 1.
  for (let block = 0; block < 4; block++) {
    const one = input.subarray(64 * block, 64 * block + 64);
    const expected = nodeChaCha20(key, ivOf(0xfffffffen + BigInt(block), nonce), one);
    assert.equal(
      got.subarray(64 * block, 64 * block + 64).toString("hex"),
      expected.toString("hex"),
      `block ${block}`,
    );
  }
});

test("ChaCha20: a key of the wrong length is refused", () => {
  assert.throws(
    () => new ChaCha20Key(Buffer.alloc(31)),
    (err: unknown) => err instanceof SshError && /32 bytes/.test(err.message),
  );
});

test("ChaCha20: polyKeyAndXor gives block 0's first 32 bytes and the pieces XOR the stream from block 1", () => {
  // Payload lengths on both sides of the module's limit, split into one, two and three pieces.
  for (const length of [0, 1, 63, 64, 500, CHACHA20_WASM_MAX_BYTES, CHACHA20_WASM_MAX_BYTES + 1, 40000]) {
    const three = [Math.min(1, length), Math.max(Math.min(1, length), Math.floor((2 * length) / 3))];
    for (const cuts of [[], [Math.floor(length / 2)], three]) {
      const key = randomBytes(32);
      const nonce = randomBytes(8);
      const payload = randomBytes(length);
      const header = randomBytes(4);
      const bounds = [0, ...cuts, length];
      const pieces = bounds.slice(1).map((end, i) => payload.subarray(bounds[i], end));
      pieces[0] = Buffer.concat([header, pieces[0]!]);
      const kept = pieces.map((p) => Buffer.from(p));
      const out: Buffer[] = [];
      const polyKey = new ChaCha20Key(key).polyKeyAndXor(ivOf(0n, nonce), pieces, 4, out);
      const stream = Buffer.from(chacha20orig(key, nonce, Buffer.alloc(64 + length)));
      const what = `${length} in ${pieces.length}`;
      assert.equal(polyKey.toString("hex"), stream.subarray(0, 32).toString("hex"), what);
      const expected = Buffer.from(payload.map((b, i) => b ^ stream[64 + i]!));
      assert.equal(Buffer.concat(out).toString("hex"), expected.toString("hex"), what);
      assert.deepEqual(pieces, kept, "the pieces are left as they were");
    }
  }
});
