// RWKV-4 time mixing (Peng et al. 2023, "RWKV: Reinventing RNNs for the Transformer Era", §3,
// Eq. 11–16), following BlinkDL/RWKV-LM RWKV-v4neo/src/model.py `RWKV_TimeMix` (init included);
// paper Tab. A3 row: f_q = 1, f_k = exp(xW_K), f_v = xW_V, f_α = exp(−w) (fixed), f_g = σ(xW_r).
// The WKV recurrence (normaliser, bonus u) is src/ops/rwkv4. Tab. 2: (K, Λ) ⇒ C0 only.
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { dense } from '../layers/basic.js';
import { rwkv4 as wkv } from '../ops/rwkv4/index.js';
import { defineMixer, type MixerState } from './types.js';import { channelsToReplicas, perRow, replicasOf, replicasToChannels } from '../layers/replicas.js';


const options = z
  .object({
    /** Std of the N(0, σ) init of W_V (W_K, W_r, W_O start at zero, as RWKV-4's scale_init = 0). */
    init_std: z.number().positive().default(0.02),
    /** Chunk length of the chunkwise WKV (training / prefill); default: the op's per-backend choice. */
    chunk_size: z.number().int().positive().optional(),
  })
  .strict();

/** RWKV-4's "fancy" init of the per-channel vectors for layer l of L (model.py RWKV_TimeMix.__init__). */
function fancyInit(d: number, layer: number, nLayers: number): Record<'decay' | 'first' | 'mixK' | 'mixV' | 'mixR', Float32Array> {
  // Porting note: the official formula divides by (L − 1); for a single layer we take ratio 1.
  const r01 = nLayers > 1 ? layer / (nLayers - 1) : 1;
  const r10 = 1 - layer / nLayers;
  const ramp = (i: number): number => i / d;
  const f = (g: (i: number) => number): Float32Array => Float32Array.from({ length: d }, (_, i) => g(i));
  return {
    // time_decay_h = −5 + 8 (h/(d−1))^{0.7 + 1.3 r01}: per-step decay e^{−e^{time_decay}} from ~1 to ~0.
    decay: f((h) => -5 + 8 * Math.pow(d > 1 ? h / (d - 1) : 0, 0.7 + 1.3 * r01)),
    // time_first = log 0.3 + zigzag ∈ {−0.5, 0, 0.5}
    first: f((i) => Math.log(0.3) + 0.5 * (((i + 1) % 3) - 1)),
    mixK: f((i) => Math.pow(ramp(i), r10)),
    mixV: f((i) => Math.pow(ramp(i), r10) + 0.3 * r01),
    mixR: f((i) => Math.pow(ramp(i), 0.5 * r10)),
  };
}

export const rwkv4 = defineMixer({
  name: 'rwkv4',
  family: 'linrnn',
  cite: 'Peng et al. 2023, RWKV (EMNLP Findings), §3 Eq. 11–16; BlinkDL/RWKV-LM RWKV-v4neo/src/model.py RWKV_TimeMix + wkv_cuda',
  form: {
    f_q: '1',
    f_k: 'exp(x̃W_K) (bonus e^{u} on the current token; output divided by Σ of the same weights)',
    f_v: 'x̃W_V',
    f_alpha: 'exp(−w), w = exp(time_decay) (fixed per channel)',
    f_g: 'σ(x̃W_r)  (x̃ = μ ⊙ x_t + (1 − μ) ⊙ x_{t−1}: token shift)',
  },
  properties: { C0: true, C1: false, C2: false, C3: false },
  stacks: true,
  options,
  // WKV state (a, b, p) per channel, plus the previous token for the token shift.
  stateSize: (_o, d) => 3 * d + d,
  // W_K, W_V, W_r, W_O (d×d each); time_decay, time_first, μ_k, μ_v, μ_r (d each)
  paramCount: (_o, d) => 4 * d * d + 5 * d,
  create: (o, ctx) => {
    const d = ctx.dModel;
    const p = ctx.params;
    const init = fancyInit(d, ctx.layer, ctx.nLayers);
    const vec = (name: string, values: Float32Array, fileShape = [d]): tf.Variable =>
      p.add(name, [d], { kind: 'custom', values: () => values }, { decay: false, fileShape });
    const timeDecay = vec('time_decay', init.decay);
    const timeFirst = vec('time_first', init.first);
    // Stored [1, 1, d] in RWKV checkpoints.
    const muK = vec('time_mix_k', init.mixK, [1, 1, d]);
    const muV = vec('time_mix_v', init.mixV, [1, 1, d]);
    const muR = vec('time_mix_r', init.mixR, [1, 1, d]);
    // Porting note: RWKV-4 inits W_V orthogonally; we use N(0, init_std) like the other mixers.
    const wk = p.linear('key', d, d, { kind: 'zeros' }).w;
    const wv = p.linear('value', d, d, { kind: 'normal', std: o.init_std }).w;
    const wr = p.linear('receptance', d, d, { kind: 'zeros' }).w;
    const wo = p.linear('output', d, d, { kind: 'zeros' }).w;

    return {
      forward(x, opts = {}) {
        const [B, T] = x.shape;
        // Token shift: x_{t−1} for every t, the first from the decode state (zeros at the start).
        // Porting note: Tab. A3 omits it; the official model has it, so its last input is part of our state.
        const prev = (opts.state?.['shift'] as tf.Tensor3D | undefined) ?? tf.zeros([B, 1, d]);
        const xx = T > 1 ? tf.concat([prev, tf.slice(x, [0, 0, 0], [B, T - 1, d])], 1) : prev; // [B, T, d]
        const mix = (mu0: tf.Tensor): tf.Tensor => {
          const mu = perRow(mu0, B, [1, d]);
          return tf.add(tf.mul(x, mu), tf.mul(xx, tf.sub(1, mu)));
        };
        const k = dense(mix(muK), wk) as tf.Tensor3D;
        const v = dense(mix(muV), wv) as tf.Tensor3D;
        const r = dense(mix(muR), wr);
        // WKV with decay rate w = e^{time_decay} > 0 and bonus u = time_first. Stacked replicas
        // (train.stack) run as R·d channels of one WKV, their decays and bonuses side by side.
        const R = replicasOf(timeDecay, [d]);
        if (R > 1 && (opts.state !== undefined || opts.wantState === true)) throw new Error('internal: stacked replicas have no decoding state');
        const res = wkv(
          R > 1 ? replicasToChannels(k, R) : k,
          R > 1 ? replicasToChannels(v, R) : v,
          tf.reshape(tf.exp(timeDecay), [-1]) as tf.Tensor1D,
          tf.reshape(timeFirst, [-1]) as tf.Tensor1D,
          {
            initialState: opts.state?.['wkv'] as tf.Tensor3D | undefined,
            wantState: opts.wantState === true,
            chunkSize: o.chunk_size,
          },
        );
        const wkvOut = R > 1 ? channelsToReplicas(res.o as tf.Tensor3D, R) : res.o;
        const y = dense(tf.mul(tf.sigmoid(r), wkvOut), wo) as tf.Tensor3D;
        if (opts.wantState !== true) return { y };
        const state: MixerState = { shift: tf.slice(x, [0, T - 1, 0], [B, 1, d]), wkv: res.finalState! };
        return { y, state };
      },
    };
  },
});
