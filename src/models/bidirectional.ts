// Bidirectional token mixing for the LRA tasks the paper runs non-causally (Retrieval, Image,
// Pathfinder, Path-X; MetaLA App. A4). The paper does not say how its bidirectional model is built
// (paper-metala.md §5.4: UNVERIFIED, no LRA code released); we use the construction of S4/S5 and
// bidirectional Mamba-style models:
//   y = M_fwd(x) + R( M_bwd( R(x) ) )        (combine 'add'; 'concat' uses W_o [y_fwd; y_bwd] instead)
// where M_fwd, M_bwd are two independent instances of any registered causal mixer (own parameters,
// scopes `fwd` / `bwd`) and R reverses each sequence WITHIN ITS REAL LENGTH: position t < L_b maps to
// L_b − 1 − t and padding positions stay where they are, so after reversal the padding still follows
// the real tokens and a causal scan never reads it before a real token (padding-aware, exact).
import * as tf from '@tensorflow/tfjs';
import { resolveMixer } from '../mixers/registry.js';
import type { MixerContext, TokenMixer } from '../mixers/types.js';
import { dense } from '../layers/basic.js';
import type { ParamScope } from '../layers/params.js';

/** A mixer over padded sequences: x [B, T, D] plus the reversal gather of that batch → y [B, T, D]. */
export interface SequenceMixer {
  forward(x: tf.Tensor3D, rev: tf.Tensor1D): tf.Tensor3D;
  /** True when y[:, t] depends only on x[:, ≤ t]. */
  readonly causal: boolean;
}

/**
 * Flat gather indices [B·T] that reverse every row within its real length:
 * row b, position t ↦ b·T + (t < L_b ? L_b − 1 − t : t). The map is an involution (its own inverse).
 * @param lengths real lengths [B] (undefined = every row is full, L_b = T)
 */
export function reversalIndex(lengths: ArrayLike<number> | undefined, B: number, T: number): Int32Array {
  const idx = new Int32Array(B * T);
  for (let b = 0; b < B; b++) {
    const L = lengths === undefined ? T : Math.min(T, lengths[b]!);
    for (let t = 0; t < T; t++) idx[b * T + t] = b * T + (t < L ? L - 1 - t : t);
  }
  return idx;
}

/** x [B, T, D] reordered by a flat index [B·T] (one plain gather on a [B·T, D] view: its gradient is a scatter-add). */
export function gatherRows(x: tf.Tensor3D, idx: tf.Tensor1D): tf.Tensor3D {
  const [B, T, D] = x.shape;
  return tf.reshape(tf.gather(tf.reshape(x, [B * T, D]), idx), [B, T, D]) as tf.Tensor3D;
}

export interface SequenceMixerOptions {
  /** `{ name, ...options }` of a registered mixer; options already validated. */
  mixer: { name: string } & Record<string, unknown>;
  bidirectional: boolean;
  combine: 'add' | 'concat';
  /**
   * `two_pass` (default): the forward + reversed pair above; `single_pass`: the mixer's own
   * non-causal form (MixerDef.createNonCausal: softmax attention without its mask, as in DeiT), one
   * instance, no combine. Only for unpadded sequences (ViT patches): it would attend to padding.
   */
  form?: 'two_pass' | 'single_pass';
  initStd: number;
}

/**
 * Builds one layer's sequence mixer from the mixer registry: the mixer itself (causal), or the
 * bidirectional pair above. `ctx.params` is the layer's `token_mixer` scope.
 */
export function createSequenceMixer(o: SequenceMixerOptions, ctx: MixerContext): SequenceMixer {
  const { def, opts } = resolveMixer(o.mixer);
  if (!o.bidirectional) {
    const m = def.create(opts, ctx);
    return { causal: true, forward: (x) => m.forward(x).y };
  }
  if (o.form === 'single_pass') {
    if (def.createNonCausal === undefined) throw new Error(`mixer ${o.mixer.name} has no single-pass non-causal form; use bidirectional_form: two_pass`);
    const m = def.createNonCausal(opts, ctx);
    return { causal: false, forward: (x) => m.forward(x).y };
  }
  const scoped = (s: string): MixerContext => ({ ...ctx, params: ctx.params.scope(s) });
  const fwd: TokenMixer = def.create(opts, scoped('fwd'));
  const bwd: TokenMixer = def.create(opts, scoped('bwd'));
  const proj = o.combine === 'concat' ? (ctx.params as ParamScope).linear('combine', 2 * ctx.dModel, ctx.dModel, { kind: 'normal', std: o.initStd }).w : undefined;
  return {
    causal: false,
    forward(x, rev) {
      const yf = fwd.forward(x).y;
      const yb = gatherRows(bwd.forward(gatherRows(x, rev)).y, rev);
      return proj === undefined ? (tf.add(yf, yb) as tf.Tensor3D) : (dense(tf.concat([yf, yb], -1), proj) as tf.Tensor3D);
    },
  };
}

/** Extra parameters of one layer beyond its mixer(s): W_o of 'concat' (two passes only). */
export function combineParams(o: { bidirectional: boolean; combine: 'add' | 'concat'; form?: 'two_pass' | 'single_pass' }, d: number): number {
  return o.bidirectional && o.form !== 'single_pass' && o.combine === 'concat' ? 2 * d * d : 0;
}
