/**
 * Poly1305 one-shot MAC (RFC 8439 §2.5) in WebAssembly: Node's crypto exposes Poly1305 only inside the IETF
 * ChaCha20-Poly1305 AEAD, whose framing differs from chacha20-poly1305@openssh.com's, and a JavaScript
 * Poly1305 runs at about a fifth of the speed the cipher needs. The module (wasm/poly1305.c, 1.6 KB) is
 * compiled once at load; calls are synchronous and share one instance.
 */
import { POLY1305_WASM_BASE64 } from "./poly1305Wasm.js";

interface Poly1305Exports {
  memory: WebAssembly.Memory;
  poly1305(out: number, msg: number, len: number, key: number): void;
  __heap_base: WebAssembly.Global;
}

const instance = new WebAssembly.Instance(
  new WebAssembly.Module(Buffer.from(POLY1305_WASM_BASE64, "base64")),
  {},
);
const wasm = instance.exports as unknown as Poly1305Exports;
const KEY_AT = ((wasm.__heap_base.value as number) + 15) & ~15;
const TAG_AT = KEY_AT + 32;
const MSG_AT = TAG_AT + 16;
const PAGE = 65536;
let memory = new Uint8Array(wasm.memory.buffer);

function reserve(messageLength: number): void {
  const needed = MSG_AT + messageLength;
  if (needed > memory.length) {
    wasm.memory.grow(Math.ceil((needed - memory.length) / PAGE));
    memory = new Uint8Array(wasm.memory.buffer);
  }
}

/** The 16-byte Poly1305 tag of `message` under the 32-byte one-time key `key` (r || s). */
export function poly1305Tag(message: Uint8Array, key: Uint8Array): Buffer {
  if (key.length !== 32) throw new RangeError("Poly1305 key must be 32 bytes");
  reserve(message.length);
  memory.set(key, KEY_AT);
  memory.set(message, MSG_AT);
  wasm.poly1305(TAG_AT, MSG_AT, message.length, KEY_AT);
  return Buffer.from(memory.subarray(TAG_AT, TAG_AT + 16));
}
