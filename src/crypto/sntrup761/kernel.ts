/**
 * The polynomial part of sntrup761 (sampling, the R3 and Rq reciprocals, the products, the encodings),
 * in WebAssembly built from wasm/sntrup761.c: in a fresh process the JavaScript version cost some 55 ms
 * of CPU a key exchange, mostly key generation's two reciprocals and JIT warm-up. The module is compiled
 * on first use; calls are synchronous and share one instance. Its memory never grows: the C code keeps
 * all scratch on its stack (from __data_end up to __heap_base) and reads and writes the buffers laid out
 * here above __heap_base, and every call ends by zeroing both, so no secret outlives the call.
 */
import { SNTRUP761_SCALAR_WASM_BASE64, SNTRUP761_WASM_BASE64 } from "../sntrup761Wasm.js";
import { P, ROUNDED_BYTES, RQ_BYTES, SMALL_BYTES } from "./params.js";

interface Sntrup761Exports {
  memory: WebAssembly.Memory;
  __data_end: WebAssembly.Global;
  __heap_base: WebAssembly.Global;
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

/** One instance of the module and the buffers laid out in its memory. */
export interface Kernel {
  wasm: Sntrup761Exports;
  memory: Uint8Array;
  stackStart: number;
  words: number;
  g: number;
  /** The key head f || 1/g || pk: written by keygen, read by encapsulation (pk) and decapsulation. */
  key: number;
  ct: number;
  rEnc: number;
  end: number;
}

let kernel: Kernel | undefined;

/**
 * A module of one function holding a v128.const: V8 has WebAssembly SIMD in every Node nssh supports, but
 * leaves it out on an x64 CPU without SSE4.1. Validating these 43 bytes costs microseconds; validating the
 * whole module, half a millisecond that compiling it would spend again.
 */
const SIMD_PROBE = "AGFzbQEAAAABBAFgAAADAgEAChcBFQD9DAAAAAAAAAAAAAAAAAAAAAAaCw==";

function load(): Kernel {
  const simd = WebAssembly.validate(Buffer.from(SIMD_PROBE, "base64"));
  kernel = instantiateKernel(simd ? SNTRUP761_WASM_BASE64 : SNTRUP761_SCALAR_WASM_BASE64);
  return kernel;
}

/** An instance of one build (the SIMD or the scalar one, as base64); load() picks the process's. */
export function instantiateKernel(base64: string): Kernel {
  const bytes = Buffer.from(base64, "base64");
  const wasm = new WebAssembly.Instance(new WebAssembly.Module(bytes), {})
    .exports as unknown as Sntrup761Exports;
  const words = wasm.__heap_base.value as number;
  const g = words + WORD_BYTES;
  const key = g + P;
  const ct = key + KEY_HEAD_BYTES;
  const rEnc = ct + ROUNDED_BYTES;
  const end = rEnc + SMALL_BYTES;
  const memory = new Uint8Array(wasm.memory.buffer);
  if (end > memory.length) throw new Error("sntrup761: WebAssembly memory too small for its buffers");
  return { wasm, memory, stackStart: wasm.__data_end.value as number, words, g, key, ct, rEnc, end };
}

/** Zeroes the module's stack and the buffers: secrets (f, g, 1/g, r, the secret key) passed through both. */
function wipe(k: Kernel): void {
  k.memory.fill(0, k.stackStart, k.end);
}

/**
 * KeyGen's polynomial part: draws g from `fillWords` until g is invertible in R3, then f; returns
 * f || 1/g || pk encoded (KEY_HEAD_BYTES; pk is the last RQ_BYTES).
 */
export function keyHead(fillWords: FillWords, k: Kernel = kernel ?? load()): Uint8Array {
  try {
    const words = k.memory.subarray(k.words, k.words + WORD_BYTES);
    do fillWords(words);
    while (k.wasm.keygen_attempt(k.g, k.key + SMALL_BYTES, k.words) !== 0);
    fillWords(words);
    k.wasm.keygen_finish(k.key + 2 * SMALL_BYTES, k.key, k.g, k.words);
    return k.memory.slice(k.key, k.key + KEY_HEAD_BYTES);
  } finally {
    wipe(k);
  }
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
  try {
    fillWords(k.memory.subarray(k.words, k.words + WORD_BYTES));
    k.memory.set(publicKey, k.key);
    k.wasm.encapsulate(k.ct, k.rEnc, k.key, k.words);
    return {
      rounded: k.memory.slice(k.ct, k.ct + ROUNDED_BYTES),
      rEnc: k.memory.slice(k.rEnc, k.rEnc + SMALL_BYTES),
    };
  } finally {
    wipe(k);
  }
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
  try {
    k.memory.set(secretKey.subarray(0, KEY_HEAD_BYTES), k.key);
    // The ciphertext goes where encapsulate writes its own; "again" is written to the words buffer.
    k.memory.set(rounded.subarray(0, ROUNDED_BYTES), k.ct);
    k.wasm.decapsulate(k.words, k.rEnc, k.ct, k.key);
    return {
      again: k.memory.slice(k.words, k.words + ROUNDED_BYTES),
      rEnc: k.memory.slice(k.rEnc, k.rEnc + SMALL_BYTES),
    };
  } finally {
    wipe(k);
  }
}
