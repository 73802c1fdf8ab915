/**
 * ChaCha20 with DJB's layout (64-bit counter, 64-bit nonce; the 16-byte IV is counter LE || nonce, as for
 * OpenSSL's "chacha20"), for chacha20-poly1305@openssh.com. Short inputs run in WebAssembly
 * (wasm/chacha20.c): Node's cipher needs a new object for every packet, since the nonce is the sequence
 * number, and making one costs several times what the module takes for a length field, a Poly1305 key or
 * a payload of a few blocks (most packets of a login, every keystroke of a shell). Long inputs go to
 * OpenSSL, whose vector code outruns the scalar module once the object is paid for.
 *
 * The module is compiled on first use; each call wipes its stack and what it wrote of its buffers, key
 * included (./secretWasm.ts).
 */
import { createCipheriv, createSecretKey, type Cipher, type KeyObject } from "node:crypto";
import { CHACHA20_WASM_BASE64 } from "./chacha20Wasm.js";
import { updateInto } from "./cipherModes/common.js";
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

/** One ChaCha20 block: where a chacha20-poly1305 payload starts in K_2's keystream (block 1). */
const BLOCK = 64;
const BUFFERS = { key: 32, iv: 16, data: BLOCK + CHACHA20_WASM_MAX_BYTES };

let kernel: SecretWasm<ChaCha20Exports, keyof typeof BUFFERS> | undefined;

function module(): SecretWasm<ChaCha20Exports, keyof typeof BUFFERS> {
  return (kernel ??= instantiateSecretWasm("ChaCha20", CHACHA20_WASM_BASE64, BUFFERS));
}

/**
 * One call of the module over the first `length` bytes of its data buffer, which `fill` writes: XORs them
 * in place with the keystream of `key` from `iv`; `f` copies the results out. The wipe after covers the
 * stack, the key, the IV and those `length` bytes.
 */
function runInPlace<T>(
  key: Uint8Array,
  iv: Uint8Array,
  length: number,
  fill: (data: number) => void,
  f: (data: number) => T,
): T {
  const k = module();
  const { memory, at } = k;
  return k.run(() => {
    memory.set(key, at.key);
    memory.set(iv, at.iv);
    fill(at.data);
    k.wasm.chacha20_xor(at.data, at.data, length, at.key, at.iv);
    return f(at.data);
  }, at.data + length);
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
    if (input.length > CHACHA20_WASM_MAX_BYTES) return this.stream(iv).update(input);
    const { memory } = module();
    return runInPlace(
      this.raw,
      iv,
      input.length,
      (data) => memory.set(input, data),
      (data) => Buffer.from(memory.subarray(data, data + input.length)),
    );
  }

  /**
   * chacha20-poly1305@openssh.com's use of K_2, with `iv` at counter 0: returns the first 32 bytes of block
   * 0 (the Poly1305 key), and pushes to `out` the payload (`pieces[0]` from `skip` on, then the other
   * pieces) XOR the keystream from block 1. A payload up to CHACHA20_WASM_MAX_BYTES takes one call of the
   * module, each piece copied in where it goes; a longer one goes to OpenSSL piece by piece.
   */
  polyKeyAndXor(iv: Uint8Array, pieces: readonly Buffer[], skip: number, out: Buffer[]): Buffer {
    checkInputLength("ChaCha20", "IV", iv, 16);
    let length = -skip;
    for (const piece of pieces) length += piece.length;
    const { memory } = module();
    if (length > CHACHA20_WASM_MAX_BYTES) {
      const polyKey = runInPlace(
        this.raw,
        iv,
        32,
        (data) => memory.fill(0, data, data + 32),
        (data) => Buffer.from(memory.subarray(data, data + 32)),
      );
      const fromBlock1 = Buffer.from(iv);
      fromBlock1[0] = 1; // the counter's low byte: iv is at counter 0
      const stream = this.stream(fromBlock1);
      // One piece (an opener's body, which must come out as one buffer) in one update(); a sealer's
      // pieces in update() calls of at most 32 KiB (cipherModes/common.ts).
      if (pieces.length === 1) out.push(stream.update(pieces[0]!.subarray(skip)));
      else {
        for (const [i, piece] of pieces.entries()) {
          const part = i === 0 ? piece.subarray(skip) : piece;
          if (part.length > 0) updateInto(stream, part, out);
        }
      }
      return polyKey;
    }
    return runInPlace(
      this.raw,
      iv,
      BLOCK + length,
      (data) => {
        memory.fill(0, data, data + BLOCK);
        let at = data + BLOCK;
        for (const [i, piece] of pieces.entries()) {
          const part = i === 0 ? piece.subarray(skip) : piece;
          memory.set(part, at);
          at += part.length;
        }
      },
      (data) => {
        out.push(Buffer.from(memory.subarray(data + BLOCK, data + BLOCK + length)));
        return Buffer.from(memory.subarray(data, data + 32));
      },
    );
  }

  /** OpenSSL's ChaCha20 from `iv`, for an input too long for the module. */
  private stream(iv: Uint8Array): Cipher {
    this.keyObject ??= createSecretKey(this.raw);
    return createCipheriv("chacha20", this.keyObject, iv);
  }
}
