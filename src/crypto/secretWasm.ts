/**
 * An instance of one of our WebAssembly modules that handle secrets (wasm/sntrup761.c, wasm/mlkem768.c,
 * wasm/chacha20.c, built by scripts/build-wasm.sh). Such a module keeps all its scratch on its stack, from
 * __data_end up to __heap_base, changes no static data, and reads and writes buffers that the caller lays out above
 * __heap_base in a memory that never grows. run() ends every call by zeroing the stack and the buffers,
 * so no secret outlives the call.
 */
import { SshError } from "../wire/errors.js";

/** What every such module exports besides its calls. */
export interface SecretWasmExports {
  memory: WebAssembly.Memory;
  __data_end: WebAssembly.Global;
  __heap_base: WebAssembly.Global;
}

export interface SecretWasm<E extends SecretWasmExports, B extends string> {
  readonly wasm: E;
  readonly memory: Uint8Array;
  /** Where each buffer starts: laid out after __heap_base, in the order given, each of its size. */
  readonly at: Readonly<Record<B, number>>;
  /**
   * One call: `f` copies its inputs in, calls, and copies its results out; then the wipe of the stack and
   * the buffers, up to the address `wipeEnd` when given (a call that uses only the start of its buffers).
   */
  run<T>(f: () => T, wipeEnd?: number): T;
}

/** Instantiate the module (base64) with `buffers` (name: bytes, in order) laid out above __heap_base. */
export function instantiateSecretWasm<E extends SecretWasmExports, B extends string>(
  name: string,
  base64: string,
  buffers: Readonly<Record<B, number>>,
): SecretWasm<E, B> {
  const wasm = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(base64, "base64")), {})
    .exports as unknown as E;
  const at = {} as Record<B, number>;
  let end = wasm.__heap_base.value as number;
  for (const [buffer, size] of Object.entries(buffers) as [B, number][]) {
    at[buffer] = end;
    end += size;
  }
  const memory = new Uint8Array(wasm.memory.buffer);
  if (end > memory.length) throw new Error(`${name}: WebAssembly memory too small for its buffers`);
  const stackStart = wasm.__data_end.value as number;
  return {
    wasm,
    memory,
    at,
    run<T>(f: () => T, wipeEnd: number = end): T {
      try {
        return f();
      } finally {
        memory.fill(0, stackStart, Math.min(end, wipeEnd));
      }
    },
  };
}

/** An argument of a call must be exactly `expected` bytes: MALFORMED, naming it, otherwise. */
export function checkInputLength(name: string, what: string, value: Uint8Array, expected: number): void {
  if (!(value instanceof Uint8Array) || value.length !== expected) {
    const got = value instanceof Uint8Array ? `${value.length} bytes` : typeof value;
    throw new SshError("MALFORMED", `${name} ${what} must be ${expected} bytes, got ${got}`);
  }
}
