/*
 * What nssh's WebAssembly modules (the C files here, built by scripts/build-wasm.sh) share: their integer
 * types, little-endian words at any address, and a barrier that keeps the compiler from reasoning about a
 * value.
 */
#ifndef NSSH_WASM_COMMON_H
#define NSSH_WASM_COMMON_H

typedef signed char i8;
typedef unsigned char u8;
typedef short i16;
typedef unsigned short u16;
typedef int i32;
typedef unsigned int u32;
typedef long long i64;
typedef unsigned long long u64;

/* WebAssembly loads and stores are little-endian and may be unaligned. */
typedef u32 __attribute__((aligned(1), may_alias)) unaligned_u32;

static inline u32 le32(const u8 *p) { return *(const unaligned_u32 *)p; }
static inline void put32(u8 *p, u32 v) { *(unaligned_u32 *)p = v; }

/*
 * x, with the compiler kept from knowing anything of its value: a mask it knows to be 0 or -1 it may turn
 * back into a comparison and a WebAssembly select, which V8 emits as a conditional move on x64 and arm64
 * but as a branch on CPUs without one. scripts/build-wasm.sh checks the modules for selects.
 */
static inline i32 opaque(i32 x) {
  __asm__("" : "+r"(x));
  return x;
}

#endif
