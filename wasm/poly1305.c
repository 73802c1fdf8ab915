/*
 * Poly1305 (RFC 8439 §2.5) for nssh's chacha20-poly1305@openssh.com, compiled to WebAssembly by
 * scripts/build-wasm.sh: Node's crypto has no raw Poly1305 and the JavaScript one runs at a fifth of
 * what the cipher needs. Radix 2^26 limbs, so every product fits the 64-bit multiplications WebAssembly has.
 *
 * The caller writes the 32-byte one-time key at `key` and the message at `msg` in this module's memory;
 * the 16-byte tag is written to `out`.
 */
typedef unsigned int u32;
typedef unsigned long long u64;

static u32 le32(const unsigned char *p) {
  return (u32)p[0] | ((u32)p[1] << 8) | ((u32)p[2] << 16) | ((u32)p[3] << 24);
}

static void put32(unsigned char *p, u32 v) {
  p[0] = (unsigned char)v;
  p[1] = (unsigned char)(v >> 8);
  p[2] = (unsigned char)(v >> 16);
  p[3] = (unsigned char)(v >> 24);
}

#define MASK26 0x3ffffffu

__attribute__((export_name("poly1305")))
void poly1305(unsigned char *out, const unsigned char *msg, u32 len, const unsigned char *key) {
  /* r clamped as RFC 8439 §2.5 requires, split into 26-bit limbs. */
  const u32 r0 = le32(key + 0) & 0x3ffffff;
  const u32 r1 = (le32(key + 3) >> 2) & 0x3ffff03;
  const u32 r2 = (le32(key + 6) >> 4) & 0x3ffc0ff;
  const u32 r3 = (le32(key + 9) >> 6) & 0x3f03fff;
  const u32 r4 = (le32(key + 12) >> 8) & 0x00fffff;
  /* 2^130 = 5 (mod p): limb products past the top fold back multiplied by 5. */
  const u32 s1 = r1 * 5, s2 = r2 * 5, s3 = r3 * 5, s4 = r4 * 5;
  u32 h0 = 0, h1 = 0, h2 = 0, h3 = 0, h4 = 0;
  unsigned char last[16];
  u32 hibit = 1u << 24; /* the 2^128 bit every full block carries */

  while (len > 0) {
    const unsigned char *m = msg;
    if (len < 16) {
      /* The last partial block gets its 0x01 right after its bytes, and no 2^128 bit. */
      u32 i;
      for (i = 0; i < len; i++) last[i] = msg[i];
      last[i++] = 1;
      for (; i < 16; i++) last[i] = 0;
      m = last;
      hibit = 0;
      len = 16;
    }
    h0 += le32(m + 0) & MASK26;
    h1 += (le32(m + 3) >> 2) & MASK26;
    h2 += (le32(m + 6) >> 4) & MASK26;
    h3 += (le32(m + 9) >> 6) & MASK26;
    h4 += (le32(m + 12) >> 8) | hibit;

    u64 d0 = (u64)h0 * r0 + (u64)h1 * s4 + (u64)h2 * s3 + (u64)h3 * s2 + (u64)h4 * s1;
    u64 d1 = (u64)h0 * r1 + (u64)h1 * r0 + (u64)h2 * s4 + (u64)h3 * s3 + (u64)h4 * s2;
    u64 d2 = (u64)h0 * r2 + (u64)h1 * r1 + (u64)h2 * r0 + (u64)h3 * s4 + (u64)h4 * s3;
    u64 d3 = (u64)h0 * r3 + (u64)h1 * r2 + (u64)h2 * r1 + (u64)h3 * r0 + (u64)h4 * s4;
    u64 d4 = (u64)h0 * r4 + (u64)h1 * r3 + (u64)h2 * r2 + (u64)h3 * r1 + (u64)h4 * r0;

    u32 c = (u32)(d0 >> 26); h0 = (u32)d0 & MASK26;
    d1 += c; c = (u32)(d1 >> 26); h1 = (u32)d1 & MASK26;
    d2 += c; c = (u32)(d2 >> 26); h2 = (u32)d2 & MASK26;
    d3 += c; c = (u32)(d3 >> 26); h3 = (u32)d3 & MASK26;
    d4 += c; c = (u32)(d4 >> 26); h4 = (u32)d4 & MASK26;
    h0 += c * 5; c = h0 >> 26; h0 &= MASK26;
    h1 += c;

    msg += 16;
    len -= 16;
  }

  /* Full carry, then h mod p: compute h + 5 - 2^130 and keep it when it did not borrow. */
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
