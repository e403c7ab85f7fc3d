// Gated delta rule, chunkwise (WY/UT with the in-chunk decay matrix Γ, fla `naive_chunk_gated_delta_rule`,
// reference-implementations.md §1.5) and its one-chunk quadratic form. Shares the algorithm with the
// plain delta rule (delta_rule/chunk.ts), which is the case g = 0.
import type * as tf from '@tensorflow/tfjs';
import { deltaRuleChunk, deltaRuleParallel } from '../delta_rule/chunk.js';
import type { RecurrenceResult, ResolvedOptions } from '../common/types.js';

/**
 * Chunkwise form (chunk length opts.chunkSize).
 * @param q [B,T,H,K]
 * @param k [B,T,H,K]
 * @param v [B,T,H,V]
 * @param g [B,T,H] per-head log decay (≤ 0)
 * @param beta [B,T,H]
 */
export function gatedDeltaRuleChunk(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, g: tf.Tensor3D, beta: tf.Tensor3D, opts: ResolvedOptions): RecurrenceResult {
  return deltaRuleChunk(q, k, v, beta, opts, g);
}

/**
 * One chunk over the whole sequence (quadratic; for short T and tests).
 * @param q [B,T,H,K]
 * @param k [B,T,H,K]
 * @param v [B,T,H,V]
 * @param g [B,T,H] per-head log decay (≤ 0)
 * @param beta [B,T,H]
 */
export function gatedDeltaRuleParallel(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, g: tf.Tensor3D, beta: tf.Tensor3D, opts: ResolvedOptions): RecurrenceResult {
  return deltaRuleParallel(q, k, v, beta, opts, g);
}
