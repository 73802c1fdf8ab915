/**
 * ChaCha20 with DJB's layout (64-bit counter, 64-bit nonce; the 16-byte IV is counter LE || nonce, as for
 * OpenSSL's "chacha20"), for chacha20-poly1305@openssh.com. Short inputs run in WebAssembly
 * (wasm/chacha20.c): Node's cipher needs a new object for every packet, since the nonce is the sequence
 * number, and making one costs several times what the module takes for a length field, a Poly1305 key or
 * a payload of a few blocks (most packets of a login, every keystroke of a shell). Long inputs go to
 * OpenSSL, whose vector code outruns the scalar module once the object is paid for.
 *
 * The module is compiled on first use; each call wipes its stack and buffers, key included
 * (./secretWasm.ts).
 */
import { createCipheriv, createSecretKey, type Cipher, type KeyObject } from "node:crypto";
import { CHACHA20_WASM_BASE64 } from "./chacha20Wasm.js";
import {
  checkInputLength,
  instantiateSecretWasm,
  type SecretWasm,
  type SecretWasmExports,
} from "./secretWasm.js";

/**
 * The longest input the module takes. It runs at about 0.27 GB/s here against OpenSSL's several GB/s, so
 * past 2 KiB a new OpenSSL cipher object (4-5 us) costs no more than the module; below 1 KiB the module
 * takes 0.7-3.7 us where OpenSSL takes 4-5.
 */
export const CHACHA20_WASM_MAX_BYTES = 1024;

interface ChaCha20Exports extends SecretWasmExports {
  chacha20_xor(out: number, input: number, len: number, key: number, iv: number): void;
}

const BUFFERS = { key: 32, iv: 16, data: CHACHA20_WASM_MAX_BYTES };

let kernel: SecretWasm<ChaCha20Exports, keyof typeof BUFFERS> | undefined;

/** `input` XOR ChaCha20(key, iv), in the module: `input` is at most CHACHA20_WASM_MAX_BYTES long. */
function chacha20XorSmall(key: Uint8Array, iv: Uint8Array, input: Uint8Array): Buffer {
  const k = (kernel ??= instantiateSecretWasm("ChaCha20", CHACHA20_WASM_BASE64, BUFFERS));
  return k.run(() => {
    const { memory, at } = k;
    memory.set(key, at.key);
    memory.set(iv, at.iv);
    memory.set(input, at.data);
    k.wasm.chacha20_xor(at.data, at.data, input.length, at.key, at.iv);
    return Buffer.from(memory.subarray(at.data, at.data + input.length));
  });
}

/** A ChaCha20 key, raw for the module and as a KeyObject for OpenSSL (made on the first long input). */
export class ChaCha20Key {
  private readonly raw: Buffer;
  private keyObject: KeyObject | undefined;

  constructor(key: Uint8Array) {
    checkInputLength("ChaCha20", "key", key, 32);
    // A buffer of its own, not a slice of Node's shared pool.
    this.raw = Buffer.allocUnsafeSlow(32);
    this.raw.set(key);
  }

  /** The key's bytes (a transport's exported state carries them to another process). */
  bytes(): Buffer {
    return Buffer.from(this.raw);
  }

  /** `input` XOR the keystream from `iv` (16 bytes: counter LE || nonce), as a new buffer. */
  xor(iv: Uint8Array, input: Uint8Array): Buffer {
    checkInputLength("ChaCha20", "IV", iv, 16);
    if (input.length <= CHACHA20_WASM_MAX_BYTES) return chacha20XorSmall(this.raw, iv, input);
    return this.stream(iv).update(input);
  }

  /** OpenSSL's ChaCha20 from `iv`, for an input split in pieces or too long for the module. */
  stream(iv: Uint8Array): Cipher {
    this.keyObject ??= createSecretKey(this.raw);
    return createCipheriv("chacha20", this.keyObject, iv);
  }
}
