/**
 * instantiateSecretWasm (src/crypto/secretWasm.ts): run() leaves the module's stack and the buffers it was
 * asked to cover zeroed after every call, whether the call returns or throws. Shown with the ChaCha20
 * module, the one that wipes only the start of its data buffer.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { CHACHA20_WASM_BASE64 } from "../../src/crypto/chacha20Wasm.js";
import { instantiateSecretWasm, type SecretWasmExports } from "../../src/crypto/secretWasm.js";

interface ChaCha20Exports extends SecretWasmExports {
  chacha20_xor(out: number, input: number, len: number, key: number, iv: number): void;
}

const BUFFERS = { key: 32, iv: 16, data: 256 };

function zeroFrom(memory: Uint8Array, from: number, to: number): boolean {
  return memory.subarray(from, to).every((b) => b === 0);
}

test("run() zeroes the stack and the buffers after a call, up to wipeEnd when given, and after a throw", () => {
  const k = instantiateSecretWasm<ChaCha20Exports, keyof typeof BUFFERS>(
    "ChaCha20",
    CHACHA20_WASM_BASE64,
    BUFFERS,
  );
  const stack = k.wasm.__data_end.value as number;
  const end = k.at.data + BUFFERS.data;
  const call = (length: number) => {
    k.memory.set(randomBytes(32), k.at.key);
    k.memory.set(randomBytes(16), k.at.iv);
    k.memory.set(randomBytes(length), k.at.data);
    k.wasm.chacha20_xor(k.at.data, k.at.data, length, k.at.key, k.at.key);
    assert.ok(!zeroFrom(k.memory, k.at.key, k.at.key + 32), "the key was written");
    return Buffer.from(k.memory.subarray(k.at.data, k.at.data + length));
  };

  k.run(() => call(BUFFERS.data));
  assert.ok(zeroFrom(k.memory, stack, end), "the whole range, without wipeEnd");

  k.run(() => call(100), k.at.data + 100);
  assert.ok(zeroFrom(k.memory, stack, end), "up to wipeEnd, where the call wrote");

  assert.throws(() =>
    k.run(() => {
      call(200);
      throw new Error("in the middle");
    }, k.at.data + 200),
  );
  assert.ok(zeroFrom(k.memory, stack, end), "after a throw");
});
