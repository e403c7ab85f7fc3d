// The seeded dropout of dropout.ts as one webgpu kernel (forward, and the same on dy backward):
// y_i = x_i / (1 − rate) where hash32(i ⊕ key) >> 8 ≥ threshold, else 0; key = the step seed mixed
// with the call site (dropout.ts dropoutKey, the same integer arithmetic in u32).
import { f32, FlatProgram, MAX_THREADS, registerFlatKernel } from '../backend/kernels/program.js';
import { defineKernelFamily } from '../backend/kernels/index.js';

class SeededDropoutProgram extends FlatProgram {
  readonly variableNames = ['X', 'Seed'];
  readonly shaderKey: string;

  private readonly n: number;

  constructor(
    shape: number[],
    private readonly threshold: number,
    private readonly scale: number,
    private readonly site: number,
  ) {
    const n = shape.reduce((a, b) => a * b, 1);
    super(shape, Math.min(n, MAX_THREADS));
    this.n = n;
    this.shaderKey = `metala_seeded_dropout_${n}_${threshold}_${site}`;
  }

  protected body(): string {
    const threads = Math.min(this.n, MAX_THREADS);
    return `
const N = ${this.n}; const THREADS = ${threads}; const THRESHOLD = ${this.threshold}u; const SCALE = ${f32(this.scale)};
const SITE = ${this.site >>> 0}u;
fn hash32(v : u32) -> u32 {
  var x = v;
  x = x ^ (x >> 16u); x = x * 0x7feb352du;
  x = x ^ (x >> 15u); x = x * 0x846ca68bu;
  x = x ^ (x >> 16u);
  return x;
}
fn main(index : i32) {
  guard(index);
  let key = hash32(bitcast<u32>(Seed[0]) + SITE * 0x9e3779b9u);
  for (var i = index; i < N; i = i + THREADS) {
    let keep = (hash32(u32(i) ^ key) >> 8u) >= THRESHOLD;
    // x times the mask value, as the host path multiplies (so −0 and NaN come out alike)
    result[i] = X[i] * select(0.0, SCALE, keep);
  }
}`;
  }
}

export const SEEDED_DROPOUT = 'MetalaSeededDropout';

/** Elements are kept where their 24-bit hash is at least this (dropout.ts uses the same). */
export function keepThreshold(rate: number): number {
  return Math.ceil(rate * 2 ** 24);
}

export function registerDropoutWebgpuKernel(): void {
  // inputs x (any shape) float32, seed [1] int32; attrs rate, site → x's shape
  registerFlatKernel(SEEDED_DROPOUT, (i, attrs) => {
    const x = i['x']!;
    const rate = attrs['rate'] as number;
    const program = new SeededDropoutProgram([...x.shape], keepThreshold(rate), Math.fround(1 / (1 - rate)), attrs['site'] as number);
    return { program, inputs: [x, i['seed']!] };
  });
}

defineKernelFamily('dropout', registerDropoutWebgpuKernel);
