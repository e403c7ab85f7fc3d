// Helpers the fla-style multi-head mixers share (DeltaNet, Gated DeltaNet, GLA, Based, RetNet,
// TransNormer, linear attention): the per-head width check, the q/k/v projections, fla's
// ShortConvolution (taps and the causal conv + SiLU with its decoding cache) and fla's l2norm.
import * as tf from '@tensorflow/tfjs';
import { silu } from '../layers/basic.js';
import { causalConv1d } from '../layers/short_conv.js';
import type { ParamScope } from '../layers/params.js';
import { MetalaError } from '../util/errors.js';
import type { MixerState } from './types.js';

/** Width of one head, or a one-line user error naming what to change. */
export function perHead(mixer: string, d: number, H: number, what: string, width: number): number {
  const h = width / H;
  if (!Number.isInteger(width) || !Number.isInteger(h) || h < 1) {
    throw new MetalaError(`model.mixer: ${mixer}: ${what} ${width} (d_model ${d}) does not split into num_heads ${H}. Choose num_heads and the dim ratios so that each head gets an integer width`);
  }
  return h;
}

/**
 * The q, k, v projections of a multi-head linear-attention mixer (fla layout: `q_proj`, `k_proj`
 * d→d_k, `v_proj` d→d_v, N(0, init_std)), with per-head widths checked.
 */
export function qkvProjections(
  mixer: string,
  p: ParamScope,
  d: number,
  H: number,
  dk: number,
  dv: number,
  initStd: number,
): { wq: tf.Variable; wk: tf.Variable; wv: tf.Variable; hk: number; hv: number } {
  const hk = perHead(mixer, d, H, 'key dim', dk);
  const hv = perHead(mixer, d, H, 'value dim', dv);
  const init = { kind: 'normal', std: initStd } as const;
  return { wq: p.linear('q_proj', d, dk, init).w, wk: p.linear('k_proj', d, dk, init).w, wv: p.linear('v_proj', d, dv, init).w, hk, hv };
}

/**
 * Depthwise conv taps [c, D] (file layout [D, 1, c]). Porting note: PyTorch's Conv1d default init
 * U(±1/√c), as MetaLA's code; fla's model-level `_init_weights` may re-draw them N(0, 0.02).
 */
export function convTaps(p: ParamScope, name: string, c: number, D: number): tf.Variable {
  return p.add(`${name}.weight`, [c, D], { kind: 'uniform', bound: 1 / Math.sqrt(c) }, { layout: 'linear', fileShape: [D, 1, c], decay: false });
}

/**
 * fla's ShortConvolution on one projection x [B,T,D]: causal depthwise conv (when `w` is given)
 * then SiLU (when `act`), continuing from `prev[key]` [B,c−1,D] and writing the new cache to `next[key]`.
 */
export function shortConv(x: tf.Tensor3D, w: tf.Variable | undefined, act: boolean, key: string, prev?: MixerState, next?: MixerState): tf.Tensor3D {
  let y: tf.Tensor3D = x;
  if (w !== undefined) {
    const c = causalConv1d(x, w, prev?.[key] as tf.Tensor3D | undefined);
    if (next !== undefined) next[key] = c.cache;
    y = c.y;
  }
  return (act ? silu(y) : y) as tf.Tensor3D;
}

/** fla `l2norm`: x / sqrt(Σx² + 1e-6) over the last axis. */
export function l2Normalize(x: tf.Tensor, eps = 1e-6): tf.Tensor {
  return tf.mul(x, tf.rsqrt(tf.add(tf.sum(tf.square(x), -1, true), eps)));
}
