// Position-wise building blocks shared by mixers and backbones. Dense layers reshape to 2-D
// before matMul: TF.js 4.22's broadcast matMul gradient is broken (tfjs-in-node.md §2.5).
import * as tf from '@tensorflow/tfjs';
import { kernelOnBackend } from '../backend/kernels/index.js';
import { NORM_BWD, NORM_FWD } from './norm_webgpu.js';
import { GATE_BWD_G, GATE_BWD_X, GATE_FWD, SILU_BWD, SILU_FWD } from './silu_webgpu.js';
import { replicaMatMul } from './replicas.js';

/**
 * x [..., in] · w [in, out] (+ b [out]) → [..., out]. Stacked replicas (train.stack,
 * layers/replicas.ts): w [R, in, out] and b [R, out] with x's leading axis replica-major [R·B, ...]
 * make one batched matmul [R, B·…, in] × [R, in, out].
 */
export function dense(x: tf.Tensor, w: tf.Tensor, b?: tf.Tensor): tf.Tensor {
  const inDim = x.shape[x.shape.length - 1]!;
  if (w.rank === 3) {
    const [R, , outDim] = w.shape as [number, number, number];
    const y = replicaMatMul(tf.reshape(x, [R, -1, inDim]) as tf.Tensor3D, w as tf.Tensor3D);
    const yb = b === undefined ? y : tf.add(y, tf.reshape(b, [R, 1, outDim]));
    return tf.reshape(yb, [...x.shape.slice(0, -1), outDim]);
  }
  const outDim = w.shape[1]!;
  const flat = tf.reshape(x, [-1, inDim]);
  const y = b === undefined ? tf.matMul(flat, w) : tf.add(tf.matMul(flat, w), b);
  return tf.reshape(y, [...x.shape.slice(0, -1), outDim]);
}

/** x in the forward pass, no gradient through it (PyTorch `.detach()`): for stabilising shifts. */
export function stopGradient<T extends tf.Tensor>(x: T): T {
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
    value: tf.clone(args[0] as tf.Tensor),
    gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
  }));
  return f(x) as T;
}

/**
 * σ(x)(1 + x(1 − σ(x))) from s = σ(x) (disposed), each temporary freed once used: inside a gradient
 * function they would otherwise all live until it returns, several activation-sized buffers at once.
 */
function siluDerivative(x: tf.Tensor, s: tf.Tensor): tf.Tensor {
  const oneMinus = tf.sub(1, s);
  const xo = tf.mul(x, oneMinus);
  oneMinus.dispose();
  const inner = tf.add(1, xo);
  xo.dispose();
  const d = tf.mul(s, inner);
  tf.dispose([s, inner]);
  return d;
}

/** Whether SiLU and the SiLU gate run as one webgpu kernel each way (family 'silu'; float32 only). */
function siluFused(x: tf.Tensor): boolean {
  return x.dtype === 'float32' && x.size > 0 && kernelOnBackend(SILU_FWD);
}

/** One of silu_webgpu.ts's kernels (a flat [n] result) as a tensor of `shape`. */
function fusedKernel(name: string, inputs: Record<string, tf.Tensor>, shape: number[]): tf.Tensor {
  const flat = tf.engine().runKernel(name, inputs) as tf.Tensor;
  const y = tf.reshape(flat, shape);
  flat.dispose();
  return y;
}

/**
 * SiLU(x) = x·σ(x), with its gradient σ(x)·(1 + x·(1 − σ(x))) in closed form. Why: tfjs's autodiff
 * of x·σ(x) keeps σ(x) for the backward pass besides x (the Multiply saves both factors, the
 * Sigmoid its output), one activation-sized buffer per SiLU more than PyTorch's F.silu, which keeps
 * x alone and recomputes σ (a GLU's SiLU is 8d/3 wide: 11% of what a MetaLA step saved, MetaLA
 * d 128). Here only x is saved.
 */
export const silu = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const x = args[0] as tf.Tensor;
  (args[1] as tf.GradSaveFunc)([x]);
  if (siluFused(x)) {
    // One kernel each way (src/layers/silu_webgpu.ts).
    return {
      value: fusedKernel(SILU_FWD, { x }, x.shape),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => fusedKernel(SILU_BWD, { x: saved[0]!, dy }, dy.shape),
    };
  }
  return {
    value: tf.mul(x, tf.sigmoid(x)),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const xs = saved[0]!;
      const der = siluDerivative(xs, tf.sigmoid(xs));
      const dx = tf.mul(dy, der);
      der.dispose();
      return dx;
    },
  };
}) as (x: tf.Tensor) => tf.Tensor;

/**
 * x ⊙ SiLU(g) for x, g of one shape: GLU channel mixers (SiLU(l1 x) ⊙ l2 x) and the mixers' SiLU
 * gates. Autodiff of tf.mul(x, silu(g)) keeps x, g and SiLU(g) for the backward pass (the Multiply
 * saves both factors, SiLU its input); this op keeps x and g and recomputes σ(g), one activation-sized
 * buffer less per gate. The kernels and their order are those of the composition, so values and
 * gradients are the same bits: ∂x = ∂y ⊙ SiLU(g), ∂g = (∂y ⊙ x) ⊙ σ(g)(1 + g(1 − σ(g))).
 */
const mulSiluOp = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const x = args[0] as tf.Tensor;
  const g = args[1] as tf.Tensor;
  (args[2] as tf.GradSaveFunc)([x, g]);
  if (siluFused(x)) {
    // One kernel forward, two backward (src/layers/silu_webgpu.ts).
    return {
      value: fusedKernel(GATE_FWD, { x, g }, x.shape),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, gs] = saved as [tf.Tensor, tf.Tensor];
        return [fusedKernel(GATE_BWD_X, { dy, g: gs }, dy.shape), fusedKernel(GATE_BWD_G, { dy, x: xs, g: gs }, dy.shape)];
      },
    };
  }
  return {
    value: tf.mul(x, tf.mul(g, tf.sigmoid(g))),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xs, gs] = saved as [tf.Tensor, tf.Tensor];
      const s = tf.sigmoid(gs);
      const silu = tf.mul(gs, s);
      const dx = tf.mul(dy, silu);
      silu.dispose();
      const dyx = tf.mul(dy, xs);
      const der = siluDerivative(gs, s);
      const dg = tf.mul(dyx, der);
      tf.dispose([dyx, der]);
      return [dx, dg];
    },
  };
}) as (x: tf.Tensor, g: tf.Tensor) => tf.Tensor;

export function mulSilu(x: tf.Tensor, g: tf.Tensor): tf.Tensor {
  if (!tf.util.arraysEqual(x.shape, g.shape)) throw new Error(`internal: mulSilu of [${x.shape}] and [${g.shape}] (it needs one shape)`);
  return mulSiluOp(x, g);
}

/** log σ(x) = −softplus(−x); tf.logSigmoid's gradient loses its input under tidy (tfjs-in-node.md §2.5). */
export function logSigmoid(x: tf.Tensor): tf.Tensor {
  return tf.neg(tf.softplus(tf.neg(x)));
}

/** GELU, tanh approximation. */
export function gelu(x: tf.Tensor): tf.Tensor {
  const c = Math.sqrt(2 / Math.PI);
  const inner = tf.mul(c, tf.add(x, tf.mul(0.044715, tf.pow(x, 3))));
  return tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(inner)));
}

/**
 * Norms with a hand-written backward pass (tf.customGrad). tfjs's autodiff of the op chain runs
 * ~20 GPU kernels for an RMSNorm and ~27 for a LayerNorm, plus as many bookkeeping ops; the
 * closed-form backward passes below need 5 and 7. A training step is bound by the host's kernel launches on WebGPU
 * and each block has 2-3 norms: with these a MetaLA step (d=256, 4 layers, T=512) runs 1,850
 * tfjs kernels instead of 2,107 (836 instead of 926 that are not bookkeeping).
 * With ŷ the normalised output and r = 1/sqrt(var + eps) per row (mean over the last axis):
 *   RMSNorm:   ∂x = r·(∂y − ŷ·mean(∂y·ŷ))
 *   LayerNorm: ∂x = r·(∂y − mean(∂y) − ŷ·mean(∂y·ŷ))
 */
function normWithGrad(eps: number, centre: boolean): (x: tf.Tensor) => tf.Tensor {
  return tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const x = args[0] as tf.Tensor;
    if (normFused()) return fusedNorm(x, args[1] as tf.GradSaveFunc, eps, centre);
    const xc = centre ? tf.sub(x, tf.mean(x, -1, true)) : x;
    const r = tf.rsqrt(tf.add(tf.mean(tf.square(xc), -1, true), eps));
    const y = tf.mul(xc, r);
    (args[1] as tf.GradSaveFunc)([y, r]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [yHat, rs] = saved as [tf.Tensor, tf.Tensor];
        let g = tf.sub(dy, tf.mul(yHat, tf.mean(tf.mul(dy, yHat), -1, true)));
        if (centre) g = tf.sub(g, tf.mean(dy, -1, true));
        return tf.mul(g, rs);
      },
    };
  }) as (x: tf.Tensor) => tf.Tensor;
}

function normFused(): boolean {
  return kernelOnBackend(NORM_FWD);
}

/** The same norm and gradient as one webgpu kernel each way (src/layers/norm_webgpu.ts). */
function fusedNorm(x: tf.Tensor, save: tf.GradSaveFunc, eps: number, centre: boolean): { value: tf.Tensor; gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor } {
  const D = x.shape[x.shape.length - 1]!;
  const rows = x.size / D;
  const attrs = { rows, D, eps, centre };
  const engine = tf.engine();
  const flat = engine.runKernel(NORM_FWD, { x }, attrs as never) as tf.Tensor1D;
  const y = flat.slice(0, rows * D).reshape(x.shape);
  save([y, flat.slice(rows * D, rows)]);
  return {
    value: y,
    gradFunc: (dy, saved) => (engine.runKernel(NORM_BWD, { y: saved[0]!, r: saved[1]!, dy }, attrs as never) as tf.Tensor).reshape(x.shape),
  };
}

const rmsNorms = new Map<number, (x: tf.Tensor) => tf.Tensor>();
const layerNorms = new Map<number, (x: tf.Tensor) => tf.Tensor>();

/**
 * Weightless RMSNorm over the last axis: x / sqrt(mean(x²) + eps).
 * Official code: metala/norm.py SimpleRMSNorm (eps 1e-6, no learnable weight).
 */
export function rmsNorm(x: tf.Tensor, eps = 1e-6): tf.Tensor {
  let f = rmsNorms.get(eps);
  if (f === undefined) rmsNorms.set(eps, (f = normWithGrad(eps, false)));
  return f(x);
}

/** LayerNorm over the last axis without affine parameters (biased variance, like PyTorch). */
export function layerNorm(x: tf.Tensor, eps = 1e-5): tf.Tensor {
  let f = layerNorms.get(eps);
  if (f === undefined) layerNorms.set(eps, (f = normWithGrad(eps, true)));
  return f(x);
}
