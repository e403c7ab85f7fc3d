// Softmax cross-entropy over the vocabulary in two WebGPU kernels (forward and backward) instead of
// tfjs's op chain (max, subtract, exp, sum, log, gather of z[y], mean, and their gradients: ~15
// launches and ~10 passes over the [N, V] logits; at the MQAR head N = 32,768, V = 8,192 each pass
// moves 2 GiB).
//   forward   one 256-thread workgroup per row n: m = max_c z, s = Σ_c exp(z − m),
//             lse_n = m + log s, loss_n = lse_n − z[n, y_n]            → result [N, 2] = (loss, lse)
//   backward  one thread per element: ∂z[n, c] = g_n · (exp(z[n, c] − lse_n) − [c = y_n])
//             with g_n the upstream gradient of loss_n (the mean's 1/N included by the caller)
import { FlatProgram, MAX_THREADS, registerFlatKernel } from '../backend/kernels/program.js';
import { defineKernelFamily } from '../backend/kernels/index.js';

const WG = 256;

class CrossEntropyFwdProgram extends FlatProgram {
  readonly variableNames = ['Z', 'Y'];
  readonly shaderKey: string;

  constructor(
    private readonly n: number,
    private readonly c: number,
  ) {
    super([n, 2], n * WG, WG);
    this.shaderKey = `metala_ce_fwd_${n}_${c}`;
  }

  protected body(): string {
    return `
const N = ${this.n}; const C = ${this.c};
var<workgroup> red : array<f32, ${WG}>;
fn main(index : i32) {
  guard(index);
  let row = index / ${WG};
  let lid = i32(localIndex);
  let live = row < N;
  let base = row * C;
  // 1. row maximum
  var m = -3.0e38;
  if (live) { for (var c = lid; c < C; c += ${WG}) { m = max(m, Z[base + c]); } }
  red[lid] = m;
  workgroupBarrier();
  for (var s = ${WG / 2}; s > 0; s = s >> 1u) {
    if (lid < s) { red[lid] = max(red[lid], red[lid + s]); }
    workgroupBarrier();
  }
  let rowMax = red[0];
  workgroupBarrier();
  // 2. Σ exp(z − max)
  var acc = 0.0;
  if (live) { for (var c = lid; c < C; c += ${WG}) { acc += exp(Z[base + c] - rowMax); } }
  red[lid] = acc;
  workgroupBarrier();
  for (var s = ${WG / 2}; s > 0; s = s >> 1u) {
    if (lid < s) { red[lid] = red[lid] + red[lid + s]; }
    workgroupBarrier();
  }
  if (live && lid == 0) {
    let lse = rowMax + log(red[0]);
    result[2 * row] = lse - Z[base + Y[row]];
    result[2 * row + 1] = lse;
  }
}`;
  }
}

class CrossEntropyBwdProgram extends FlatProgram {
  readonly variableNames = ['Z', 'Y', 'S', 'G'];
  readonly shaderKey: string;

  constructor(
    private readonly n: number,
    private readonly c: number,
  ) {
    super([n, c], Math.min(n * c, MAX_THREADS), 256);
    this.shaderKey = `metala_ce_bwd_${n}_${c}`;
  }

  protected body(): string {
    return `
const N = ${this.n}; const C = ${this.c}; const STRIDE = ${Math.min(this.n * this.c, MAX_THREADS)};
fn main(index : i32) {
  guard(index);
  for (var i = index; i < N * C; i += STRIDE) {
    let row = i / C;
    let col = i % C;
    let p = exp(Z[i] - S[2 * row + 1]);
    result[i] = G[row] * (p - select(0.0, 1.0, col == Y[row]));
  }
}`;
  }
}

export const CE_FWD = 'MetalaCrossEntropyFwd';
export const CE_BWD = 'MetalaCrossEntropyBwd';

export function registerCrossEntropyWebgpuKernels(): void {
  // z [N, C] float32, y [N] int32 → [N, 2] (loss, logsumexp)
  registerFlatKernel(CE_FWD, (i) => ({ program: new CrossEntropyFwdProgram(i['z']!.shape[0]!, i['z']!.shape[1]!), inputs: [i['z']!, i['y']!] }));
  // z [N, C], y [N], saved (loss, lse) [N, 2], g [N] upstream per-row gradient → ∂z [N, C]
  registerFlatKernel(CE_BWD, (i) => ({ program: new CrossEntropyBwdProgram(i['z']!.shape[0]!, i['z']!.shape[1]!), inputs: [i['z']!, i['y']!, i['s']!, i['g']!] }));
}

defineKernelFamily('xent', registerCrossEntropyWebgpuKernels);
