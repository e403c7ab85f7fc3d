// The reverse pass without tfjs's memory overhang (#15 item 5: ref2 held 56.7 GB on an H200 where
// PyTorch peaks at 17.1 GB).
//
// tfjs-core's Engine.gradients walks the tape backwards inside ONE tidy scope: the gradient of
// every activation it passes and every op's saved tensors stay allocated until the whole backward
// pass ends, so the backward pass peaks at about all activations + all their gradients. PyTorch
// frees an activation's gradient once the op that produced the activation has consumed it, and an
// op's saved tensors once its backward ran. This replacement does the same: after a tape node's
// backward, the gradients of its outputs and its saved tensors are disposed (unless the gradient is
// still held under another tensor id, the seed dy, or a requested x's). Values are unchanged: the
// same gradient functions run in the same order. Only the outermost gradient call (gradient depth
// 0, where tfjs itself clears the tape afterwards) is lean; nested calls keep tfjs's code.
import * as tf from '@tensorflow/tfjs';

interface TapeNode {
  id: number;
  kernelName: string;
  outputs: tf.Tensor[];
  inputs: Record<string, tf.Tensor>;
  gradient?: (dys: (tf.Tensor | null)[]) => Record<string, () => tf.Tensor>;
  saved?: tf.Tensor[];
}

interface EngineInternals {
  state: { activeTape: TapeNode[] | null; gradientDepth: number };
  scopedRun<T>(start: () => void, end: () => void, f: () => T): T;
  startTape(): void;
  endTape(): void;
  tidy<T extends tf.TensorContainer>(nameOrFn: string | (() => T), fn?: () => T): T;
  gradients(f: () => tf.Tensor, xs: tf.Tensor[], dy?: tf.Tensor, allowNoGradients?: boolean): { value: tf.Tensor; grads: tf.Tensor[] };
}

/**
 * The nodes of the tape on a path from some x to y, in tape order, each with only the inputs that
 * depend on an x (the gradient of the others is not needed).
 */
function nodesBetween(tape: TapeNode[], xs: tf.Tensor[], y: tf.Tensor): TapeNode[] {
  const fromX = new Set(xs.map((x) => x.id));
  const reachedFromX = new Set<number>();
  for (const node of tape) {
    if (Object.values(node.inputs).some((t) => fromX.has(t.id))) {
      for (const o of node.outputs) fromX.add(o.id);
      reachedFromX.add(node.id);
    }
  }
  const toY = new Set([y.id]);
  const leadsToY = new Set<number>();
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i]!;
    if (node.outputs.some((o) => toY.has(o.id))) {
      for (const t of Object.values(node.inputs)) toY.add(t.id);
      leadsToY.add(node.id);
    }
  }
  return tape
    .filter((n) => reachedFromX.has(n.id) && leadsToY.has(n.id))
    .map((n) => ({ ...n, inputs: Object.fromEntries(Object.entries(n.inputs).filter(([, t]) => fromX.has(t.id))) }));
}

interface SavingEngine {
  state: { gradientDepth: number };
  backend: { incRef(dataId: object): void };
  /** What saveTensorsForBackwardMode and a customGrad's save call for each saved tensor. */
  clone(x: tf.Tensor): tf.Tensor;
  /** The tensors an op's gradient is given (its gradient config's inputsToSave / outputsToSave). */
  getTensorsForGradient(kernelName: string, inputs: Record<string, tf.Tensor>, outputs: tf.Tensor[]): tf.Tensor[];
  trackTensor(t: tf.Tensor, backend: unknown): void;
  nextTensorId(): number;
}

/**
 * Kernels whose gradient reads only the shapes of what it saved (tfjs 4.22's Add, Sub, Reshape,
 * Slice, Concat and PadV2 gradients; Sum, Mean and Tile as src/backend/gradients.ts registers
 * them): saving the tensor itself keeps its buffer alive to the backward pass for nothing. At
 * MetaLA d 128, T 512 these held 3.5 of the 19.0 MiB a step saved (the residual stream, through
 * the residual adds).
 */
const SHAPE_ONLY = new Set(['Add', 'Sub', 'Reshape', 'Slice', 'Concat', 'PadV2', 'Sum', 'Mean', 'Tile']);

/** Tensors that stand in for a saved one: its shape and dtype, no data (disposing them is a no-op). */
const standIns = new WeakSet<tf.Tensor>();

let tfjsClone: SavingEngine['clone'] | undefined;
let tfjsToSave: SavingEngine['getTensorsForGradient'] | undefined;

/**
 * Saving an op's tensors for its backward without tfjs's overhang (idempotent; `on = false` puts
 * tfjs's code back).
 *  - tfjs-core's Engine.clone, which saves every tensor an op's gradient needs, runs the Identity
 *    kernel and records the clone as a tape node, so that a gradient of the gradient can flow
 *    through it. At MetaLA d 128, 2 layers that is 190 of a training step's 763 kernel calls, and
 *    as many tape nodes that every reverse pass filters (host time only: Identity moves no data).
 *    Here the saved tensor is a second reference to the same data, counted as the Identity kernel
 *    counts it (engine-side track, backend-side incRef), without the kernel call or the tape node.
 *  - For the SHAPE_ONLY kernels, the gradient is given stand-ins with the saved tensors' shapes
 *    and no data, so their buffers can be freed as soon as the forward pass is done with them.
 * The tape node and the real tensors matter only when the saving op itself runs inside a nested
 * gradient (gradient depth ≥ 2: a gradient of a gradient); there tfjs's code still runs.
 */
export function installLeanSaves(on = true): void {
  const engine = tf.engine() as unknown as SavingEngine;
  const proto = Object.getPrototypeOf(engine) as SavingEngine;
  tfjsClone ??= proto.clone;
  tfjsToSave ??= proto.getTensorsForGradient;
  if (!on) {
    proto.clone = tfjsClone;
    proto.getTensorsForGradient = tfjsToSave;
    return;
  }
  const clone = tfjsClone;
  const toSave = tfjsToSave;
  proto.clone = function leanClone(this: SavingEngine, x: tf.Tensor): tf.Tensor {
    if (standIns.has(x)) return x;
    if (this.state.gradientDepth > 1) return clone.call(this, x);
    const ref = new tf.Tensor(x.shape, x.dtype, x.dataId, this.nextTensorId());
    this.trackTensor(ref, this.backend);
    this.backend.incRef(x.dataId);
    return ref;
  };
  proto.getTensorsForGradient = function leanToSave(this: SavingEngine, kernelName, inputs, outputs): tf.Tensor[] {
    const saved = toSave.call(this, kernelName, inputs, outputs);
    if (!SHAPE_ONLY.has(kernelName) || this.state.gradientDepth > 1) return saved;
    return saved.map((t) => {
      // A data id no backend holds: the engine's dispose skips it, and nothing can read it.
      const s = new tf.Tensor(t.shape, t.dtype, {}, this.nextTensorId());
      standIns.add(s);
      return s;
    });
  };
}

let tfjsGradients: EngineInternals['gradients'] | undefined;
let lean: EngineInternals['gradients'] | undefined;

/**
 * Replaces tf.engine().gradients (idempotent); tf.variableGrads, tf.grads and tf.valueAndGrads go
 * through it. `on = false` puts tfjs's own back (for an A/B of the two).
 */
export function installLeanBackward(on = true): void {
  const engine = tf.engine() as unknown as EngineInternals;
  if (tfjsGradients === undefined) {
    tfjsGradients = engine.gradients.bind(engine);
    lean = makeLean(engine, tfjsGradients);
  }
  engine.gradients = on ? lean! : tfjsGradients;
  leanOn = on;
}

let leanOn = false;

/** Whether the lean reverse pass is installed (bench results record it beside their memory). */
export function leanBackwardOn(): boolean {
  return leanOn;
}

function makeLean(engine: EngineInternals, tfjsGradients: EngineInternals['gradients']): EngineInternals['gradients'] {
  return function leanGradients(f, xs, dy, allowNoGradients = false) {
    // Nested inside another gradient computation: the outer one may still need what we would free.
    if (engine.state.gradientDepth > 0) return tfjsGradients(f, xs, dy, allowNoGradients);
    if (xs.length === 0) throw new Error('gradients() received an empty list of xs.');
    if (dy !== undefined && dy !== null && dy.dtype !== 'float32') throw new Error(`dy must have 'float32' dtype, but has '${dy.dtype}'`);
    const y = engine.scopedRun(
      () => engine.startTape(),
      () => engine.endTape(),
      () => engine.tidy('forward', f),
    );
    if (!(y instanceof tf.Tensor)) throw new Error('The result y returned by f() must be a tensor.');
    const tape = engine.state.activeTape!;
    const nodes = nodesBetween(tape, xs, y);
    if (!allowNoGradients && nodes.length === 0) {
      throw new Error('Cannot compute gradient of y=f(x) with respect to x. Make sure that the f you passed encloses all operations that lead from x to y.');
    }
    return engine.tidy('backward', () => {
      const keep = new Set<number>([y.id, ...xs.map((x) => x.id)]);
      const grad = new Map<number, tf.Tensor>();
      // How many tensor ids hold each gradient tensor object (a gradient function may pass dy on as is).
      const holders = new Map<tf.Tensor, number>();
      const seed = dy ?? tf.ones(y.shape);
      const hold = (id: number, t: tf.Tensor): void => {
        grad.set(id, t);
        holders.set(t, (holders.get(t) ?? 0) + 1);
      };
      const release = (id: number): void => {
        const t = grad.get(id);
        if (t === undefined) return;
        grad.delete(id);
        const n = (holders.get(t) ?? 1) - 1;
        if (n > 0) holders.set(t, n);
        else {
          holders.delete(t);
          if (t !== seed) t.dispose();
        }
      };
      hold(y.id, seed);
      for (let i = nodes.length - 1; i >= 0; i--) {
        const node = nodes[i]!;
        if (node.gradient === undefined) throw new Error(`Cannot compute gradient: gradient function not found for ${node.kernelName}.`);
        const dys = node.outputs.map((o) => grad.get(o.id) ?? null);
        const inputGradients = node.gradient(dys);
        for (const [name, x] of Object.entries(node.inputs)) {
          const fn = inputGradients[name];
          if (fn === undefined) throw new Error(`Cannot backprop through input ${name}. Available gradients found: ${Object.keys(inputGradients)}.`);
          const dx = engine.tidy(() => fn());
          if (dx.dtype !== 'float32') throw new Error(`Error in gradient for op ${node.kernelName}. The gradient of input ${name} must have 'float32' dtype, but has '${dx.dtype}'`);
          if (dx.shape.length !== x.shape.length || dx.shape.some((s, k) => s !== x.shape[k])) {
            throw new Error(`Error in gradient for op ${node.kernelName}. The gradient of input '${name}' has shape '${dx.shape}', which does not match the shape of the input '${x.shape}'`);
          }
          const prev = grad.get(x.id);
          if (prev === undefined) {
            hold(x.id, dx);
          } else {
            const sum = tf.add(prev, dx);
            release(x.id);
            hold(x.id, sum);
            if (!holders.has(dx) && dx !== seed) dx.dispose();
          }
        }
        // This node's outputs were produced here and consumed by nodes already walked: their
        // gradients are done. Its saved tensors served only its own backward.
        for (const o of node.outputs) if (!keep.has(o.id)) release(o.id);
        for (const t of node.saved ?? []) t.dispose();
      }
      const grads = xs.map((x) => grad.get(x.id)!);
      for (const node of tape) for (const t of node.saved ?? []) t.dispose();
      engine.state.activeTape = null;
      return { value: y, grads } as unknown as tf.TensorContainer;
    }) as unknown as { value: tf.Tensor; grads: tf.Tensor[] };
  };
}
