// Inter-chunk state passing for recurrences whose chunk-to-chunk transition is diagonal:
//   S_{n+1} = exp(a_n) ⊙ S_n + W_n      (gla: a_n = b_C per channel; simpleGla: scalar; hgrn)
// either as a loop over the N chunks or as a log-depth scan (common/scan.ts) — same numbers.
import * as tf from '@tensorflow/tfjs';
import { linearScan } from './scan.js';
import { stackSafe, unstackSafe } from './tensor.js';
import type { StatePass } from './types.js';

/**
 * @param writes [N, ...S] what each chunk adds to the state (already decayed to the chunk end)
 * @param logDecay [N, ...] (broadcasts against S) log of each chunk's total decay, ≤ 0
 * @param s0 [...S] state before the first chunk (undefined: zeros)
 * @returns entering [N, ...S] (the state each chunk starts from) and, if wanted, the final state
 */
export function passStates(
  writes: tf.Tensor,
  logDecay: tf.Tensor,
  s0: tf.Tensor | undefined,
  mode: StatePass,
  wantFinal: boolean,
): { entering: tf.Tensor; final?: tf.Tensor } {
  const n = writes.shape[0] ?? 0;
  const stateShape = writes.shape.slice(1);
  if (mode === 'loop') {
    const ws = unstackSafe(writes, 0);
    const decays = unstackSafe(tf.exp(logDecay), 0);
    let s = s0 ?? tf.zeros(stateShape);
    const entering: tf.Tensor[] = [];
    for (let i = 0; i < n; i++) {
      entering.push(s);
      if (i < n - 1 || wantFinal) s = tf.add(tf.mul(decays[i]!, s), ws[i]!);
    }
    return wantFinal ? { entering: stackSafe(entering, 0), final: s } : { entering: stackSafe(entering, 0) };
  }
  // Scan: after[n] = state at the end of chunk n = scan(writes) + exp(Σ_{m≤n} a_m) S_0.
  const { h, cumA } = linearScan(writes, logDecay, 0);
  const after = s0 === undefined ? h : tf.add(h, tf.mul(tf.exp(cumA), tf.expandDims(s0, 0)));
  const first = s0 === undefined ? tf.zeros([1, ...stateShape]) : tf.expandDims(s0, 0);
  const entering = n === 1 ? first : tf.concat([first, tf.slice(after, 0, n - 1)], 0);
  if (!wantFinal) return { entering };
  return { entering, final: tf.reshape(tf.slice(after, n - 1, 1), stateShape) };
}
