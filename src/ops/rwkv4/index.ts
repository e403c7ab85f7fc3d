// Public entry of RWKV-4's WKV operator (Peng et al. 2023, Eq. 14–16; official CUDA kernel
// BlinkDL/RWKV-LM RWKV-v4/cuda/wkv_cuda.cu, fla `ops/rwkv4/fused_recurrent.py`):
//   wkv_t = (Σ_{s<t} e^{−(t−1−s)w + k_s} v_s + e^{u+k_t} v_t) / (Σ_{s<t} e^{−(t−1−s)w + k_s} + e^{u+k_t})
// per channel; k, v [B,T,D], w, u [D], state (a, b, p) as [B,3,D]. Forms: naive (step loop),
// chunk (log-space chunkwise), parallel (one chunk of length T, O(T²D) memory), fused (webgpu
// kernels; no initial or final state: training and evaluation).
import * as tf from '@tensorflow/tfjs';
import type { Form, RecurrenceResult, RecurrenceResultWithState } from '../common/types.js';
import { dims, expectShape, resolveForm } from '../common/validate.js';
import { rwkv4Chunk } from './chunk.js';
import { rwkv4Fused, rwkv4FusedAvailable } from './fused.js';
import { rwkv4Naive } from './naive.js';
import { EMPTY_LOG_SCALE, type Rwkv4Resolved } from './state.js';

export { rwkv4Chunk, rwkv4Fused, rwkv4FusedAvailable, rwkv4Naive, EMPTY_LOG_SCALE };

/**
 * Default chunk length per backend. wasm, B=4 T=512 D=64, fwd+bwd (measured): naive 571 ms,
 * C=4 204 ms, C=8 223–242 ms, C=16 428 ms, C=32 873 ms (the in-chunk work is O(C) per token, with
 * no matMul to amortise it). webgpu: not measured; larger chunks mean fewer kernel launches.
 */
export const RWKV4_DEFAULTS = { cpu: 8, gpu: 32 } as const;

export interface Rwkv4Options {
  /** (a, b, p) [B,3,D] before the first token; default the empty state (0, 0, −1e38). */
  initialState?: tf.Tensor3D;
  /**
   * Default: 'naive' (one recurrent step) for T = 1; for T > 1 'fused' on webgpu when there is no
   * initial state and no final state is wanted (training), else 'chunk'.
   */
  form?: Form;
  /** Chunk length of the chunk form (any positive integer; default RWKV4_DEFAULTS per backend). */
  chunkSize?: number;
  /** Return the final state (default true). */
  wantState?: boolean;
}

/**
 * RWKV-4 WKV with the bonus u and the normaliser, numerically stable for any k.
 * @param k [B,T,D] keys (k = xW_K; the weight of token s is e^{k_s})
 * @param v [B,T,D] values
 * @param w [D] decay rate, > 0 (RWKV-4: w = exp(time_decay))
 * @param u [D] bonus for the current token (RWKV-4: time_first)
 * @returns o [B,T,D] = wkv and finalState [B,3,D] (undefined when wantState is false)
 */
export function rwkv4(k: tf.Tensor3D, v: tf.Tensor3D, w: tf.Tensor1D, u: tf.Tensor1D, opts: Rwkv4Options & { wantState: false }): RecurrenceResult<tf.Tensor3D, tf.Tensor3D>;
export function rwkv4(k: tf.Tensor3D, v: tf.Tensor3D, w: tf.Tensor1D, u: tf.Tensor1D, opts?: Rwkv4Options & { wantState?: true }): RecurrenceResultWithState<tf.Tensor3D, tf.Tensor3D>;
export function rwkv4(k: tf.Tensor3D, v: tf.Tensor3D, w: tf.Tensor1D, u: tf.Tensor1D, opts?: Rwkv4Options): RecurrenceResult<tf.Tensor3D, tf.Tensor3D>;
export function rwkv4(k: tf.Tensor3D, v: tf.Tensor3D, w: tf.Tensor1D, u: tf.Tensor1D, opts: Rwkv4Options = {}): RecurrenceResult<tf.Tensor3D, tf.Tensor3D> {
  const op = 'rwkv4';
  const [b, t, d] = dims(op, 'k', k, 3, '[B,T,D]') as [number, number, number];
  expectShape(op, 'v', v, [b, t, d], '[B,T,D]');
  expectShape(op, 'w', w, [d], '[D]');
  expectShape(op, 'u', u, [d], '[D]');
  if (opts.initialState !== undefined) expectShape(op, 'initialState', opts.initialState, [b, 3, d], '[B,3,D]');
  const chunkSize = opts.chunkSize ?? (tf.getBackend() === 'webgpu' ? RWKV4_DEFAULTS.gpu : RWKV4_DEFAULTS.cpu);
  if (!Number.isInteger(chunkSize) || chunkSize < 1) throw new Error(`${op}: chunkSize must be a positive integer, got ${chunkSize}`);
  const resolved: Rwkv4Resolved = { initialState: opts.initialState, chunkSize, wantState: opts.wantState ?? true };
  // Training on webgpu: two kernel launches instead of the chunk form's hundreds.
  const fusedFits = resolved.initialState === undefined && !resolved.wantState && rwkv4FusedAvailable();
  switch (resolveForm(op, opts.form, t, fusedFits ? 'fused' : 'chunk')) {
    case 'naive':
      return rwkv4Naive(k, v, w, u, resolved);
    case 'parallel':
      return rwkv4Chunk(k, v, w, u, { ...resolved, chunkSize: t });
    case 'chunk':
      return rwkv4Chunk(k, v, w, u, resolved);
    case 'fused':
      return rwkv4Fused(k, v, w, u, resolved);
  }
}
