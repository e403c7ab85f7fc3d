// Public entry of the per-channel gated recurrence (GLA; MetaLA with k = 1 − exp(g)):
//   S_t = diag(exp(g_t)) S_{t-1} + k_tᵀ v_t,   o_t = scale · q_t S_t
// Validates shapes, fills defaults and dispatches to the naive / parallel / chunk forms.
import type * as tf from '@tensorflow/tfjs';
import { GLA_CHUNK_WORKGROUP_BYTES } from './webgpu_chunk.js';
import { MetalaError } from '../../util/errors.js';
import type { RecurrenceOptions, RecurrenceResult, RecurrenceResultWithState, ResolvedOptions } from '../common/types.js';
import type { ChunkDefaults } from '../common/validate.js';
import { dims, expectShape, naiveUpTo, resolveForm, resolveOptions } from '../common/validate.js';
import { glaChunk } from './chunk.js';
import { glaFused, glaFusedAvailable } from './fused.js';
import { glaFusedChunk, glaFusedChunkAvailable } from './fused_chunk.js';
import { glaNaive } from './naive.js';
import { glaParallel } from './parallel.js';

export { glaChunk, glaFused, glaFusedChunk, glaNaive, glaParallel };

/**
 * Shortest T for which the 'fused' form runs the chunkwise kernels (webgpu_chunk.ts) rather
 * than the sequential ones (webgpu_recurrent.ts). The chunk kernels work on whole 64-token chunks, so
 * below one chunk they pay for padding rows and four launches where the sequential kernels walk
 * fewer than 64 steps; from one full chunk on, the sequential walk (T dependent steps over only
 * B·H·V threads) is what dominates. GPU time of forward + backward on the H200 (B 32, H 4, K 32,
 * V 64; sequential vs chunk): T 16 0.26 vs 0.33 ms, T 32 0.46 vs 0.26, T 64 3.0 vs 2.5, T 512
 * 28.2 vs 17.8; at T 32 the chunk forward alone is still the slower (0.13 vs 0.07 ms) and a step
 * there is bound by host time, so the switch sits at one full chunk. Decode (T = 1) and short
 * prompts keep the sequential kernels.
 */
export const GLA_CHUNK_MIN_T = 64;

/**
 * Which kernels the 'fused' form runs: `METALA_GLA_KERNEL=chunk|recurrent` forces the chunkwise or
 * the sequential ones for every T (to A/B-measure them on a GPU, or to rule one out when a result
 * looks wrong); unset or empty, the chunk kernels from T ≥ GLA_CHUNK_MIN_T where the device has
 * the workgroup memory they need. Any other value is an error.
 */
export function glaKernelChoice(t: number, value = process.env['METALA_GLA_KERNEL'] ?? ''): 'chunk' | 'recurrent' {
  const v = value.trim();
  if (v === 'recurrent') return 'recurrent';
  if (v === 'chunk') {
    if (!glaFusedChunkAvailable()) {
      throw new MetalaError(`METALA_GLA_KERNEL=chunk: the chunk gla kernels are not available here (they need the webgpu backend with the gla kernel family, and ${GLA_CHUNK_WORKGROUP_BYTES} bytes of workgroup memory)`);
    }
    return 'chunk';
  }
  if (v !== '') throw new MetalaError(`METALA_GLA_KERNEL: unknown value '${v}'; use chunk or recurrent, or leave it unset`);
  return t >= GLA_CHUNK_MIN_T && glaFusedChunkAvailable() ? 'chunk' : 'recurrent';
}

/** The 'fused' form: the chunkwise or the sequential kernels, by glaKernelChoice. */
export function glaFusedAuto(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, g: tf.Tensor4D, opts: ResolvedOptions): RecurrenceResult {
  return glaKernelChoice(q.shape[1]) === 'chunk' ? glaFusedChunk(q, k, v, g, opts) : glaFused(q, k, v, g, opts);
}

/**
 * Default chunking (measured, src/ops/README.md): the [C,C,K] decay tensor costs C·K floats per
 * token, so C stays small; webgpu prefers C = 32 with the scan between chunks.
 */
export const GLA_DEFAULTS: ChunkDefaults = { gpu: { chunkSize: 32, statePass: 'scan' }, cpu: { chunkSize: 16, statePass: 'loop' } };

/**
 * Gated linear attention with per-channel decay.
 * @param q [B,T,H,K] queries (scaled by `opts.scale`, default K^-0.5)
 * @param k [B,T,H,K] keys
 * @param v [B,T,H,V] values
 * @param g [B,T,H,K] log decay, ≤ 0 (e.g. logsigmoid(z)/16)
 * @param opts scale, initialState [B,H,K,V], form, chunkSize, wantState
 * @returns o [B,T,H,V] and finalState [B,H,K,V] (undefined when wantState is false)
 */
export function gla(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, g: tf.Tensor4D, opts: RecurrenceOptions & { wantState: false }): RecurrenceResult;
export function gla(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, g: tf.Tensor4D, opts?: RecurrenceOptions & { wantState?: true }): RecurrenceResultWithState;
export function gla(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, g: tf.Tensor4D, opts?: RecurrenceOptions): RecurrenceResult;
export function gla(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, g: tf.Tensor4D, opts: RecurrenceOptions = {}): RecurrenceResult {
  const op = 'gla';
  const [b, t, h, dk] = dims(op, 'q', q, 4, '[B,T,H,K]') as [number, number, number, number];
  expectShape(op, 'k', k, [b, t, h, dk], '[B,T,H,K]');
  expectShape(op, 'g', g, [b, t, h, dk], '[B,T,H,K]');
  expectShape(op, 'v', v, [b, t, h, undefined], '[B,T,H,V]');
  const dv = v.shape[3];
  if (opts.initialState !== undefined) expectShape(op, 'initialState', opts.initialState, [b, h, dk, dv], '[B,H,K,V]');
  const resolved = resolveOptions(op, opts, dk, GLA_DEFAULTS);
  switch (resolveForm(op, opts.form, t, glaFusedAvailable() ? 'fused' : 'chunk', naiveUpTo())) {
    case 'fused':
      return glaFusedAuto(q, k, v, g, resolved);
    case 'naive':
      return glaNaive(q, k, v, g, resolved);
    case 'parallel':
      return glaParallel(q, k, v, g, resolved);
    case 'chunk':
      return glaChunk(q, k, v, g, resolved);
  }
}
