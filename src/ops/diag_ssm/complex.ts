// Complex arithmetic on (re, im) tensor pairs and the two discretisations of a diagonal SSM that
// the paper lists (Tab. A2): ZOH  Ā = exp(ΔA), B̄ = (ΔA)⁻¹(exp(ΔA) − 1)ΔB, and bilinear
// Ā = (1 − ΔA/2)⁻¹(1 + ΔA/2), B̄ = (1 − ΔA/2)⁻¹ΔB (state-spaces/s4 SSKernelDiag, S5 ssm.py).
// Ā comes back in polar form (log|Ā|, arg Ā): the recurrence in this folder consumes exactly that.
import * as tf from '@tensorflow/tfjs';

/** A complex tensor as real and imaginary parts; `im` undefined means real. */
export interface Cx {
  re: tf.Tensor;
  im?: tf.Tensor;
}

/** Ā in polar form plus B̄: what `diagSsm` / `diagScan` take. */
export interface Discrete {
  /** log|Ā| (≤ 0 for a stable system). */
  logA: tf.Tensor;
  /** arg Ā; undefined when Ā is real and positive. */
  angleA?: tf.Tensor;
  bBar: Cx;
}

export type Discretization = 'zoh' | 'bilinear';

export function cmul(a: Cx, b: Cx): Cx {
  const re = a.im !== undefined && b.im !== undefined ? tf.sub(tf.mul(a.re, b.re), tf.mul(a.im, b.im)) : tf.mul(a.re, b.re);
  if (a.im === undefined && b.im === undefined) return { re };
  const im =
    a.im === undefined ? tf.mul(a.re, b.im!) : b.im === undefined ? tf.mul(a.im, b.re) : tf.add(tf.mul(a.re, b.im), tf.mul(a.im, b.re));
  return { re, im };
}

/** a · s for a real tensor or number s. */
export function cscale(a: Cx, s: tf.Tensor | number): Cx {
  return a.im === undefined ? { re: tf.mul(a.re, s) } : { re: tf.mul(a.re, s), im: tf.mul(a.im, s) };
}

/** a / b = a·conj(b) / (|b|² + eps); eps > 0 is DSS's bounded `reciprocal`. */
export function cdiv(a: Cx, b: Cx, eps = 0): Cx {
  if (b.im === undefined) {
    const inv = eps === 0 ? tf.reciprocal(b.re) : tf.div(b.re, tf.add(tf.square(b.re), eps));
    return cscale(a, inv);
  }
  const norm2 = tf.add(tf.add(tf.square(b.re), tf.square(b.im)), eps);
  const num = cmul(a, { re: b.re, im: tf.neg(b.im) });
  return { re: tf.div(num.re, norm2), im: tf.div(num.im ?? tf.zerosLike(num.re), norm2) };
}

/** exp(w). */
export function cexp(w: Cx): Cx {
  const mag = tf.exp(w.re);
  return w.im === undefined ? { re: mag } : { re: tf.mul(mag, tf.cos(w.im)), im: tf.mul(mag, tf.sin(w.im)) };
}

/**
 * exp(w) − 1 without cancellation for small |w|:
 * Re = expm1(w_re)·cos(w_im) − 2·sin²(w_im/2), Im = exp(w_re)·sin(w_im).
 */
export function cexpm1(w: Cx): Cx {
  if (w.im === undefined) return { re: tf.expm1(w.re) };
  const halfSin = tf.sin(tf.mul(w.im, 0.5));
  const re = tf.sub(tf.mul(tf.expm1(w.re), tf.cos(w.im)), tf.mul(2, tf.square(halfSin)));
  return { re, im: tf.mul(tf.exp(w.re), tf.sin(w.im)) };
}

/** log|z| and arg z (arg via atan2; a negative real z gets π). */
function polar(z: Cx): { logMag: tf.Tensor; angle: tf.Tensor } {
  const im = z.im ?? tf.zerosLike(z.re);
  // 1e-30 keeps log finite where z = 0 exactly (bilinear Ā at Δ·A = −2).
  const logMag = tf.mul(0.5, tf.log(tf.add(tf.add(tf.square(z.re), tf.square(im)), 1e-30)));
  return { logMag, angle: tf.atan2(im, z.re) };
}

/**
 * Discretise a diagonal continuous-time SSM, elementwise over any shape.
 * @param dtA Δ·A (complex or real), e.g. [D, N]
 * @param dtB Δ·B, broadcastable against dtA
 * @param method `zoh` or `bilinear`
 * @returns log|Ā|, arg Ā (undefined for ZOH of a real A) and B̄
 */
export function discretize(dtA: Cx, dtB: Cx, method: Discretization): Discrete {
  if (method === 'zoh') {
    // B̄ = (exp(ΔA) − 1)/(ΔA) · ΔB, the same as A⁻¹(exp(ΔA) − 1)B.
    const bBar = cmul(cdiv(cexpm1(dtA), dtA), dtB);
    return dtA.im === undefined ? { logA: dtA.re, bBar } : { logA: dtA.re, angleA: dtA.im, bBar };
  }
  const half = cscale(dtA, 0.5);
  const num: Cx = { re: tf.add(1, half.re), im: half.im };
  const den: Cx = { re: tf.sub(1, half.re), im: half.im === undefined ? undefined : tf.neg(half.im) };
  const pn = polar(num);
  const pd = polar(den);
  // For real A < 0 the denominator is > 1 (angle 0) and Ā < 0 once Δ|A| > 2: the angle π carries the sign.
  return { logA: tf.sub(pn.logMag, pd.logMag), angleA: tf.sub(pn.angle, pd.angle), bBar: cdiv(dtB, den) };
}
