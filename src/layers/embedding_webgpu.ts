// Embedding-gradient kernel for webgpu: rows of dy summed by token id, with the ids sorted on the
// CPU (they are known there: the batch came from JS). Why: tfjs-webgpu's UnsortedSegmentSum adds
// with float atomics, and a batch where most positions hold one token (MQAR's filler 0, ListOps'
// brackets, Pathfinder's black pixels) serialises ~10^5 atomic adds on the same addresses — a
// 7-second step at MQAR's B = 256, T = 256, measured on the H100.
//   out[v, c] = Σ_{p ∈ [offsets[v], offsets[v+1])} dy[perm[p], c]     (thread per (v, c))
import { FlatProgram, registerFlatKernel } from '../backend/kernels/program.js';
import { defineKernelFamily } from '../backend/kernels/index.js';

class SortedSegmentSumProgram extends FlatProgram {
  readonly variableNames = ['Dy', 'Perm', 'Offsets'];
  readonly shaderKey: string;

  constructor(
    private readonly segments: number,
    private readonly width: number,
  ) {
    super([segments, width], segments * width);
    this.shaderKey = `metala_sorted_segment_sum_${segments}_${width}`;
  }

  protected body(): string {
    return `
const NSEG = ${this.segments}; const D = ${this.width};
fn main(index : i32) {
  guard(index);
  if (index >= NSEG * D) { return; }
  let v = index / D;
  let c = index % D;
  var acc = 0.0;
  for (var p = Offsets[v]; p < Offsets[v + 1]; p++) { acc += Dy[Perm[p] * D + c]; }
  result[index] = acc;
}`;
  }
}

export const SORTED_SEGMENT_SUM = 'MetalaSortedSegmentSum';

export function registerSegmentSumWebgpuKernel(): void {
  // inputs dy [N, D] float32, perm [N] int32, offsets [segments + 1] int32 → [segments, D]
  registerFlatKernel(SORTED_SEGMENT_SUM, (i, attrs) => ({
    program: new SortedSegmentSumProgram(attrs['segments'] as number, i['dy']!.shape[1]!),
    inputs: [i['dy']!, i['perm']!, i['offsets']!],
  }));
}

defineKernelFamily('embedding', registerSegmentSumWebgpuKernel);
