// Embedding-gradient kernel for webgpu: rows of dy summed by token id, with the ids sorted on the
// CPU (they are known there: the batch came from JS). Why: tfjs-webgpu's UnsortedSegmentSum adds
// with float atomics, and a batch where most positions hold one token (MQAR's filler 0, ListOps'
// brackets, Pathfinder's black pixels) serialises ~10^5 atomic adds on the same addresses — a
// 7-second step at MQAR's B = 256, T = 256, measured on the H100.
//   out[v, c] = Σ_{p ∈ [offsets[v], offsets[v+1])} dy[perm[p], c]     (thread per (v, c))
import * as tf from '@tensorflow/tfjs';

class SortedSegmentSumProgram {
  readonly outputShape: number[];
  readonly shaderKey: string;
  readonly dispatchLayout = { x: [0] };
  readonly dispatch: [number, number, number];
  readonly workgroupSize: [number, number, number] = [64, 1, 1];
  readonly variableNames = ['Dy', 'Perm', 'Offsets'];
  readonly size = false;

  constructor(
    private readonly segments: number,
    private readonly width: number,
  ) {
    this.outputShape = [segments, width];
    this.dispatch = [Math.ceil((segments * width) / 64), 1, 1];
    this.shaderKey = `metala_sorted_segment_sum_${segments}_${width}`;
  }

  getUserCode(): string {
    return `
const NSEG = ${this.segments}; const D = ${this.width};
fn main(index : i32) {
  if (index >= NSEG * D) { if (index < 0) { result[0] = uniforms.NAN; } return; }
  let v = index / D;
  let c = index % D;
  var acc = 0.0;
  for (var p = Offsets[v]; p < Offsets[v + 1]; p++) { acc += Dy[Perm[p] * D + c]; }
  result[index] = acc;
}`;
  }
}

export const SORTED_SEGMENT_SUM = 'MetalaSortedSegmentSum';

interface WebgpuBackendLike {
  runWebGPUProgram(program: SortedSegmentSumProgram, inputs: tf.TensorInfo[], dtype: 'float32'): tf.TensorInfo;
}

export function registerSegmentSumWebgpuKernel(): void {
  if (tf.getKernel(SORTED_SEGMENT_SUM, 'webgpu') !== undefined) return;
  tf.registerKernel({
    kernelName: SORTED_SEGMENT_SUM,
    backendName: 'webgpu',
    // inputs dy [N, D] float32, perm [N] int32, offsets [segments + 1] int32 → [segments, D]
    kernelFunc: ({ inputs, backend, attrs }) => {
      const i = inputs as Record<string, tf.TensorInfo>;
      const a = attrs as unknown as { segments: number };
      const prog = new SortedSegmentSumProgram(a.segments, i['dy']!.shape[1]!);
      return (backend as unknown as WebgpuBackendLike).runWebGPUProgram(prog, [i['dy']!, i['perm']!, i['offsets']!], 'float32');
    },
  });
}
