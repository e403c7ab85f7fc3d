// One-layer linear attention and H3-style sample weighting for in-context regression
// (docs/seed-systems.md §5). A prompt is n context tokens z_i = [x_i, y_i] and the query [x, 0]
// (F = d + 1 wide); the prediction is the last channel at the last position:
//   linear_attention  ŷ = (1/n) Σ_{i≤n+1} (q_{n+1}·k_i) v_i
//   h3                ŷ = (1/n) Σ_{i≤n+1} f_{n+1−i} (q_{n+1}·k_i) v_i
// with q = zW_q, k = zW_k (F×r), v = z·w_v (the read channel of zW_v). The i = n+1 term is kept
// (its y is 0; the optimum zeroes its contribution), and so is the 1/n, so that one learning rate
// serves every n.
import * as tf from '@tensorflow/tfjs';
import { Params, type Init } from '../layers/params.js';
import type { Batch } from '../tasks/types.js';
import { MetalaError } from '../util/errors.js';
import type { IclConfig } from './icl_config.js';
import type { Regressed, TrainableModel } from './types.js';

export class InContextRegressor implements TrainableModel {
  readonly params: Params;
  private readonly wq: tf.Variable;
  private readonly wk: tf.Variable;
  private readonly wv: tf.Variable;
  /** Filter over lags 0..n (h3 form only). */
  private readonly filter: tf.Variable | undefined;

  constructor(
    readonly config: IclConfig,
    seed: number,
  ) {
    this.params = new Params(seed);
    const F = config.d_model;
    const std = config.init_scale / Math.sqrt(F);
    const r = config.rank;
    // Sparse: rows of W_q, W_k [F, r] random except the label's (the last), w_v = e_y.
    const xOnly: Init = { kind: 'custom', values: (n, rng) => Float32Array.from({ length: n }, (_, i) => (i < (F - 1) * r ? rng.normal() * std : 0)) };
    const qk: Init = config.init === 'sparse' ? xOnly : { kind: 'normal', std };
    const v: Init = config.init === 'sparse' ? { kind: 'custom', values: (n) => Float32Array.from({ length: n }, (_, i) => (i === F - 1 ? 1 : 0)) } : { kind: 'normal', std };
    // No weight decay anywhere: the study's optimum is not regularised.
    this.wq = this.params.add('q_proj.weight', [F, r], qk, { layout: 'linear', decay: false });
    this.wk = this.params.add('k_proj.weight', [F, r], qk, { layout: 'linear', decay: false });
    this.wv = this.params.add('v_proj.weight', [F, 1], v, { layout: 'linear', decay: false });
    this.filter = config.form === 'h3' ? this.params.add('filter', [config.seq_len], { kind: 'ones' }, { decay: false }) : undefined;
  }

  /** ŷ [B] of prompts [B, T, F]. */
  predict(z: tf.Tensor3D): tf.Tensor1D {
    return tf.tidy(() => {
      const [B, T, F] = z.shape;
      if (F !== this.config.d_model) throw new MetalaError(`model: prompts have ${F} features per token, the model ${this.config.d_model}`);
      if (this.filter !== undefined && T !== this.filter.shape[0]) {
        throw new MetalaError(`model: prompts have ${T} tokens, the h3 filter ${this.filter.shape[0]} lags; the filter is fixed at the task's context length`);
      }
      const flat = tf.reshape(z, [B * T, F]);
      const k = tf.reshape(tf.matMul(flat, this.wk), [B, T, this.config.rank]);
      const v = tf.reshape(tf.matMul(flat, this.wv), [B, T]);
      const q = tf.matMul(tf.reshape(tf.slice(z, [0, T - 1, 0], [B, 1, F]), [B, F]), this.wq); // [B, r]
      // s_i = q_{n+1}·k_i: [B, T, r] × [B, r, 1] → [B, T].
      const s = tf.reshape(tf.matMul(k, tf.reshape(q, [B, this.config.rank, 1])), [B, T]);
      let w = tf.mul(s, v);
      // Lag of position i is T − 1 − i: the filter read backwards.
      if (this.filter !== undefined) w = tf.mul(w, tf.reverse(this.filter, 0));
      return tf.div(tf.sum(w, 1), T - 1) as tf.Tensor1D;
    });
  }

  supervised(batch: Batch): Regressed {
    const { features, featureDim, targets } = batch;
    if (features === undefined || featureDim === undefined || targets === undefined) {
      throw new MetalaError("model.backbone: 'icl' needs real-valued prompts and targets (task icl_linreg)");
    }
    const z = tf.tensor3d(features, [batch.batch, batch.seqLen, featureDim]);
    const predictions = this.predict(z);
    z.dispose();
    return { kind: 'regression', predictions, targets };
  }

  /**
   * The h3 filter by context position, f_{n+1−i} for i = 1..n+1 (the last entry weighs the query
   * token), for the study's check against ω_i ∝ 1/(d + 1 + σ_i²).
   */
  learned(): Record<string, number[]> {
    if (this.filter === undefined) return {};
    const f = Array.from(this.filter.dataSync());
    return { filter_by_position: f.reverse().map((x) => Number(x.toPrecision(6))) };
  }

  dispose(): void {
    this.params.dispose();
  }
}
