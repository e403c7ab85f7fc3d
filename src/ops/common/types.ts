// Shared option and result types of the linear-attention recurrences in src/ops.
// Layout: activations [B, T, H, D], state [B, H, K, V] (flash-linear-attention's "seq-first"
// convention, reference-implementations.md §1.3).
import type * as tf from '@tensorflow/tfjs';

/**
 * How to evaluate a recurrence: step loop, one masked quadratic form, chunkwise, or 'fused' (one
 * backend kernel per pass; only where the backend registers one, e.g. gla on webgpu).
 */
export type Form = 'naive' | 'parallel' | 'chunk' | 'fused';
/** The forms every backend can run (built from tfjs ops). */
export const FORMS: readonly Form[] = ['naive', 'parallel', 'chunk'];

/**
 * How the chunk form carries the state from chunk to chunk when the transition is diagonal:
 * 'loop' (N sequential steps: fewest flops, best on cpu/wasm) or 'scan' (⌈log2 N⌉ steps over all
 * chunks: fewest kernel launches, best on webgpu). Same results.
 */
export type StatePass = 'loop' | 'scan';

/** Options shared by every [B,T,H,*] recurrence (gla, simpleGla, deltaRule, gatedDeltaRule). */
export interface RecurrenceOptions {
  /** Multiplies q; default K^-0.5. */
  scale?: number;
  /** State before the first token, [B,H,K,V]; default zeros. */
  initialState?: tf.Tensor4D;
  /** Default: 'fused' where the backend has it, else 'chunk', for T > 1; 'naive' for short T. */
  form?: Form;
  /**
   * Chunk length of the chunkwise form (any positive integer; T is zero-padded up to a multiple).
   * Default per op and backend (e.g. gla: 16 on cpu/wasm, 32 on webgpu; see each op's *_DEFAULTS).
   */
  chunkSize?: number;
  /** Return the final state (default true); training passes false to skip that work. */
  wantState?: boolean;
  /**
   * Chunk form of gla / simpleGla / hgrn: 'loop' or 'scan' between chunks (see StatePass).
   * Default 'scan' on webgpu, 'loop' elsewhere. Ignored by the delta rules (full-matrix
   * transitions: always a loop).
   */
  statePass?: StatePass;
}

/** `{ o, finalState }`; finalState is undefined when `wantState === false`. */
export interface RecurrenceResult<O extends tf.Tensor = tf.Tensor4D, S extends tf.Tensor = tf.Tensor4D> {
  o: O;
  finalState?: S;
}

/** Result type when the final state was asked for (the default). */
export interface RecurrenceResultWithState<O extends tf.Tensor = tf.Tensor4D, S extends tf.Tensor = tf.Tensor4D> {
  o: O;
  finalState: S;
}

/** Options after defaults were filled in and validated (what every form receives). */
export interface ResolvedOptions<S extends tf.Tensor = tf.Tensor4D> {
  scale: number;
  initialState: S | undefined;
  chunkSize: number;
  wantState: boolean;
  statePass: StatePass;
}
