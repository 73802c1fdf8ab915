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
 * The module is compiled on first use; calls are synchronous and share one instance, and each ends by
 * zeroing the module's stack and buffers (./secretWasm.ts). The randomness (d, z and m) is the caller's.
 */
import { SshError } from "../wire/errors.js";
import { MLKEM768_WASM_BASE64 } from "./mlkem768Wasm.js";
import {
  checkInputLength,
  instantiateSecretWasm,
  type SecretWasm,
  type SecretWasmExports,
} from "./secretWasm.js";

export const MLKEM768_SEED_BYTES = 64; // d || z
export const MLKEM768_MESSAGE_BYTES = 32; // m
export const MLKEM768_PUBLIC_KEY_BYTES = 1184; // ek
export const MLKEM768_SECRET_KEY_BYTES = 2400; // dk = dk_PKE || ek || H(ek) || z
export const MLKEM768_CIPHERTEXT_BYTES = 1088; // c
export const MLKEM768_SHARED_SECRET_BYTES = 32; // K

interface MlKem768Exports extends SecretWasmExports {
  keygen(ek: number, dk: number, seed: number): void;
  encapsulate(ct: number, shared: number, ek: number, m: number): number;
  decapsulate(shared: number, dk: number, ct: number): number;
}

/** The buffers above __heap_base. */
const BUFFERS = {
  seed: MLKEM768_SEED_BYTES,
  ek: MLKEM768_PUBLIC_KEY_BYTES,
  dk: MLKEM768_SECRET_KEY_BYTES,
  ct: MLKEM768_CIPHERTEXT_BYTES,
  message: MLKEM768_MESSAGE_BYTES,
  shared: MLKEM768_SHARED_SECRET_BYTES,
};

let kernel: SecretWasm<MlKem768Exports, keyof typeof BUFFERS> | undefined;

/** Run one call of the module (compiled on first use), which wipes it after (./secretWasm.ts). */
function withKernel<T>(f: (k: SecretWasm<MlKem768Exports, keyof typeof BUFFERS>) => T): T {
  const k = (kernel ??= instantiateSecretWasm("ML-KEM-768", MLKEM768_WASM_BASE64, BUFFERS));
  return k.run(() => f(k));
}

/** ML-KEM.KeyGen_internal(d, z) (FIPS 203 Algorithm 16), from the 64-byte seed d || z. */
export function mlkem768KeyPair(seed: Uint8Array): { publicKey: Uint8Array; secretKey: Uint8Array } {
  checkInputLength("ML-KEM-768", "seed d || z", seed, MLKEM768_SEED_BYTES);
  return withKernel((k) => {
    k.memory.set(seed, k.at.seed);
    k.wasm.keygen(k.at.ek, k.at.dk, k.at.seed);
    return {
      publicKey: k.memory.slice(k.at.ek, k.at.ek + MLKEM768_PUBLIC_KEY_BYTES),
      secretKey: k.memory.slice(k.at.dk, k.at.dk + MLKEM768_SECRET_KEY_BYTES),
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
  checkInputLength("ML-KEM-768", "encapsulation key", publicKey, MLKEM768_PUBLIC_KEY_BYTES);
  checkInputLength("ML-KEM-768", "message m", message, MLKEM768_MESSAGE_BYTES);
  return withKernel((k) => {
    k.memory.set(publicKey, k.at.ek);
    k.memory.set(message, k.at.message);
    if (k.wasm.encapsulate(k.at.ct, k.at.shared, k.at.ek, k.at.message) !== 0) {
      throw new SshError(
        "MALFORMED",
        "ML-KEM-768 encapsulation key has a coefficient not below q (FIPS 203 §7.2)",
      );
    }
    return {
      ciphertext: k.memory.slice(k.at.ct, k.at.ct + MLKEM768_CIPHERTEXT_BYTES),
      sharedSecret: k.memory.slice(k.at.shared, k.at.shared + MLKEM768_SHARED_SECRET_BYTES),
    };
  });
}

/**
 * ML-KEM.Decaps_internal(dk, c) (Algorithm 18): the shared secret, or for a ciphertext that does not
 * re-encrypt to itself the implicit-rejection secret J(z || c), never an error. Throws
 * SshError("MALFORMED") for a decapsulation key whose H(ek) does not match (FIPS 203 §7.3).
 */
export function mlkem768Decapsulate(ciphertext: Uint8Array, secretKey: Uint8Array): Uint8Array {
  checkInputLength("ML-KEM-768", "ciphertext", ciphertext, MLKEM768_CIPHERTEXT_BYTES);
  checkInputLength("ML-KEM-768", "decapsulation key", secretKey, MLKEM768_SECRET_KEY_BYTES);
  return withKernel((k) => {
    k.memory.set(secretKey, k.at.dk);
    k.memory.set(ciphertext, k.at.ct);
    if (k.wasm.decapsulate(k.at.shared, k.at.dk, k.at.ct) !== 0) {
      throw new SshError("MALFORMED", "ML-KEM-768 decapsulation key fails its H(ek) check (FIPS 203 §7.3)");
    }
    return k.memory.slice(k.at.shared, k.at.shared + MLKEM768_SHARED_SECRET_BYTES);
  });
}
