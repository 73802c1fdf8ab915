/**
 * Arithmetic in R3 = (Z/3)[x]/(x^p - x - 1) and Rq = (Z/q)[x]/(x^p - x - 1) for sntrup761.
 * Small polynomials (coefficients in {-1,0,1}) live in Int8Array, Rq elements in Int16Array with
 * coefficients centred in [-(q-1)/2, (q-1)/2], as in the round-3 reference code.
 *
 * The code keeps to the reference's discipline of no branches or table look-ups on secret data
 * (masks instead of ifs), as far as JavaScript allows: the JIT gives no hard guarantee.
 */
import { P, Q, W } from "./params.js";

const Q_INV = 1 / Q;
/** 1.5 * 2^52: adding and subtracting it rounds a double below 2^51 to the nearest integer. */
const ROUND = 6755399441055744;

/**
 * x mod q, centred, for integers |x| < 2^31 (a tie x/q = k + 1/2 cannot happen, q being odd).
 * The rounding is plain floating-point arithmetic: V8 compiles Math.round to a branch on the
 * value, which made this twice as slow on random data as on regular data, a timing leak.
 */
export function fqFreeze(x: number): number {
  return x - Q * (x * Q_INV + ROUND - ROUND);
}

/** x mod 3 in {-1,0,1} for |x| < 16000; (x*10923 + 2^14) >> 15 is round(x/3) in that range. */
function f3Freeze(x: number): number {
  return x - 3 * ((x * 10923 + 16384) >> 15);
}

/** -1 if x != 0, else 0 (x an int32). */
function nonzeroMask(x: number): number {
  return -((x | -x) >>> 31);
}

/** a^(q-2) = 1/a in Z/q (Fermat); fixed exponent, so the steps do not depend on a. */
export function fqRecip(a: number): number {
  let result = 1;
  let base = fqFreeze(a);
  for (let e = Q - 2; e > 0; e >>>= 1) {
    const bit = e & 1;
    const product = fqFreeze(result * base);
    result = bit ? product : result; // the exponent is public
    base = fqFreeze(base * base);
  }
  return result;
}

/** Schoolbook product of length-P vectors, then x^i -> x^(i-p+1) + x^(i-p) for i >= p. */
function multiplyReduce(a: ArrayLike<number>, b: Int8Array): Int32Array {
  const fg = new Int32Array(2 * P - 1);
  for (let i = 0; i < P; i++) {
    const ai = a[i]!;
    for (let j = 0; j < P; j++) fg[i + j] += ai * b[j]!;
  }
  for (let i = 2 * P - 2; i >= P; i--) {
    fg[i - P + 1] += fg[i]!;
    fg[i - P] += fg[i]!;
  }
  return fg;
}

/** h = f*g in Rq, g small. */
export function rqMultSmall(f: Int16Array, g: Int8Array): Int16Array {
  const fg = multiplyReduce(f, g);
  const h = new Int16Array(P);
  for (let i = 0; i < P; i++) h[i] = fqFreeze(fg[i]!);
  return h;
}

/** h = f*g in R3. */
export function r3Mult(f: Int8Array, g: Int8Array): Int8Array {
  const fg = multiplyReduce(f, g);
  const h = new Int8Array(P);
  for (let i = 0; i < P; i++) h[i] = f3Freeze(fg[i]!);
  return h;
}

/** R3_fromRq(3*d): the Decrypt step that maps 3*f*c in Rq to its reduction mod 3. */
export function r3FromRqTimes3(d: Int16Array): Int8Array {
  const e = new Int8Array(P);
  for (let i = 0; i < P; i++) e[i] = f3Freeze(fqFreeze(3 * d[i]!));
  return e;
}

// R3 elements of length P+1, bitsliced: plane n holds "coefficient != 0", plane s "coefficient is
// -1", bit i of the planes being coefficient i; 32 coefficients per word.
const WORDS = (P + 1 + 31) >>> 5;
const TOP_MASK = (1 << ((P + 1) & 31)) - 1; // valid bits of the last word (indices up to P)

/** a <- x*a: a[i] = a[i-1], a[0] = 0, dropping what moves past index P. */
function shiftUp(a: Int32Array): void {
  for (let w = WORDS - 1; w > 0; w--) a[w] = (a[w]! << 1) | (a[w - 1]! >>> 31);
  a[0] = a[0]! << 1;
  a[WORDS - 1] = a[WORDS - 1]! & TOP_MASK;
}

/** a <- a/x: a[i] = a[i+1], a[P] = 0; a[0] is dropped (the divstep has made it zero). */
function shiftDown(a: Int32Array): void {
  for (let w = 0; w < WORDS - 1; w++) a[w] = (a[w]! >>> 1) | (a[w + 1]! << 31);
  a[WORDS - 1] = a[WORDS - 1]! >>> 1;
}

/**
 * a <- a + c*b over 32 coefficients a word, for a scalar c in {-1,0,1} given as masks (cNonzero,
 * cNegative), with 1+1 = -1 and (-1)+(-1) = 1 in F3.
 */
function addScaled(
  an: Int32Array,
  as: Int32Array,
  bn: Int32Array,
  bs: Int32Array,
  cNz: number,
  cNeg: number,
): void {
  for (let w = 0; w < WORDS; w++) {
    const xn = an[w]!;
    const xs = as[w]!;
    const yn = bn[w]! & cNz;
    const ys = (bs[w]! ^ cNeg) & yn;
    const bothSame = xn & yn & ~(xs ^ ys);
    an[w] = (xn ^ yn) | bothSame;
    as[w] = (xn & ~yn & xs) | (yn & ~xn & ys) | (bothSame & ~xs);
  }
}

/** Conditional swap of two planes under an all-ones/all-zeros mask. */
function swapPlanes(a: Int32Array, b: Int32Array, mask: number): void {
  for (let w = 0; w < WORDS; w++) {
    const t = mask & (a[w]! ^ b[w]!);
    a[w] = a[w]! ^ t;
    b[w] = b[w]! ^ t;
  }
}

/**
 * 1/g in R3, or null when g is not invertible (KeyGen then draws another g). Constant-time
 * extended GCD by "divsteps" (Bernstein–Yang, as in the NTRU Prime reference R3_recip): f starts
 * as x^p - x - 1 and g as the input, both reversed, and 2p-1 steps always run; v tracks the
 * cofactor whose final value, reversed and scaled by f[0], is the inverse; delta ends at 0 exactly
 * when the gcd is 1. Bitsliced: over ten times faster than a loop over coefficients.
 */
export function r3Recip(input: Int8Array): Int8Array | null {
  const fn = new Int32Array(WORDS);
  const fs = new Int32Array(WORDS);
  const gn = new Int32Array(WORDS);
  const gs = new Int32Array(WORDS);
  const vn = new Int32Array(WORDS);
  const vs = new Int32Array(WORDS);
  const rn = new Int32Array(WORDS);
  const rs = new Int32Array(WORDS);
  rn[0] = 1; // r = 1
  // f = x^p - x - 1 reversed: f[0] = 1, f[p-1] = f[p] = -1.
  fn[0] = 1;
  for (const i of [P - 1, P]) {
    fn[i >>> 5] = fn[i >>> 5]! | (1 << (i & 31));
    fs[i >>> 5] = fs[i >>> 5]! | (1 << (i & 31));
  }
  for (let i = 0; i < P; i++) {
    const x = input[i]!;
    const j = P - 1 - i;
    gn[j >>> 5] = gn[j >>> 5]! | ((x & 1) << (j & 31));
    gs[j >>> 5] = gs[j >>> 5]! | (((x >> 1) & 1) << (j & 31));
  }
  let delta = 1;
  for (let loop = 0; loop < 2 * P - 1; loop++) {
    shiftUp(vn);
    shiftUp(vs);
    const g0n = gn[0]! & 1;
    // sign = -g[0]*f[0]: nonzero iff g[0] is (f[0] never is), -1 iff g[0] and f[0] agree.
    const signNz = -g0n;
    const signNeg = -(1 ^ (gs[0]! & 1) ^ (fs[0]! & 1)) & signNz;
    const swap = (-delta >> 31) & signNz;
    delta ^= swap & (delta ^ -delta);
    delta += 1;
    swapPlanes(fn, gn, swap);
    swapPlanes(fs, gs, swap);
    swapPlanes(vn, rn, swap);
    swapPlanes(vs, rs, swap);
    addScaled(gn, gs, fn, fs, signNz, signNeg);
    addScaled(rn, rs, vn, vs, signNz, signNeg);
    shiftDown(gn);
    shiftDown(gs);
  }
  const f0s = fs[0]! & 1;
  const out = new Int8Array(P);
  for (let i = 0; i < P; i++) {
    const j = P - 1 - i;
    const n = (vn[j >>> 5]! >>> (j & 31)) & 1;
    const s = (vs[j >>> 5]! >>> (j & 31)) & 1;
    out[i] = n * (1 - 2 * (s ^ f0s));
  }
  // Whether g was invertible is all that leaves here; KeyGen needs it to decide to retry.
  return delta === 0 ? out : null;
}

/**
 * 1/(3*input) in Rq, input small and nonzero (always invertible: Rq is a field). The divstep
 * iteration of r3Recip (reference Rq_recip3), with the update g <- f0*g - g0*f that stays in Z/q;
 * r starts at 1/3 so the factor 3 comes for free. Kept in doubles (every value is an integer below
 * 2^24, so exact), where the swap is arithmetic and no int<->double conversions slow the loop.
 * v and r have degree at most loop+1 in step `loop`, a bound that depends on the step count only,
 * so their part of the loop stops there.
 */
export function rqRecip3(input: Int8Array): Int16Array {
  const f = new Float64Array(P + 1);
  const g = new Float64Array(P + 1);
  const v = new Float64Array(P + 1);
  const r = new Float64Array(P + 1);
  r[0] = fqRecip(3);
  f[0] = 1;
  f[P - 1] = -1;
  f[P] = -1;
  for (let i = 0; i < P; i++) g[P - 1 - i] = input[i]!;
  let delta = 1;
  for (let loop = 0; loop < 2 * P - 1; loop++) {
    const g00 = g[0]!;
    const swap = (-delta >> 31) & (-(g00 * g00) >> 31) & 1; // 1 if delta > 0 and g[0] != 0
    delta ^= -swap & (delta ^ -delta);
    delta += 1;
    const t0 = swap * (g00 - f[0]!);
    const f0 = f[0]! + t0;
    const g0 = g00 - t0;
    const limit = loop + 1 < P ? loop + 1 : P;
    // One pass: v <- x*v, conditional swap (f,g),(v,r), g <- (f0*g - g0*f)/x, r <- f0*r - g0*v.
    let prevV = 0;
    for (let i = 0; i <= limit; i++) {
      let fi = f[i]!;
      let gi = g[i]!;
      let t = swap * (gi - fi);
      fi += t;
      gi -= t;
      let vi = prevV;
      prevV = v[i]!;
      let ri = r[i]!;
      t = swap * (ri - vi);
      vi += t;
      ri -= t;
      f[i] = fi;
      v[i] = vi;
      r[i] = fqFreeze(f0 * ri - g0 * vi);
      if (i > 0) g[i - 1] = fqFreeze(f0 * gi - g0 * fi); // the new g[0] is 0 and is shifted out
    }
    for (let i = limit + 1; i <= P; i++) {
      let fi = f[i]!;
      const gi = g[i]!;
      const t = swap * (gi - fi);
      fi += t;
      f[i] = fi;
      g[i - 1] = fqFreeze(f0 * (gi - t) - g0 * fi);
    }
    g[P] = 0;
  }
  const scale = fqRecip(f[0]!);
  const out = new Int16Array(P);
  for (let i = 0; i < P; i++) out[i] = fqFreeze(scale * v[P - 1 - i]!);
  return out;
}

/**
 * Decrypt's final step (round-3 spec, "Weightw_mask"): keep r if it has weight w, else replace
 * it by (1,...,1,0,...,0) so that Decrypt always outputs a valid short element.
 */
export function weightForce(r: Int8Array): Int8Array {
  let weight = 0;
  for (let i = 0; i < P; i++) weight += r[i]! & 1;
  const bad = nonzeroMask(weight - W);
  const out = new Int8Array(P);
  for (let i = 0; i < W; i++) out[i] = ((r[i]! ^ 1) & ~bad) ^ 1;
  for (let i = W; i < P; i++) out[i] = r[i]! & ~bad;
  return out;
}
