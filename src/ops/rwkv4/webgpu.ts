// Fused WebGPU kernels of RWKV-4's WKV (src/ops/rwkv4/README.md), one launch per pass:
//   wkv_t = (e^{p−q} a + e^{u+k_t−q} v_t) / (e^{p−q} b + e^{u+k_t−q}),  q = max(p, u + k_t)
//   S_{t+1} = e^{−w} S_t + e^{k_t} (v_t, 1),  S_t = e^{p_t} (a_t, b_t)
// The chunk form built from tfjs ops launches ~750 kernels per layer for forward + backward (d 64,
// T 64, measured on lavapipe); launches, not FLOPs, bound training on tfjs-webgpu (webgpu_recurrent.ts).
//
// Thread (b, c) walks one channel's sequence, as the official CUDA kernel does.
//   forward   keeps (a, b, p), writes wkv_t and the state S_t it read, for the backward pass.
//   backward  walks t = T−1 … 0 with the state adjoint λ_{t+1} = ∂L/∂S_{t+1}, itself kept as a log
//             scale r and mantissas (α, β) so that every exponent below is ≤ 0 (den_{t'} bounds
//             every term it sums). With L_t = log den_t and e_t = e^{u+k_t−L_t}:
//               dv_t = dy_t e_t + e^{k_t+r} α
//               dk_t = dy_t e_t (v_t − wkv_t) + e^{k_t+r} (α v_t + β)
//               du  += dy_t e_t (v_t − wkv_t)
//               dw  −= e^{p_t−w+r} (α a_t + β b_t)            (∂S_{t+1}/∂w = −e^{−w} S_t)
//               λ_t = e^{−w} λ_{t+1} + (dy_t, −dy_t wkv_t) e^{−L_t}
//             dw and du are partial sums per (b, c), summed over b by the caller.
// Training only: no initial state and no final state (the op falls back to its chunk form for those).
// Layouts as src/ops/rwkv4: k, v, wkv [B,T,D]; w, u [D].
import { FlatProgram, registerFlatKernel } from '../../backend/kernels/program.js';
import { defineKernelFamily } from '../../backend/kernels/index.js';

/** Compile-time sizes baked into each shader (one pipeline per shape). */
export interface Rwkv4Dims {
  B: number;
  T: number;
  D: number;
}

class Rwkv4Program extends FlatProgram {
  readonly shaderKey: string;

  constructor(
    kind: string,
    private readonly dims: Rwkv4Dims,
    readonly variableNames: string[],
    outSize: number,
    private readonly main: string,
  ) {
    super(outSize, dims.B * dims.D);
    this.shaderKey = `metala_rwkv4_${kind}_${dims.B}_${dims.T}_${dims.D}`;
  }

  protected body(): string {
    const { B, T, D } = this.dims;
    return `const B = ${B}; const T = ${T}; const D = ${D}; const EMPTY : f32 = -1e38;\n${this.main}`;
  }
}

// Thread (b, c), c fastest so that neighbouring threads read neighbouring channels.
const THREAD = `  guard(index);
  if (index >= B * D) { return; }
  let c = index % D;
  let b = index / D;
  let n = B * T * D;`;

// result = [wkv | a_t | b_t | p_t], each [B,T,D]; (a_t, b_t, p_t) is the state before token t.
const FWD = `
fn main(index : i32) {
${THREAD}
  let w = Ws[c];
  let u = Us[c];
  var a = 0.0;
  var s = 0.0;
  var p : f32 = EMPTY;
  for (var t = 0; t < T; t++) {
    let i = (b * T + t) * D + c;
    let kt = Ks[i];
    let vt = Vs[i];
    result[n + i] = a;
    result[2 * n + i] = s;
    result[3 * n + i] = p;
    let q = max(p, u + kt);
    let e1 = exp(p - q);
    let e2 = exp(u + kt - q);
    result[i] = (e1 * a + e2 * vt) / (e1 * s + e2);
    let p2 = max(p - w, kt);
    let f1 = exp(p - w - p2);
    let f2 = exp(kt - p2);
    a = f1 * a + f2 * vt;
    s = f1 * s + f2;
    p = p2;
  }
}`;

// inputs: k, v, w, u, fwd = the forward kernel's result, dy [B,T,D]
// result = [dk | dv] each [B,T,D], then [dw | du] each [B,D] (partial over b)
const BWD = `
fn main(index : i32) {
${THREAD}
  let w = Ws[c];
  let u = Us[c];
  var r : f32 = EMPTY;
  var al = 0.0;
  var be = 0.0;
  var dw = 0.0;
  var du = 0.0;
  for (var t = T - 1; t >= 0; t--) {
    let i = (b * T + t) * D + c;
    let kt = Ks[i];
    let vt = Vs[i];
    let y = Fwd[i];
    let at = Fwd[n + i];
    let st = Fwd[2 * n + i];
    let pt = Fwd[3 * n + i];
    let g = Dy[i];
    let q = max(pt, u + kt);
    let lt = q + log(exp(pt - q) * st + exp(u + kt - q));
    let e = exp(u + kt - lt);
    let direct = g * e * (vt - y);
    let carry = exp(kt + r);
    result[i] = direct + carry * (al * vt + be);
    result[n + i] = g * e + carry * al;
    du += direct;
    dw -= exp(pt - w + r) * (al * at + be * st);
    let r2 = max(r - w, -lt);
    let f1 = exp(r - w - r2);
    let f2 = exp(-lt - r2);
    al = f1 * al + f2 * g;
    be = f1 * be - f2 * g * y;
    r = r2;
  }
  result[2 * n + b * D + c] = dw;
  result[2 * n + B * D + b * D + c] = du;
}`;

export const RWKV4_FWD = 'MetalaRwkv4Fwd';
export const RWKV4_BWD = 'MetalaRwkv4Bwd';

function dimsOf(attrs: Record<string, unknown>): Rwkv4Dims {
  return { B: attrs['B'] as number, T: attrs['T'] as number, D: attrs['D'] as number };
}

/** Registers the forward and backward kernels for the 'webgpu' backend (idempotent). */
export function registerRwkv4WebgpuKernels(): void {
  registerFlatKernel(RWKV4_FWD, (i, attrs) => {
    const d = dimsOf(attrs);
    return { program: new Rwkv4Program('fwd', d, ['Ks', 'Vs', 'Ws', 'Us'], 4 * d.B * d.T * d.D, FWD), inputs: [i['k']!, i['v']!, i['w']!, i['u']!] };
  });
  registerFlatKernel(RWKV4_BWD, (i, attrs) => {
    const d = dimsOf(attrs);
    const size = 2 * d.B * d.T * d.D + 2 * d.B * d.D;
    return { program: new Rwkv4Program('bwd', d, ['Ks', 'Vs', 'Ws', 'Us', 'Fwd', 'Dy'], size, BWD), inputs: [i['k']!, i['v']!, i['w']!, i['u']!, i['fwd']!, i['dy']!] };
  });
}

defineKernelFamily('rwkv4', registerRwkv4WebgpuKernels);
