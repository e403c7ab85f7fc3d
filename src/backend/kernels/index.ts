// The one place where backend-specific kernels are registered (issue #4: models run unchanged on
// every backend; a kernel registered here only changes which form an op picks by default).
import { MetalaError } from '../../util/errors.js';
import { registerCausalConvWebgpuKernels } from './causal_conv_webgpu.js';
import { registerCrossEntropyWebgpuKernels } from './cross_entropy_webgpu.js';
import { registerGlaChunkWebgpuKernels } from './gla_chunk_webgpu.js';
import { registerGlaWebgpuKernels } from './gla_webgpu.js';
import { registerMatmulWebgpuKernel } from './matmul_webgpu.js';
import { registerNormWebgpuKernels } from './norm_webgpu.js';
import { registerRwkv4WebgpuKernels } from './rwkv4_webgpu.js';
import { registerSelectiveScanWebgpuKernels } from './selective_scan_webgpu.js';
import { registerSegmentSumWebgpuKernel } from './segment_sum_webgpu.js';
import { registerSumBlocksWebgpuKernel } from './sum_blocks_webgpu.js';

/** The fused kernel families; each can be left out with METALA_NO_FUSED (the tfjs-op forms run instead). */
const FAMILIES: Record<string, () => void> = {
  // the gated recurrence (MetaLA, GLA, RetNet, Based, …) and the block-sum kernel it uses
  gla: () => {
    registerGlaWebgpuKernels();
    registerSumBlocksWebgpuKernel();
    // the chunkwise forms of the same recurrence (T ≥ 64; gated_recurrence/index.ts picks)
    registerGlaChunkWebgpuKernels();
  },
  conv: registerCausalConvWebgpuKernels,
  norm: registerNormWebgpuKernels,
  rwkv4: registerRwkv4WebgpuKernels,
  scan: registerSelectiveScanWebgpuKernels,
  embedding: registerSegmentSumWebgpuKernel,
  // softmax cross-entropy over the vocabulary: one kernel forward, one backward
  xent: registerCrossEntropyWebgpuKernels,
  // tiled matrix products (BatchMatMul) with split-K for long K; tfjs's own kernels for the rest
  matmul: registerMatmulWebgpuKernel,
};

/**
 * Families named in METALA_NO_FUSED (comma-separated, or `all`): for measuring what a fused kernel
 * buys on a GPU, or ruling one out when a result looks wrong. Unknown names are an error.
 */
export function disabledFamilies(value = process.env['METALA_NO_FUSED'] ?? ''): Set<string> {
  const names = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (names.includes('all')) return new Set(Object.keys(FAMILIES));
  const unknown = names.filter((n) => !(n in FAMILIES));
  if (unknown.length > 0) throw new MetalaError(`METALA_NO_FUSED: unknown kernel family '${unknown.join("', '")}'. Use a comma-separated list of ${Object.keys(FAMILIES).join(', ')}, or all`);
  return new Set(names);
}

/** Called once the webgpu backend is up (src/backend/webgpu.ts). */
export function registerWebgpuKernels(): void {
  const off = disabledFamilies();
  for (const [name, register] of Object.entries(FAMILIES)) if (!off.has(name)) register();
}
