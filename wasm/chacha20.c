/*
 * ChaCha20 (DJB's original: 64-bit block counter in state words 12-13, 64-bit nonce in 14-15, the layout
 * chacha20-poly1305@openssh.com uses and the one of OpenSSL's "chacha20" IV) for short inputs, compiled to
 * WebAssembly by scripts/build-wasm.sh. Node's ChaCha20 needs a new cipher object for every packet (the nonce
 * is the sequence number): 4-5 us each, several times what this takes for the length field, the
 * Poly1305 key and a small packet's payload. Long payloads still go to OpenSSL (src/crypto/chacha20.ts).
 *
 * Constant time: additions, rotations and XORs only; the loops depend on the length alone.
 *
 * The caller writes the 32-byte key at `key`, the 16-byte IV (counter LE || nonce) at `iv` and the input at
 * `in`; len bytes of input XOR keystream are written to `out` (which may be `in`). No static data: the
 * state lives in locals and on the stack, which the caller wipes after each call (src/crypto/secretWasm.ts).
 */
#include "common.h"

static inline u32 rotl(u32 x, int n) { return (x << n) | (x >> (32 - n)); }

#define QUARTER(a, b, c, d)                                                                                \
  a += b, d = rotl(d ^ a, 16), c += d, b = rotl(b ^ c, 12), a += b, d = rotl(d ^ a, 8), c += d,          \
      b = rotl(b ^ c, 7)

/* One 64-byte keystream block of state s (RFC 8439 §2.3: 20 rounds, then the state added back). */
static void keystream_block(u32 out[16], const u32 s[16]) {
  u32 x[16];
  for (int i = 0; i < 16; i++) x[i] = s[i];
  for (int round = 0; round < 10; round++) {
    QUARTER(x[0], x[4], x[8], x[12]);
    QUARTER(x[1], x[5], x[9], x[13]);
    QUARTER(x[2], x[6], x[10], x[14]);
    QUARTER(x[3], x[7], x[11], x[15]);
    QUARTER(x[0], x[5], x[10], x[15]);
    QUARTER(x[1], x[6], x[11], x[12]);
    QUARTER(x[2], x[7], x[8], x[13]);
    QUARTER(x[3], x[4], x[9], x[14]);
  }
  for (int i = 0; i < 16; i++) out[i] = x[i] + s[i];
}

void chacha20_xor(u8 *out, const u8 *in, u32 len, const u8 *key, const u8 *iv) {
  u32 s[16];
  s[0] = 0x61707865; /* "expand 32-byte k" */
  s[1] = 0x3320646e;
  s[2] = 0x79622d32;
  s[3] = 0x6b206574;
  for (int i = 0; i < 8; i++) s[4 + i] = le32(key + 4 * i);
  for (int i = 0; i < 4; i++) s[12 + i] = le32(iv + 4 * i);
  u32 k[16];
  while (len >= 64) {
    keystream_block(k, s);
    for (int i = 0; i < 16; i++) put32(out + 4 * i, le32(in + 4 * i) ^ k[i]);
    /* The 64-bit counter: word 13 takes the carry out of word 12, without a branch. */
    s[12] += 1;
    s[13] += (u32)(s[12] == 0);
    in += 64, out += 64, len -= 64;
  }
  if (len > 0) {
    keystream_block(k, s);
    for (u32 i = 0; i < len; i++) out[i] = in[i] ^ (u8)(k[i / 4] >> (8 * (i % 4)));
  }
}
