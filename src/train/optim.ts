// AdamW (Loshchilov & Hutter 2019): decoupled weight decay, as torch.optim.AdamW, which Zoology
// and the MetaLA/NeoX runs use. Decay applies only to parameters marked `decay` (matrices and
// embeddings). Global-norm gradient clipping happens before the update, as clip_grad_norm_.
// The update runs on ONE flat vector of all parameters (concat → ~15 element-wise kernels →
// split), not per parameter: on webgpu every kernel launch costs ~1 ms of host time in Node, and a
// per-parameter AdamW was ~20 launches × every tensor (measured 0.9 s of a 2.2 s H100 step).
// Stacked replicas (train.stack): the flat vector becomes [R, P], one row per replica, with its own
// lr, weight decay, clip norm and gradient norm; replica r's row is updated exactly as a run alone.
import * as tf from '@tensorflow/tfjs';
import type { Params } from '../layers/params.js';

export interface AdamWConfig {
  betas: [number, number];
  eps: number;
  /** One value, or one per stacked replica. */
  weightDecay: number | readonly number[];
}

/** Per-replica values of a hyperparameter (one number stands for every replica). */
function perReplica(x: number | readonly number[], R: number, what: string): number[] {
  const xs = typeof x === 'number' ? new Array<number>(R).fill(x) : [...x];
  if (xs.length !== R) throw new Error(`internal: ${xs.length} values of ${what} for ${R} replicas`);
  return xs;
}

function zerosVariable(shape: number[]): tf.Variable {
  const z = tf.zeros(shape);
  const v = tf.variable(z, false);
  z.dispose();
  return v;
}


/** f(x), then x disposed: a temporary freed as soon as its one use is done (inside a tidy too). */
function drop<T>(f: (x: tf.Tensor) => T, x: tf.Tensor): T {
  const y = f(x);
  x.dispose();
  return y;
}

/** β·s + (1 − β)·x: an exponential moving average. */
function ema(s: tf.Tensor, x: tf.Tensor, beta: number): tf.Tensor {
  const a = tf.mul(s, beta);
  const b = tf.mul(x, 1 - beta);
  const y = tf.add(a, b);
  tf.dispose([a, b]);
  return y;
}

export class AdamW {
  private readonly names: string[];
  private readonly sizes: number[];
  /** First and second moments of all parameters, flattened in `names` order. */
  private readonly m: tf.Variable;
  private readonly v: tf.Variable;
  /** 1 where weight decay applies, else 0 (flat, constant). */
  private readonly decayMask: tf.Tensor1D;
  /** Number of updates applied (bias correction uses it). */
  t = 0;
  /** Stacked replicas (rows of m and v); 1 for a plain model. */
  private readonly R: number;

  constructor(
    private readonly params: Params,
    private readonly cfg: AdamWConfig,
  ) {
    this.names = [...params.vars.keys()];
    this.R = params.stacked ? params.replicas : 1;
    // Per replica: a stacked variable [R, ...shape] holds R rows of its spec's size.
    this.sizes = this.names.map((n) => params.vars.get(n)!.size / this.R);
    const total = this.sizes.reduce((a, b) => a + b, 0);
    this.m = zerosVariable(params.stacked ? [this.R, total] : [total]);
    this.v = zerosVariable(params.stacked ? [this.R, total] : [total]);
    const mask = new Float32Array(total);
    let off = 0;
    this.names.forEach((n, i) => {
      if (params.specs.get(n)!.decay) mask.fill(1, off, off + this.sizes[i]!);
      off += this.sizes[i]!;
    });
    this.decayMask = tf.tensor1d(mask);
  }

  private flat(ts: tf.Tensor[]): tf.Tensor1D {
    return tf.concat(ts.map((t) => tf.reshape(t, [-1])), 0) as tf.Tensor1D;
  }

  /**
   * Apply one update from gradients keyed by parameter name (every parameter must have one).
   * Returns the pre-clip global gradient norm (a scalar the caller reads and disposes).
   */
  step(grads: Record<string, tf.Tensor>, lr: number, clip: number): tf.Scalar {
    if (this.params.stacked) throw new Error('internal: a stacked model steps with stepReplicas');
    const wd = this.cfg.weightDecay;
    if (typeof wd !== 'number') throw new Error('internal: per-replica weight decay on a plain model');
    this.t += 1;
    const [b1, b2] = this.cfg.betas;
    const bc1 = 1 - Math.pow(b1, this.t);
    const bc2 = 1 - Math.pow(b2, this.t);
    return tf.tidy(() => {
      const g0 = this.flat(
        this.names.map((n) => {
          const g = grads[n];
          if (g === undefined) throw new Error(`internal: no gradient for parameter ${n}`);
          return g;
        }),
      );
      const norm = tf.sqrt(drop(tf.sum, tf.square(g0))) as tf.Scalar;
      // scale = min(1, clip / (norm + 1e-6)), computed on device (no sync).
      const g = clip > 0 ? drop((x) => tf.mul(x, tf.minimum(1, tf.div(clip, tf.add(norm, 1e-6)))), g0) : g0;
      this.update(g, () => tf.sub(1, tf.mul(this.decayMask, lr * wd)), lr, bc1, bc2, 0);
      return norm;
    });
  }

  /**
   * m, v and the parameters from the clipped flat gradient g (disposed here), with decoupled decay
   * p ← p·keep − lr·m̂/(√v̂ + ε), keep = 1 − lr·wd·mask. `lr` is a number, or a column [R, 1] of
   * per-replica values (stacked); `axis` is where the flat vector's pieces lie (0, or 1 when stacked).
   * Porting note: the same kernels in the same order as the expression form (so the same bits), but
   * each temporary freed once used: inside one tidy they all lived to its end, ~25 copies of the flat
   * vector at once (the peak of a step of a model with few activations: 2.65 GB of a 25.5M-parameter
   * MetaLA on a 2,048-token batch, measured on lavapipe), now at most ~6.
   */
  private update(g: tf.Tensor, keep: () => tf.Tensor, lr: number | tf.Tensor, bc1: number, bc2: number, axis: 0 | 1): void {
    const [b1, b2] = this.cfg.betas;
    const m2 = ema(this.m, g, b1);
    const g2 = drop(tf.square, g);
    const v2 = ema(this.v, g2, b2);
    g2.dispose();
    this.m.assign(m2);
    this.v.assign(v2);
    // m̂ / (√v̂ + ε)
    const den = drop((x) => tf.add(x, this.cfg.eps), drop(tf.sqrt, tf.mul(v2, 1 / bc2)));
    const mh = tf.mul(m2, 1 / bc1);
    const upd = tf.div(mh, den);
    tf.dispose([mh, den, m2, v2]);
    const vars = this.names.map((n) => this.params.vars.get(n)!);
    const p0 = axis === 0 ? this.flat(vars) : this.rows(vars);
    const k = keep();
    const kept = tf.mul(p0, k);
    tf.dispose([p0, k]);
    const step = tf.mul(upd, lr);
    upd.dispose();
    const p1 = tf.sub(kept, step);
    tf.dispose([kept, step]);
    const pieces = drop((x) => tf.split(x, this.sizes, axis), p1);
    this.names.forEach((n, i) => {
      const p = this.params.vars.get(n)!;
      p.assign(drop((x) => tf.reshape(x, p.shape), pieces[i]!));
    });
  }

  private rows(ts: tf.Tensor[]): tf.Tensor2D {
    return tf.concat(ts.map((t) => tf.reshape(t, [this.R, -1])), 1) as tf.Tensor2D;
  }

  /**
   * Stacked replicas: one update of every replica, each with its own lr, clip norm (0 = none) and
   * the weight decay of the config. lr 0 leaves a replica's parameters as they are (a finished or
   * diverged replica, masked out). Returns each replica's pre-clip gradient norm [R].
   */
  stepReplicas(grads: Record<string, tf.Tensor>, lr: readonly number[], clip: readonly number[]): tf.Tensor1D {
    const R = this.R;
    const wd = perReplica(this.cfg.weightDecay, R, 'weight decay');
    if (lr.length !== R || clip.length !== R) throw new Error(`internal: lr/clip for ${lr.length}/${clip.length} of ${R} replicas`);
    this.t += 1;
    const [b1, b2] = this.cfg.betas;
    const bc1 = 1 - Math.pow(b1, this.t);
    const bc2 = 1 - Math.pow(b2, this.t);
    const col = (xs: readonly number[]): tf.Tensor2D => tf.tensor2d(Float32Array.from(xs), [R, 1]);
    return tf.tidy(() => {
      const g0 = this.rows(
        this.names.map((n) => {
          const g = grads[n];
          if (g === undefined) throw new Error(`internal: no gradient for parameter ${n}`);
          return g;
        }),
      );
      const norm = tf.sqrt(drop((x) => tf.sum(x, 1, true), tf.square(g0))); // [R, 1]
      // As `step`: scale = min(1, clip / (norm + 1e-6)); no clip = an infinite one.
      const g = drop((x) => tf.mul(x, tf.minimum(1, tf.div(col(clip.map((c) => (c > 0 ? c : Infinity))), tf.add(norm, 1e-6)))), g0);
      this.update(g, () => tf.sub(1, tf.mul(this.decayMask, col(lr.map((l, r) => l * wd[r]!)))), col(lr), bc1, bc2, 1);
      return tf.reshape(norm, [R]) as tf.Tensor1D;
    });
  }

  /**
   * A stacked replica that diverged: its parameters and moments set to 0, so its NaNs stay out of
   * every later step (its loss is masked and its lr is 0 from then on).
   */
  async zeroReplica(r: number): Promise<void> {
    const zeroRow = async (v: tf.Variable): Promise<void> => {
      const data = (await v.data()) as Float32Array;
      const n = data.length / this.R;
      data.fill(0, r * n, (r + 1) * n);
      tf.tidy(() => v.assign(tf.tensor(data, v.shape)));
    };
    for (const n of this.names) await zeroRow(this.params.vars.get(n)!);
    await zeroRow(this.m);
    await zeroRow(this.v);
  }

  /** Optimizer moments keyed `<param>.adam_m` / `.adam_v`, for resumable checkpoints. */
  async exportState(): Promise<Map<string, { shape: number[]; data: Float32Array }>> {
    if (this.params.stacked) throw new Error('internal: a stacked optimizer exports per replica (exportReplicaStates)');
    return (await this.exportReplicaStates())[0]!;
  }

  /** Each replica's moments, keyed as `exportState` (one map for a plain model). */
  async exportReplicaStates(): Promise<Map<string, { shape: number[]; data: Float32Array }>[]> {
    const m = (await this.m.data()) as Float32Array;
    const v = (await this.v.data()) as Float32Array;
    const total = m.length / this.R;
    return Array.from({ length: this.R }, (_, r) => {
      const out = new Map<string, { shape: number[]; data: Float32Array }>();
      let off = r * total;
      this.names.forEach((n, i) => {
        const shape = this.params.specs.get(n)!.shape;
        out.set(`${n}.adam_m`, { shape, data: m.slice(off, off + this.sizes[i]!) });
        out.set(`${n}.adam_v`, { shape, data: v.slice(off, off + this.sizes[i]!) });
        off += this.sizes[i]!;
      });
      return out;
    });
  }

  importState(state: Map<string, { shape: number[]; data: Float32Array }>, t: number): void {
    this.importReplicaStates([state], t);
  }

  /** Each replica's moments (as `exportReplicaStates` gives them) and the shared update count. */
  importReplicaStates(states: readonly Map<string, { shape: number[]; data: Float32Array }>[], t: number): void {
    if (states.length !== this.R) throw new Error(`internal: ${states.length} optimizer states for ${this.R} replicas`);
    const total = this.sizes.reduce((a, b) => a + b, 0);
    const m = new Float32Array(total * this.R);
    const v = new Float32Array(total * this.R);
    states.forEach((state, r) => {
      let off = r * total;
      this.names.forEach((n, i) => {
        const sm = state.get(`${n}.adam_m`);
        const sv = state.get(`${n}.adam_v`);
        if (sm === undefined || sv === undefined || sm.data.length !== this.sizes[i]) throw new Error(`optimizer state for ${n} missing or misshapen`);
        m.set(sm.data, off);
        v.set(sv.data, off);
        off += this.sizes[i]!;
      });
    });
    tf.tidy(() => {
      this.m.assign(tf.tensor(m, this.m.shape));
      this.v.assign(tf.tensor(v, this.v.shape));
    });
    this.t = t;
  }

  dispose(): void {
    tf.dispose([this.m, this.v, this.decayMask]);
  }
}
