// Per-row sums of squares of x [R, P] → [R] in two stages (the optimizer's global gradient norm,
// optim.ts). tfjs's Sum gives each output one workgroup, so Σ g² over a 25.5M-float gradient ran as
// one workgroup streaming 100 MB: 19.9 ms of a ~350 ms ref2 step on an H200
// (results/bench/ref2-kernel-profile.json), where the memory system moves it in ~0.05 ms.
//   stage 1   workgroup (b, r) of WG threads: block b of row r, elements [b·BLOCK, (b+1)·BLOCK),
//             thread t adds x² of elements b·BLOCK + i·WG + t for i = 0 … ITEMS − 1 (coalesced),
//             then a tree reduction in workgroup memory → partials [R, nb], nb = ⌈P / BLOCK⌉
//   stage 2   the same kernel on the partials without squaring, one block per row (ITEMS = ⌈nb / WG⌉)
//             → [R]
// Deterministic: every sum runs in a fixed order, no atomics. Row r's result does not depend on R:
// the blocks are cut from P alone, R never enters the shader source (each stage compiles to the same
// pipeline for [1, P] and [R, P]), and the rows are the dispatch's y axis. A stacked replica thus
// gets the clip scale it gets alone on the same gradient, bit for bit.
import * as tf from '@tensorflow/tfjs';
import { defineKernelFamily } from '../backend/kernels/index.js';
import { MetalaError } from '../util/errors.js';

/** Threads per workgroup. */
const WG = 256;
/** Stage 1 elements per thread: a 4,096-float block per workgroup (ref2's 25.5M: 6,222 workgroups). */
const ITEMS = 16;
/** WebGPU's limit on workgroups per dispatch dimension. */
const MAX_WORKGROUPS = 65535;

/** result[r, b] = Σ_{e in block b of row r} x[r, e]² (or x[r, e] when !square); rows on the dispatch's y. */
class RowBlockSumProgram {
  readonly variableNames = ['X'];
  readonly outputShape: number[];
  readonly dispatchLayout = { x: [0] };
  readonly dispatch: [number, number, number];
  readonly workgroupSize: [number, number, number] = [WG, 1, 1];
  readonly size = false;
  readonly shaderKey: string;

  /** rows R, row length n, items per thread; `out`: [R, nb], or [R] when nb = 1 (the last stage). */
  constructor(
    rows: number,
    private readonly n: number,
    private readonly items: number,
    private readonly square: boolean,
  ) {
    const nb = Math.ceil(n / (WG * items));
    this.outputShape = nb === 1 ? [rows] : [rows, nb];
    this.dispatch = [nb, rows, 1];
    this.shaderKey = `metala_row_block_sum_${n}_${items}_${square}`;
  }

  getUserCode(): string {
    const nb = Math.ceil(this.n / (WG * this.items));
    // guard(): see program.ts (keeps tfjs's uniform binding in the pipeline layout).
    return `fn guard(index : i32) { if (index < 0) { result[0] = uniforms.NAN; } }
const N = ${this.n}; const NB = ${nb}; const ITEMS = ${this.items}; const BLOCK = ${WG * this.items};
var<workgroup> part : array<f32, ${WG}>;
fn main(index : i32) {
  guard(index);
  let lid = i32(localIndex);
  let blk = i32(workgroupId.x);
  let row = i32(workgroupId.y);
  let begin = blk * BLOCK;
  let count = min(BLOCK, N - begin);
  let base = row * N + begin;
  var acc = 0.0;
  for (var i = 0; i < ITEMS; i++) {
    let e = i * ${WG} + lid;
    if (e < count) { let v = X[base + e]; acc += ${this.square ? 'v * v' : 'v'}; }
  }
  // Tree reduction: the loop bounds are constants, so every barrier is in uniform control flow
  // (only the adds depend on the invocation, and there is no early return).
  part[lid] = acc;
  workgroupBarrier();
  for (var s = ${WG / 2}; s > 0; s = s >> 1u) {
    if (lid < s) { part[lid] = part[lid] + part[lid + s]; }
    workgroupBarrier();
  }
  if (lid == 0) { result[row * NB + blk] = part[0]; }
}`;
  }
}

interface WebgpuBackendLike {
  runWebGPUProgram(program: RowBlockSumProgram, inputs: tf.TensorInfo[], dtype: 'float32'): tf.TensorInfo;
  disposeData(dataId: object): void;
}

/** Stage 1's items per thread: ITEMS, more where P would need over 65,535 blocks (P > 268M). */
export function rowSumSquaresItems(P: number): number {
  return Math.max(ITEMS, Math.ceil(Math.ceil(P / WG) / MAX_WORKGROUPS));
}

/** Σ_p x[r, p]² for x [R, P] float32 on the webgpu backend object a kernelFunc receives; returns [R]. */
function runRowSumSquares(backend: unknown, x: tf.TensorInfo): tf.TensorInfo {
  const be = backend as WebgpuBackendLike;
  const [R, P] = x.shape as [number, number];
  if (R > MAX_WORKGROUPS) throw new MetalaError(`row sum of squares: ${R} rows is over WebGPU's ${MAX_WORKGROUPS} workgroups per dimension`);
  const items = rowSumSquaresItems(P);
  const partials = be.runWebGPUProgram(new RowBlockSumProgram(R, P, items, true), [x], 'float32');
  const nb = Math.ceil(P / (WG * items));
  if (nb === 1) return partials;
  // ⌈nb / WG⌉ ≤ 256 partials per thread (nb ≤ 65,535).
  const out = be.runWebGPUProgram(new RowBlockSumProgram(R, nb, Math.ceil(nb / WG), false), [partials], 'float32');
  be.disposeData(partials.dataId);
  return out;
}

export const ROW_SUM_SQUARES = 'MetalaRowSumSquares';

export function registerRowSumSquaresWebgpuKernel(): void {
  if (tf.getKernel(ROW_SUM_SQUARES, 'webgpu') !== undefined) return;
  // x [R, P] float32, P ≥ 1 → [R]
  tf.registerKernel({
    kernelName: ROW_SUM_SQUARES,
    backendName: 'webgpu',
    kernelFunc: ({ inputs, backend }) => runRowSumSquares(backend, (inputs as { x: tf.TensorInfo }).x),
  });
}

defineKernelFamily('gradnorm', registerRowSumSquaresWebgpuKernel);
