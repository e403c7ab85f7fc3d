// Fused WebGPU kernels of SiLU and of the SiLU gate x ⊙ SiLU(g) (src/layers/basic.ts), with
// s = σ(g) = 1 / (1 + e^{−g}):
//   SiLU       y = x·σ(x)                 ∂x = ∂y · σ(x)(1 + x(1 − σ(x)))
//   gate       y = x ⊙ (g·σ(g))           ∂x = ∂y ⊙ g·σ(g),   ∂g = (∂y ⊙ x) ⊙ σ(g)(1 + g(1 − σ(g)))
// Why: as tfjs ops the gate is 3 launches forward and 9 backward (sigmoid, products, the derivative's
// sub/mul/add), each a full pass over an activation-sized tensor. In one H200 ref2 step (MetaLA
// d 512, 8 layers, B 16, T 2048; results/bench/ref2-kernel-profile.json) the GLU's [16, 2048, 1368]
// multiplies alone took 8.9 ms (64 launches) and its sigmoids 4.1 ms, the [16, 2048, 512] gates'
// multiplies 5.9 ms (96 launches). Here each direction reads its inputs once and writes each output
// once: the gate's backward pass is two launches (∂x reads ∂y and g; ∂g reads ∂y, x and g) rather
// than one launch writing both into one buffer, which the slices back out would copy again.
// The expressions are those of the tfjs composition in the same order (tfjs's webgpu sigmoid is
// 1 / (1 + exp(−x))), so the results agree with it to float rounding.
import { FlatProgram, MAX_THREADS, registerFlatKernel } from '../backend/kernels/program.js';
import { defineKernelFamily } from '../backend/kernels/index.js';

class ElementwiseProgram extends FlatProgram {
  readonly shaderKey: string;
  private readonly nt: number;

  constructor(
    kind: string,
    private readonly n: number,
    readonly variableNames: string[],
    private readonly expr: string,
  ) {
    super(n, Math.min(n, MAX_THREADS), 256);
    this.nt = Math.min(n, MAX_THREADS);
    this.shaderKey = `metala_silu_${kind}_${n}`;
  }

  protected body(): string {
    return `
const N = ${this.n}; const NT = ${this.nt};
fn sigm(a : f32) -> f32 { return 1.0 / (1.0 + exp(-1.0 * a)); }
fn main(index : i32) {
  guard(index);
  for (var i = index; i < N; i += NT) {
    ${this.expr}
  }
}`;
  }
}

export const SILU_FWD = 'MetalaSiluFwd';
export const SILU_BWD = 'MetalaSiluBwd';
export const GATE_FWD = 'MetalaSiluGateFwd';
export const GATE_BWD_X = 'MetalaSiluGateBwdX';
export const GATE_BWD_G = 'MetalaSiluGateBwdG';

/** Registers the five kernels for the 'webgpu' backend (idempotent). Inputs are float32 of one size. */
export function registerSiluWebgpuKernels(): void {
  const size = (t: { shape: number[] }): number => t.shape.reduce((a, b) => a * b, 1);
  // x → x·σ(x)
  registerFlatKernel(SILU_FWD, (i) => ({
    program: new ElementwiseProgram('fwd', size(i['x']!), ['X'], 'let x = X[i]; result[i] = x * sigm(x);'),
    inputs: [i['x']!],
  }));
  // x, ∂y → ∂y · σ(x)(1 + x(1 − σ(x)))
  registerFlatKernel(SILU_BWD, (i) => ({
    program: new ElementwiseProgram('bwd', size(i['x']!), ['X', 'Dy'], 'let x = X[i]; let s = sigm(x); result[i] = Dy[i] * (s * (1.0 + x * (1.0 - s)));'),
    inputs: [i['x']!, i['dy']!],
  }));
  // x, g → x ⊙ (g·σ(g))
  registerFlatKernel(GATE_FWD, (i) => ({
    program: new ElementwiseProgram('gate_fwd', size(i['x']!), ['X', 'G'], 'let g = G[i]; result[i] = X[i] * (g * sigm(g));'),
    inputs: [i['x']!, i['g']!],
  }));
  // ∂y, g → ∂y ⊙ (g·σ(g))
  registerFlatKernel(GATE_BWD_X, (i) => ({
    program: new ElementwiseProgram('gate_bwd_x', size(i['g']!), ['Dy', 'G'], 'let g = G[i]; result[i] = Dy[i] * (g * sigm(g));'),
    inputs: [i['dy']!, i['g']!],
  }));
  // ∂y, x, g → (∂y ⊙ x) ⊙ σ(g)(1 + g(1 − σ(g)))
  registerFlatKernel(GATE_BWD_G, (i) => ({
    program: new ElementwiseProgram('gate_bwd_g', size(i['g']!), ['Dy', 'X', 'G'], 'let g = G[i]; let s = sigm(g); result[i] = (Dy[i] * X[i]) * (s * (1.0 + g * (1.0 - s)));'),
    inputs: [i['dy']!, i['x']!, i['g']!],
  }));
}

defineKernelFamily('silu', registerSiluWebgpuKernels);
