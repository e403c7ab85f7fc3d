// Token embedding lookup whose gradient does not go through tfjs's atomic UnsortedSegmentSum on
// webgpu (src/layers/embedding_webgpu.ts says why). The ids are a JS array here, so
// their counting sort costs O(N + V) on the CPU; other backends use plain tf.gather.
import * as tf from '@tensorflow/tfjs';
import { SORTED_SEGMENT_SUM } from './embedding_webgpu.js';
import { derived } from '../backend/host_inputs.js';

/** Counting sort of ids in [0, V): positions grouped by id (perm) and each id's range (offsets [V+1]). */
export function sortIds(ids: Int32Array, V: number): { perm: Int32Array; offsets: Int32Array } {
  const offsets = new Int32Array(V + 1);
  for (let i = 0; i < ids.length; i++) offsets[ids[i]! + 1]! += 1;
  for (let v = 0; v < V; v++) offsets[v + 1]! += offsets[v]!;
  const next = offsets.slice(0, V);
  const perm = new Int32Array(ids.length);
  for (let i = 0; i < ids.length; i++) perm[next[ids[i]!]!++] = i;
  return { perm, offsets };
}

/** table [V, D], ids (flat, each in [0, V)) → rows [N, D]; differentiable w.r.t. table. */
export function embedLookup(table: tf.Tensor2D, ids: Int32Array): tf.Tensor2D {
  const backend = tf.getBackend();
  if (backend === undefined || tf.getKernel(SORTED_SEGMENT_SUM, backend) === undefined) return tf.gather(table, tf.tensor1d(ids, 'int32'));
  const [V] = table.shape;
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
    value: tf.gather(args[0] as tf.Tensor, tf.tensor1d(ids, 'int32')),
    gradFunc: (dy: tf.Tensor) => {
      const [perm, offsets] = derived((x) => {
        const s = sortIds(x as Int32Array, V);
        return [s.perm, s.offsets];
      }, ids) as [Int32Array, Int32Array];
      return tf.engine().runKernel(SORTED_SEGMENT_SUM, { dy, perm: tf.tensor1d(perm, 'int32'), offsets: tf.tensor1d(offsets, 'int32') }, { segments: V } as never) as tf.Tensor;
    },
  }));
  return f(table) as tf.Tensor2D;
}
