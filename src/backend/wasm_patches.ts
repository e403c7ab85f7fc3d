// Kernels registered on top of tfjs-backend-wasm 4.22 (tfjs-in-node.md §2.4):
//  1. CPU fallbacks for kernels wasm lacks (embedding grad, conv weight grads, einsum);
//  2. an O(N·D) UnsortedSegmentSum (the cpu kernel is O(segments·N·D): 87% of a step);
//  3. BatchMatMul with transposeA/B materialises the transpose first (wasm's transposed path
//     runs at ~1.5 GFLOP/s against ~20 without, and every matMul gradient transposes);
//  4. Transpose of rank ≥ 5 in JS (wasm's own is ~25× slower than its rank-4 path).
import * as tf from '@tensorflow/tfjs';
import type { KernelConfig, KernelFunc, TensorInfo, NamedTensorInfoMap, DataType } from '@tensorflow/tfjs';

const MISSING_ON_WASM = [
  'Conv2DBackpropFilter',
  'DepthwiseConv2dNativeBackpropFilter',
  'DepthwiseConv2dNativeBackpropInput',
  'Einsum',
];

// The wasm backend's methods we use; its class is not exported with types we can import cheaply.
interface WasmLike {
  readSync(dataId: object): ArrayLike<number>;
  makeOutput(shape: number[], dtype: DataType, memoryOffset?: number, values?: ArrayLike<number>): TensorInfo;
  disposeData(dataId: object, force?: boolean): boolean;
}
interface CpuLike {
  readSync(dataId: object): ArrayLike<number>;
  write(values: ArrayLike<number>, shape: number[], dtype: DataType): object;
  disposeData(dataId: object, force?: boolean): boolean;
}

function copyToCpu(cpu: CpuLike, wasm: WasmLike, t: TensorInfo): TensorInfo {
  const values = wasm.readSync(t.dataId);
  const data = values instanceof Float32Array || values instanceof Int32Array ? values.slice() : Array.from(values);
  return { dataId: cpu.write(data as Float32Array, t.shape, t.dtype), shape: t.shape, dtype: t.dtype };
}

function registerCpuFallbacks(): void {
  for (const kernelName of MISSING_ON_WASM) {
    const cpuKernel = tf.getKernel(kernelName, 'cpu');
    if (cpuKernel === undefined || tf.getKernel(kernelName, 'wasm') !== undefined) continue;
    const kernelFunc: KernelFunc = ({ inputs, attrs, backend }) => {
      const wasm = backend as unknown as WasmLike;
      const cpu = tf.engine().findBackend('cpu') as unknown as CpuLike;
      const cpuInputs: NamedTensorInfoMap = {};
      for (const [name, t] of Object.entries(inputs)) if (t !== undefined) cpuInputs[name] = copyToCpu(cpu, wasm, t);
      const result = cpuKernel.kernelFunc({ inputs: cpuInputs, attrs, backend: cpu as never });
      const back = (o: TensorInfo): TensorInfo => {
        const out = wasm.makeOutput(o.shape, o.dtype, undefined, cpu.readSync(o.dataId));
        cpu.disposeData(o.dataId, true);
        return out;
      };
      const outs = Array.isArray(result) ? result.map(back) : back(result);
      for (const t of Object.values(cpuInputs)) if (t !== undefined) cpu.disposeData(t.dataId, true);
      return outs;
    };
    tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc });
  }
}

/** UnsortedSegmentSum as one pass over the rows: out[seg[i]] += x[i]. Registered for wasm and cpu. */
export function registerFastSegmentSum(backendName: 'wasm' | 'cpu'): void {
  if (tf.getKernel('UnsortedSegmentSum', backendName) !== undefined) tf.unregisterKernel('UnsortedSegmentSum', backendName);
  const kernelFunc: KernelFunc = ({ inputs, attrs, backend }) => {
    const x = inputs['x']!;
    const segmentIds = inputs['segmentIds']!;
    const numSegments = (attrs as { numSegments: number }).numSegments;
    const b = backend as unknown as WasmLike & CpuLike;
    const xv = b.readSync(x.dataId);
    const ids = b.readSync(segmentIds.dataId);
    const inner = x.shape.slice(segmentIds.shape.length).reduce((p, q) => p * q, 1);
    const out = new Float32Array(numSegments * inner);
    for (let i = 0; i < ids.length; i++) {
      const s = ids[i]!;
      if (s < 0 || s >= numSegments) continue;
      const o = s * inner;
      const xo = i * inner;
      for (let j = 0; j < inner; j++) out[o + j]! += xv[xo + j]!;
    }
    const shape = [numSegments, ...x.shape.slice(segmentIds.shape.length)];
    if (backendName === 'wasm') return b.makeOutput(shape, x.dtype, undefined, out);
    return { dataId: b.write(out, shape, x.dtype), shape, dtype: x.dtype };
  };
  tf.registerKernel({ kernelName: 'UnsortedSegmentSum', backendName, kernelFunc });
}

function patchMatMulTranspose(): void {
  const orig = tf.getKernel('BatchMatMul', 'wasm');
  const transpose = tf.getKernel('Transpose', 'wasm');
  if (orig === undefined || transpose === undefined) return;
  if ((orig as KernelConfig & { metalaPatched?: boolean }).metalaPatched === true) return;
  tf.unregisterKernel('BatchMatMul', 'wasm');
  const kernelFunc: KernelFunc = (args) => {
    const { inputs, attrs, backend } = args;
    const a0 = attrs as { transposeA: boolean; transposeB: boolean };
    if (!a0.transposeA && !a0.transposeB) return orig.kernelFunc(args);
    const temps: TensorInfo[] = [];
    const materialise = (t: TensorInfo): TensorInfo => {
      const r = t.shape.length;
      const perm = [...Array(r - 2).keys(), r - 1, r - 2];
      const out = transpose.kernelFunc({ inputs: { x: t }, attrs: { perm }, backend }) as TensorInfo;
      temps.push(out);
      return out;
    };
    const a = a0.transposeA ? materialise(inputs['a']!) : inputs['a']!;
    const b = a0.transposeB ? materialise(inputs['b']!) : inputs['b']!;
    const res = orig.kernelFunc({ inputs: { ...inputs, a, b }, attrs: { ...attrs, transposeA: false, transposeB: false }, backend });
    for (const t of temps) (backend as unknown as WasmLike).disposeData(t.dataId);
    return res;
  };
  tf.registerKernel({ ...orig, kernelFunc, metalaPatched: true } as KernelConfig);
}

/**
 * Transpose of rank ≥ 5 in a tight JS loop. tfjs-backend-wasm handles rank ≤ 4 natively (~0.8 ms
 * for 131 K floats) but takes a ~25× slower generic path above that (measured 23 ms), and the
 * chunked recurrences and their gradients move [B, N, C, H, D] tensors around on every step.
 */
function patchHighRankTranspose(): void {
  const orig = tf.getKernel('Transpose', 'wasm');
  if (orig === undefined || (orig as KernelConfig & { metalaPatched?: boolean }).metalaPatched === true) return;
  tf.unregisterKernel('Transpose', 'wasm');
  const kernelFunc: KernelFunc = (args) => {
    const x = args.inputs['x']!;
    const perm = (args.attrs as { perm: number[] }).perm;
    if (x.shape.length < 5 || x.dtype !== 'float32') return orig.kernelFunc(args);
    const wasm = args.backend as unknown as WasmLike;
    const src = wasm.readSync(x.dataId) as Float32Array;
    const rank = x.shape.length;
    const outShape = perm.map((p) => x.shape[p]!);
    const inStrides = new Array<number>(rank).fill(1);
    for (let i = rank - 2; i >= 0; i--) inStrides[i] = inStrides[i + 1]! * x.shape[i + 1]!;
    // Output axis a walks input stride inStrides[perm[a]].
    const st = perm.map((p) => inStrides[p]!);
    const out = new Float32Array(src.length);
    const [d0, d1, d2, d3] = outShape as [number, number, number, number];
    const [s0, s1, s2, s3] = st as [number, number, number, number];
    // Collapse axes 4.. into a contiguous-output inner loop.
    const innerShape = outShape.slice(4);
    const innerStride = st.slice(4);
    const inner = innerShape.reduce((a, b) => a * b, 1);
    const innerOffsets = new Int32Array(inner);
    for (let i = 0; i < inner; i++) {
      let rem = i;
      let off = 0;
      for (let a = innerShape.length - 1; a >= 0; a--) {
        off += (rem % innerShape[a]!) * innerStride[a]!;
        rem = Math.floor(rem / innerShape[a]!);
      }
      innerOffsets[i] = off;
    }
    let o = 0;
    for (let i0 = 0; i0 < d0; i0++)
      for (let i1 = 0; i1 < d1; i1++)
        for (let i2 = 0; i2 < d2; i2++)
          for (let i3 = 0; i3 < d3; i3++) {
            const base = i0 * s0 + i1 * s1 + i2 * s2 + i3 * s3;
            for (let j = 0; j < inner; j++) out[o++] = src[base + innerOffsets[j]!]!;
          }
    return wasm.makeOutput(outShape, 'float32', undefined, out);
  };
  tf.registerKernel({ ...orig, kernelFunc, metalaPatched: true } as KernelConfig);
}

let applied = false;
/** Idempotent; call after the wasm backend is registered (it needs the cpu backend too). */
export function applyWasmPatches(): void {
  if (applied) return;
  applied = true;
  registerCpuFallbacks();
  registerFastSegmentSum('wasm');
  patchHighRankTranspose();
  patchMatMulTranspose();
}
