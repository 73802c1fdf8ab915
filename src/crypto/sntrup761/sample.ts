/**
 * Where sntrup761 draws its randomness. The sampling itself (Small_random, Short_random) runs in the
 * WebAssembly kernel, from 761 32-bit little-endian words written here into its memory. A caller-supplied
 * source is called exactly as the round-3 reference (kem.c) calls randombytes, once for 4 bytes a word
 * ("urandom32"), so that a NIST KAT DRBG plugged in reproduces the published vectors.
 */
import { randomFillSync } from "node:crypto";

import type { FillWords } from "./kernel.js";

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
 * Fills a buffer of words: from its own random(4) call each when a source is given (the reference's
 * call pattern), or with one randomFillSync otherwise (same distribution, one system call).
 */
export function wordFiller(random: RandomSource | undefined): FillWords {
  if (random === undefined) return (target) => randomFillSync(target);
  return (target) => {
    for (let at = 0; at < target.length; at += 4) target.set(randomExact(random, 4), at);
  };
}
