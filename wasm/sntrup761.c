/*
 * The polynomial work of Streamlined NTRU Prime sntrup761 (NIST round-3 submission, parameter set
 * sntrup761; draft-josefsson-ntruprime-streamlined-00) for src/crypto/sntrup761.ts, which keeps the
 * hashing (node:crypto SHA-512), the randomness and the ciphertext comparison. Built by
 * scripts/build-wasm.sh with clang --target=wasm32, no libc.
 *
 * The ring is Z[x]/(x^p - x - 1), p = 761; Rq elements are int16 coefficients centred in
 * [-(q-1)/2, (q-1)/2], q = 4591; small elements (R3 and the short f, g, r) int8 in {-1, 0, 1}.
 *
 * Constant time: as in the round-3 reference, no branch, loop bound or memory index depends on secret
 * data; selections are masks (all ones or all zeros) and arithmetic, kept opaque to the compiler where it
 * would make a select of them (opaque(), common.h). Loop bounds depend on p and the step number only. The
 * one secret-dependent result that leaves this file is whether g was invertible
 * (keygen draws another g then, as the specification does). Division (i32.div, variable time on some
 * CPUs) is used only to decode a public key or ciphertext, which are public.
 *
 * No static data changes: all scratch is on the stack, which lies between __data_end and __heap_base,
 * so the caller can wipe every secret with one fill of that range and of its own buffers.
 */

#include "common.h"

#define P 761
#define Q 4591
#define W 286
#define Q12 ((Q - 1) / 2)
#define SMALL_BYTES 191
#define RQ_BYTES 1158
#define ROUNDED_BYTES 1007

/* ---- Z/q and Z/3 ---- */

/*
 * x mod q, centred, for |x| <= 2^24 (every sum of products below stays under that). Two Barrett steps,
 * constants derived for this range: floor(114 x / 2^19) is within 7.4 of x/q, leaving |x| < 8q; then
 * round(29235 x / 2^27) is within 7e-5 of x/q there, closer than any x/q comes to a half-integer
 * (1/(2q) > 1e-4), so it is the exact rounding and the result is the centred residue.
 */
static inline i32 fq_freeze(i32 x) {
  x -= Q * ((114 * x) >> 19);
  x -= Q * ((29235 * x + (1 << 26)) >> 27);
  return x;
}

/* x mod 3 in {-1, 0, 1} for |x| < 16000: (10923 x + 2^14) >> 15 is round(x/3) there. */
static inline i32 f3_freeze(i32 x) { return x - 3 * ((10923 * x + 16384) >> 15); }

/* a^(q-2) = 1/a in Z/q (Fermat); the exponent is public, so its bits may steer the steps. */
static i32 fq_recip(i32 a) {
  i32 result = 1, base = fq_freeze(a);
  for (u32 e = Q - 2; e > 0; e >>= 1) {
    if (e & 1) result = fq_freeze(result * base);
    base = fq_freeze(base * base);
  }
  return result;
}

/* -1 if x != 0, else 0. */
static inline i32 nonzero_mask(i32 x) { return opaque(-(i32)((u32)opaque(x | -x) >> 31)); }

/* ---- products ---- */

#ifdef __wasm_simd128__
#include <wasm_simd128.h>
#endif

/*
 * The product of a (|a[i]| <= 2295) and the small b before reduction mod q or 3: fg[k] = sum of
 * a[i] b[k-i], then x^k -> x^(k-p+1) + x^(k-p) for k >= p (x^p = x + 1). Every sum is below
 * 3 * 761 * 2295 < 2^23. With SIMD each fg[k] is a dot product of a and b reversed, 8 terms an
 * instruction (i32x4.dot_i16x8_s); both are zero-padded so that whole vectors may run past the ends.
 */
static void multiply_reduce(i32 fg[2 * P - 1], const i16 a[P], const i8 b[P]) {
#ifdef __wasm_simd128__
  i16 a_padded[P + 39], b_reversed[2 * P + 40];
  for (int i = 0; i < P + 39; i++) a_padded[i] = i < P ? a[i] : 0;
  for (int i = 0; i < 2 * P + 40; i++) b_reversed[i] = 0;
  for (int i = 0; i < P; i++) b_reversed[2 * P - 1 - i] = b[i]; /* fg[k] pairs a[i] with b_reversed[2p-1-k+i] */
  for (int k = 0; k < 2 * P - 1; k++) {
    const int first = (k - P + 1 > 0 ? k - P + 1 : 0) & ~7, end = k < P - 1 ? k + 1 : P;
    const i16 *bk = b_reversed + 2 * P - 1 - k;
    v128_t sum0 = wasm_i32x4_splat(0), sum1 = sum0;
    for (int i = first; i < end; i += 32) { /* 32 terms a round: fewer loop turns for the baseline compiler */
      sum0 = wasm_i32x4_add(sum0, wasm_i32x4_dot_i16x8(wasm_v128_load(a_padded + i), wasm_v128_load(bk + i)));
      sum1 = wasm_i32x4_add(sum1, wasm_i32x4_dot_i16x8(wasm_v128_load(a_padded + i + 8), wasm_v128_load(bk + i + 8)));
      sum0 = wasm_i32x4_add(sum0, wasm_i32x4_dot_i16x8(wasm_v128_load(a_padded + i + 16), wasm_v128_load(bk + i + 16)));
      sum1 = wasm_i32x4_add(sum1, wasm_i32x4_dot_i16x8(wasm_v128_load(a_padded + i + 24), wasm_v128_load(bk + i + 24)));
    }
    const v128_t sum = wasm_i32x4_add(sum0, sum1);
    fg[k] = wasm_i32x4_extract_lane(sum, 0) + wasm_i32x4_extract_lane(sum, 1) + wasm_i32x4_extract_lane(sum, 2) +
            wasm_i32x4_extract_lane(sum, 3);
  }
#else
  for (int i = 0; i < 2 * P - 1; i++) fg[i] = 0;
  for (int i = 0; i < P; i++) {
    const i32 ai = a[i];
    for (int j = 0; j < P; j++) fg[i + j] += ai * b[j];
  }
#endif
  for (int i = 2 * P - 2; i >= P; i--) {
    fg[i - P + 1] += fg[i];
    fg[i - P] += fg[i];
  }
}

/* h = a * b in Rq, b small. */
static void rq_mult_small(i16 h[P], const i16 a[P], const i8 b[P]) {
  i32 fg[2 * P - 1];
  multiply_reduce(fg, a, b);
  for (int i = 0; i < P; i++) h[i] = (i16)fq_freeze(fg[i]);
}

/* h = a * b in R3. */
static void r3_mult(i8 h[P], const i8 a[P], const i8 b[P]) {
  i16 wide[P];
  i32 fg[2 * P - 1];
  for (int i = 0; i < P; i++) wide[i] = a[i];
  multiply_reduce(fg, wide, b);
  for (int i = 0; i < P; i++) h[i] = (i8)f3_freeze(fg[i]);
}

/* ---- reciprocals: constant-time extended GCD by divsteps (Bernstein-Yang), 2p-1 steps always ---- */

/*
 * Both reciprocals run the divsteps of Bernstein-Yang: f starts as x^p - x - 1 and g as the input, both
 * reversed; v and r are the cofactors (v = 0, r = 1). A step, with c = -g[0]/f[0] and a swap when delta > 0
 * and g[0] != 0, is v <- x v, then (f, v) <- (g, r) on a swap, and (g, r) <- ((g + c f)/x, r + c v) with
 * the old f and v. The specification swaps first and updates (g, r) from the swapped pair; that gives
 * (f + c g, v + c r) on a swap, which is ours times the unit c (in Rq, scaled, times -1): scaling g and r
 * together by a unit changes no later decision and no final v/f[0], and it spares swapping g and r.
 * After 2p-1 steps delta is 0 exactly when the gcd is 1, and v reversed, divided by f[0], is the inverse.
 */

/*
 * R3 elements of length p+1, bitsliced: plane n holds "coefficient != 0", plane s "coefficient is -1",
 * bit i being coefficient i; 64 coefficients a word.
 */
#define WORDS ((P + 1 + 63) / 64)

typedef struct {
  u64 fn[WORDS], fs[WORDS], gn[WORDS], gs[WORDS], vn[WORDS], vs[WORDS], rn[WORDS], rs[WORDS];
} r3_state;

/* The F3 sum x + y of bitsliced words, into n, s (1+1 = -1, -1-1 = 1). */
#define F3_ADD(n, s, xn, xs, yn, ys)                                 \
  do {                                                               \
    const u64 both_same_ = (xn) & (yn) & ~((xs) ^ (ys));             \
    n = ((xn) ^ (yn)) | both_same_;                                  \
    s = ((xn) & ~(yn) & (xs)) | ((yn) & ~(xn) & (ys)) | (both_same_ & ~(xs)); \
  } while (0)

/* One divstep on the bitsliced state, one pass over the words; c and swap are masks. */
__attribute__((noinline)) static void r3_divstep(r3_state *t, u64 c_nonzero, u64 c_negative, u64 swap) {
  u64 v_carry_n = 0, v_carry_s = 0, previous_gn = 0, previous_gs = 0;
  for (int w = 0; w < WORDS; w++) {
    const u64 fn = t->fn[w], fs = t->fs[w], gn = t->gn[w], gs = t->gs[w], rn = t->rn[w], rs = t->rs[w];
    const u64 vn = (t->vn[w] << 1) | v_carry_n, vs = (t->vs[w] << 1) | v_carry_s; /* x v */
    v_carry_n = t->vn[w] >> 63;
    v_carry_s = t->vs[w] >> 63;
    t->fn[w] = fn ^ (swap & (fn ^ gn));
    t->fs[w] = fs ^ (swap & (fs ^ gs));
    t->vn[w] = vn ^ (swap & (vn ^ rn));
    t->vs[w] = vs ^ (swap & (vs ^ rs));
    u64 n, s;
    const u64 cfn = fn & c_nonzero, cfs = (fs ^ c_negative) & cfn; /* c f */
    F3_ADD(n, s, gn, gs, cfn, cfs);
    if (w > 0) { /* g <- (g + c f)/x: bit 0 of this word goes to bit 63 of the one before */
      t->gn[w - 1] = previous_gn >> 1 | n << 63;
      t->gs[w - 1] = previous_gs >> 1 | s << 63;
    }
    previous_gn = n;
    previous_gs = s;
    const u64 cvn = vn & c_nonzero, cvs = (vs ^ c_negative) & cvn; /* c (x v) */
    F3_ADD(t->rn[w], t->rs[w], rn, rs, cvn, cvs);
  }
  t->gn[WORDS - 1] = previous_gn >> 1;
  t->gs[WORDS - 1] = previous_gs >> 1;
}

static inline void set_coefficient(u64 *n, u64 *s, int i, i32 c) {
  n[i >> 6] |= (u64)(c & 1) << (i & 63);
  s[i >> 6] |= (u64)((c >> 1) & 1) << (i & 63);
}

/* out = 1/in in R3; returns 0 when in is invertible, -1 when not. */
static i32 r3_recip(i8 out[P], const i8 in[P]) {
  r3_state t;
  u8 *bytes = (u8 *)&t;
  for (unsigned i = 0; i < sizeof t; i++) bytes[i] = 0;
  set_coefficient(t.rn, t.rs, 0, 1);
  set_coefficient(t.fn, t.fs, 0, 1);
  set_coefficient(t.fn, t.fs, P - 1, -1);
  set_coefficient(t.fn, t.fs, P, -1);
  for (int i = 0; i < P; i++) set_coefficient(t.gn, t.gs, P - 1 - i, in[i]);
  i32 delta = 1;
  for (int step = 0; step < 2 * P - 1; step++) {
    /* c = -g[0]/f[0] = -g[0] f[0]: nonzero iff g[0] is (f[0] never is), -1 iff g[0] and f[0] agree. */
    const u64 c_nonzero = -(t.gn[0] & 1);
    const u64 c_negative = -(1 ^ ((t.gs[0] ^ t.fs[0]) & 1)) & c_nonzero;
    const i32 swap = opaque(-delta >> 31) & (i32)c_nonzero; /* delta > 0 and g[0] != 0 */
    delta ^= swap & (delta ^ -delta);
    delta += 1;
    r3_divstep(&t, c_nonzero, c_negative, (u64)(i64)swap);
  }
  const i32 f0_negative = (i32)(t.fs[0] & 1);
  for (int i = 0; i < P; i++) {
    const int j = P - 1 - i;
    const i32 n = (i32)((t.vn[j >> 6] >> (j & 63)) & 1);
    const i32 s = (i32)((t.vs[j >> 6] >> (j & 63)) & 1);
    out[i] = (i8)(n * (1 - 2 * (s ^ f0_negative)));
  }
  return nonzero_mask(delta);
}

/*
 * out = 1/(3 in) in Rq, in small and nonzero (always invertible: Rq is a field), by the divsteps above
 * with c = -g[0]/f[0] taken as (g, r) <- (f[0] g - g[0] f, f[0] r - g[0] v), which stays in Z/q; r starts
 * at 1/3 so the factor 3 comes for free. v is kept at a moving offset in vs so that v <- x v is free.
 *
 * Two bounds that depend on the step number only cut the work by a quarter: v and r have degree at most
 * n+1 after step n; and the 2p-1-n steps left after step n read only coefficients 0..2p-1-n of f and g
 * (the coefficient i of a new g comes from coefficients i+1 of the old f and g), so those above are left
 * as they are.
 *
 * Coefficients are int16 and reduced lazily (see update), 8 a vector with WebAssembly SIMD; arrays are
 * padded so that whole vectors, and the read one coefficient ahead, stay inside them.
 */
#define PADDED (P + 1 + 32)

/*
 * One divstep's pass over a pair: for i < count (rounded up to whole vectors), x[i] <- y[i] where swap is
 * set, and y[i] <- a y[i+shift] - b x[i+shift], both from the old values. With (x, y, shift) = (f, g, 1)
 * that is f <- g on a swap and g <- (f[0] g - g[0] f)/x; with (v, r, 0), v <- r and r <- f[0] r - g[0] v.
 * The new y is reduced mod q only lazily: for |x|, |y| <= 5400 and canonical a, b it has absolute value
 * below 5400 again, so it can be fed back indefinitely without overflowing int16. Each product c*z is
 * taken as c*z - q*round(z*c'/2^15) with c' = round(c 2^15/q) +- 0.52 (q15mulr, a rounding multiply),
 * within 0.5 + 0.52*5400/2^15 < 0.59 q of zero, so the difference ends below 1.18q < 5400. The
 * arithmetic wraps mod 2^16, which is exact as the true result fits.
 */
static inline i32 scaled_for_q15(i32 c) { return (c * 29235 + 2048) >> 12; } /* 2^15/q = 29235/2^12 */

#ifdef __wasm_simd128__
static inline void update_vector(i16 *x, i16 *y, int shift, v128_t va, v128_t vb, v128_t va15, v128_t vb15, v128_t vq,
                                 v128_t mask) {
  const v128_t xi = wasm_v128_load(x), yi = wasm_v128_load(y);
  const v128_t xs = wasm_v128_load(x + shift), ys = wasm_v128_load(y + shift);
  wasm_v128_store(x, wasm_v128_xor(xi, wasm_v128_and(mask, wasm_v128_xor(xi, yi))));
  const v128_t product = wasm_i16x8_sub(wasm_i16x8_mul(ys, va), wasm_i16x8_mul(xs, vb));
  const v128_t quotient = wasm_i16x8_sub(wasm_i16x8_q15mulr_sat(ys, va15), wasm_i16x8_q15mulr_sat(xs, vb15));
  wasm_v128_store(y, wasm_i16x8_sub(product, wasm_i16x8_mul(quotient, vq)));
}

__attribute__((noinline)) static void update(i16 *x, i16 *y, int shift, int count, i32 a, i32 b, i32 swap) {
  const v128_t va = wasm_i16x8_splat((i16)a), vb = wasm_i16x8_splat((i16)b);
  const v128_t va15 = wasm_i16x8_splat((i16)scaled_for_q15(a)), vb15 = wasm_i16x8_splat((i16)scaled_for_q15(b));
  const v128_t vq = wasm_i16x8_splat(Q), mask = wasm_i16x8_splat((i16)swap);
  for (int i = 0; i < count; i += 16) { /* two vectors a round: fewer loop turns for the baseline compiler */
    update_vector(x + i, y + i, shift, va, vb, va15, vb15, vq, mask);
    update_vector(x + i + 8, y + i + 8, shift, va, vb, va15, vb15, vq, mask);
  }
}
#else
/* The same arithmetic one coefficient at a time (q15mulr(z, c) = (z c + 2^14) >> 15). */
static void update(i16 *x, i16 *y, int shift, int count, i32 a, i32 b, i32 swap) {
  const i32 a15 = scaled_for_q15(a), b15 = scaled_for_q15(b);
  for (int i = 0; i < count; i++) {
    const i32 xi = x[i], yi = y[i], xs = x[i + shift], ys = y[i + shift];
    x[i] = (i16)(xi ^ (swap & (xi ^ yi)));
    const i32 quotient = ((ys * a15 + 16384) >> 15) - ((xs * b15 + 16384) >> 15);
    y[i] = (i16)(ys * a - xs * b - quotient * Q);
  }
}
#endif

static void rq_recip3(i16 out[P], const i8 in[P]) {
  i16 f[PADDED], g[PADDED], r[PADDED], vs[2 * P - 1 + PADDED];
  for (int i = 0; i < PADDED; i++) f[i] = g[i] = r[i] = 0;
  for (int i = 0; i < 2 * P - 1 + PADDED; i++) vs[i] = 0;
  r[0] = (i16)fq_recip(3);
  f[0] = 1;
  f[P - 1] = -1;
  f[P] = -1;
  for (int i = 0; i < P; i++) g[P - 1 - i] = in[i];
  i32 delta = 1;
  for (int n = 0; n < 2 * P - 1; n++) {
    i16 *v = vs + (2 * P - 2 - n); /* v <- x v: v[i] = old v[i-1], and v[0] = 0 (never written) */
    const int fg_count = (2 * P - 1 - n < P ? 2 * P - 1 - n : P) + 1;
    const int vr_count = (n + 1 < P ? n + 1 : P) + 1;
    const i32 f0 = fq_freeze(f[0]), g0 = fq_freeze(g[0]);
    const i32 swap = opaque(-delta >> 31) & nonzero_mask(g0);
    delta ^= swap & (delta ^ -delta);
    delta += 1;
    update(f, g, 1, fg_count, f0, g0, swap);
    update(v, r, 0, vr_count, f0, g0, swap);
  }
  const i32 scale = fq_recip(fq_freeze(f[0]));
  for (int i = 0; i < P; i++) out[i] = (i16)fq_freeze(scale * vs[P - 1 - i]);
}

/* ---- sampling from caller-supplied 32-bit little-endian words (the reference's urandom32) ---- */

/* Small_random: coefficient i is ((L_i mod 2^30) * 3 >> 30) - 1. */
static void small_from_words(i8 out[P], const u8 *words) {
  for (int i = 0; i < P; i++) out[i] = (i8)((((u64)(le32(words + 4 * i) & 0x3fffffff)) * 3 >> 30) - 1);
}

/*
 * Sorts x ascending: Batcher's merge-exchange (Knuth, TAOCP vol. 3, 5.2.2, Algorithm M), a fixed network
 * for any n whose compare-exchange is a mask from a 64-bit difference.
 */
static void sort_u32(u32 *x, int n) {
  int t = 0;
  while ((1 << t) < n) t++;
  for (int p = 1 << (t - 1); p > 0; p >>= 1) {
    int q = 1 << (t - 1), r = 0, d = p;
    for (;;) {
      /* Compare-exchange x[i] and x[i+d] for every i < n-d whose bit p is r (0 or p). */
      for (int block = r; block < n - d; block += 2 * p) {
        const int end = block + p < n - d ? block + p : n - d;
        for (int i = block; i < end; i++) {
          const u32 a = x[i], b = x[i + d];
          const u32 c = (a ^ b) & (u32)(((u64)b - (u64)a) >> 32); /* a ^ b when b < a, else 0 */
          x[i] = a ^ c;
          x[i + d] = b ^ c;
        }
      }
      if (q == p) break;
      d = q - p;
      q >>= 1;
      r = p;
    }
  }
}

/*
 * Short_random: w words marked +-1 (low bits x0 or x2), p-w marked 0 (low bits 01), sorted so that the
 * marks land in random places; the coefficient is the mark minus 1.
 */
static void short_from_words(i8 out[P], const u8 *words) {
  u32 L[P];
  for (int i = 0; i < W; i++) L[i] = le32(words + 4 * i) & ~1u;
  for (int i = W; i < P; i++) L[i] = (le32(words + 4 * i) & ~3u) | 1;
  sort_u32(L, P);
  for (int i = 0; i < P; i++) out[i] = (i8)((L[i] & 3) - 1);
}

/* ---- encodings (round-3 Encode/Decode) ---- */

/*
 * Packs R (R[i] < M[i] < 2^14) as a mixed-radix number: pairs merged bottom-up, low bytes split off while
 * a merged radix is 2^14 or more. Only multiplications and shifts touch R; R and M are overwritten.
 */
static u8 *encode(u8 *out, u32 *R, u32 *M, int len) {
  while (len > 1) {
    int half = 0;
    for (int i = 0; i + 1 < len; i += 2, half++) {
      u32 m = M[i] * M[i + 1];
      u32 r = R[i] + M[i] * R[i + 1];
      while (m >= 16384) {
        *out++ = (u8)r;
        r >>= 8;
        m = (m + 255) >> 8;
      }
      R[half] = r;
      M[half] = m;
    }
    if (len & 1) {
      R[half] = R[len - 1];
      M[half] = M[len - 1];
      half++;
    }
    len = half;
  }
  for (u32 r = R[0], m = M[0]; m > 1; r >>= 8, m = (m + 255) >> 8) *out++ = (u8)r;
  return out;
}

/*
 * The inverse of encode for the `len` radices M (public data only: it divides), from the bytes s..end;
 * R[i] is reduced mod M[i], so non-canonical input decodes to something in range, as in the reference.
 * The recursion is that of encode: the top pairs' low bytes come first, the merged list after them.
 */
static void decode(u32 *R, const u32 *M, int len, const u8 *s, const u8 *end) {
  if (len == 1) {
    /* The last element owns every byte that is left (at most two). */
    u32 r = 0, t = 0;
    for (; s < end; s++, t += 8) r |= (u32)*s << t;
    R[0] = r % M[0];
    return;
  }
  const int half = (len + 1) / 2;
  u32 bottom_r[half], bottom_t[half], M2[half], R2[half];
  for (int i = 0; i + 1 < len; i += 2) {
    u32 m = M[i] * M[i + 1], r = 0, t = 1;
    while (m >= 16384) {
      r += (u32)*s++ * t;
      t <<= 8;
      m = (m + 255) >> 8;
    }
    bottom_r[i / 2] = r;
    bottom_t[i / 2] = t;
    M2[i / 2] = m;
  }
  if (len & 1) M2[half - 1] = M[len - 1];
  decode(R2, M2, half, s, end);
  for (int i = 0; i + 1 < len; i += 2) {
    const u32 r = bottom_r[i / 2] + bottom_t[i / 2] * R2[i / 2];
    R[i] = r % M[i];
    R[i + 1] = (r / M[i]) % M[i + 1];
  }
  if (len & 1) R[len - 1] = R2[half - 1];
}

/* Rq_encode: coefficients shifted to [0, q). */
static void rq_encode(u8 out[RQ_BYTES], const i16 h[P]) {
  u32 R[P], M[P];
  for (int i = 0; i < P; i++) {
    R[i] = (u32)(h[i] + Q12);
    M[i] = Q;
  }
  encode(out, R, M, P);
}

static void rq_decode(i16 h[P], const u8 s[RQ_BYTES]) {
  u32 R[P], M[P];
  for (int i = 0; i < P; i++) M[i] = Q;
  decode(R, M, P, s, s + RQ_BYTES);
  for (int i = 0; i < P; i++) h[i] = (i16)((i32)R[i] - Q12);
}

/*
 * Round_and_encode: each coefficient to the nearest multiple of 3, which stays in [-Q12, Q12] as
 * Q12 = 2295 is one, then (c + Q12)/3 packed with radix (q+2)/3 = 1531.
 */
static void rounded_encode(u8 out[ROUNDED_BYTES], const i16 h[P]) {
  u32 R[P], M[P];
  for (int i = 0; i < P; i++) {
    const i32 third = (10923 * h[i] + 16384) >> 15; /* round(h/3) for |h| <= Q12 */
    R[i] = (u32)(third + Q12 / 3);
    M[i] = (Q + 2) / 3;
  }
  encode(out, R, M, P);
}

static void rounded_decode(i16 h[P], const u8 s[ROUNDED_BYTES]) {
  u32 R[P], M[P];
  for (int i = 0; i < P; i++) M[i] = (Q + 2) / 3;
  decode(R, M, P, s, s + ROUNDED_BYTES);
  for (int i = 0; i < P; i++) h[i] = (i16)(3 * (i32)R[i] - Q12);
}

/* Small_encode: four coefficients a byte, c+1 in two bits, low bits first. */
static void small_encode(u8 out[SMALL_BYTES], const i8 f[P]) {
  for (int i = 0; i < P / 4; i++) {
    const i8 *c = f + 4 * i;
    out[i] = (u8)((c[0] + 1) | ((c[1] + 1) << 2) | ((c[2] + 1) << 4) | ((c[3] + 1) << 6));
  }
  out[P / 4] = (u8)(f[P - 1] + 1);
}

static void small_decode(i8 f[P], const u8 s[SMALL_BYTES]) {
  for (int i = 0; i < P / 4; i++) {
    const u8 x = s[i];
    f[4 * i] = (i8)((x & 3) - 1);
    f[4 * i + 1] = (i8)(((x >> 2) & 3) - 1);
    f[4 * i + 2] = (i8)(((x >> 4) & 3) - 1);
    f[4 * i + 3] = (i8)(((x >> 6) & 3) - 1);
  }
  f[P - 1] = (i8)((s[P / 4] & 3) - 1);
}

/* ---- the KEM steps JavaScript calls ---- */

/*
 * One attempt at g (KeyGen): g = Small_random(words), written to g_out; Small_encode(1/g in R3) to
 * ginv_out. Returns 0 when g is invertible, -1 when keygen must draw again.
 */
__attribute__((export_name("keygen_attempt")))
i32 keygen_attempt(i8 g_out[P], u8 ginv_out[SMALL_BYTES], const u8 *words) {
  i8 ginv[P];
  small_from_words(g_out, words);
  const i32 result = r3_recip(ginv, g_out);
  small_encode(ginv_out, ginv);
  return result;
}

/*
 * The rest of KeyGen: f = Short_random(words), h = g/(3f); writes pk = Rq_encode(h) and the secret key's
 * head Small_encode(f) (its next 191 bytes, 1/g, come from keygen_attempt).
 */
__attribute__((export_name("keygen_finish")))
void keygen_finish(u8 pk[RQ_BYTES], u8 f_out[SMALL_BYTES], const i8 g[P], const u8 *words) {
  i8 f[P];
  i16 finv[P], h[P];
  short_from_words(f, words);
  small_encode(f_out, f);
  rq_recip3(finv, f);
  rq_mult_small(h, finv, g);
  rq_encode(pk, h);
}

/* Encrypt with r drawn as Short_random(words): ct = Round_and_encode(h r), r_out = Small_encode(r). */
static void encrypt(u8 ct[ROUNDED_BYTES], u8 r_out[SMALL_BYTES], const i8 r[P], const u8 pk[RQ_BYTES]) {
  i16 h[P], c[P];
  small_encode(r_out, r);
  rq_decode(h, pk);
  rq_mult_small(c, h, r);
  rounded_encode(ct, c);
}

__attribute__((export_name("encapsulate")))
void encapsulate(u8 ct[ROUNDED_BYTES], u8 r_out[SMALL_BYTES], const u8 pk[RQ_BYTES], const u8 *words) {
  i8 r[P];
  short_from_words(r, words);
  encrypt(ct, r_out, r, pk);
}

/*
 * Decrypt, then encrypt again: with f and 1/g from sk, e = 3 f c mod 3 = g r mod 3, r = e/g forced to
 * weight w (Weightw_mask: otherwise (1,...,1,0,...,0)); writes Small_encode(r) and the rounded part of
 * its re-encryption, for the caller to compare with ct and hash.
 */
__attribute__((export_name("decapsulate")))
void decapsulate(u8 again[ROUNDED_BYTES], u8 r_out[SMALL_BYTES], const u8 ct[ROUNDED_BYTES], const u8 *sk) {
  i8 f[P], ginv[P], e[P], r[P];
  i16 c[P], fc[P];
  small_decode(f, sk);
  small_decode(ginv, sk + SMALL_BYTES);
  rounded_decode(c, ct);
  rq_mult_small(fc, c, f);
  for (int i = 0; i < P; i++) e[i] = (i8)f3_freeze(fq_freeze(3 * fc[i]));
  r3_mult(r, e, ginv);
  i32 weight = 0;
  for (int i = 0; i < P; i++) weight += r[i] & 1;
  const i32 bad = nonzero_mask(weight - W);
  for (int i = 0; i < W; i++) r[i] = (i8)(((r[i] ^ 1) & ~bad) ^ 1);
  for (int i = W; i < P; i++) r[i] = (i8)(r[i] & ~bad);
  encrypt(again, r_out, r, sk + 2 * SMALL_BYTES);
}
