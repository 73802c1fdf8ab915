/**
 * Poly1305 one-shot MAC (RFC 8439 §2.5) in WebAssembly: Node's crypto exposes Poly1305 only inside the IETF
 * ChaCha20-Poly1305 AEAD, whose framing differs from chacha20-poly1305@openssh.com's, and a JavaScript
 * Poly1305 runs at about a fifth of the speed the cipher needs. The module (wasm/poly1305.c: 5 KB with
 * WebAssembly SIMD, or 2 KB without for a runtime that rejects SIMD) is compiled once, on first use; calls
 * are synchronous and share one instance.
 */
import { POLY1305_SCALAR_WASM_BASE64, POLY1305_WASM_BASE64 } from "./poly1305Wasm.js";
import { wasmHasSimd } from "./wasmSimd.js";

interface Poly1305Exports {
  memory: WebAssembly.Memory;
  poly1305(out: number, msg: number, len: number, key: number): void;
  __heap_base: WebAssembly.Global;
}

interface Poly1305Instance {
  wasm: Poly1305Exports;
  keyAt: number;
  tagAt: number;
  msgAt: number;
  memory: Uint8Array;
}

const PAGE = 65536;
let instance: Poly1305Instance | undefined;

/**
 * The module is compiled on the first tag, not at import: every program that imports the crypto layer
 * would otherwise pay for it at start-up, and a connection that negotiates AES never needs it.
 */
function poly1305Instance(): Poly1305Instance {
  if (instance) return instance;
  const bytes = Buffer.from(wasmHasSimd() ? POLY1305_WASM_BASE64 : POLY1305_SCALAR_WASM_BASE64, "base64");
  const wasm = new WebAssembly.Instance(new WebAssembly.Module(bytes), {})
    .exports as unknown as Poly1305Exports;
  const keyAt = ((wasm.__heap_base.value as number) + 15) & ~15;
  instance = {
    wasm,
    keyAt,
    tagAt: keyAt + 32,
    msgAt: keyAt + 48,
    memory: new Uint8Array(wasm.memory.buffer),
  };
  return instance;
}

/** The module's memory, grown to hold a message of `messageLength` bytes at msgAt. */
function reserve(p: Poly1305Instance, messageLength: number): Uint8Array {
  const needed = p.msgAt + messageLength;
  if (needed > p.memory.length) {
    p.wasm.memory.grow(Math.ceil((needed - p.memory.length) / PAGE));
    p.memory = new Uint8Array(p.wasm.memory.buffer);
  }
  return p.memory;
}

function checkKey(key: Uint8Array): void {
  if (key.length !== 32) throw new RangeError("Poly1305 key must be 32 bytes");
}

/** The tag of the `messageLength` bytes already at msgAt. */
function tagOfWritten(p: Poly1305Instance, messageLength: number, key: Uint8Array): Buffer {
  const memory = p.memory;
  memory.set(key, p.keyAt);
  p.wasm.poly1305(p.tagAt, p.msgAt, messageLength, p.keyAt);
  // The one-time key's bytes leave the module's buffer (the message is ciphertext, public). Values
  // derived from it may stay on the module's stack until the next tag: a packet's one-time key protects
  // nothing once its packet is out.
  memory.fill(0, p.keyAt, p.keyAt + 32);
  return Buffer.from(memory.subarray(p.tagAt, p.tagAt + 16));
}

/** The 16-byte Poly1305 tag of `message` under the 32-byte one-time key `key` (r || s). */
export function poly1305Tag(message: Uint8Array, key: Uint8Array): Buffer {
  checkKey(key);
  const p = instance ?? poly1305Instance();
  reserve(p, message.length).set(message, p.msgAt);
  return tagOfWritten(p, message.length, key);
}

/**
 * The tag of the concatenation of `parts`, each copied once into the module's memory: a sealer can pass
 * the encrypted length field and the ciphertext as they come, without joining them first.
 */
export function poly1305TagParts(parts: readonly Uint8Array[], key: Uint8Array): Buffer {
  checkKey(key);
  const p = instance ?? poly1305Instance();
  let length = 0;
  for (const part of parts) length += part.length;
  const memory = reserve(p, length);
  let at = p.msgAt;
  for (const part of parts) {
    memory.set(part, at);
    at += part.length;
  }
  return tagOfWritten(p, length, key);
}
