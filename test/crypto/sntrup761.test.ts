import { test } from "node:test";
import assert from "node:assert/strict";
import { createCipheriv, createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import {
  SNTRUP761_CIPHERTEXT_BYTES,
  SNTRUP761_PUBLIC_KEY_BYTES,
  SNTRUP761_SECRET_KEY_BYTES,
  SNTRUP761_SHARED_SECRET_BYTES,
  sntrup761Decapsulate,
  sntrup761Encapsulate,
  sntrup761KeyPair,
} from "../../src/crypto/sntrup761.js";
import { SshError } from "../../src/wire/errors.js";

/**
 * The AES-256-CTR DRBG of NIST's rng.c (randombytes_init / randombytes), which PQCgenKAT_kem uses
 * to make kat_kem.rsp. Every randombytes call ends with an Update, so the call pattern matters,
 * not just the byte count.
 */
class NistKatDrbg {
  private key = Buffer.alloc(32);
  private v = Buffer.alloc(16);

  constructor(entropy: Uint8Array) {
    this.update(entropy);
  }

  private incrementV(): void {
    for (let j = 15; j >= 0; j--) {
      if (this.v[j] === 0xff) this.v[j] = 0;
      else {
        this.v[j]!++;
        break;
      }
    }
  }

  private block(): Buffer {
    this.incrementV();
    const aes = createCipheriv("aes-256-ecb", this.key, null);
    aes.setAutoPadding(false);
    return aes.update(this.v);
  }

  private update(provided: Uint8Array | null): void {
    const temp = Buffer.concat([this.block(), this.block(), this.block()]);
    if (provided) for (let i = 0; i < 48; i++) temp[i]! ^= provided[i]!;
    this.key = temp.subarray(0, 32);
    this.v = Buffer.from(temp.subarray(32, 48));
  }

  randombytes(n: number): Uint8Array {
    const out = Buffer.alloc(n);
    for (let at = 0; at < n; at += 16) this.block().copy(out, at, 0, Math.min(16, n - at));
    this.update(null);
    return new Uint8Array(out);
  }
}

/** The master DRBG of PQCgenKAT_kem: entropy_input = 0, 1, ..., 47; each entry draws a 48-byte seed. */
function katSeeds(count: number): Uint8Array[] {
  const master = new NistKatDrbg(Uint8Array.from({ length: 48 }, (_, i) => i));
  return Array.from({ length: count }, () => master.randombytes(48));
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex").toUpperCase();
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "hex"));

interface KatEntry {
  count: number;
  seed: string;
  pk: string;
  sk: string;
  ct: string;
  ss: string;
}

function readKat(): KatEntry[] {
  // Compiled to dist/test/crypto/: the fixture stays in the source tree.
  const url = new URL("../../../test/fixtures/sntrup761/kat_kem_first3.rsp", import.meta.url);
  const entries: KatEntry[] = [];
  let current: Record<string, string> = {};
  for (const line of [...readFileSync(url, "utf8").split("\n"), ""]) {
    if (line.startsWith("#")) continue;
    const m = /^(\w+) = (\w+)$/.exec(line.trim());
    if (m) current[m[1]!] = m[2]!;
    else if (current["count"] !== undefined) {
      entries.push({ ...(current as unknown as KatEntry), count: Number(current["count"]) });
      current = {};
    }
  }
  return entries;
}

test("the NIST KAT DRBG gives the published first seed and the known first output for it", () => {
  const [seed0] = katSeeds(1);
  assert.equal(
    hex(seed0!),
    "061550234D158C5EC95595FE04EF7A25767F2E24CC2BC479D09D86DC9ABCFDE7056A8C266F9EF97ED08541DBD2E1FFA1",
  );
  // BouncyCastle's NISTSecureRandom check: 32 bytes from a DRBG seeded with seed 0.
  assert.equal(
    hex(new NistKatDrbg(seed0!).randombytes(32)),
    "7C9935A0B07694AA0C6D10E4DB6B1ADD2FD81A25CCB148032DCD739936737F2D",
  );
});

test("reproduces the NIST round-3 kat_kem.rsp entries 0-2 byte for byte", () => {
  const entries = readKat();
  assert.equal(entries.length, 3);
  const seeds = katSeeds(entries.length);
  for (const [i, e] of entries.entries()) {
    assert.equal(e.count, i);
    assert.equal(hex(seeds[i]!), e.seed, `seed of count ${i}`);
    const drbg = new NistKatDrbg(seeds[i]!);
    const random = (n: number): Uint8Array => drbg.randombytes(n);
    const { publicKey, secretKey } = sntrup761KeyPair(random);
    assert.equal(hex(publicKey), e.pk, `pk of count ${i}`);
    assert.equal(hex(secretKey), e.sk, `sk of count ${i}`);
    const { ciphertext, sharedSecret } = sntrup761Encapsulate(publicKey, random);
    assert.equal(hex(ciphertext), e.ct, `ct of count ${i}`);
    assert.equal(hex(sharedSecret), e.ss, `ss of count ${i}`);
    assert.equal(hex(sntrup761Decapsulate(unhex(e.ct), unhex(e.sk))), e.ss, `decapsulated ss of count ${i}`);
  }
});

test("matches PQClean's and liboqs's nistkat-sha256 for sntrup761 (bulk randomness variant)", () => {
  // supercop-20210604 and later, hence PQClean (crypto_kem/sntrup761/META.yml) and liboqs
  // (tests/KATs/kem/kats.json, "single"), draw the 761 words of Small_random/Short_random with one
  // randombytes(3044) call instead of 761 calls of 4 bytes. Same algorithm otherwise, so serving
  // our 4-byte requests from one 3044-byte DRBG call must give their hash of the count = 0 entry.
  const [seed] = katSeeds(1);
  const drbg = new NistKatDrbg(seed!);
  let words: Uint8Array = new Uint8Array(0);
  let at = 0;
  const random = (n: number): Uint8Array => {
    if (n !== 4) return drbg.randombytes(n);
    if (at === words.length) {
      words = drbg.randombytes(4 * 761);
      at = 0;
    }
    at += 4;
    return words.subarray(at - 4, at);
  };
  const { publicKey, secretKey } = sntrup761KeyPair(random);
  const { ciphertext, sharedSecret } = sntrup761Encapsulate(publicKey, random);
  assert.equal(at, words.length, "every batch of words was used up");
  const out =
    `count = 0\nseed = ${hex(seed!)}\npk = ${hex(publicKey)}\nsk = ${hex(secretKey)}\n` +
    `ct = ${hex(ciphertext)}\nss = ${hex(sharedSecret)}\n`;
  assert.equal(
    createHash("sha256").update(out).digest("hex"),
    "afc42c3a5b10f4ef69654250097ebda9b9564570f4086744b24a6daf2bd1f89a",
  );
});

test("random is called as the reference calls randombytes: 4 bytes a word, then rho", () => {
  const calls: number[] = [];
  const random = (n: number): Uint8Array => {
    calls.push(n);
    return randomBytes(n);
  };
  const { publicKey } = sntrup761KeyPair(random);
  const last = calls.pop();
  assert.equal(last, 191, "rho comes last");
  assert.ok(calls.every((n) => n === 4));
  assert.equal(calls.length % 761, 0, "whole attempts at g, then f");
  assert.ok(calls.length >= 2 * 761);
  calls.length = 0;
  sntrup761Encapsulate(publicKey, random);
  assert.deepEqual(calls, new Array<number>(761).fill(4));
});

test("sizes and 20 random key pairs agree on the shared secret", (t) => {
  const timings = { keygen: 0, encaps: 0, decaps: 0 };
  for (let i = 0; i < 20; i++) {
    let start = performance.now();
    const { publicKey, secretKey } = sntrup761KeyPair();
    timings.keygen += performance.now() - start;
    assert.equal(publicKey.length, SNTRUP761_PUBLIC_KEY_BYTES);
    assert.equal(secretKey.length, SNTRUP761_SECRET_KEY_BYTES);
    start = performance.now();
    const { ciphertext, sharedSecret } = sntrup761Encapsulate(publicKey);
    timings.encaps += performance.now() - start;
    assert.equal(ciphertext.length, SNTRUP761_CIPHERTEXT_BYTES);
    assert.equal(sharedSecret.length, SNTRUP761_SHARED_SECRET_BYTES);
    start = performance.now();
    const decapsulated = sntrup761Decapsulate(ciphertext, secretKey);
    timings.decaps += performance.now() - start;
    assert.deepEqual(decapsulated, sharedSecret);
  }
  t.diagnostic(
    `mean over 20, JIT warming up: keygen ${(timings.keygen / 20).toFixed(1)} ms, ` +
      `encaps ${(timings.encaps / 20).toFixed(1)} ms, decaps ${(timings.decaps / 20).toFixed(1)} ms`,
  );
});

/** The implicit-rejection key of the round-3 spec: Hash0(Hash3(rho) || ciphertext). */
function rejectionKey(secretKey: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  const h = (prefix: number, ...parts: Uint8Array[]): Buffer => {
    const hash = createHash("sha512").update(Uint8Array.of(prefix));
    for (const part of parts) hash.update(part);
    return hash.digest().subarray(0, 32);
  };
  const rho = secretKey.subarray(382 + 1158, 382 + 1158 + 191);
  return new Uint8Array(h(0, h(3, rho), ciphertext));
}

test("a modified ciphertext decapsulates, without throwing, to the implicit-rejection key", () => {
  const { publicKey, secretKey } = sntrup761KeyPair();
  const { ciphertext, sharedSecret } = sntrup761Encapsulate(publicKey);
  for (const at of [0, 500, 1006, 1007, 1038]) {
    // 1007 and beyond is the confirmation hash: a changed hash alone must be caught too.
    const tampered = Uint8Array.from(ciphertext);
    tampered[at]! ^= 0x01;
    const k = sntrup761Decapsulate(tampered, secretKey);
    assert.equal(k.length, 32);
    assert.notDeepEqual(k, sharedSecret, `byte ${at}`);
    assert.deepEqual(k, rejectionKey(secretKey, tampered), `byte ${at}`);
  }
  // Garbage of the right length, including non-canonical encodings, is handled the same way.
  const garbage = new Uint8Array(SNTRUP761_CIPHERTEXT_BYTES).fill(0xff);
  assert.deepEqual(sntrup761Decapsulate(garbage, secretKey), rejectionKey(secretKey, garbage));
  // And a key of another pair gives the rejection key of this one.
  const other = sntrup761KeyPair();
  assert.deepEqual(
    sntrup761Decapsulate(ciphertext, other.secretKey),
    rejectionKey(other.secretKey, ciphertext),
  );
});

test("input of the wrong length throws SshError MALFORMED", () => {
  const { publicKey, secretKey } = sntrup761KeyPair();
  const { ciphertext } = sntrup761Encapsulate(publicKey);
  const malformed = (e: unknown): boolean => e instanceof SshError && e.code === "MALFORMED";
  assert.throws(() => sntrup761Encapsulate(publicKey.subarray(1)), malformed);
  assert.throws(() => sntrup761Encapsulate(new Uint8Array(1159)), malformed);
  assert.throws(() => sntrup761Encapsulate(new Uint8Array(0)), malformed);
  assert.throws(() => sntrup761Decapsulate(ciphertext.subarray(1), secretKey), malformed);
  assert.throws(() => sntrup761Decapsulate(new Uint8Array(1040), secretKey), malformed);
  assert.throws(() => sntrup761Decapsulate(ciphertext, secretKey.subarray(1)), malformed);
  assert.throws(() => sntrup761Decapsulate(ciphertext, publicKey), /secret key must be 1763 bytes/);
  assert.throws(() => sntrup761Encapsulate("not bytes" as unknown as Uint8Array), malformed);
});

test("a random source that returns too few bytes is refused", () => {
  assert.throws(() => sntrup761KeyPair(() => new Uint8Array(2)), /random source returned 2 bytes/);
});

/** A random source that answers 4-byte requests with `word` (little-endian) `count` times, then randomly. */
function wordsThenRandom(
  word: number,
  count: number,
): { random: (n: number) => Uint8Array; calls: number[] } {
  const calls: number[] = [];
  const random = (n: number): Uint8Array => {
    calls.push(n);
    if (n !== 4 || calls.length > count) return randomBytes(n);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, word, true);
    return b;
  };
  return { random, calls };
}

test("a g that is not invertible mod 3 is drawn again, and the key pair still works", () => {
  // ((0x20000000 mod 2^30) * 3) >> 30 = 1: every coefficient of the first g is 0, which has no inverse.
  const { random, calls } = wordsThenRandom(0x20000000, 761);
  const { publicKey, secretKey } = sntrup761KeyPair(random);
  assert.equal(calls.length, 3 * 761 + 1, "one more attempt at g, then f and rho");
  const { ciphertext, sharedSecret } = sntrup761Encapsulate(publicKey);
  assert.deepEqual(sntrup761Decapsulate(ciphertext, secretKey), sharedSecret);
});

test("extreme random words (all zeros, all ones, around 2^31) still give a short r that decapsulates", () => {
  // The sort of Short_random compares 32-bit words; equal and extreme ones must not break its weight.
  const { publicKey, secretKey } = sntrup761KeyPair();
  for (const word of [0, 0xffffffff, 0x7fffffff, 0x80000000]) {
    const { random } = wordsThenRandom(word, 761);
    const { ciphertext, sharedSecret } = sntrup761Encapsulate(publicKey, random);
    assert.deepEqual(sntrup761Decapsulate(ciphertext, secretKey), sharedSecret, `word ${word}`);
  }
  const mixed = (n: number): Uint8Array => {
    const pick = [0, 0xffffffff, 0x7fffffff, 0x80000000][randomBytes(1)[0]! & 3]!;
    const b = new Uint8Array(n);
    new DataView(b.buffer).setUint32(0, pick, true);
    return b;
  };
  const { ciphertext, sharedSecret } = sntrup761Encapsulate(publicKey, mixed);
  assert.deepEqual(sntrup761Decapsulate(ciphertext, secretKey), sharedSecret, "mixed extremes");
});

test("a public key of garbage bytes (non-canonical encoding) encapsulates without throwing", () => {
  for (const fill of [0x00, 0xff]) {
    const { ciphertext, sharedSecret } = sntrup761Encapsulate(new Uint8Array(1158).fill(fill));
    assert.equal(ciphertext.length, 1039);
    assert.equal(sharedSecret.length, 32);
  }
});
