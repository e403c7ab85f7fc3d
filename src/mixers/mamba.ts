// Mamba (Gu & Dao 2023, "Mamba: Linear-Time Sequence Modeling with Selective State Spaces";
// paper-metala.md §1.3 Tab. A2 row "Mamba": f_q = xW_C, f_k = Δ_t(xW_B), f_v = x,
// f_α = exp(Δ_t A), Δ_t = softplus(xW_lora + b_Δ)), following state-spaces/mamba
// `mamba_ssm/modules/mamba_simple.py` (Mamba block) and `selective_scan_ref`:
// in_proj → (x, z); x ← SiLU(causal depthwise conv(x)); selective scan with D skip; ⊙ SiLU(z); out_proj.
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { dense, mulSilu, silu } from '../layers/basic.js';
import { causalConv1d } from '../layers/short_conv.js';
import { selectiveScan } from '../ops/selective_scan/index.js';
import { MetalaError } from '../util/errors.js';
import { defineMixer, type MixerState } from './types.js';import { perRow, replicasOf } from '../layers/replicas.js';


const options = z
  .object({
    /** N (mamba_simple `d_state`). */
    d_state: z.number().int().positive().default(16),
    /** Causal conv width (`d_conv`). */
    d_conv: z.number().int().positive().max(16).default(4),
    /** E: d_inner = E·d. */
    expand: z.number().int().positive().default(2),
    /** Rank of the Δ projection; `auto` = ⌈d/16⌉. */
    dt_rank: z.union([z.literal('auto'), z.number().int().positive()]).default('auto'),
    dt_min: z.number().positive().default(1e-3),
    dt_max: z.number().positive().default(1e-1),
    dt_init_floor: z.number().positive().default(1e-4),
    dt_scale: z.number().positive().default(1),
    conv_bias: z.boolean().default(true),
    /** Biases on in_proj / out_proj. */
    bias: z.boolean().default(false),
  })
  .strict();

type Opts = z.infer<typeof options>;

function dims(o: Opts, d: number): { E: number; R: number; N: number } {
  return { E: o.expand * d, R: o.dt_rank === 'auto' ? Math.ceil(d / 16) : o.dt_rank, N: o.d_state };
}

/** dt_proj bias: softplus⁻¹(Δ) with Δ = max(exp(U[log dt_min, log dt_max]), floor) (mamba_simple). */
export function mambaDtBias(n: number, u: () => number, o: Pick<Opts, 'dt_min' | 'dt_max' | 'dt_init_floor'>): Float32Array {
  const [lo, hi] = [Math.log(o.dt_min), Math.log(o.dt_max)];
  return Float32Array.from({ length: n }, () => {
    const dt = Math.max(Math.exp(lo + u() * (hi - lo)), o.dt_init_floor);
    return dt + Math.log(-Math.expm1(-dt)); // inverse of softplus
  });
}

export const mamba = defineMixer({
  name: 'mamba',
  family: 'ssm',
  cite: 'Gu & Dao 2023, Mamba (arXiv 2312.00752), selective SSM; state-spaces/mamba mamba_ssm/modules/mamba_simple.py',
  form: { f_q: 'xW_C', f_k: 'Δ_t (xW_B)', f_v: 'x', f_alpha: 'exp(Δ_t A), Δ_t = softplus(xW_lora + b_Δ)', f_g: '1 (outside: SiLU(xW_z))' },
  properties: { C0: true, C1: true, C2: true, C3: false },
  stacks: true,
  options,
  stateSize: (o, d) => {
    const { E, N } = dims(o, d);
    return E * N + (o.d_conv - 1) * E;
  },
  // in_proj (2dE [+2E]), conv (cE [+E]), x_proj (E(R+2N)), dt_proj (RE + E), A_log (EN), D (E), out_proj (Ed [+d])
  paramCount: (o, d) => {
    const { E, R, N } = dims(o, d);
    return 2 * d * E + o.d_conv * E + E * (R + 2 * N) + R * E + E + E * N + E + E * d + (o.conv_bias ? E : 0) + (o.bias ? 2 * E + d : 0);
  },
  create: (o, ctx) => {
    if (o.dt_min > o.dt_max) throw new MetalaError(`model.mixer: mamba: dt_min ${o.dt_min} exceeds dt_max ${o.dt_max}. Swap them`);
    const d = ctx.dModel;
    const { E, R, N } = dims(o, d);
    const p = ctx.params;
    // nn.Linear / nn.Conv1d default init U(±1/√fan_in); Mamba's _init_weights zeroes the biases and
    // re-draws out_proj the same way, divided by √n_layer.
    const u = (fanIn: number) => ({ kind: 'uniform', bound: 1 / Math.sqrt(fanIn) }) as const;
    const inW = p.add('in_proj.weight', [d, 2 * E], u(d), { layout: 'linear' });
    const inB = o.bias ? p.add('in_proj.bias', [2 * E], { kind: 'zeros' }) : undefined;
    const convW = p.add('conv1d.weight', [o.d_conv, E], u(o.d_conv), { layout: 'linear', fileShape: [E, 1, o.d_conv] });
    const convB = o.conv_bias ? p.add('conv1d.bias', [E], u(o.d_conv)) : undefined;
    const xW = p.add('x_proj.weight', [E, R + 2 * N], u(E), { layout: 'linear' });
    const dtW = p.add('dt_proj.weight', [R, E], { kind: 'uniform', bound: R ** -0.5 * o.dt_scale }, { layout: 'linear' });
    const dtB = p.add('dt_proj.bias', [E], { kind: 'custom', values: (n, rng) => mambaDtBias(n, () => rng.next(), o) });
    // S4D-Real: A = −(1..N) per channel, stored as A_log (no weight decay).
    const aLog = p.add('A_log', [E, N], { kind: 'custom', values: (n) => Float32Array.from({ length: n }, (_, i) => Math.log((i % N) + 1)) }, { decay: false });
    const skip = p.add('D', [E], { kind: 'ones' });
    const outW = p.add('out_proj.weight', [E, d], { kind: 'uniform', bound: 1 / Math.sqrt(E) / Math.sqrt(ctx.nLayers) }, { layout: 'linear' });
    const outB = o.bias ? p.add('out_proj.bias', [d], { kind: 'zeros' }) : undefined;
    return {
      forward(x, opts = {}) {
        const [B, T] = x.shape;
        const xz = dense(x, inW, inB);
        const xi = tf.slice(xz, [0, 0, 0], [B, T, E]) as tf.Tensor3D;
        const zg = tf.slice(xz, [0, 0, E], [B, T, E]);
        // Causal depthwise conv; the cache holds the last d_conv − 1 pre-conv inputs (upstream keeps d_conv).
        const conv = causalConv1d(xi, convW, opts.state?.['conv'] as tf.Tensor3D | undefined);
        const uc = silu(convB === undefined ? conv.y : tf.add(conv.y, perRow(convB, B, [1, E]))) as tf.Tensor3D; // [B,T,E]
        const xdbl = dense(uc, xW); // [B,T,R+2N]
        const dtIn = tf.slice(xdbl, [0, 0, 0], [B, T, R]);
        const bm = tf.slice(xdbl, [0, 0, R], [B, T, N]) as tf.Tensor3D; // B_t [B,T,N]
        const cm = tf.slice(xdbl, [0, 0, R + N], [B, T, N]) as tf.Tensor3D; // C_t [B,T,N]
        const delta = tf.softplus(dense(dtIn, dtW, dtB)) as tf.Tensor3D; // Δ_t [B,T,E]
        const A = tf.neg(tf.exp(aLog)) as tf.Tensor2D; // [E,N]
        // Ā_t = exp(Δ_t A), B̄_t = Δ_t B_t (the simplified Euler B̄ of selective_scan), C_t; on
        // webgpu one fused kernel per pass (src/ops/selective_scan/index.ts).
        const scan = (rows: (t: tf.Tensor3D) => tf.Tensor3D, a: tf.Tensor2D, dSkip: tf.Tensor1D) =>
          selectiveScan(
            { x: rows(uc), delta: rows(delta), A: a, b: rows(bm), c: rows(cm), skip: dSkip },
            { initialState: opts.state?.['h'] === undefined ? undefined : { re: opts.state['h'] as tf.Tensor3D }, wantState: opts.wantState === true },
          );
        // Stacked replicas (train.stack): B̄ and C are per example, A and D per replica, so the
        // scan runs once per replica on its rows (the projections around it are batched).
        const Rep = replicasOf(skip, [E]);
        if (Rep > 1 && (opts.state !== undefined || opts.wantState === true)) throw new Error('internal: stacked replicas have no decoding state');
        const r =
          Rep === 1
            ? scan((t) => t, tf.reshape(A, [E, N]) as tf.Tensor2D, tf.reshape(skip, [E]) as tf.Tensor1D)
            : {
                y: tf.concat(
                  Array.from({ length: Rep }, (_, i) => {
                    const b0 = B / Rep;
                    return scan((t) => tf.slice(t, [i * b0, 0, 0], [b0, -1, -1]), tf.reshape(tf.slice(A, [i, 0, 0], [1, E, N]), [E, N]) as tf.Tensor2D, tf.reshape(tf.slice(skip, [i, 0], [1, E]), [E]) as tf.Tensor1D).y;
                  }),
                  0,
                ),
                finalState: undefined,
              };
        const y = dense(mulSilu(r.y, zg), outW, outB) as tf.Tensor3D;
        if (opts.wantState !== true) return { y };
        const state: MixerState = { conv: conv.cache, h: r.finalState!.re };
        return { y, state };
      },
    };
  },
});
