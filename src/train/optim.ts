// AdamW (Loshchilov & Hutter 2019): decoupled weight decay, as torch.optim.AdamW, which Zoology
// and the MetaLA/NeoX runs use. Decay applies only to parameters marked `decay` (matrices and
// embeddings). Global-norm gradient clipping happens before the update, as clip_grad_norm_.
import * as tf from '@tensorflow/tfjs';
import type { Params } from '../models/params.js';

export interface AdamWConfig {
  betas: [number, number];
  eps: number;
  weightDecay: number;
}

function zerosVariable(like: tf.Tensor): tf.Variable {
  const z = tf.zerosLike(like);
  const v = tf.variable(z, false);
  z.dispose();
  return v;
}

export class AdamW {
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();
  /** Number of updates applied (bias correction uses it). */
  t = 0;

  constructor(
    private readonly params: Params,
    private readonly cfg: AdamWConfig,
  ) {
    for (const [name, p] of params.vars) {
      this.m.set(name, zerosVariable(p));
      this.v.set(name, zerosVariable(p));
    }
  }

  /**
   * Apply one update. Returns the pre-clip global gradient norm (a scalar tensor the caller reads
   * and disposes). Disposes nothing of `grads`.
   */
  step(grads: Record<string, tf.Tensor>, lr: number, clip: number): tf.Scalar {
    this.t += 1;
    const [b1, b2] = this.cfg.betas;
    const bc1 = 1 - Math.pow(b1, this.t);
    const bc2 = 1 - Math.pow(b2, this.t);
    return tf.tidy(() => {
      const names = Object.keys(grads);
      const norm = tf.sqrt(tf.addN(names.map((n) => tf.sum(tf.square(grads[n]!))))) as tf.Scalar;
      // scale = min(1, clip / (norm + 1e-6)), computed on device (no sync).
      const scale = clip > 0 ? tf.minimum(1, tf.div(clip, tf.add(norm, 1e-6))) : tf.scalar(1);
      for (const name of names) {
        const p = this.params.vars.get(name)!;
        const g = tf.mul(grads[name]!, scale);
        const m = this.m.get(name)!;
        const v = this.v.get(name)!;
        const m2 = tf.add(tf.mul(m, b1), tf.mul(g, 1 - b1));
        const v2 = tf.add(tf.mul(v, b2), tf.mul(tf.square(g), 1 - b2));
        m.assign(m2);
        v.assign(v2);
        const upd = tf.div(tf.div(m2, bc1), tf.add(tf.sqrt(tf.div(v2, bc2)), this.cfg.eps));
        const decay = this.params.specs.get(name)!.decay ? this.cfg.weightDecay : 0;
        const next = decay > 0 ? tf.sub(tf.mul(p, 1 - lr * decay), tf.mul(upd, lr)) : tf.sub(p, tf.mul(upd, lr));
        p.assign(next);
      }
      return norm;
    });
  }

  /** Optimizer moments keyed `<param>.adam_m` / `.adam_v`, for resumable checkpoints. */
  async exportState(): Promise<Map<string, { shape: number[]; data: Float32Array }>> {
    const out = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const [name, m] of this.m) out.set(`${name}.adam_m`, { shape: m.shape, data: (await m.data()) as Float32Array });
    for (const [name, v] of this.v) out.set(`${name}.adam_v`, { shape: v.shape, data: (await v.data()) as Float32Array });
    return out;
  }

  importState(state: Map<string, { shape: number[]; data: Float32Array }>, t: number): void {
    for (const [name, m] of this.m) {
      const sm = state.get(`${name}.adam_m`);
      const sv = state.get(`${name}.adam_v`);
      if (sm === undefined || sv === undefined) throw new Error(`optimizer state for ${name} missing`);
      tf.tidy(() => {
        m.assign(tf.tensor(sm.data, m.shape));
        this.v.get(name)!.assign(tf.tensor(sv.data, m.shape));
      });
    }
    this.t = t;
  }

  dispose(): void {
    for (const x of [...this.m.values(), ...this.v.values()]) x.dispose();
  }
}
