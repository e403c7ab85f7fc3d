// Fused WebGPU kernels of the causal depthwise short convolution (src/layers/short_conv.ts):
//   y[b,t,i] = Σ_{j<c} w[j,i] · xp[b,t+j,i],   xp = [cache | x]  ([B, c−1+T, D])
// Why: as pad + slice + multiply-add it is ~15 tfjs kernels forward and ~30 backward per layer
// (the slices' gradients are pads, the taps' weight gradients reductions); launches bound training
// on tfjs-webgpu (webgpu_recurrent.ts). Here: one kernel forward, two backward.
//   forward  one output element per thread and pass (threads stride over the output).
//   dxp      thread per xp element: dxp[b,s,i] = Σ_j w[j,i] · dy[b,s−j,i] over 0 ≤ s−j < T.
//   dw       thread (row block r, j, i): Σ over ROWS (b,t) rows of dy[b,t,i] · xp[b,t+j,i]; the
//            caller sums the blocks (laid out innermost).
import { FlatProgram, MAX_THREADS, registerFlatKernel } from '../backend/kernels/program.js';
import { defineKernelFamily } from '../backend/kernels/index.js';

export interface ConvDims {
  B: number;
  T: number;
  D: number;
  /** Taps. */
  C: number;
}

/** (b, t) rows per dw partial sum. */
export const CONV_ROWS = 64;


/** Row blocks of the dw kernel for a shape. */
export function convBlocks(d: ConvDims): number {
  return Math.ceil((d.B * d.T) / CONV_ROWS);
}

class ConvProgram extends FlatProgram {
  readonly shaderKey: string;
  private readonly nt: number;

  constructor(
    kind: string,
    private readonly dims: ConvDims,
    readonly variableNames: string[],
    outSize: number,
    threads: number,
    private readonly main: string,
  ) {
    super(outSize, Math.min(threads, MAX_THREADS));
    this.nt = Math.min(threads, MAX_THREADS);
    this.shaderKey = `metala_conv_${kind}_${dims.B}_${dims.T}_${dims.D}_${dims.C}`;
  }

  protected body(): string {
    const { B, T, D, C } = this.dims;
    return `const B = ${B}; const T = ${T}; const D = ${D}; const C = ${C}; const TP = ${T + C - 1};
const ROWS = ${CONV_ROWS}; const NB = ${convBlocks(this.dims)}; const NT = ${this.nt};\n${this.main}`;
  }
}

// inputs xp [B,TP,D], w [C,D] → y [B,T,D]
const FWD = `
fn main(index : i32) {
  guard(index);
  for (var o = index; o < B * T * D; o += NT) {
    let i = o % D;
    let t = (o / D) % T;
    let b = o / (D * T);
    var acc = 0.0;
    for (var j = 0; j < C; j++) { acc += W[j * D + i] * Xp[(b * TP + t + j) * D + i]; }
    result[o] = acc;
  }
}`;

// inputs w [C,D], dy [B,T,D] → dxp [B,TP,D]
const DXP = `
fn main(index : i32) {
  guard(index);
  for (var o = index; o < B * TP * D; o += NT) {
    let i = o % D;
    let s = (o / D) % TP;
    let b = o / (D * TP);
    var acc = 0.0;
    for (var j = 0; j < C; j++) {
      let t = s - j;
      if (t >= 0 && t < T) { acc += W[j * D + i] * Dy[(b * T + t) * D + i]; }
    }
    result[o] = acc;
  }
}`;

// inputs xp [B,TP,D], dy [B,T,D] → partial dw [C, D, NB] (blocks innermost)
const DW = `
fn main(index : i32) {
  guard(index);
  for (var o = index; o < NB * C * D; o += NT) {
    // channel fastest across threads (coalesced reads); the output puts the block innermost
    let i = o % D;
    let blk = (o / D) % NB;
    let j = o / (D * NB);
    var acc = 0.0;
    let r0 = blk * ROWS;
    let r1 = min(r0 + ROWS, B * T);
    for (var r = r0; r < r1; r++) {
      let b = r / T;
      let t = r % T;
      acc += Dy[r * D + i] * Xp[(b * TP + t + j) * D + i];
    }
    result[(j * D + i) * NB + blk] = acc;
  }
}`;

export const CONV_FWD = 'MetalaCausalConvFwd';
export const CONV_DXP = 'MetalaCausalConvDxp';
export const CONV_DW = 'MetalaCausalConvDw';

function dimsOf(attrs: Record<string, unknown>): ConvDims {
  return { B: attrs['B'] as number, T: attrs['T'] as number, D: attrs['D'] as number, C: attrs['C'] as number };
}

/** Registers the three kernels for the 'webgpu' backend (idempotent). */
export function registerCausalConvWebgpuKernels(): void {
  registerFlatKernel(CONV_FWD, (i, attrs) => {
    const d = dimsOf(attrs);
    const n = d.B * d.T * d.D;
    return { program: new ConvProgram('fwd', d, ['Xp', 'W'], n, n, FWD), inputs: [i['xp']!, i['w']!] };
  });
  registerFlatKernel(CONV_DXP, (i, attrs) => {
    const d = dimsOf(attrs);
    const n = d.B * (d.T + d.C - 1) * d.D;
    return { program: new ConvProgram('dxp', d, ['W', 'Dy'], n, n, DXP), inputs: [i['w']!, i['dy']!] };
  });
  registerFlatKernel(CONV_DW, (i, attrs) => {
    const d = dimsOf(attrs);
    const n = convBlocks(d) * d.C * d.D;
    return { program: new ConvProgram('dw', d, ['Xp', 'Dy'], n, n, DW), inputs: [i['xp']!, i['dy']!] };
  });
}

defineKernelFamily('conv', registerCausalConvWebgpuKernels);
