// Fused WebGPU kernels of the weightless RMSNorm / LayerNorm over the last axis (src/layers/basic.ts):
//   r = 1/sqrt(mean(xc²) + eps), ŷ = xc·r, xc = x − mean(x) (LayerNorm) or x (RMSNorm)
//   ∂x = r·(∂y − ŷ·mean(∂y·ŷ) [− mean(∂y)])
// Why: 5–7 tfjs kernels forward and 5–7 backward per norm, three or more norms per block; one
// launch each way here. A thread owns a row (D ≤ a few thousand; rows = B·T).
import { f32, FlatProgram, MAX_THREADS, registerFlatKernel } from '../backend/kernels/program.js';
import { defineKernelFamily } from '../backend/kernels/index.js';

export interface NormDims {
  rows: number;
  D: number;
  eps: number;
  centre: boolean;
}

class NormProgram extends FlatProgram {
  readonly shaderKey: string;
  private readonly nt: number;

  constructor(
    kind: string,
    private readonly dims: NormDims,
    readonly variableNames: string[],
    outSize: number,
    private readonly main: string,
  ) {
    super(outSize, Math.min(dims.rows, MAX_THREADS));
    this.nt = Math.min(dims.rows, MAX_THREADS);
    this.shaderKey = `metala_norm_${kind}_${dims.rows}_${dims.D}_${dims.eps}_${dims.centre}`;
  }

  protected body(): string {
    const { rows, D, eps, centre } = this.dims;
    return `const ROWS = ${rows}; const D = ${D}; const EPS : f32 = ${f32(eps)}; const CENTRE = ${centre}; const NT = ${this.nt};\n${this.main}`;
  }
}

// x [rows·D] → [ŷ (rows·D) | r (rows)]
const FWD = `
fn main(index : i32) {
  guard(index);
  for (var row = index; row < ROWS; row += NT) {
    let o = row * D;
    var mu = 0.0;
    if (CENTRE) {
      for (var i = 0; i < D; i++) { mu += X[o + i]; }
      mu = mu / f32(D);
    }
    var ss = 0.0;
    for (var i = 0; i < D; i++) { let c = X[o + i] - mu; ss += c * c; }
    let r = inverseSqrt(ss / f32(D) + EPS);
    for (var i = 0; i < D; i++) { result[o + i] = (X[o + i] - mu) * r; }
    result[ROWS * D + row] = r;
  }
}`;

// ŷ [rows·D], r [rows], dy [rows·D] → dx [rows·D]
const BWD = `
fn main(index : i32) {
  guard(index);
  for (var row = index; row < ROWS; row += NT) {
    let o = row * D;
    var dot = 0.0;
    var mdy = 0.0;
    for (var i = 0; i < D; i++) { let g = Dy[o + i]; dot += g * Y[o + i]; mdy += g; }
    dot = dot / f32(D);
    mdy = mdy / f32(D);
    if (!CENTRE) { mdy = 0.0; }
    let r = R[row];
    for (var i = 0; i < D; i++) { result[o + i] = r * (Dy[o + i] - Y[o + i] * dot - mdy); }
  }
}`;

export const NORM_FWD = 'MetalaNormFwd';
export const NORM_BWD = 'MetalaNormBwd';

function dimsOf(attrs: Record<string, unknown>): NormDims {
  return { rows: attrs['rows'] as number, D: attrs['D'] as number, eps: attrs['eps'] as number, centre: attrs['centre'] as boolean };
}

/** Registers the forward and backward kernels for the 'webgpu' backend (idempotent). */
export function registerNormWebgpuKernels(): void {
  registerFlatKernel(NORM_FWD, (i, attrs) => {
    const d = dimsOf(attrs);
    return { program: new NormProgram('fwd', d, ['X'], d.rows * d.D + d.rows, FWD), inputs: [i['x']!] };
  });
  registerFlatKernel(NORM_BWD, (i, attrs) => {
    const d = dimsOf(attrs);
    return { program: new NormProgram('bwd', d, ['Y', 'R', 'Dy'], d.rows * d.D, BWD), inputs: [i['y']!, i['r']!, i['dy']!] };
  });
}

defineKernelFamily('norm', registerNormWebgpuKernels);
