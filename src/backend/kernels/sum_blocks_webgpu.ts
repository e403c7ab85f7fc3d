// Adds the partial sums the split gla kernels write: result[n] = Σ_b X[OFF + n·NB + b]. (tfjs's own
// Sum over a last axis of 4 ran at a few GB/s on the H100 — 20% of a training step.)
import { FlatProgram, registerFlatKernel } from './program.js';

class SumBlocksProgram extends FlatProgram {
  readonly variableNames = ['X'];
  readonly shaderKey: string;

  constructor(
    private readonly n: number,
    private readonly blocks: number,
    private readonly offset: number,
  ) {
    super(n, n, 256);
    this.shaderKey = `metala_sum_blocks_${n}_${blocks}_${offset}`;
  }

  protected body(): string {
    return `
const N = ${this.n}; const NB = ${this.blocks}; const OFF = ${this.offset};
fn main(index : i32) {
  guard(index);
  if (index >= N) { return; }
  var acc = 0.0;
  for (var b = 0; b < NB; b++) { acc += X[OFF + index * NB + b]; }
  result[index] = acc;
}`;
  }
}

export const SUM_BLOCKS = 'MetalaSumBlocks';

export function registerSumBlocksWebgpuKernel(): void {
  // input x (flat) → [n]: sums of `blocks` consecutive values starting at `offset`
  registerFlatKernel(SUM_BLOCKS, (i, a) => ({
    program: new SumBlocksProgram(a['n'] as number, a['blocks'] as number, a['offset'] as number),
    inputs: [i['x']!],
  }));
}
