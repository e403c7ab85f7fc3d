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
import { f32, FlatProgram, registerFlatKernel } from '../../backend/kernels/program.js';
import { defineKernelFamily } from '../../backend/kernels/index.js';

/** Compile-time sizes baked into each shader (one pipeline per shape; training shapes are fixed). */
export interface GlaDims {
  B: number;
  T: number;
  H: number;
  K: number;
  V: number;
  scale: number;
  /** The forward and column kernels split K into `kb` blocks (more threads; partial sums). */
  kb: number;
  /** The row kernel splits V into `vb` blocks. */
  vb: number;
  /** Whether dy carries a final-state gradient after d_o (false: training, no state output). */
  hasFinal: boolean;
}

/**
 * Block counts for a shape: one thread per state column (row) leaves the H100 mostly idle at
 * B·H·V ≈ 8K threads when the sequential walk is long, so from T ≥ 1024 split K (V) into up to 4
 * blocks of ≥ 8 channels while fewer than 64K threads run; each block writes partial sums that
 * the MetalaSumBlocks kernel adds (sum_blocks_webgpu.ts; blocks innermost). Below T = 1024 the unsplit kernels are kept: they ran
 * the reference shape (B = 32, T = 512, d = 256, 4 layers) at 177K tokens/s on the H100.
 */
export function glaSplits(B: number, T: number, H: number, K: number, V: number): { kb: number; vb: number } {
  if (T < 1024) return { kb: 1, vb: 1 };
  const pick = (threads: number, dim: number): number => {
    let s = 1;
    while (s < 4 && threads * s < 65536 && dim % (2 * s) === 0 && dim / (2 * s) >= 8) s *= 2;
    return s;
  };
  return { kb: pick(B * H * V, K), vb: pick(B * H * K, V) };
}

function header(d: GlaDims): string {
  return `
const B = ${d.B}; const T = ${d.T}; const H = ${d.H}; const DK = ${d.K}; const DV = ${d.V};
const KB = ${d.kb}; const KS = ${d.K / d.kb}; const VB = ${d.vb}; const VS = ${d.V / d.vb};
const HAS_FINAL = ${d.hasFinal};
const SCALE : f32 = ${f32(d.scale)};`;
}

class GlaProgram extends FlatProgram {
  readonly shaderKey: string;

  constructor(
    kind: string,
    private readonly dims: GlaDims,
    readonly variableNames: string[],
    outSize: number,
    threads: number,
    private readonly main: string,
  ) {
    super(outSize, threads);
    const { B, T, H, K, V, scale, kb, vb, hasFinal } = dims;
    this.shaderKey = `metala_gla_${kind}_${B}_${T}_${H}_${K}_${V}_${scale}_${kb}_${vb}_${hasFinal}`;
  }

  protected body(): string {
    return `${header(this.dims)}\n${this.main}`;
  }
}

// A thread's coordinates (blk, b, h, x) from the flat index, x fastest (so neighbouring threads
// read neighbouring channels): the column kernels own value column j of key block kb, the row
// kernel key row i of value block vb.
function threadIndex(blk: string, blocks: string, x: string, width: string): string {
  return `  guard(index);
  if (index >= ${blocks} * B * H * ${width}) { return; }
  let ${x} = index % ${width};
  let bh = (index / ${width}) % (B * H);
  let ${blk} = index / (${width} * B * H);
  let h = bh % H;
  let b = bh / H;`;
}

// Forward and column kernels: thread (kb, b, h, j), and the first K channel of its block.
const COLUMN_THREAD = `${threadIndex('kb', 'KB', 'j', 'DV')}
  let i0 = kb * KS;`;

// Forward. Thread (kb, b, h, j) owns S[kb·KS : (kb+1)·KS, j].
// result = [partial o: (B·T·H·V) × KB, blocks innermost | final state B·H·K·V]
const FWD = `
fn main(index : i32) {
${COLUMN_THREAD}
  var s : array<f32, KS>;
  for (var ii = 0; ii < KS; ii++) { s[ii] = H0[(bh * DK + i0 + ii) * DV + j]; }
  for (var t = 0; t < T; t++) {
    let r = (b * T + t) * H + h;
    let vj = Vs[r * DV + j];
    var acc = 0.0;
    for (var ii = 0; ii < KS; ii++) {
      let c = r * DK + i0 + ii;
      let x = exp(Gs[c]) * s[ii] + Ks[c] * vj;
      s[ii] = x;
      acc += Qs[c] * x;
    }
    result[(r * DV + j) * KB + kb] = acc * SCALE;
  }
  let off = KB * B * T * H * DV;
  for (var ii = 0; ii < KS; ii++) { result[off + (bh * DK + i0 + ii) * DV + j] = s[ii]; }
}`;

// Backward over columns. Thread (kb, b, h, j) walks Ŝ[block, j] from t = T−1 down to 0.
// dy = [d_o (B·T·H·V) | d_final (B·H·K·V) when HAS_FINAL]
// result = [partial dv: (B·T·H·V) × KB | dh0 B·H·K·V]
const BWD_COLS = `
fn main(index : i32) {
${COLUMN_THREAD}
  let nO = B * T * H * DV;
  var a : array<f32, KS>;
  for (var ii = 0; ii < KS; ii++) {
    if (HAS_FINAL) { a[ii] = Dy[nO + (bh * DK + i0 + ii) * DV + j]; } else { a[ii] = 0.0; }
  }
  for (var t = T - 1; t >= 0; t--) {
    let r = (b * T + t) * H + h;
    let doj = Dy[r * DV + j] * SCALE;
    var acc = 0.0;
    for (var ii = 0; ii < KS; ii++) {
      let c = r * DK + i0 + ii;
      let x = a[ii] + Qs[c] * doj;
      acc += x * Ks[c];
      a[ii] = x * exp(Gs[c]);
    }
    result[(r * DV + j) * KB + kb] = acc;
  }
  let off = KB * nO;
  for (var ii = 0; ii < KS; ii++) { result[off + (bh * DK + i0 + ii) * DV + j] = a[ii]; }
}`;

// Backward over rows. Thread (vb, b, h, i) owns S[i, vb·VS : (vb+1)·VS]: forward for dq, then
// backward for dk and dg, each a partial sum over its V block.
// result = [partial dq | partial dk | partial dg], each (B·T·H·K) × VB, blocks innermost
const BWD_ROWS = `
fn main(index : i32) {
${threadIndex('vb', 'VB', 'i', 'DK')}
  let j0 = vb * VS;
  let nK = B * T * H * DK;
  let nO = B * T * H * DV;
  var s : array<f32, VS>;
  for (var jj = 0; jj < VS; jj++) { s[jj] = H0[(bh * DK + i) * DV + j0 + jj]; }
  // Forward: row i of S_t (this block), partial dq_t[i].
  for (var t = 0; t < T; t++) {
    let r = (b * T + t) * H + h;
    let a = exp(Gs[r * DK + i]);
    let ki = Ks[r * DK + i];
    var acc = 0.0;
    for (var jj = 0; jj < VS; jj++) {
      let x = a * s[jj] + ki * Vs[r * DV + j0 + jj];
      s[jj] = x;
      acc += x * Dy[r * DV + j0 + jj];
    }
    result[(r * DK + i) * VB + vb] = acc * SCALE;
  }
  // The final state's share of every dg: Σ_j dS_T[i,j] S_T[i,j]; then s becomes the adjoint row.
  var dgAcc = 0.0;
  for (var jj = 0; jj < VS; jj++) {
    var d = 0.0;
    if (HAS_FINAL) { d = Dy[nO + (bh * DK + i) * DV + j0 + jj]; }
    dgAcc += d * s[jj];
    s[jj] = d;
  }
  for (var t = T - 1; t >= 0; t--) {
    let r = (b * T + t) * H + h;
    let qi = Qs[r * DK + i];
    let qs = qi * SCALE;
    let a = exp(Gs[r * DK + i]);
    var acc = 0.0;
    for (var jj = 0; jj < VS; jj++) {
      let x = s[jj] + qs * Dy[r * DV + j0 + jj];
      acc += x * Vs[r * DV + j0 + jj];
      s[jj] = x * a;
    }
    let o = (r * DK + i) * VB + vb;
    result[nK * VB + o] = acc;
    dgAcc += qi * result[o] - Ks[r * DK + i] * acc;
    result[2 * nK * VB + o] = dgAcc;
  }
}`;

type Attrs = GlaDims & Record<string, unknown>;

function dimsOf(attrs: unknown): GlaDims {
  const a = attrs as Attrs;
  return { B: a.B, T: a.T, H: a.H, K: a.K, V: a.V, scale: a.scale, kb: a.kb, vb: a.vb, hasFinal: a.hasFinal };
}

export const GLA_FWD = 'MetalaGlaRecurrentFwd';
export const GLA_BWD_COLS = 'MetalaGlaRecurrentBwdCols';
export const GLA_BWD_ROWS = 'MetalaGlaRecurrentBwdRows';

/** Registers the three kernels for the 'webgpu' backend (idempotent). */
export function registerGlaWebgpuKernels(): void {
  // name, shader, input names (in binding order), output size and thread count per shape
  const kernels: [string, string, string, string[], (d: GlaDims) => number, (d: GlaDims) => number][] = [
    // q, k, v, g, h0 → [partial o (B·T·H·V × kb) | final state (B·H·K·V)]
    [GLA_FWD, 'fwd', FWD, ['q', 'k', 'v', 'g', 'h0'], (d) => d.kb * d.B * d.T * d.H * d.V + d.B * d.H * d.K * d.V, (d) => d.kb * d.B * d.H * d.V],
    // q, k, g, dy = [d_o | d_final] → [partial dv (× kb) | dh0]
    [GLA_BWD_COLS, 'bwd_cols', BWD_COLS, ['q', 'k', 'g', 'dy'], (d) => d.kb * d.B * d.T * d.H * d.V + d.B * d.H * d.K * d.V, (d) => d.kb * d.B * d.H * d.V],
    // q, k, v, g, h0, dy → [dq | dk | dg], each B·T·H·K × vb partial sums
    [GLA_BWD_ROWS, 'bwd_rows', BWD_ROWS, ['q', 'k', 'v', 'g', 'h0', 'dy'], (d) => 3 * d.vb * d.B * d.T * d.H * d.K, (d) => d.vb * d.B * d.H * d.K],
  ];
  for (const [kernelName, kind, main, names, outSize, threads] of kernels) {
    // WGSL names of the bindings: Qs, Ks, Vs, Gs, H0, Dy.
    const bindings = names.map((n) => (n === 'h0' ? 'H0' : n === 'dy' ? 'Dy' : `${n.toUpperCase()}s`));
    registerFlatKernel(kernelName, (i, attrs) => {
      const d = dimsOf(attrs);
      return { program: new GlaProgram(kind, d, bindings, outSize(d), threads(d), main), inputs: names.map((n) => i[n]!) };
    });
  }
}

defineKernelFamily('gla', registerGlaWebgpuKernels);
