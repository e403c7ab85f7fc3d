// Fused WebGPU kernels of Mamba's selective scan (Gu & Dao 2023, Alg. 2), per channel e and
// state index n, with Ā_t = exp(Δ_t[e] A[e,n]) and the simplified B̄_t = Δ_t[e] B_t[n]:
//   h_t[e,n] = Ā_t h_{t−1}[e,n] + Δ_t[e] B_t[n] x_t[e],   y_t[e] = Σ_n C_t[n] h_t[e,n]
// Why: the gla mapping (src/ops/diag_ssm/fast.ts) materialises Ā, B̄, C and their gradients as
// [B,T,E,N] tensors (1 GiB each at d_model 128, B 256, T 256: over WebGPU's binding limit, hence
// the micro-batches in configs/mqar-short.yaml) and reduces them with tfjs kernels. Here nothing of
// size [B,T,E,N] exists.
//
//   forward   thread (b,e) holds h[·] (N floats), writes y_t and a checkpoint of h every CC steps.
//   backward  thread (b,e) walks the chunks backwards: recomputes the chunk's h from its checkpoint
//             (CC+1 states in registers), then walks it backwards with the adjoint
//               λ_t = dy_t C_t + Ā_{t+1} λ_{t+1}
//               dx_t = Σ_n λ_t Δ_t B_t[n]        dΔ_t = Σ_n λ_t (A Ā_t h_{t−1} + B_t[n] x_t)
//               dA  += λ_t Δ_t Ā_t h_{t−1}        (per (b,e,n); the caller sums over b)
//               dB_t[n] = Σ_e λ_t Δ_t x_t         dC_t[n] = Σ_e dy_t h_t
//             The sums over e run in workgroup memory: a workgroup is WG channels of one b; it
//             writes one partial per (b, t, n, group), which the caller sums over the E/WG groups.
// Training only: no initial state, no final state (src/ops/selective_scan/index.ts falls back otherwise).
// Layouts: x, Δ, y [B,T,E]; A [E,N]; B, C [B,T,N].
// Porting note: mamba_ssm's CUDA kernel likewise saves only the states at chunk boundaries in the
// forward pass and recomputes inside each chunk in the backward pass; its chunks are thousands of
// tokens in shared memory, ours CC steps in registers.
import { FlatProgram, registerFlatKernel } from '../../backend/kernels/program.js';
import { defineKernelFamily } from '../../backend/kernels/index.js';

export interface ScanDims {
  B: number;
  T: number;
  E: number;
  N: number;
}

/** Steps between forward checkpoints (the backward kernel keeps CC + 1 states per thread). */
export const SCAN_CHUNK = 8;

/**
 * Channels per workgroup of the backward kernel: the largest of 64, 32, …, 4 that divides E and
 * keeps its reduction buffer (2·(WG + 1)·N floats) within WebGPU's 16 KiB of workgroup memory;
 * undefined when there is none (the op then uses the gla mapping).
 */
export function scanWorkgroup(E: number, N: number): number | undefined {
  for (let wg = 64; wg >= 4; wg /= 2) if (E % wg === 0 && 2 * (wg + 1) * N * 4 <= 16384) return wg;
  return undefined;
}

class ScanProgram extends FlatProgram {
  readonly shaderKey: string;

  constructor(
    kind: string,
    private readonly dims: ScanDims,
    private readonly wg: number,
    readonly variableNames: string[],
    outSize: number,
    private readonly main: string,
  ) {
    super(outSize, dims.B * dims.E, wg);
    this.shaderKey = `metala_scan_${kind}_${dims.B}_${dims.T}_${dims.E}_${dims.N}_${wg}`;
  }

  protected body(): string {
    const { B, T, E, N } = this.dims;
    const nc = Math.ceil(T / SCAN_CHUNK);
    return `const B = ${B}; const T = ${T}; const E = ${E}; const N = ${N}; const CC = ${SCAN_CHUNK}; const NC = ${nc};
const WG = ${this.wg}; const G = ${E / this.wg}; const NY = ${B * T * E};\n${this.main}`;
  }
}

// result = [y (B·T·E) | checkpoints (B·NC·E·N): h before step c·CC]
const FWD = `
fn main(index : i32) {
  guard(index);
  if (index >= B * E) { return; }
  let e = index % E;
  let b = index / E;
  var h : array<f32, N>;
  var a : array<f32, N>;
  for (var n = 0; n < N; n++) { h[n] = 0.0; a[n] = As[e * N + n]; }
  for (var t = 0; t < T; t++) {
    if (t % CC == 0) {
      let o = NY + ((b * NC + t / CC) * E + e) * N;
      for (var n = 0; n < N; n++) { result[o + n] = h[n]; }
    }
    let i = (b * T + t) * E + e;
    let dt = Dt[i];
    let u = dt * Xs[i];
    let bt = (b * T + t) * N;
    var y = 0.0;
    for (var n = 0; n < N; n++) {
      let s = exp(dt * a[n]) * h[n] + u * Bs[bt + n];
      h[n] = s;
      y += Cs[bt + n] * s;
    }
    result[i] = y;
  }
}`;

// inputs x, Δ, A, B, C, fwd (the forward result), dy
// result = [dx (B·T·E) | dΔ (B·T·E) | dA (B·E·N, per b) | dB (B·T·N·G) | dC (B·T·N·G), per group,
// the group innermost so that the caller's sum is over the last axis]
function bwdSource(wg: number, n: number): string {
  return `
var<workgroup> red : array<f32, ${2 * (wg + 1) * n}>;
fn main(index : i32) {
  guard(index);
  // Every workgroup is full (B·E is a multiple of WG): no early return, so the barriers below
  // are in uniform control flow.
  let e = index % E;
  let b = index / E;
  let lane = index % WG;
  let grp = e / WG;
  let OFF_A = 2 * NY;
  let OFF_B = OFF_A + B * E * N;
  let NBC = B * T * G * N;
  var a : array<f32, N>;
  var lam : array<f32, N>;
  var dA : array<f32, N>;
  var hs : array<f32, ${(SCAN_CHUNK + 1) * n}>;
  for (var n = 0; n < N; n++) { a[n] = As[e * N + n]; lam[n] = 0.0; dA[n] = 0.0; }
  for (var c = NC - 1; c >= 0; c--) {
    let c0 = c * CC;
    let len = min(CC, T - c0);
    let o = NY + ((b * NC + c) * E + e) * N;
    for (var n = 0; n < N; n++) { hs[n] = Fwd[o + n]; }
    for (var j = 0; j < len; j++) {
      let i = (b * T + c0 + j) * E + e;
      let dt = Dt[i];
      let u = dt * Xs[i];
      let bt = (b * T + c0 + j) * N;
      for (var n = 0; n < N; n++) { hs[(j + 1) * N + n] = exp(dt * a[n]) * hs[j * N + n] + u * Bs[bt + n]; }
    }
    for (var j = len - 1; j >= 0; j--) {
      let t = c0 + j;
      let i = (b * T + t) * E + e;
      let dt = Dt[i];
      let xt = Xs[i];
      let g = Dy[i];
      let bt = (b * T + t) * N;
      var dx = 0.0;
      var ddt = 0.0;
      for (var n = 0; n < N; n++) {
        let hp = hs[j * N + n];
        let l = g * Cs[bt + n] + lam[n];
        let dec = exp(dt * a[n]);
        let bn = Bs[bt + n];
        dx += l * dt * bn;
        ddt += l * (a[n] * dec * hp + bn * xt);
        dA[n] += l * dt * dec * hp;
        // red[k][lane] for k = which·N + n, rows WG + 1 apart: the lanes of a warp store to
        // consecutive words, and the sums below read column k of row l2 from distinct banks
        // (lane-major [lane][k] put a warp's 32 stores of one n in 2 banks: a 16-way conflict).
        red[n * (WG + 1) + lane] = l * dt * xt;
        red[(N + n) * (WG + 1) + lane] = g * hs[(j + 1) * N + n];
        lam[n] = dec * l;
      }
      result[i] = dx;
      result[NY + i] = ddt;
      workgroupBarrier();
      for (var k = lane; k < 2 * N; k += WG) {
        let which = k / N;
        let n = k % N;
        var s = 0.0;
        for (var l2 = 0; l2 < WG; l2++) { s += red[k * (WG + 1) + l2]; }
        result[OFF_B + which * NBC + ((b * T + t) * N + n) * G + grp] = s;
      }
      workgroupBarrier();
    }
  }
  for (var n = 0; n < N; n++) { result[OFF_A + (b * E + e) * N + n] = dA[n]; }
}`;
}

export const SCAN_FWD = 'MetalaSelectiveScanFwd';
export const SCAN_BWD = 'MetalaSelectiveScanBwd';

function dimsOf(attrs: Record<string, unknown>): ScanDims & { wg: number } {
  return { B: attrs['B'] as number, T: attrs['T'] as number, E: attrs['E'] as number, N: attrs['N'] as number, wg: attrs['wg'] as number };
}

/** Registers the forward and backward kernels for the 'webgpu' backend (idempotent). */
export function registerSelectiveScanWebgpuKernels(): void {
  registerFlatKernel(SCAN_FWD, (i, attrs) => {
    const d = dimsOf(attrs);
    const size = d.B * d.T * d.E + d.B * Math.ceil(d.T / SCAN_CHUNK) * d.E * d.N;
    return { program: new ScanProgram('fwd', d, d.wg, ['Xs', 'Dt', 'As', 'Bs', 'Cs'], size, FWD), inputs: [i['x']!, i['dt']!, i['A']!, i['b']!, i['c']!] };
  });
  registerFlatKernel(SCAN_BWD, (i, attrs) => {
    const d = dimsOf(attrs);
    const G = d.E / d.wg;
    const size = 2 * d.B * d.T * d.E + d.B * d.E * d.N + 2 * d.B * d.T * G * d.N;
    return {
      program: new ScanProgram('bwd', d, d.wg, ['Xs', 'Dt', 'As', 'Bs', 'Cs', 'Fwd', 'Dy'], size, bwdSource(d.wg, d.N)),
      inputs: [i['x']!, i['dt']!, i['A']!, i['b']!, i['c']!, i['fwd']!, i['dy']!],
    };
  });
}

defineKernelFamily('scan', registerSelectiveScanWebgpuKernels);
