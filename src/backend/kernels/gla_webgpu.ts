// Fused WebGPU kernels of the per-channel gated recurrence (GLA / MetaLA):
//   S_t = diag(exp(g_t)) S_{t-1} + k_tᵀ v_t,   o_t = scale · q_t S_t
// Why: tfjs-webgpu under Node pays ~0.3 ms of host time per kernel launch (measured on the H100,
// results/bench), and the chunkwise form built from tfjs ops launches hundreds of kernels per layer
// for forward + backward. These three kernels do the whole recurrence in one launch per pass.
//
// Each invocation walks the sequence once, holding one column (forward, dv) or one row (dq, dk,
// dg) of the [K,V] state in registers, so no cross-thread reduction is needed:
//   forward   thread (b,h,j): s = S[:,j];  o_t[j] = scale Σ_i q_t[i] s[i]
//   bwd cols  thread (b,h,j): a = Ŝ[:,j] walked backwards (Ŝ_t = scale q_t do_tᵀ + a_{t+1} Ŝ_{t+1});
//             dv_t[j] = Σ_i Ŝ_t[i,j] k_t[i];  dh0 = diag(a_1) Ŝ_1
//   bwd rows  thread (b,h,i): forward pass for dq_t[i] = scale Σ_j S_t[i,j] do_t[j], then backwards
//             for dk_t[i] = Σ_j Ŝ_t[i,j] v_t[j] and the decay gradient
//             dg_t = Σ_{u≥t} (q_u dq_u − k_u dk_u) + Σ_j dS_T[i,j] S_T[i,j]
//             (the identity flash-linear-attention uses for log-space gates; derivation in
//             src/ops/gated_recurrence/fused.ts).
// Layouts as src/ops: q, k, g [B,T,H,K]; v, o [B,T,H,V]; states [B,H,K,V]. Outputs are one flat
// buffer per kernel (tfjs programs have a single output), split by the caller.
// Porting note: the official code uses fla's chunked Triton kernels; this is fla's "fused
// recurrent" algorithm, which on this stack is the fastest (launch count, not FLOPs, dominates).
import * as tf from '@tensorflow/tfjs';

/** Compile-time sizes baked into each shader (one pipeline per shape; training shapes are fixed). */
export interface GlaDims {
  B: number;
  T: number;
  H: number;
  K: number;
  V: number;
  scale: number;
}

const WORKGROUP = 64;

/** A WGSL float literal that always parses (e.g. `1` → `1.0`, `1e-7` stays). */
function f32(x: number): string {
  const s = String(x);
  return /[.eE]/.test(s) ? s : `${s}.0`;
}

function header(d: GlaDims): string {
  return `
const B = ${d.B}; const T = ${d.T}; const H = ${d.H}; const DK = ${d.K}; const DV = ${d.V};
const SCALE : f32 = ${f32(d.scale)};`;
}

/**
 * The shape of tfjs-backend-webgpu's WebGPUProgram (not exported by the package): flat dispatch,
 * one f32 output named `result`, inputs bound as read-only arrays under `variableNames`.
 */
class GlaProgram {
  readonly outputShape: number[];
  readonly shaderKey: string;
  readonly dispatchLayout = { x: [0] };
  readonly dispatch: [number, number, number];
  readonly workgroupSize: [number, number, number] = [WORKGROUP, 1, 1];
  readonly variableNames: string[];
  readonly size = false;

  constructor(
    kind: string,
    private readonly dims: GlaDims,
    inputs: string[],
    outSize: number,
    threads: number,
    private readonly body: string,
  ) {
    this.variableNames = inputs;
    this.outputShape = [outSize];
    this.dispatch = [Math.ceil(threads / WORKGROUP), 1, 1];
    const { B, T, H, K, V, scale } = dims;
    this.shaderKey = `metala_gla_${kind}_${B}_${T}_${H}_${K}_${V}_${scale}`;
  }

  getUserCode(): string {
    // tfjs binds its uniform buffer to every program; a layout: 'auto' pipeline only keeps bindings
    // the shader uses, so touch it once.
    return `${header(this.dims)}\nfn touchUniforms() -> f32 { return uniforms.NAN; }\n${this.body}`;
  }
}

const FWD = `
fn main(index : i32) {
  if (index >= B * H * DV) { if (index < 0) { result[0] = touchUniforms(); } return; }
  let j = index % DV;
  let bh = index / DV;
  let h = bh % H;
  let b = bh / H;
  var s : array<f32, DK>;
  for (var i = 0; i < DK; i++) { s[i] = H0[(bh * DK + i) * DV + j]; }
  for (var t = 0; t < T; t++) {
    let r = (b * T + t) * H + h;
    let vj = Vs[r * DV + j];
    var acc = 0.0;
    for (var i = 0; i < DK; i++) {
      let x = exp(Gs[r * DK + i]) * s[i] + Ks[r * DK + i] * vj;
      s[i] = x;
      acc += Qs[r * DK + i] * x;
    }
    result[r * DV + j] = acc * SCALE;
  }
  let off = B * T * H * DV;
  for (var i = 0; i < DK; i++) { result[off + (bh * DK + i) * DV + j] = s[i]; }
}`;

const BWD_COLS = `
fn main(index : i32) {
  if (index >= B * H * DV) { if (index < 0) { result[0] = touchUniforms(); } return; }
  let j = index % DV;
  let bh = index / DV;
  let h = bh % H;
  let b = bh / H;
  let off = B * T * H * DV;
  var a : array<f32, DK>;
  for (var i = 0; i < DK; i++) { a[i] = Dy[off + (bh * DK + i) * DV + j]; }
  for (var t = T - 1; t >= 0; t--) {
    let r = (b * T + t) * H + h;
    let doj = Dy[r * DV + j] * SCALE;
    var acc = 0.0;
    for (var i = 0; i < DK; i++) {
      let x = a[i] + Qs[r * DK + i] * doj;
      acc += x * Ks[r * DK + i];
      a[i] = x * exp(Gs[r * DK + i]);
    }
    result[r * DV + j] = acc;
  }
  for (var i = 0; i < DK; i++) { result[off + (bh * DK + i) * DV + j] = a[i]; }
}`;

const BWD_ROWS = `
fn main(index : i32) {
  if (index >= B * H * DK) { if (index < 0) { result[0] = touchUniforms(); } return; }
  let i = index % DK;
  let bh = index / DK;
  let h = bh % H;
  let b = bh / H;
  let n = B * T * H * DK;
  let off = B * T * H * DV;
  var s : array<f32, DV>;
  for (var j = 0; j < DV; j++) { s[j] = H0[(bh * DK + i) * DV + j]; }
  // Forward: row i of S_t, dq_t[i].
  for (var t = 0; t < T; t++) {
    let r = (b * T + t) * H + h;
    let a = exp(Gs[r * DK + i]);
    let ki = Ks[r * DK + i];
    var acc = 0.0;
    for (var j = 0; j < DV; j++) {
      let x = a * s[j] + ki * Vs[r * DV + j];
      s[j] = x;
      acc += x * Dy[r * DV + j];
    }
    result[r * DK + i] = acc * SCALE;
  }
  // The final state's share of every dg: Σ_j dS_T[i,j] S_T[i,j]; then s becomes the adjoint row.
  var dgAcc = 0.0;
  for (var j = 0; j < DV; j++) {
    let d = Dy[off + (bh * DK + i) * DV + j];
    dgAcc += d * s[j];
    s[j] = d;
  }
  for (var t = T - 1; t >= 0; t--) {
    let r = (b * T + t) * H + h;
    let qi = Qs[r * DK + i];
    let qs = qi * SCALE;
    let a = exp(Gs[r * DK + i]);
    var acc = 0.0;
    for (var j = 0; j < DV; j++) {
      let x = s[j] + qs * Dy[r * DV + j];
      acc += x * Vs[r * DV + j];
      s[j] = x * a;
    }
    result[n + r * DK + i] = acc;
    dgAcc += qi * result[r * DK + i] - Ks[r * DK + i] * acc;
    result[2 * n + r * DK + i] = dgAcc;
  }
}`;

interface WebgpuBackendLike {
  runWebGPUProgram(program: GlaProgram, inputs: tf.TensorInfo[], dtype: 'float32'): tf.TensorInfo;
}

type Attrs = GlaDims & Record<string, unknown>;

function dimsOf(attrs: unknown): GlaDims {
  const a = attrs as Attrs;
  return { B: a.B, T: a.T, H: a.H, K: a.K, V: a.V, scale: a.scale };
}

export const GLA_FWD = 'MetalaGlaRecurrentFwd';
export const GLA_BWD_COLS = 'MetalaGlaRecurrentBwdCols';
export const GLA_BWD_ROWS = 'MetalaGlaRecurrentBwdRows';

/** Registers the three kernels for the 'webgpu' backend (idempotent). */
export function registerGlaWebgpuKernels(): void {
  if (tf.getKernel(GLA_FWD, 'webgpu') !== undefined) return;
  tf.registerKernel({
    kernelName: GLA_FWD,
    backendName: 'webgpu',
    // inputs q, k, v, g, h0 → flat [o (B·T·H·V) | final state (B·H·K·V)]
    kernelFunc: ({ inputs, backend, attrs }) => {
      const d = dimsOf(attrs);
      const i = inputs as Record<string, tf.TensorInfo>;
      const prog = new GlaProgram('fwd', d, ['Qs', 'Ks', 'Vs', 'Gs', 'H0'], d.B * d.T * d.H * d.V + d.B * d.H * d.K * d.V, d.B * d.H * d.V, FWD);
      return (backend as unknown as WebgpuBackendLike).runWebGPUProgram(prog, [i['q']!, i['k']!, i['v']!, i['g']!, i['h0']!], 'float32');
    },
  });
  tf.registerKernel({
    kernelName: GLA_BWD_COLS,
    backendName: 'webgpu',
    // inputs q, k, g, dy (flat [do | dfinal]) → flat [dv | dh0]
    kernelFunc: ({ inputs, backend, attrs }) => {
      const d = dimsOf(attrs);
      const i = inputs as Record<string, tf.TensorInfo>;
      const prog = new GlaProgram('bwd_cols', d, ['Qs', 'Ks', 'Gs', 'Dy'], d.B * d.T * d.H * d.V + d.B * d.H * d.K * d.V, d.B * d.H * d.V, BWD_COLS);
      return (backend as unknown as WebgpuBackendLike).runWebGPUProgram(prog, [i['q']!, i['k']!, i['g']!, i['dy']!], 'float32');
    },
  });
  tf.registerKernel({
    kernelName: GLA_BWD_ROWS,
    backendName: 'webgpu',
    // inputs q, k, v, g, h0, dy → flat [dq | dk | dg], each B·T·H·K
    kernelFunc: ({ inputs, backend, attrs }) => {
      const d = dimsOf(attrs);
      const i = inputs as Record<string, tf.TensorInfo>;
      const prog = new GlaProgram('bwd_rows', d, ['Qs', 'Ks', 'Vs', 'Gs', 'H0', 'Dy'], 3 * d.B * d.T * d.H * d.K, d.B * d.H * d.K, BWD_ROWS);
      return (backend as unknown as WebgpuBackendLike).runWebGPUProgram(prog, [i['q']!, i['k']!, i['v']!, i['g']!, i['h0']!, i['dy']!], 'float32');
    },
  });
}
