/**
 * Byte encodings of the round-3 NTRU Prime submission (the specification's "Encode"/"Decode",
 * Encode.c/Decode.c in the reference code, as in OpenSSH's sntrup761.c). A list
 * R of integers with 0 <= R[i] < M[i] is packed as a mixed-radix number, pairs merged bottom-up and
 * low bytes split off whenever a merged radix reaches 2^14, so no limb ever exceeds 2^28 and plain
 * JS numbers hold every intermediate value exactly.
 */
import { P, Q12, ROUNDED_BYTES, RQ_BYTES, SMALL_BYTES } from "./params.js";

function encodeInto(out: number[], R: number[], M: number[]): void {
  if (M.length === 0) return;
  if (M.length === 1) {
    let r = R[0]!;
    let m = M[0]!;
    while (m > 1) {
      out.push(r & 255);
      r >>>= 8;
      m = (m + 255) >>> 8;
    }
    return;
  }
  const R2: number[] = [];
  const M2: number[] = [];
  for (let i = 0; i + 1 < M.length; i += 2) {
    let m = M[i]! * M[i + 1]!;
    let r = R[i]! + M[i]! * R[i + 1]!;
    while (m >= 16384) {
      out.push(r & 255);
      r >>>= 8;
      m = (m + 255) >>> 8;
    }
    R2.push(r);
    M2.push(m);
  }
  if (M.length & 1) {
    R2.push(R[M.length - 1]!);
    M2.push(M[M.length - 1]!);
  }
  encodeInto(out, R2, M2);
}

/** Returns R[i] mod M[i]; out-of-range (non-canonical) input is reduced, as in the reference. */
function decodeFrom(S: Uint8Array, offset: number, M: number[]): number[] {
  if (M.length === 0) return [];
  if (M.length === 1) {
    // The last element owns every byte that is left.
    let r = 0;
    let t = 1;
    for (let k = offset; k < S.length; k++) {
      r += S[k]! * t;
      t *= 256;
    }
    return [r % M[0]!];
  }
  let k = offset;
  const bottomR: number[] = [];
  const bottomT: number[] = [];
  const M2: number[] = [];
  for (let i = 0; i + 1 < M.length; i += 2) {
    let m = M[i]! * M[i + 1]!;
    let r = 0;
    let t = 1;
    while (m >= 16384) {
      r += S[k++]! * t;
      t *= 256;
      m = (m + 255) >>> 8;
    }
    bottomR.push(r);
    bottomT.push(t);
    M2.push(m);
  }
  if (M.length & 1) M2.push(M[M.length - 1]!);
  const R2 = decodeFrom(S, k, M2);
  const R: number[] = [];
  for (let i = 0; i + 1 < M.length; i += 2) {
    const r = bottomR[i >> 1]! + bottomT[i >> 1]! * R2[i >> 1]!;
    R.push(r % M[i]!);
    R.push(Math.floor(r / M[i]!) % M[i + 1]!);
  }
  if (M.length & 1) R.push(R2[R2.length - 1]!);
  return R;
}

const RQ_RADIX: number[] = new Array<number>(P).fill(2 * Q12 + 1);
const ROUNDED_RADIX: number[] = new Array<number>(P).fill((2 * Q12 + 1 + 2) / 3);

/** Rq_encode: coefficients in [-Q12, Q12] shifted to [0, q). */
export function rqEncode(h: Int16Array): Uint8Array {
  const R = new Array<number>(P);
  for (let i = 0; i < P; i++) R[i] = h[i]! + Q12;
  const out: number[] = [];
  encodeInto(out, R, RQ_RADIX);
  return Uint8Array.from(out);
}

export function rqDecode(s: Uint8Array): Int16Array {
  const R = decodeFrom(s.subarray(0, RQ_BYTES), 0, RQ_RADIX);
  const h = new Int16Array(P);
  for (let i = 0; i < P; i++) h[i] = R[i]! - Q12;
  return h;
}

/**
 * Round_and_encode: each coefficient goes to the nearest multiple of 3 (always in [-Q12, Q12] as
 * Q12 = 2295 is itself a multiple of 3), then (c + Q12)/3 is packed with radix (q+2)/3 = 1531.
 */
export function roundedEncode(h: Int16Array): Uint8Array {
  const R = new Array<number>(P);
  for (let i = 0; i < P; i++) {
    const x = h[i]!;
    const rounded = 3 * ((10923 * x + 16384) >> 15); // round(x/3) for |x| <= Q12
    R[i] = (rounded + Q12) / 3;
  }
  const out: number[] = [];
  encodeInto(out, R, ROUNDED_RADIX);
  return Uint8Array.from(out);
}

export function roundedDecode(s: Uint8Array): Int16Array {
  const R = decodeFrom(s.subarray(0, ROUNDED_BYTES), 0, ROUNDED_RADIX);
  const h = new Int16Array(P);
  for (let i = 0; i < P; i++) h[i] = 3 * R[i]! - Q12;
  return h;
}

/** Small_encode: four coefficients of {-1,0,1} a byte, (c+1) in two bits, low bits first. */
export function smallEncode(f: Int8Array): Uint8Array {
  const out = new Uint8Array(SMALL_BYTES);
  for (let i = 0; i < P >> 2; i++) {
    const j = 4 * i;
    out[i] = (f[j]! + 1) | ((f[j + 1]! + 1) << 2) | ((f[j + 2]! + 1) << 4) | ((f[j + 3]! + 1) << 6);
  }
  out[P >> 2] = f[P - 1]! + 1;
  return out;
}

export function smallDecode(s: Uint8Array): Int8Array {
  const f = new Int8Array(P);
  for (let i = 0; i < P >> 2; i++) {
    const x = s[i]!;
    f[4 * i] = (x & 3) - 1;
    f[4 * i + 1] = ((x >> 2) & 3) - 1;
    f[4 * i + 2] = ((x >> 4) & 3) - 1;
    f[4 * i + 3] = ((x >> 6) & 3) - 1;
  }
  f[P - 1] = (s[P >> 2]! & 3) - 1;
  return f;
}
