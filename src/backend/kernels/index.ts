// The one place where backend-specific kernels are registered (issue #4: models run unchanged on
// every backend; a kernel registered here only changes which form an op picks by default).
import { registerCausalConvWebgpuKernels } from './causal_conv_webgpu.js';
import { registerGlaWebgpuKernels } from './gla_webgpu.js';
import { registerNormWebgpuKernels } from './norm_webgpu.js';
import { registerRwkv4WebgpuKernels } from './rwkv4_webgpu.js';
import { registerSelectiveScanWebgpuKernels } from './selective_scan_webgpu.js';
import { registerSegmentSumWebgpuKernel } from './segment_sum_webgpu.js';
import { registerSumBlocksWebgpuKernel } from './sum_blocks_webgpu.js';

/** Called once the webgpu backend is up (src/backend/webgpu.ts). */
export function registerWebgpuKernels(): void {
  registerGlaWebgpuKernels();
  registerCausalConvWebgpuKernels();
  registerNormWebgpuKernels();
  registerRwkv4WebgpuKernels();
  registerSelectiveScanWebgpuKernels();
  registerSegmentSumWebgpuKernel();
  registerSumBlocksWebgpuKernel();
}
