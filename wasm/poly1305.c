/*
 * Poly1305 (RFC 8439 §2.5) for nssh's chacha20-poly1305@openssh.com, compiled to WebAssembly (with the SIMD
 * proposal, which Node 20's V8 implements) by scripts/build-wasm.sh: Node's crypto has no raw Poly1305 and the
 * JavaScript one runs at a fifth of what the cipher needs. Radix 2^26 limbs, so every product fits the 64-bit
 * multiplications WebAssembly has.
 *
 * Speed: the tag is sum m_i r^(n-i+1) mod p (n blocks m_i); the bulk of a message is hashed three blocks
 * per step, as three interleaved Horner evaluations in r^3 (two in the 64-bit lanes of SIMD vectors, one in
 * scalar registers) whose sum is that polynomial (hash_block_triples). The remaining blocks go through the
 * one-block-at-a-time loop. Built without -msimd128, the module is that loop alone (for a runtime without
 * WebAssembly SIMD).
 *
 * Constant time: the only branches and memory indexes depend on the message length, never on the key or
 * the message bytes; the final reduction mod p selects with a mask.
 *
 * The caller writes the 32-byte one-time key at `key` and the message at `msg` in this module's memory;
 * the 16-byte tag is written to `out`.
 */
#include "common.h"

#define MASK26 0x3ffffffu
#define BLOCK 16
#define HIBIT (1u << 24) /* 2^128 in the top limb: every full block carries it */
/* Below this many full blocks, computing r^2 and r^3 costs more than the three-lane loop saves. */
#define SIMD_MIN_BLOCKS 8

/* A field element in five 26-bit limbs (a limb may briefly hold a few bits more between carries). */
typedef struct {
  u32 l[5];
} limbs;

/*
 * d = a * b reduced to limbs of about 26 bits: limb products past 2^130 fold back times 5 (2^130 = 5 mod p).
 * Carries run two chains at once (0->1->2->3, 3->4->0->1) so the next multiplication waits on fewer steps.
 * Bounds: with a's limbs below 2^28 and b's below 2^26 + 2^10, each sum of products stays below 2^60, and
 * every limb of d ends below 2^26 + 2^10 (d1 and d4 take a last small carry): so h + m (below 2^27 + 2^10 a
 * limb) can be multiplied again, and r^2, r^3 computed here serve as multipliers.
 */
static inline limbs field_multiply(limbs a, limbs b) {
  const u32 s1 = b.l[1] * 5, s2 = b.l[2] * 5, s3 = b.l[3] * 5, s4 = b.l[4] * 5;
  const u64 a0 = a.l[0], a1 = a.l[1], a2 = a.l[2], a3 = a.l[3], a4 = a.l[4];
  u64 d0 = a0 * b.l[0] + a1 * s4 + a2 * s3 + a3 * s2 + a4 * s1;
  u64 d1 = a0 * b.l[1] + a1 * b.l[0] + a2 * s4 + a3 * s3 + a4 * s2;
  u64 d2 = a0 * b.l[2] + a1 * b.l[1] + a2 * b.l[0] + a3 * s4 + a4 * s3;
  u64 d3 = a0 * b.l[3] + a1 * b.l[2] + a2 * b.l[1] + a3 * b.l[0] + a4 * s4;
  u64 d4 = a0 * b.l[4] + a1 * b.l[3] + a2 * b.l[2] + a3 * b.l[1] + a4 * b.l[0];
  d1 += d0 >> 26; d0 &= MASK26;
  d4 += d3 >> 26; d3 &= MASK26;
  d2 += d1 >> 26; d1 &= MASK26;
  d0 += (d4 >> 26) * 5; d4 &= MASK26;
  d3 += d2 >> 26; d2 &= MASK26;
  d1 += d0 >> 26; d0 &= MASK26;
  d4 += d3 >> 26; d3 &= MASK26;
  limbs d = {{(u32)d0, (u32)d1, (u32)d2, (u32)d3, (u32)d4}};
  return d;
}

/* h + the limbs of the 16-byte block at m, with `hibit` as its 2^128 bit (0 for the padded last block). */
static inline limbs add_block(limbs h, const unsigned char *m, u32 hibit) {
  h.l[0] += le32(m + 0) & MASK26;
  h.l[1] += (le32(m + 3) >> 2) & MASK26;
  h.l[2] += (le32(m + 6) >> 4) & MASK26;
  h.l[3] += (le32(m + 9) >> 6) & MASK26;
  h.l[4] += (le32(m + 12) >> 8) | hibit;
  return h;
}

/* h = (h + m) * r for each of `count` 16-byte blocks. */
static limbs hash_blocks(limbs h, limbs r, const unsigned char *m, u32 count, u32 hibit) {
  for (; count > 0; count--, m += BLOCK) h = field_multiply(add_block(h, m, hibit), r);
  return h;
}

#ifdef __wasm_simd128__
#include <wasm_simd128.h>

/* Two field elements as five limb vectors, one element in each 64-bit lane. */
typedef struct {
  v128_t l[5];
} limb_pairs;

/* The limbs of blocks m and m + 16, each with its 2^128 bit, as 64-bit lanes. */
static inline limb_pairs load_block_pair(const unsigned char *m) {
  const v128_t a = wasm_v128_load(m), b = wasm_v128_load(m + BLOCK);
  const v128_t lo = wasm_i64x2_shuffle(a, b, 0, 2), hi = wasm_i64x2_shuffle(a, b, 1, 3);
  const v128_t mask = wasm_i64x2_splat(MASK26);
  limb_pairs p;
  p.l[0] = wasm_v128_and(lo, mask);
  p.l[1] = wasm_v128_and(wasm_u64x2_shr(lo, 26), mask);
  p.l[2] = wasm_v128_and(wasm_v128_or(wasm_u64x2_shr(lo, 52), wasm_i64x2_shl(hi, 12)), mask);
  p.l[3] = wasm_v128_and(wasm_u64x2_shr(hi, 14), mask);
  p.l[4] = wasm_v128_or(wasm_u64x2_shr(hi, 40), wasm_i64x2_splat(HIBIT));
  return p;
}

/*
 * LLVM 14 emits i64x2.extmul_low_i32x4_u only for a multiply of two widenings in one basic block; otherwise
 * (a widening hoisted out of the loop, or a shuffle-then-widen folded into a mask) it emits a full 64-bit
 * i64x2.mul, several machine multiplies each in V8. An empty volatile asm makes a value opaque to it.
 */
static inline v128_t opaque_vector(v128_t x) {
  __asm__ volatile("" : "+r"(x));
  return x;
}

/* The low 32 bits of both 64-bit lanes moved into 32-bit lanes 0 and 1, where extmul_low reads them. */
static inline v128_t narrow(v128_t x) { return opaque_vector(wasm_i32x4_shuffle(x, x, 0, 2, 0, 2)); }

#define MUL(x, y) wasm_u64x2_extmul_low_u32x4((x), (y))

/*
 * h = (h + m) * k lane by lane. kin and k5in = 5 kin hold each lane's multiplier limbs in 32-bit lanes 0 and
 * 1 (k5in[0] is not used); the products and carries are those of field_multiply, in both lanes at once. The
 * multipliers pass through opaque_vector() inside the loop so that their widening stays next to the multiply.
 */
static inline limb_pairs multiply_pairs(limb_pairs h, limb_pairs m, const v128_t kin[5], const v128_t k5in[5]) {
  const v128_t k[5] = {opaque_vector(kin[0]), opaque_vector(kin[1]), opaque_vector(kin[2]), opaque_vector(kin[3]), opaque_vector(kin[4])};
  const v128_t k5[5] = {k[0] /* unused */, opaque_vector(k5in[1]), opaque_vector(k5in[2]), opaque_vector(k5in[3]), opaque_vector(k5in[4])};
  v128_t x0 = narrow(wasm_i64x2_add(h.l[0], m.l[0]));
  v128_t x1 = narrow(wasm_i64x2_add(h.l[1], m.l[1]));
  v128_t x2 = narrow(wasm_i64x2_add(h.l[2], m.l[2]));
  v128_t x3 = narrow(wasm_i64x2_add(h.l[3], m.l[3]));
  v128_t x4 = narrow(wasm_i64x2_add(h.l[4], m.l[4]));
  v128_t d0 = wasm_i64x2_add(wasm_i64x2_add(wasm_i64x2_add(MUL(x0, k[0]), MUL(x1, k5[4])),
                                            wasm_i64x2_add(MUL(x2, k5[3]), MUL(x3, k5[2]))),
                             MUL(x4, k5[1]));
  v128_t d1 = wasm_i64x2_add(wasm_i64x2_add(wasm_i64x2_add(MUL(x0, k[1]), MUL(x1, k[0])),
                                            wasm_i64x2_add(MUL(x2, k5[4]), MUL(x3, k5[3]))),
                             MUL(x4, k5[2]));
  v128_t d2 = wasm_i64x2_add(wasm_i64x2_add(wasm_i64x2_add(MUL(x0, k[2]), MUL(x1, k[1])),
                                            wasm_i64x2_add(MUL(x2, k[0]), MUL(x3, k5[4]))),
                             MUL(x4, k5[3]));
  v128_t d3 = wasm_i64x2_add(wasm_i64x2_add(wasm_i64x2_add(MUL(x0, k[3]), MUL(x1, k[2])),
                                            wasm_i64x2_add(MUL(x2, k[1]), MUL(x3, k[0]))),
                             MUL(x4, k5[4]));
  v128_t d4 = wasm_i64x2_add(wasm_i64x2_add(wasm_i64x2_add(MUL(x0, k[4]), MUL(x1, k[3])),
                                            wasm_i64x2_add(MUL(x2, k[2]), MUL(x3, k[1]))),
                             MUL(x4, k[0]));
  const v128_t mask = wasm_i64x2_splat(MASK26);
  v128_t c;
  d1 = wasm_i64x2_add(d1, wasm_u64x2_shr(d0, 26)); d0 = wasm_v128_and(d0, mask);
  d4 = wasm_i64x2_add(d4, wasm_u64x2_shr(d3, 26)); d3 = wasm_v128_and(d3, mask);
  d2 = wasm_i64x2_add(d2, wasm_u64x2_shr(d1, 26)); d1 = wasm_v128_and(d1, mask);
  c = wasm_u64x2_shr(d4, 26); d4 = wasm_v128_and(d4, mask);
  d0 = wasm_i64x2_add(d0, wasm_i64x2_add(c, opaque_vector(wasm_i64x2_shl(c, 2)))); /* c * 5 without an i64x2.mul */
  d3 = wasm_i64x2_add(d3, wasm_u64x2_shr(d2, 26)); d2 = wasm_v128_and(d2, mask);
  d1 = wasm_i64x2_add(d1, wasm_u64x2_shr(d0, 26)); d0 = wasm_v128_and(d0, mask);
  d4 = wasm_i64x2_add(d4, wasm_u64x2_shr(d3, 26)); d3 = wasm_v128_and(d3, mask);
  limb_pairs out = {{d0, d1, d2, d3, d4}};
  return out;
}

/*
 * The Horner value of `triples` * 3 full blocks (triples >= 1) starting from h, three blocks per step: the
 * two SIMD lanes take blocks 1, 4, 7... and 2, 5, 8..., a scalar accumulator blocks 3, 6, 9..., each
 * multiplied by r^3 per step except the last, multiplied by r^3, r^2 and r respectively; then the three are
 * summed. h enters through the first lane's first block, which the run multiplies by r^(3 triples) as it
 * should. The scalar lane runs on the integer multiplier while the SIMD lanes keep the vector units busy
 * (measured: two SIMD lanes alone 2.1 GB/s, with the scalar lane 2.5 GB/s; a second scalar lane spills).
 */
static limbs hash_block_triples(limbs h, limbs r, const unsigned char *m, u32 triples) {
  const limbs r2 = field_multiply(r, r);
  const limbs r3 = field_multiply(r2, r);
  v128_t k[5], k5[5], last[5], last5[5];
  limb_pairs acc;
  for (int i = 0; i < 5; i++) {
    k[i] = wasm_i32x4_splat((int)r3.l[i]);
    k5[i] = wasm_i32x4_splat((int)(r3.l[i] * 5));
    last[i] = wasm_i32x4_make((int)r3.l[i], (int)r2.l[i], 0, 0);
    last5[i] = wasm_i32x4_make((int)(r3.l[i] * 5), (int)(r2.l[i] * 5), 0, 0);
    acc.l[i] = wasm_i64x2_make(h.l[i], 0);
  }
  limbs hs = {{0, 0, 0, 0, 0}};
  for (; triples > 1; triples--, m += 3 * BLOCK) {
    acc = multiply_pairs(acc, load_block_pair(m), k, k5);
    hs = field_multiply(add_block(hs, m + 2 * BLOCK, HIBIT), r3);
  }
  acc = multiply_pairs(acc, load_block_pair(m), last, last5);
  hs = field_multiply(add_block(hs, m + 2 * BLOCK, HIBIT), r);
  /* Sum the three (each limb below 2^27, so no overflow) and carry back to 26-bit limbs. */
  u32 s[5];
  for (int i = 0; i < 5; i++)
    s[i] = (u32)(wasm_u64x2_extract_lane(acc.l[i], 0) + wasm_u64x2_extract_lane(acc.l[i], 1)) + hs.l[i];
  u32 c;
  c = s[0] >> 26; s[0] &= MASK26; s[1] += c;
  c = s[1] >> 26; s[1] &= MASK26; s[2] += c;
  c = s[2] >> 26; s[2] &= MASK26; s[3] += c;
  c = s[3] >> 26; s[3] &= MASK26; s[4] += c;
  c = s[4] >> 26; s[4] &= MASK26; s[0] += c * 5;
  c = s[0] >> 26; s[0] &= MASK26; s[1] += c;
  limbs out = {{s[0], s[1], s[2], s[3], s[4]}};
  return out;
}

#endif /* __wasm_simd128__ */

__attribute__((export_name("poly1305")))
void poly1305(unsigned char *out, const unsigned char *msg, u32 len, const unsigned char *key) {
  /* r clamped as RFC 8439 §2.5 requires, split into 26-bit limbs. */
  const limbs r = {{le32(key + 0) & 0x3ffffff, (le32(key + 3) >> 2) & 0x3ffff03,
                    (le32(key + 6) >> 4) & 0x3ffc0ff, (le32(key + 9) >> 6) & 0x3f03fff,
                    (le32(key + 12) >> 8) & 0x00fffff}};
  limbs h = {{0, 0, 0, 0, 0}};
  u32 full = len / BLOCK;
#ifdef __wasm_simd128__
  if (full >= SIMD_MIN_BLOCKS) {
    const u32 triples = full / 3;
    h = hash_block_triples(h, r, msg, triples);
    msg += triples * 3 * BLOCK;
    full -= triples * 3;
  }
#endif
  h = hash_blocks(h, r, msg, full, HIBIT);
  msg += full * BLOCK;
  const u32 rest = len % BLOCK;
  if (rest > 0) {
    /* The last partial block gets its 0x01 right after its bytes, and no 2^128 bit. */
    unsigned char last[BLOCK];
    u32 i;
    for (i = 0; i < rest; i++) last[i] = msg[i];
    last[i++] = 1;
    for (; i < BLOCK; i++) last[i] = 0;
    h = hash_blocks(h, r, last, 1, 0);
  }

  /* Full carry, then h mod p: compute h + 5 - 2^130 and keep it when it did not borrow. */
  u32 h0 = h.l[0], h1 = h.l[1], h2 = h.l[2], h3 = h.l[3], h4 = h.l[4];
  u32 c = h1 >> 26; h1 &= MASK26;
  h2 += c; c = h2 >> 26; h2 &= MASK26;
  h3 += c; c = h3 >> 26; h3 &= MASK26;
  h4 += c; c = h4 >> 26; h4 &= MASK26;
  h0 += c * 5; c = h0 >> 26; h0 &= MASK26;
  h1 += c;

  u32 g0 = h0 + 5; c = g0 >> 26; g0 &= MASK26;
  u32 g1 = h1 + c; c = g1 >> 26; g1 &= MASK26;
  u32 g2 = h2 + c; c = g2 >> 26; g2 &= MASK26;
  u32 g3 = h3 + c; c = g3 >> 26; g3 &= MASK26;
  u32 g4 = h4 + c - (1u << 26);
  /* Constant time select: mask is all ones when g4 did not go negative. */
  u32 mask = (g4 >> 31) - 1;
  h0 = (h0 & ~mask) | (g0 & mask);
  h1 = (h1 & ~mask) | (g1 & mask);
  h2 = (h2 & ~mask) | (g2 & mask);
  h3 = (h3 & ~mask) | (g3 & mask);
  h4 = (h4 & ~mask) | (g4 & mask);
  /*
   * The first carry can leave h1 = 2^26 (h1 = 2^26 - 1 plus h0's carry); the value is now below 2^130, so
   * one more pass without the wrap leaves every limb below 2^26, as the packing into words needs.
   */
  c = h1 >> 26; h1 &= MASK26;
  h2 += c; c = h2 >> 26; h2 &= MASK26;
  h3 += c; c = h3 >> 26; h3 &= MASK26;
  h4 += c;

  /* h as four 32-bit words, then + s (the key's second half) mod 2^128. */
  u32 w0 = h0 | (h1 << 26);
  u32 w1 = (h1 >> 6) | (h2 << 20);
  u32 w2 = (h2 >> 12) | (h3 << 14);
  u32 w3 = (h3 >> 18) | (h4 << 8);
  u64 f = (u64)w0 + le32(key + 16); put32(out + 0, (u32)f);
  f = (u64)w1 + le32(key + 20) + (f >> 32); put32(out + 4, (u32)f);
  f = (u64)w2 + le32(key + 24) + (f >> 32); put32(out + 8, (u32)f);
  f = (u64)w3 + le32(key + 28) + (f >> 32); put32(out + 12, (u32)f);
}
