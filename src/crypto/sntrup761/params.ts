/**
 * Parameters of sntrup761 (NTRU Prime round-3 submission, parameter set "sntrup761"). The ring is
 * Z[x]/(x^p - x - 1); q is prime and x^p - x - 1 is irreducible mod q, so Rq is a field.
 */
export const P = 761;
// q = 4591 and w = 286 (the weight of the short f and r) are used in wasm/sntrup761.c only.

/** Byte lengths of the encodings (round-3 "Encode" of Rq, rounded Rq and small elements). */
export const RQ_BYTES = 1158;
export const ROUNDED_BYTES = 1007;
export const SMALL_BYTES = 191;
export const HASH_BYTES = 32;

export const PUBLIC_KEY_BYTES = RQ_BYTES;
/** f || ginv || pk || rho || Hash4(pk) */
export const SECRET_KEY_BYTES = 2 * SMALL_BYTES + RQ_BYTES + SMALL_BYTES + HASH_BYTES;
/** Rounded(h*r) || Confirm */
export const CIPHERTEXT_BYTES = ROUNDED_BYTES + HASH_BYTES;
