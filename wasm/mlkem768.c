/*
 * ML-KEM-768 (FIPS 203: Algorithms 7-18, parameter set k = 3, eta1 = eta2 = 2, du = 10, dv = 4) for
 * src/crypto/mlkem768.ts, which keeps the randomness and the checks of argument lengths. Built by
 * scripts/build-wasm.sh with clang --target=wasm32, no libc. SHA3-256, SHA3-512, SHAKE128 and SHAKE256
 * (FIPS 202) are here too, so one call does a whole key generation, encapsulation or decapsulation.
 *
 * Arithmetic mod q = 3329 on coefficients kept in [0, q), reduced with Barrett's method; no division
 * anywhere (a division by q in Compress leaks time on some CPUs: "KyberSlash"). Constant time: no
 * branch, select, loop bound or memory index depends on secret data. The only data-dependent branches are
 * SampleNTT's rejections, which depend on the public seed rho, and the two input checks of FIPS 203
 * §7.2 and §7.3, on public or self-made data. Decapsulation compares and selects with masks.
 *
 * No static data changes: the tables are constants, and all scratch is on the stack, which lies between
 * __data_end and __heap_base, so the caller can wipe every secret with one fill of that range and of its
 * own buffers.
 */

#include "common.h"

#define N 256
#define Q 3329
#define K 3
#define POLY_BYTES 384                           /* ByteEncode_12 of one polynomial */
#define DU_BYTES 320                             /* ByteEncode_10 */
#define DV_BYTES 128                             /* ByteEncode_4 */
#define EK_BYTES (K * POLY_BYTES + 32)           /* 1184 */
#define DK_PKE_BYTES (K * POLY_BYTES)            /* 1152 */
#define DK_BYTES (DK_PKE_BYTES + EK_BYTES + 64)  /* 2400: dk_PKE || ek || H(ek) || z */
#define CT_BYTES (K * DU_BYTES + DV_BYTES)       /* 1088 */

/* ---- Keccak-f[1600] and its sponges (FIPS 202) ---- */

static const u64 ROUND_CONSTANTS[24] = {
  0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808aULL, 0x8000000080008000ULL,
  0x000000000000808bULL, 0x0000000080000001ULL, 0x8000000080008081ULL, 0x8000000000008009ULL,
  0x000000000000008aULL, 0x0000000000000088ULL, 0x0000000080008009ULL, 0x000000008000000aULL,
  0x000000008000808bULL, 0x800000000000008bULL, 0x8000000000008089ULL, 0x8000000000008003ULL,
  0x8000000000008002ULL, 0x8000000000000080ULL, 0x000000000000800aULL, 0x800000008000000aULL,
  0x8000000080008081ULL, 0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL,
};
/* rho's rotation of each lane, in the order pi visits them starting from lane 1. */
static const u8 ROTATIONS[24] = {1, 3, 6, 10, 15, 21, 28, 36, 45, 55, 2, 14, 27, 41, 56, 8, 25, 43, 62, 18, 39, 61, 20, 44};
static const u8 PI_LANES[24] = {10, 7, 11, 17, 18, 3, 5, 16, 8, 21, 24, 4, 15, 23, 19, 13, 12, 2, 20, 14, 22, 9, 6, 1};

static u64 rotl(u64 x, u32 s) { return (x << s) | (x >> (64 - s)); }

static void keccak_f(u64 st[25]) {
  for (u32 round = 0; round < 24; round++) {
    u64 c[5];
    for (u32 i = 0; i < 5; i++) c[i] = st[i] ^ st[i + 5] ^ st[i + 10] ^ st[i + 15] ^ st[i + 20];
    for (u32 i = 0; i < 5; i++) {
      u64 d = c[(i + 4) % 5] ^ rotl(c[(i + 1) % 5], 1);
      for (u32 j = 0; j < 25; j += 5) st[j + i] ^= d;
    }
    u64 carried = st[1];
    for (u32 i = 0; i < 24; i++) {
      u32 lane = PI_LANES[i];
      u64 next = st[lane];
      st[lane] = rotl(carried, ROTATIONS[i]);
      carried = next;
    }
    for (u32 j = 0; j < 25; j += 5) {
      u64 row[5];
      for (u32 i = 0; i < 5; i++) row[i] = st[j + i];
      for (u32 i = 0; i < 5; i++) st[j + i] = row[i] ^ (~row[(i + 1) % 5] & row[(i + 2) % 5]);
    }
    st[0] ^= ROUND_CONSTANTS[round];
  }
}

/* Lanes are little-endian, as WebAssembly's memory is, so byte i of the state is byte i of the array. */
typedef struct {
  u64 st[25];
  u32 pos;
  u32 rate;
} Sponge;

#define RATE_SHAKE128 168
#define RATE_SHAKE256 136
#define RATE_SHA3_256 136
#define RATE_SHA3_512 72
#define PAD_SHA3 0x06
#define PAD_SHAKE 0x1f

static void sponge_init(Sponge *s, u32 rate) {
  for (u32 i = 0; i < 25; i++) s->st[i] = 0;
  s->pos = 0;
  s->rate = rate;
}

static void sponge_absorb(Sponge *s, const u8 *in, u32 len) {
  u8 *bytes = (u8 *)s->st;
  for (u32 i = 0; i < len; i++) {
    bytes[s->pos++] ^= in[i];
    if (s->pos == s->rate) {
      keccak_f(s->st);
      s->pos = 0;
    }
  }
}

static void sponge_finish(Sponge *s, u8 pad) {
  u8 *bytes = (u8 *)s->st;
  bytes[s->pos] ^= pad;
  bytes[s->rate - 1] ^= 0x80;
  keccak_f(s->st);
  s->pos = 0;
}

static void sponge_squeeze(Sponge *s, u8 *out, u32 len) {
  u8 *bytes = (u8 *)s->st;
  for (u32 i = 0; i < len; i++) {
    if (s->pos == s->rate) {
      keccak_f(s->st);
      s->pos = 0;
    }
    out[i] = bytes[s->pos++];
  }
}

/* out = the sponge's first out_len bytes over a || b (b may be empty). */
static void sponge_hash(u32 rate, u8 pad, u8 *out, u32 out_len, const u8 *a, u32 a_len, const u8 *b, u32 b_len) {
  Sponge s;
  sponge_init(&s, rate);
  sponge_absorb(&s, a, a_len);
  sponge_absorb(&s, b, b_len);
  sponge_finish(&s, pad);
  sponge_squeeze(&s, out, out_len);
}

/* H (SHA3-256), G (SHA3-512), J (SHAKE256 to 32 bytes) and PRF_2 (SHAKE256 to 128 bytes): FIPS 203 §4.1. */
static void hash_h(u8 out[32], const u8 *in, u32 len) { sponge_hash(RATE_SHA3_256, PAD_SHA3, out, 32, in, len, 0, 0); }
static void hash_g(u8 out[64], const u8 *a, u32 a_len, const u8 *b, u32 b_len) {
  sponge_hash(RATE_SHA3_512, PAD_SHA3, out, 64, a, a_len, b, b_len);
}
static void hash_j(u8 out[32], const u8 z[32], const u8 *c, u32 c_len) {
  sponge_hash(RATE_SHAKE256, PAD_SHAKE, out, 32, z, 32, c, c_len);
}
static void prf(u8 out[128], const u8 seed[32], u8 nonce) {
  sponge_hash(RATE_SHAKE256, PAD_SHAKE, out, 128, seed, 32, &nonce, 1);
}

/* ---- Z/q ---- */

/* a mod q for a in [0, 2q); the mask stays opaque, or the compiler makes a select of `mask & Q`. */
static u32 reduce_once(u32 a) {
  i32 t = (i32)a - Q;
  i32 mask = opaque(t >> 31);
  t += mask & Q;
  return (u32)t;
}

/* a mod q for any 32-bit a: floor(2^32 / q) = 1290167 puts a - t*q in [0, 2q). */
static u32 reduce(u32 a) {
  u32 t = (u32)(((u64)a * 1290167u) >> 32);
  return reduce_once(a - t * Q);
}

static u32 mul(u32 a, u32 b) { return reduce(a * b); }
static u32 add(u32 a, u32 b) { return reduce_once(a + b); }
static u32 sub(u32 a, u32 b) { return reduce_once(a + Q - b); }

/* ---- NTT (Algorithms 9-12) ---- */

/* zeta[i] = 17^BitRev7(i) and gamma[i] = 17^(2 BitRev7(i) + 1), mod q: computed, not transcribed. */
typedef struct {
  u16 zeta[128];
  u16 gamma[128];
} NttTables;

static void ntt_tables(NttTables *t) {
  u16 power[256];
  u32 x = 1;
  for (u32 e = 0; e < 256; e++) {
    power[e] = (u16)x;
    x = mul(x, 17);
  }
  for (u32 i = 0; i < 128; i++) {
    u32 r = 0;
    for (u32 b = 0; b < 7; b++) r |= ((i >> b) & 1) << (6 - b);
    t->zeta[i] = power[r];
    t->gamma[i] = power[2 * r + 1];
  }
}

static void ntt(u16 f[N], const NttTables *t) {
  u32 i = 1;
  for (u32 len = 128; len >= 2; len >>= 1) {
    for (u32 start = 0; start < N; start += 2 * len) {
      u32 zeta = t->zeta[i++];
      for (u32 j = start; j < start + len; j++) {
        u32 x = mul(zeta, f[j + len]);
        f[j + len] = (u16)sub(f[j], x);
        f[j] = (u16)add(f[j], x);
      }
    }
  }
}

static void ntt_inverse(u16 f[N], const NttTables *t) {
  u32 i = 127;
  for (u32 len = 2; len <= 128; len <<= 1) {
    for (u32 start = 0; start < N; start += 2 * len) {
      u32 zeta = t->zeta[i--];
      for (u32 j = start; j < start + len; j++) {
        u32 x = f[j];
        f[j] = (u16)add(x, f[j + len]);
        f[j + len] = (u16)mul(zeta, sub(f[j + len], x));
      }
    }
  }
  for (u32 j = 0; j < N; j++) f[j] = (u16)mul(f[j], 3303); /* 128^-1 mod q */
}

/* h += f * g in the NTT domain (MultiplyNTTs and BaseCaseMultiply). */
static void multiply_add(u16 h[N], const u16 f[N], const u16 g[N], const NttTables *t) {
  for (u32 i = 0; i < 128; i++) {
    u32 a0 = f[2 * i], a1 = f[2 * i + 1], b0 = g[2 * i], b1 = g[2 * i + 1];
    u32 c0 = add(mul(a0, b0), mul(mul(a1, b1), t->gamma[i]));
    u32 c1 = add(mul(a0, b1), mul(a1, b0));
    h[2 * i] = (u16)add(h[2 * i], c0);
    h[2 * i + 1] = (u16)add(h[2 * i + 1], c1);
  }
}

static void poly_zero(u16 f[N]) {
  for (u32 i = 0; i < N; i++) f[i] = 0;
}

static void poly_add(u16 f[N], const u16 g[N]) {
  for (u32 i = 0; i < N; i++) f[i] = (u16)add(f[i], g[i]);
}

/* ---- Sampling (Algorithms 7 and 8) ---- */

/* SampleNTT(rho || x || y): rejection sampling from SHAKE128, on public data only. */
static void sample_ntt(u16 a[N], const u8 rho[32], u8 x, u8 y) {
  Sponge s;
  u8 xy[2] = {x, y};
  sponge_init(&s, RATE_SHAKE128);
  sponge_absorb(&s, rho, 32);
  sponge_absorb(&s, xy, 2);
  sponge_finish(&s, PAD_SHAKE);
  u32 j = 0;
  while (j < N) {
    u8 c[3];
    sponge_squeeze(&s, c, 3);
    u32 d1 = c[0] | ((u32)(c[1] & 15) << 8);
    u32 d2 = (u32)(c[1] >> 4) | ((u32)c[2] << 4);
    if (d1 < Q) a[j++] = (u16)d1;
    if (d2 < Q && j < N) a[j++] = (u16)d2;
  }
}

/* SamplePolyCBD_2 of PRF_2(seed, nonce): each nibble gives (b0 + b1) - (b2 + b3). */
static void sample_cbd(u16 f[N], const u8 seed[32], u8 nonce) {
  u8 bytes[128];
  prf(bytes, seed, nonce);
  for (u32 i = 0; i < 128; i++) {
    for (u32 h = 0; h < 2; h++) {
      u32 n = (u32)bytes[i] >> (4 * h);
      f[2 * i + h] = (u16)sub((n & 1) + ((n >> 1) & 1), ((n >> 2) & 1) + ((n >> 3) & 1));
    }
  }
}

/* ---- Encodings (Algorithms 5 and 6, §4.2.1) ---- */

static void byte_encode(u8 *out, const u16 f[N], u32 d) {
  u32 acc = 0, bits = 0, o = 0;
  for (u32 i = 0; i < N; i++) {
    acc |= (u32)f[i] << bits;
    bits += d;
    while (bits >= 8) {
      out[o++] = (u8)acc;
      acc >>= 8;
      bits -= 8;
    }
  }
}

/* ByteDecode_d; for d = 12 the values are taken mod q, as FIPS 203 defines it. */
static void byte_decode(u16 f[N], const u8 *in, u32 d) {
  u32 acc = 0, bits = 0, o = 0, mask = (1u << d) - 1;
  for (u32 i = 0; i < N; i++) {
    while (bits < d) {
      acc |= (u32)in[o++] << bits;
      bits += 8;
    }
    u32 v = acc & mask;
    f[i] = (u16)(d == 12 ? reduce_once(v) : v);
    acc >>= d;
    bits -= d;
  }
}

/*
 * Compress_d(x) = round(2^d x / q) mod 2^d as floor((2^d x + (q-1)/2) / q), the quotient taken with
 * ceil(2^36 / q) = 20642679 and a shift (exact for numerators below 2^22; the correction keeps it exact
 * regardless).
 */
static u32 compress(u32 x, u32 d) {
  u32 n = (x << d) + Q / 2;
  u32 t = (u32)(((u64)n * 20642679u) >> 36);
  t -= (u32)((i32)(n - t * Q) >> 31) & 1;
  return t & ((1u << d) - 1);
}

static u32 decompress(u32 y, u32 d) { return (y * Q + (1u << (d - 1))) >> d; }

static void poly_compress_encode(u8 *out, u16 f[N], u32 d) {
  for (u32 i = 0; i < N; i++) f[i] = (u16)compress(f[i], d);
  byte_encode(out, f, d);
}

static void poly_decode_decompress(u16 f[N], const u8 *in, u32 d) {
  byte_decode(f, in, d);
  for (u32 i = 0; i < N; i++) f[i] = (u16)decompress(f[i], d);
}

/* ---- K-PKE (Algorithms 13-15) ---- */

static void pke_keygen(u8 ek[EK_BYTES], u8 dk_pke[DK_PKE_BYTES], const u8 d[32], const NttTables *t) {
  u8 rho_sigma[64];
  u8 k = K;
  hash_g(rho_sigma, d, 32, &k, 1);
  const u8 *rho = rho_sigma, *sigma = rho_sigma + 32;
  u16 s[K][N], e[K][N], a[N];
  for (u32 i = 0; i < K; i++) {
    sample_cbd(s[i], sigma, (u8)i);
    ntt(s[i], t);
  }
  for (u32 i = 0; i < K; i++) {
    sample_cbd(e[i], sigma, (u8)(K + i));
    ntt(e[i], t);
  }
  /* t_hat[i] = e_hat[i] + sum_j A_hat[i][j] * s_hat[j], with A_hat[i][j] = SampleNTT(rho || j || i). */
  for (u32 i = 0; i < K; i++) {
    for (u32 j = 0; j < K; j++) {
      sample_ntt(a, rho, (u8)j, (u8)i);
      multiply_add(e[i], a, s[j], t);
    }
    byte_encode(ek + i * POLY_BYTES, e[i], 12);
    byte_encode(dk_pke + i * POLY_BYTES, s[i], 12);
  }
  for (u32 i = 0; i < 32; i++) ek[K * POLY_BYTES + i] = rho[i];
}

static void pke_encrypt(u8 ct[CT_BYTES], const u8 ek[EK_BYTES], const u8 m[32], const u8 r[32], const NttTables *t) {
  const u8 *rho = ek + K * POLY_BYTES;
  u16 y[K][N], a[N], acc[N], noise[N];
  for (u32 i = 0; i < K; i++) {
    sample_cbd(y[i], r, (u8)i);
    ntt(y[i], t);
  }
  /* u[i] = NTT^-1(sum_j A_hat[j][i] * y_hat[j]) + e1[i], where A_hat[j][i] = SampleNTT(rho || i || j). */
  for (u32 i = 0; i < K; i++) {
    poly_zero(acc);
    for (u32 j = 0; j < K; j++) {
      sample_ntt(a, rho, (u8)i, (u8)j);
      multiply_add(acc, a, y[j], t);
    }
    ntt_inverse(acc, t);
    sample_cbd(noise, r, (u8)(K + i));
    poly_add(acc, noise);
    poly_compress_encode(ct + i * DU_BYTES, acc, 10);
  }
  /* v = NTT^-1(t_hat . y_hat) + e2 + Decompress_1(m) */
  poly_zero(acc);
  for (u32 i = 0; i < K; i++) {
    byte_decode(a, ek + i * POLY_BYTES, 12);
    multiply_add(acc, a, y[i], t);
  }
  ntt_inverse(acc, t);
  sample_cbd(noise, r, (u8)(2 * K));
  poly_add(acc, noise);
  poly_decode_decompress(noise, m, 1);
  poly_add(acc, noise);
  poly_compress_encode(ct + K * DU_BYTES, acc, 4);
}

static void pke_decrypt(u8 m[32], const u8 dk_pke[DK_PKE_BYTES], const u8 ct[CT_BYTES], const NttTables *t) {
  u16 u[N], s[N], acc[N], v[N];
  poly_zero(acc);
  for (u32 i = 0; i < K; i++) {
    poly_decode_decompress(u, ct + i * DU_BYTES, 10);
    ntt(u, t);
    byte_decode(s, dk_pke + i * POLY_BYTES, 12);
    multiply_add(acc, s, u, t);
  }
  ntt_inverse(acc, t);
  poly_decode_decompress(v, ct + K * DU_BYTES, 4);
  for (u32 i = 0; i < N; i++) v[i] = (u16)sub(v[i], acc[i]);
  poly_compress_encode(m, v, 1);
}

/* ---- ML-KEM (Algorithms 16-18), the exported calls ---- */

/* KeyGen_internal(d, z), seed = d || z: ek (1184 bytes) and dk (2400 bytes). */
void keygen(u8 *ek, u8 *dk, const u8 *seed) {
  NttTables t;
  ntt_tables(&t);
  pke_keygen(ek, dk, seed, &t);
  for (u32 i = 0; i < EK_BYTES; i++) dk[DK_PKE_BYTES + i] = ek[i];
  hash_h(dk + DK_PKE_BYTES + EK_BYTES, ek, EK_BYTES);
  for (u32 i = 0; i < 32; i++) dk[DK_BYTES - 32 + i] = seed[32 + i];
}

/*
 * Encaps_internal(ek, m): c (1088 bytes) and K (32). Returns -1, writing nothing, when ek fails the modulus
 * check of §7.2 (a 12-bit value >= q), else 0.
 */
i32 encapsulate(u8 *ct, u8 *shared, const u8 *ek, const u8 *m) {
  for (u32 i = 0; i < K * POLY_BYTES; i += 3) {
    u32 lo = ek[i] | ((u32)(ek[i + 1] & 15) << 8);
    u32 hi = (u32)(ek[i + 1] >> 4) | ((u32)ek[i + 2] << 4);
    if (lo >= Q || hi >= Q) return -1;
  }
  NttTables t;
  ntt_tables(&t);
  u8 h[32], key_r[64];
  hash_h(h, ek, EK_BYTES);
  hash_g(key_r, m, 32, h, 32);
  pke_encrypt(ct, ek, m, key_r + 32, &t);
  for (u32 i = 0; i < 32; i++) shared[i] = key_r[i];
  return 0;
}

/*
 * Decaps_internal(dk, c): K (32 bytes), or the implicit-rejection key J(z || c) when c does not
 * re-encrypt to itself, chosen with a mask. Returns -1, writing nothing, when dk fails the hash check of
 * §7.3 (H(ek) as stored in dk), else 0.
 */
i32 decapsulate(u8 *shared, const u8 *dk, const u8 *ct) {
  const u8 *ek = dk + DK_PKE_BYTES, *h = ek + EK_BYTES, *z = h + 32;
  u8 check[32];
  hash_h(check, ek, EK_BYTES);
  u32 differs = 0;
  for (u32 i = 0; i < 32; i++) differs |= (u32)(check[i] ^ h[i]);
  if (differs != 0) return -1;
  NttTables t;
  ntt_tables(&t);
  u8 m[32], key_r[64], rejected[32], again[CT_BYTES];
  pke_decrypt(m, dk, ct, &t);
  hash_g(key_r, m, 32, h, 32);
  hash_j(rejected, z, ct, CT_BYTES);
  pke_encrypt(again, ek, m, key_r + 32, &t);
  differs = 0;
  for (u32 i = 0; i < CT_BYTES; i++) differs |= (u32)(again[i] ^ ct[i]);
  u32 reject = 0u - ((differs + 0xff) >> 8); /* all ones when c' != c */
  for (u32 i = 0; i < 32; i++) shared[i] = (u8)(key_r[i] ^ (reject & (u32)(key_r[i] ^ rejected[i])));
  return 0;
}
