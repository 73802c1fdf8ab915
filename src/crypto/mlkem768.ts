/**
 * ML-KEM-768 (FIPS 203) for the mlkem768x25519-sha256 key exchange, in WebAssembly built from
 * wasm/mlkem768.c: KeyGen_internal(d, z), Encaps_internal(ek, m) and Decaps_internal(dk, c), byte for
 * byte as NIST's ACVP vectors and @noble/post-quantum (which the tests check it against) compute them.
 *
 * Why not @noble/post-quantum itself: in a fresh process its JavaScript ran cold, and a client's key
 * generation and decapsulation cost some 100 ms of CPU (loading ~25 ms, key generation 40-65 ms,
 * decapsulation ~10-25 ms): every nssh, nscp and nsftp run against a server that prefers ML-KEM paid
 * it, as did each new pre-auth worker of nsshd. The module compiles in about a millisecond and each
 * call takes well under one.
 *
 * The module is compiled on first use; calls are synchronous and share one instance. Its memory never
 * grows: the C code keeps all scratch on its stack (from __data_end up to __heap_base) and reads and
 * writes the buffers laid out here above __heap_base, and every call ends by zeroing both, so no secret
 * outlives the call. The randomness (d, z and m) is the caller's.
 */
import { SshError } from "../wire/errors.js";
import { MLKEM768_WASM_BASE64 } from "./mlkem768Wasm.js";

export const MLKEM768_SEED_BYTES = 64; // d || z
export const MLKEM768_MESSAGE_BYTES = 32; // m
export const MLKEM768_PUBLIC_KEY_BYTES = 1184; // ek
export const MLKEM768_SECRET_KEY_BYTES = 2400; // dk = dk_PKE || ek || H(ek) || z
export const MLKEM768_CIPHERTEXT_BYTES = 1088; // c
export const MLKEM768_SHARED_SECRET_BYTES = 32; // K

interface MlKem768Exports {
  memory: WebAssembly.Memory;
  __data_end: WebAssembly.Global;
  __heap_base: WebAssembly.Global;
  keygen(ek: number, dk: number, seed: number): void;
  encapsulate(ct: number, shared: number, ek: number, m: number): number;
  decapsulate(shared: number, dk: number, ct: number): number;
}

interface Kernel {
  wasm: MlKem768Exports;
  memory: Uint8Array;
  stackStart: number;
  seed: number;
  ek: number;
  dk: number;
  ct: number;
  message: number;
  shared: number;
  end: number;
}

let kernel: Kernel | undefined;

function load(): Kernel {
  const bytes = Buffer.from(MLKEM768_WASM_BASE64, "base64");
  const wasm = new WebAssembly.Instance(new WebAssembly.Module(bytes), {})
    .exports as unknown as MlKem768Exports;
  const seed = wasm.__heap_base.value as number;
  const ek = seed + MLKEM768_SEED_BYTES;
  const dk = ek + MLKEM768_PUBLIC_KEY_BYTES;
  const ct = dk + MLKEM768_SECRET_KEY_BYTES;
  const message = ct + MLKEM768_CIPHERTEXT_BYTES;
  const shared = message + MLKEM768_MESSAGE_BYTES;
  const end = shared + MLKEM768_SHARED_SECRET_BYTES;
  const memory = new Uint8Array(wasm.memory.buffer);
  if (end > memory.length) throw new Error("ML-KEM-768: WebAssembly memory too small for its buffers");
  kernel = {
    wasm,
    memory,
    stackStart: wasm.__data_end.value as number,
    seed,
    ek,
    dk,
    ct,
    message,
    shared,
    end,
  };
  return kernel;
}

/**
 * Run one call of the module: `f` copies its inputs in, calls, and copies its results out (slice());
 * then the module's stack and buffers are zeroed, whatever happened: seeds, secret keys and messages
 * passed through both.
 */
function withKernel<T>(f: (k: Kernel) => T): T {
  const k = kernel ?? load();
  try {
    return f(k);
  } finally {
    k.memory.fill(0, k.stackStart, k.end);
  }
}

function checkLength(what: string, value: Uint8Array, expected: number): void {
  if (!(value instanceof Uint8Array) || value.length !== expected) {
    const got = value instanceof Uint8Array ? `${value.length} bytes` : typeof value;
    throw new SshError("MALFORMED", `ML-KEM-768 ${what} must be ${expected} bytes, got ${got}`);
  }
}

/** ML-KEM.KeyGen_internal(d, z) (FIPS 203 Algorithm 16), from the 64-byte seed d || z. */
export function mlkem768KeyPair(seed: Uint8Array): { publicKey: Uint8Array; secretKey: Uint8Array } {
  checkLength("seed d || z", seed, MLKEM768_SEED_BYTES);
  return withKernel((k) => {
    k.memory.set(seed, k.seed);
    k.wasm.keygen(k.ek, k.dk, k.seed);
    return {
      publicKey: k.memory.slice(k.ek, k.ek + MLKEM768_PUBLIC_KEY_BYTES),
      secretKey: k.memory.slice(k.dk, k.dk + MLKEM768_SECRET_KEY_BYTES),
    };
  });
}

/**
 * ML-KEM.Encaps_internal(ek, m) (Algorithm 17) with the 32-byte message m. Throws SshError("MALFORMED")
 * for a key that fails the encapsulation key check of FIPS 203 §7.2 (a coefficient not below q).
 */
export function mlkem768Encapsulate(
  publicKey: Uint8Array,
  message: Uint8Array,
): { ciphertext: Uint8Array; sharedSecret: Uint8Array } {
  checkLength("encapsulation key", publicKey, MLKEM768_PUBLIC_KEY_BYTES);
  checkLength("message m", message, MLKEM768_MESSAGE_BYTES);
  return withKernel((k) => {
    k.memory.set(publicKey, k.ek);
    k.memory.set(message, k.message);
    if (k.wasm.encapsulate(k.ct, k.shared, k.ek, k.message) !== 0) {
      throw new SshError(
        "MALFORMED",
        "ML-KEM-768 encapsulation key has a coefficient not below q (FIPS 203 §7.2)",
      );
    }
    return {
      ciphertext: k.memory.slice(k.ct, k.ct + MLKEM768_CIPHERTEXT_BYTES),
      sharedSecret: k.memory.slice(k.shared, k.shared + MLKEM768_SHARED_SECRET_BYTES),
    };
  });
}

/**
 * ML-KEM.Decaps_internal(dk, c) (Algorithm 18): the shared secret, or for a ciphertext that does not
 * re-encrypt to itself the implicit-rejection secret J(z || c), never an error. Throws
 * SshError("MALFORMED") for a decapsulation key whose H(ek) does not match (FIPS 203 §7.3).
 */
export function mlkem768Decapsulate(ciphertext: Uint8Array, secretKey: Uint8Array): Uint8Array {
  checkLength("ciphertext", ciphertext, MLKEM768_CIPHERTEXT_BYTES);
  checkLength("decapsulation key", secretKey, MLKEM768_SECRET_KEY_BYTES);
  return withKernel((k) => {
    k.memory.set(secretKey, k.dk);
    k.memory.set(ciphertext, k.ct);
    if (k.wasm.decapsulate(k.shared, k.dk, k.ct) !== 0) {
      throw new SshError("MALFORMED", "ML-KEM-768 decapsulation key fails its H(ek) check (FIPS 203 §7.3)");
    }
    return k.memory.slice(k.shared, k.shared + MLKEM768_SHARED_SECRET_BYTES);
  });
}
