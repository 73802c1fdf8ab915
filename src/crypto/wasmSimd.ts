/**
 * Whether this runtime's WebAssembly has SIMD, for the modules built twice (with SIMD and without:
 * scripts/build-wasm.sh). V8 has it in every Node nssh supports, but leaves it out on an x64 CPU without
 * SSE4.1. The probe is a module of one function holding a v128.const: validating its 43 bytes costs
 * microseconds, where validating a whole module costs half a millisecond that compiling it spends again.
 */
const SIMD_PROBE = "AGFzbQEAAAABBAFgAAADAgEAChcBFQD9DAAAAAAAAAAAAAAAAAAAAAAaCw==";

let simd: boolean | undefined;

export function wasmHasSimd(): boolean {
  return (simd ??= WebAssembly.validate(Buffer.from(SIMD_PROBE, "base64")));
}
