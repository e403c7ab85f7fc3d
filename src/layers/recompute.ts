// Activation recomputation ("gradient checkpointing", Chen et al. 2016): run a block forward
// without keeping its intermediates, and in the backward pass run it again under a fresh gradient
// tape to get the block's gradients. tfjs keeps every op's inputs/outputs for the backward pass,
// ~150 [B, T, d]-sized tensors per pre-norm block here, so a d = 128 Pathfinder model at batch 64
// held 25–39 GB of GPU memory; with recomputation only block inputs stay alive (plus one block's
// intermediates while it is differentiated) for about one extra forward pass of compute.
//
// The block must be deterministic (no dropout): the recomputed forward has to equal the first one.
import * as tf from '@tensorflow/tfjs';

/** Engine internals used here: the active tape, which a nested gradients() call replaces. */
interface EngineInternals {
  state: { activeTape: unknown };
  gradients(f: () => tf.Tensor, xs: tf.Tensor[], dy: tf.Tensor, allowNoGradients: boolean): { value: tf.Tensor; grads: (tf.Tensor | undefined)[] };
}

/**
 * y = block(...xs), differentiable w.r.t. the float inputs and `vars` (every variable the block
 * reads), with the block's intermediates freed after the forward. Tensors the block reads besides
 * its variables (an index, a mask) must be passed in xs so they stay alive until the backward
 * pass; a variable missing from `vars` would get no gradient through this call.
 */
export function recompute<T extends tf.Tensor>(block: (...xs: tf.Tensor[]) => T, xs: tf.Tensor[], vars: tf.Variable[]): T {
  const n = xs.length;
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const inputs = args.slice(0, n) as tf.Tensor[];
    save(inputs);
    const value = tf.tidy(() => block(...inputs));
    return {
      value,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const engine = tf.engine() as unknown as EngineInternals;
        const wrt = [...saved.filter((t) => t.dtype === 'float32'), ...vars];
        // The outer backward pass still owns the active tape (it disposes the tape's saved tensors
        // when it finishes); the nested gradients() call below would replace it with its own.
        const outerTape = engine.state.activeTape;
        try {
          const { value: y, grads } = engine.gradients(() => block(...saved), wrt, dy as tf.Tensor, true);
          y.dispose();
          const byId = new Map(wrt.map((t, i) => [t.id, grads[i]]));
          // Integer inputs, and anything the block did not touch, get zeros.
          return [...saved, ...vars].map((t) => byId.get(t.id) ?? tf.zerosLike(t));
        } finally {
          engine.state.activeTape = outerTape;
        }
      },
    };
  });
  return f(...xs, ...vars) as T;
}
