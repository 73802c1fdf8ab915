/**
 * Poly1305 one-shot MAC (RFC 8439 §2.5) in WebAssembly: Node's crypto exposes Poly1305 only inside the IETF
 * ChaCha20-Poly1305 AEAD, whose framing differs from chacha20-poly1305@openssh.com's, and a JavaScript
 * Poly1305 runs at about a fifth of the speed the cipher needs. The module (wasm/poly1305.c, 1.6 KB) is
 * compiled once, on first use; calls are synchronous and share one instance.
 */
import { POLY1305_WASM_BASE64 } from "./poly1305Wasm.js";

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
  const wasm = new WebAssembly.Instance(
    new WebAssembly.Module(Buffer.from(POLY1305_WASM_BASE64, "base64")),
    {},
  ).exports as unknown as Poly1305Exports;
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

function reserve(p: Poly1305Instance, messageLength: number): void {
  const needed = p.msgAt + messageLength;
  if (needed > p.memory.length) {
    p.wasm.memory.grow(Math.ceil((needed - p.memory.length) / PAGE));
    p.memory = new Uint8Array(p.wasm.memory.buffer);
  }
}

/** The 16-byte Poly1305 tag of `message` under the 32-byte one-time key `key` (r || s). */
export function poly1305Tag(message: Uint8Array, key: Uint8Array): Buffer {
  if (key.length !== 32) throw new RangeError("Poly1305 key must be 32 bytes");
  const p = instance ?? poly1305Instance();
  reserve(p, message.length);
  const memory = p.memory;
  memory.set(key, p.keyAt);
  memory.set(message, p.msgAt);
  p.wasm.poly1305(p.tagAt, p.msgAt, message.length, p.keyAt);
  return Buffer.from(memory.subarray(p.tagAt, p.tagAt + 16));
}
