/**
 * The polynomial part of sntrup761 (sampling, the R3 and Rq reciprocals, the products, the encodings),
 * in WebAssembly built from wasm/sntrup761.c: in a fresh process the JavaScript version cost some 55 ms
 * of CPU a key exchange, mostly key generation's two reciprocals and JIT warm-up. The module is compiled
 * on first use; calls are synchronous and share one instance, and each ends by zeroing the module's stack
 * and buffers (../secretWasm.ts): f, g, 1/g, r and the secret key pass through them.
 */
import { SNTRUP761_SCALAR_WASM_BASE64, SNTRUP761_WASM_BASE64 } from "../sntrup761Wasm.js";
import { instantiateSecretWasm, type SecretWasm, type SecretWasmExports } from "../secretWasm.js";
import { wasmHasSimd } from "../wasmSimd.js";
import { P, ROUNDED_BYTES, RQ_BYTES, SMALL_BYTES } from "./params.js";

interface Sntrup761Exports extends SecretWasmExports {
  keygen_attempt(g: number, ginv: number, words: number): number;
  keygen_finish(pk: number, f: number, g: number, words: number): void;
  encapsulate(ct: number, rEnc: number, pk: number, words: number): void;
  decapsulate(again: number, rEnc: number, ct: number, sk: number): void;
}

/** Where a call writes the 4p bytes of 32-bit little-endian words it samples from. */
export type FillWords = (target: Uint8Array) => void;

/** The secret key's head as KeyGen computes it: Small_encode(f) || Small_encode(1/g) || Rq_encode(h). */
export const KEY_HEAD_BYTES = 2 * SMALL_BYTES + RQ_BYTES;

const WORD_BYTES = 4 * P;

/**
 * The buffers above __heap_base. `key` is the key head f || 1/g || pk: written by keygen, read by
 * encapsulation (pk) and decapsulation.
 */
const BUFFERS = {
  words: WORD_BYTES,
  g: P,
  key: KEY_HEAD_BYTES,
  ct: ROUNDED_BYTES,
  rEnc: SMALL_BYTES,
};

/** One instance of the module and the buffers laid out in its memory. */
export type Kernel = SecretWasm<Sntrup761Exports, keyof typeof BUFFERS>;

let kernel: Kernel | undefined;

function load(): Kernel {
  kernel = instantiateKernel(wasmHasSimd() ? SNTRUP761_WASM_BASE64 : SNTRUP761_SCALAR_WASM_BASE64);
  return kernel;
}

/** An instance of one build (the SIMD or the scalar one, as base64); load() picks the process's. */
export function instantiateKernel(base64: string): Kernel {
  return instantiateSecretWasm<Sntrup761Exports, keyof typeof BUFFERS>("sntrup761", base64, BUFFERS);
}

/**
 * KeyGen's polynomial part: draws g from `fillWords` until g is invertible in R3, then f; returns
 * f || 1/g || pk encoded (KEY_HEAD_BYTES; pk is the last RQ_BYTES).
 */
export function keyHead(fillWords: FillWords, k: Kernel = kernel ?? load()): Uint8Array {
  const { words, g, key } = k.at;
  return k.run(() => {
    const wordBuffer = k.memory.subarray(words, words + WORD_BYTES);
    do fillWords(wordBuffer);
    while (k.wasm.keygen_attempt(g, key + SMALL_BYTES, words) !== 0);
    fillWords(wordBuffer);
    k.wasm.keygen_finish(key + 2 * SMALL_BYTES, key, g, words);
    return k.memory.slice(key, key + KEY_HEAD_BYTES);
  });
}

/**
 * Encrypt with a short r drawn from `fillWords`: returns Round_and_encode(h*r) for the public key pk
 * (ROUNDED_BYTES) and Small_encode(r).
 */
export function encrypt(
  publicKey: Uint8Array,
  fillWords: FillWords,
  k: Kernel = kernel ?? load(),
): { rounded: Uint8Array; rEnc: Uint8Array } {
  const { words, key, ct, rEnc } = k.at;
  return k.run(() => {
    fillWords(k.memory.subarray(words, words + WORD_BYTES));
    k.memory.set(publicKey, key);
    k.wasm.encapsulate(ct, rEnc, key, words);
    return {
      rounded: k.memory.slice(ct, ct + ROUNDED_BYTES),
      rEnc: k.memory.slice(rEnc, rEnc + SMALL_BYTES),
    };
  });
}

/**
 * Decrypt the rounded part of a ciphertext with the secret key (f || 1/g || pk || ...), then encrypt
 * the result again: returns the new rounded part and Small_encode(r), for the caller's comparison.
 */
export function decryptAndReencrypt(
  rounded: Uint8Array,
  secretKey: Uint8Array,
  k: Kernel = kernel ?? load(),
): { again: Uint8Array; rEnc: Uint8Array } {
  const { words, key, ct, rEnc } = k.at;
  return k.run(() => {
    k.memory.set(secretKey.subarray(0, KEY_HEAD_BYTES), key);
    // The ciphertext goes where encapsulate writes its own; "again" is written to the words buffer.
    k.memory.set(rounded.subarray(0, ROUNDED_BYTES), ct);
    k.wasm.decapsulate(words, rEnc, ct, key);
    return {
      again: k.memory.slice(words, words + ROUNDED_BYTES),
      rEnc: k.memory.slice(rEnc, rEnc + SMALL_BYTES),
    };
  });
}
