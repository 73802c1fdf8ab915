/**
 * Random small and short polynomials exactly as the round-3 reference draws them (kem.c
 * "Small_random", "Short_random"), so that a NIST KAT DRBG plugged in as `random` reproduces the
 * published vectors: one randombytes(4) call per 32-bit little-endian word ("urandom32").
 */
import { randomBytes } from "node:crypto";

import { P, W } from "./params.js";

/** Caller-supplied randomness: returns n fresh bytes. */
export type RandomSource = (n: number) => Uint8Array;

export function randomExact(random: RandomSource, n: number): Uint8Array {
  const bytes = random(n);
  if (!(bytes instanceof Uint8Array) || bytes.length < n) {
    throw new Error(`sntrup761: random source returned ${bytes?.length} bytes, ${n} wanted`);
  }
  return bytes.length === n ? bytes : bytes.subarray(0, n);
}

/**
 * count words, each from its own random(4) call when a source is given (the reference's call
 * pattern), or from one randomBytes call otherwise (same distribution, far fewer syscalls).
 */
function randomWords(random: RandomSource | undefined, count: number): Uint32Array {
  const words = new Uint32Array(count);
  if (random === undefined) {
    const b = randomBytes(4 * count);
    for (let i = 0; i < count; i++) words[i] = b.readUInt32LE(4 * i);
    return words;
  }
  for (let i = 0; i < count; i++) {
    const c = randomExact(random, 4);
    words[i] = (c[0]! | (c[1]! << 8) | (c[2]! << 16) | (c[3]! << 24)) >>> 0;
  }
  return words;
}

/** Small_random: each coefficient ((L mod 2^30) * 3 >> 30) - 1, uniform enough in {-1,0,1}. */
export function smallRandom(random: RandomSource | undefined): Int8Array {
  const L = randomWords(random, P);
  const out = new Int8Array(P);
  for (let i = 0; i < P; i++) out[i] = (((L[i]! & 0x3fffffff) * 3) >>> 30) - 1;
  return out;
}

/**
 * Short_random: w words marked ±1 (low bits x0 or x2) and p-w marked 0 (low bits 01), then sorted
 * by value so the marks land in random places. The sort is a fixed network, so its sequence of
 * steps does not depend on the secret values.
 */
export function shortRandom(random: RandomSource | undefined): Int8Array {
  const L = randomWords(random, P);
  for (let i = 0; i < W; i++) L[i] = L[i]! & ~1;
  for (let i = W; i < P; i++) L[i] = (L[i]! & ~3) | 1;
  sortUint32(L);
  const out = new Int8Array(P);
  for (let i = 0; i < P; i++) out[i] = (L[i]! & 3) - 1;
  return out;
}

/**
 * Batcher's merge-exchange sort (Knuth, TAOCP vol. 3, §5.2.2, Algorithm M) for any length, with a
 * branch-free compare-exchange. The sorted result is unique, so it equals the reference's djbsort.
 * As in the reference, the words are mapped to int32 (top bit flipped, which keeps their order)
 * and compared with int32 arithmetic only; Math.floor and friends compile to branches in V8.
 */
export function sortUint32(x: Uint32Array): void {
  const n = x.length;
  if (n < 2) return;
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) y[i] = x[i]! ^ 0x80000000;
  let t = 0;
  while (1 << t < n) t++;
  for (let p = 1 << (t - 1); p > 0; p >>= 1) {
    let q = 1 << (t - 1);
    let r = 0;
    let d = p;
    for (;;) {
      for (let i = 0; i < n - d; i++) {
        if ((i & p) !== r) continue; // depends on indices only
        const a = y[i]!;
        const b = y[i + d]!;
        const ab = a ^ b;
        let c = (b - a) | 0; // wraps like the reference's int32 arithmetic
        c ^= ab & (c ^ b); // corrects the sign when b - a overflowed
        c = (c >> 31) & ab; // a ^ b when b < a, else 0
        y[i] = a ^ c;
        y[i + d] = b ^ c;
      }
      if (q === p) break;
      d = q - p;
      q >>= 1;
      r = p;
    }
  }
  for (let i = 0; i < n; i++) x[i] = y[i]! ^ 0x80000000;
}
