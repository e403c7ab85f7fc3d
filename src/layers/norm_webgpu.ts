// Fused WebGPU kernels of the weightless RMSNorm / LayerNorm over the last axis (src/layers/basic.ts):
//   r = 1/sqrt(mean(xc²) + eps), ŷ = xc·r, xc = x − mean(x) (LayerNorm) or x (RMSNorm)
//   ∂x = r·(∂y − ŷ·mean(∂y·ŷ) [− mean(∂y)])
// Why: 5–7 tfjs kernels forward and 5–7 backward per norm, three or more norms per block; one
// launch each way here.
//
// Layout: TPR threads (a power of two, about D/4, 1 … 256) share a row; a workgroup of
// WG = max(128, TPR) threads holds RPW = WG / TPR rows. Thread `lane` of a row owns elements
// e = i·TPR + lane, i = 0 … EPT − 1 (EPT = ⌈D / TPR⌉), kept in registers between the passes, so
// every load and store of a warp touches consecutive floats. The row sums (mean, Σ xc², or
// (Σ ∂y·ŷ, Σ ∂y) backward) are each thread's EPT terms in order, then a tree reduction over the
// row's TPR lanes in workgroup memory. Why: the kernels before gave a thread a row and walked D,
// so a warp's loads were D floats apart: at ref2 ([16, 2048, 512]) 0.35–0.5 ms a call, ~400 GB/s on
// an H200 (results/bench/ref2-kernel-profile.json), 5–7% of the profiled step at MQAR-128 and ref2.
// Deterministic: the order of every sum depends on D alone, not on the row count or on which
// workgroup takes the row, so a row normalises to the same bits in any batch.
//
// Rows past 65,535 workgroups (WebGPU's limit per dispatch dimension; the [B,T,H,dv] norm has
// B·T·H rows): NWG ≤ 65,535 workgroups, and workgroup w takes row groups w, w + NWG, … in ITER
// rounds. WGSL: workgroupBarrier() must be in uniform control flow, and tfjs hands the workgroup
// id over in a private variable, which the uniformity analysis treats as non-uniform. So the rounds
// and the reduction steps are constant trip counts, every thread runs every barrier (rows past the
// end reduce zeros), and only the loads and stores sit under `live`.
import { f32, FlatProgram, registerFlatKernel } from '../backend/kernels/program.js';
import { defineKernelFamily } from '../backend/kernels/index.js';

export interface NormDims {
  rows: number;
  D: number;
  eps: number;
  centre: boolean;
  /** Most workgroups per launch: WebGPU's 65,535 unless given (a test lowers it to run several rounds). */
  maxWorkgroups?: number;
}

/** WebGPU's limit on workgroups per dispatch dimension. */
const MAX_WORKGROUPS = 65535;

/** How a launch cuts the rows (see the header comment). */
export interface NormLaunch {
  /** threads per row */
  tpr: number;
  /** threads per workgroup */
  wg: number;
  /** elements per thread */
  ept: number;
  /** workgroups launched */
  nwg: number;
  /** rounds of row groups per workgroup */
  iter: number;
}

/**
 * The launch for `rows` rows of D: e.g. D 128 (the [B,T,H,dv] norm) → 32 threads a row, 4 rows a
 * workgroup; D 512 (ref2's width) → 128 threads, one row; D over 1,024 → 256 threads and more than
 * 4 elements each (registers grow with D / 256).
 */
export function normLaunch(rows: number, D: number, maxWorkgroups = MAX_WORKGROUPS): NormLaunch {
  let tpr = 1;
  while (tpr < 256 && tpr * 4 < D) tpr *= 2;
  const wg = Math.max(128, tpr);
  const groups = Math.max(1, Math.ceil(rows / (wg / tpr)));
  const nwg = Math.min(groups, maxWorkgroups);
  return { tpr, wg, ept: Math.ceil(D / tpr), nwg, iter: Math.ceil(groups / nwg) };
}

class NormProgram extends FlatProgram {
  readonly shaderKey: string;

  constructor(
    kind: string,
    private readonly dims: NormDims,
    private readonly launch: NormLaunch,
    readonly variableNames: string[],
    outSize: number,
    private readonly main: string,
  ) {
    super(outSize, launch.nwg * launch.wg, launch.wg);
    this.shaderKey = `metala_norm_${kind}_${dims.rows}_${dims.D}_${dims.eps}_${dims.centre}_${launch.nwg}`;
  }

  protected body(): string {
    const { rows, D, eps, centre } = this.dims;
    const { tpr, wg, ept, nwg, iter } = this.launch;
    // `inRow(e)`: element e of a thread's EPT slots lies in the row (constant true when TPR divides D).
    const inRow = D % tpr === 0 ? 'true' : 'e < D';
    return `const ROWS = ${rows}; const D = ${D}; const EPS : f32 = ${f32(eps)}; const CENTRE = ${centre};
const TPR = ${tpr}; const RPW = ${wg / tpr}; const EPT = ${ept}; const NWG = ${nwg}; const ITER = ${iter};
fn inRow(e : i32) -> bool { return ${inRow}; }
${this.main}`;
  }
}

// Sum of v over the TPR lanes of each row of the workgroup, returned to all of them: a tree
// reduction in a fixed order. Every thread calls it, from uniform control flow (the barriers).
const rowSum = (t: 'f32' | 'vec2<f32>', wg: number): string => `
var<workgroup> red : array<${t}, ${wg}>;
fn rowSum(lid : i32, lane : i32, v : ${t}) -> ${t} {
  red[lid] = v;
  workgroupBarrier();
  for (var s = TPR / 2; s > 0; s = s >> 1u) {
    if (lane < s) { red[lid] = red[lid] + red[lid + s]; }
    workgroupBarrier();
  }
  let total = red[lid - lane];
  workgroupBarrier(); // all have read before the next call writes
  return total;
}`;

// The rounds of row groups both kernels walk: thread `lane` of row `row` (`live` when it exists),
// whose elements start at `o`; each kernel's body follows and closes both braces.
const ROW_ROUNDS = `fn main(index : i32) {
  guard(index);
  let lid = i32(localIndex);
  let lane = lid % TPR;
  let wid = i32(workgroupId.x);
  for (var it = 0; it < ITER; it++) {
    let row = (wid + it * NWG) * RPW + lid / TPR;
    let live = row < ROWS;
    let o = row * D;
`;

// x [rows·D] → [ŷ (rows·D) | r (rows)]
const fwd = (wg: number): string => `${rowSum('f32', wg)}
${ROW_ROUNDS}    var xv : array<f32, EPT>; // zeros past the row (and for rows past the end)
    for (var i = 0; i < EPT; i++) {
      let e = i * TPR + lane;
      if (live && inRow(e)) { xv[i] = X[o + e]; }
    }
    var mu = 0.0;
    if (CENTRE) {
      var s = 0.0;
      for (var i = 0; i < EPT; i++) { s += xv[i]; }
      mu = rowSum(lid, lane, s) / f32(D);
      for (var i = 0; i < EPT; i++) { if (inRow(i * TPR + lane)) { xv[i] -= mu; } }
    }
    var ss = 0.0;
    for (var i = 0; i < EPT; i++) { ss += xv[i] * xv[i]; }
    let r = inverseSqrt(rowSum(lid, lane, ss) / f32(D) + EPS);
    if (live) {
      for (var i = 0; i < EPT; i++) {
        let e = i * TPR + lane;
        if (inRow(e)) { result[o + e] = xv[i] * r; }
      }
      if (lane == 0) { result[ROWS * D + row] = r; }
    }
  }
}`;

// ŷ [rows·D], r [rows], dy [rows·D] → dx [rows·D]
const bwd = (wg: number): string => `${rowSum('vec2<f32>', wg)}
${ROW_ROUNDS}    var yv : array<f32, EPT>; // zeros past the row (and for rows past the end)
    var gv : array<f32, EPT>;
    var part = vec2<f32>(0.0);
    for (var i = 0; i < EPT; i++) {
      let e = i * TPR + lane;
      if (live && inRow(e)) { yv[i] = Y[o + e]; gv[i] = Dy[o + e]; }
      part += vec2<f32>(gv[i] * yv[i], gv[i]);
    }
    // (mean(∂y·ŷ), mean(∂y))
    let m = rowSum(lid, lane, part) / f32(D);
    let mdy = select(0.0, m.y, CENTRE);
    if (live) {
      let r = R[row];
      for (var i = 0; i < EPT; i++) {
        let e = i * TPR + lane;
        if (inRow(e)) { result[o + e] = r * (gv[i] - yv[i] * m.x - mdy); }
      }
    }
  }
}`;

export const NORM_FWD = 'MetalaNormFwd';
export const NORM_BWD = 'MetalaNormBwd';

function dimsOf(attrs: Record<string, unknown>): NormDims {
  const d: NormDims = { rows: attrs['rows'] as number, D: attrs['D'] as number, eps: attrs['eps'] as number, centre: attrs['centre'] as boolean };
  if (attrs['maxWorkgroups'] !== undefined) d.maxWorkgroups = attrs['maxWorkgroups'] as number;
  return d;
}

/** Registers the forward and backward kernels for the 'webgpu' backend (idempotent). */
export function registerNormWebgpuKernels(): void {
  registerFlatKernel(NORM_FWD, (i, attrs) => {
    const d = dimsOf(attrs);
    const l = normLaunch(d.rows, d.D, d.maxWorkgroups);
    return { program: new NormProgram('fwd', d, l, ['X'], d.rows * d.D + d.rows, fwd(l.wg)), inputs: [i['x']!] };
  });
  registerFlatKernel(NORM_BWD, (i, attrs) => {
    const d = dimsOf(attrs);
    const l = normLaunch(d.rows, d.D, d.maxWorkgroups);
    return { program: new NormProgram('bwd', d, l, ['Y', 'R', 'Dy'], d.rows * d.D, bwd(l.wg)), inputs: [i['y']!, i['r']!, i['dy']!] };
  });
}

defineKernelFamily('norm', registerNormWebgpuKernels);
