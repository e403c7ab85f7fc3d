// The registration list of our webgpu kernels (issue #4: models run unchanged on every backend; a
// registered kernel only changes which form an op picks by default). The kernels themselves live
// beside what uses them (ops/<op>/webgpu*.ts, layers/*_webgpu.ts, train/cross_entropy_webgpu.ts);
// each module adds its register function to its family here when it is imported, so this lower
// layer names the families without importing the modules above it. The tiled matmul, which
// replaces tfjs's own BatchMatMul kernel rather than serving one of our ops, lives here.
import * as tf from '@tensorflow/tfjs';
import { MetalaError } from '../../util/errors.js';
import { registerMatmulWebgpuKernel } from './matmul_webgpu.js';
import { registerSumBlocksWebgpuKernel } from './sum_blocks_webgpu.js';

/** The fused kernel families; each can be left out with METALA_NO_FUSED (the tfjs-op forms run instead). */
export const KERNEL_FAMILIES = [
  // the gated recurrence (MetaLA, GLA, RetNet, Based, …): sequential and chunkwise kernels, and the
  // block-sum kernel they reduce with (ops/gated_recurrence/webgpu_*.ts)
  'gla',
  // short causal convolution (layers/short_conv_webgpu.ts)
  'conv',
  // weightless RMSNorm / LayerNorm (layers/norm_webgpu.ts)
  'norm',
  // RWKV-4 WKV (ops/rwkv4/webgpu.ts)
  'rwkv4',
  // Mamba's selective scan (ops/selective_scan/webgpu.ts)
  'scan',
  // the embedding gradient as a sorted segment sum (layers/embedding_webgpu.ts)
  'embedding',
  // softmax cross-entropy over the vocabulary: one kernel forward, one backward (train/cross_entropy_webgpu.ts)
  'xent',
  // tiled matrix products (BatchMatMul) with split-K for long K; tfjs's own kernels for the rest
  'matmul',
  // seeded dropout: the mask hashed on the GPU from the step's seed (layers/dropout_webgpu.ts)
  'dropout',
  // the optimizer's gradient norm: per-row sums of squares in two stages, many workgroups per row
  // (train/sum_squares_webgpu.ts)
  'gradnorm',
  // SiLU and the SiLU gate x ⊙ SiLU(g): one kernel forward, one or two backward (layers/silu_webgpu.ts)
  'silu',
] as const;
export type KernelFamily = (typeof KERNEL_FAMILIES)[number];

const registrants = new Map<KernelFamily, Array<() => void>>(KERNEL_FAMILIES.map((f) => [f, []]));
/** Families enabled when the webgpu backend came up; undefined before (or on other backends). */
let enabled: Set<KernelFamily> | undefined;

/**
 * Adds a kernel module's register function to `family`. Called at module load; the function runs
 * when the webgpu backend comes up, or at once when it is already up (the register functions are
 * idempotent).
 */
export function defineKernelFamily(family: KernelFamily, register: () => void): void {
  registrants.get(family)!.push(register);
  if (enabled?.has(family)) register();
}

defineKernelFamily('gla', registerSumBlocksWebgpuKernel);
defineKernelFamily('matmul', registerMatmulWebgpuKernel);

/**
 * Families named in METALA_NO_FUSED (comma-separated, or `all`): for measuring what a fused kernel
 * buys on a GPU, or ruling one out when a result looks wrong. Unknown names are an error.
 */
export function disabledFamilies(value = process.env['METALA_NO_FUSED'] ?? ''): Set<string> {
  const names = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (names.includes('all')) return new Set(KERNEL_FAMILIES);
  const unknown = names.filter((n) => !(KERNEL_FAMILIES as readonly string[]).includes(n));
  if (unknown.length > 0) throw new MetalaError(`METALA_NO_FUSED: unknown kernel family '${unknown.join("', '")}'. Use a comma-separated list of ${KERNEL_FAMILIES.join(', ')}, or all`);
  return new Set(names);
}

/** Called once the webgpu backend is up (src/backend/webgpu.ts). */
export function registerWebgpuKernels(): void {
  const off = disabledFamilies();
  enabled = new Set(KERNEL_FAMILIES.filter((f) => !off.has(f)));
  for (const f of enabled) for (const register of registrants.get(f)!) register();
}

/** Whether `kernelName` is registered for the current backend: the fused form of an op runs only there. */
export function kernelOnBackend(kernelName: string): boolean {
  const b = tf.getBackend();
  return b !== undefined && tf.getKernel(kernelName, b) !== undefined;
}
