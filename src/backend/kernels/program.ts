// What metala's WGSL kernels share: the program shape tfjs-backend-webgpu runs (its WebGPUProgram
// interface is not exported), and the call into the backend.
import * as tf from '@tensorflow/tfjs';

/**
 * A flat-dispatch program: one f32 output named `result`, inputs bound read-only under
 * `variableNames`, `fn main(index : i32)` called once per invocation. Sizes are baked into the
 * source (and the shader key), so one pipeline is compiled per shape.
 */
export abstract class FlatProgram {
  readonly outputShape: number[];
  readonly dispatchLayout = { x: [0] };
  readonly dispatch: [number, number, number];
  readonly workgroupSize: [number, number, number];
  readonly size = false;
  abstract readonly variableNames: string[];
  abstract readonly shaderKey: string;

  /** `out`: the output's shape, or its size for a flat output. */
  constructor(out: number | number[], threads: number, workgroup = 64) {
    this.outputShape = typeof out === 'number' ? [out] : out;
    this.workgroupSize = [workgroup, 1, 1];
    this.dispatch = [Math.ceil(threads / workgroup), 1, 1];
  }

  /** WGSL of `main` and its constants. */
  protected abstract body(): string;

  getUserCode(): string {
    // tfjs binds its uniform buffer to every program; a layout: 'auto' pipeline keeps only the
    // bindings the shader uses, so every main starts with guard(index), which touches it on a
    // branch that never runs (index ≥ 0).
    return `fn guard(index : i32) { if (index < 0) { result[0] = uniforms.NAN; } }\n${this.body()}`;
  }
}

/** A WGSL float literal that always parses (e.g. `1` → `1.0`, `1e-7` stays). */
export function f32(x: number): string {
  const s = String(x);
  return /[.eE]/.test(s) ? s : `${s}.0`;
}

/**
 * Most threads per launch of an elementwise-style kernel, whose threads then stride over the
 * elements: WebGPU allows at most 65,535 workgroups per dimension (MQAR's d 128, B 256, T 256
 * activation has 8.4M elements).
 */
export const MAX_THREADS = 1 << 20;

interface WebgpuBackendLike {
  runWebGPUProgram(program: FlatProgram, inputs: tf.TensorInfo[], dtype: 'float32'): tf.TensorInfo;
}

/** Runs `program` on the webgpu backend object a kernelFunc receives. */
export function runProgram(backend: unknown, program: FlatProgram, inputs: tf.TensorInfo[]): tf.TensorInfo {
  return (backend as WebgpuBackendLike).runWebGPUProgram(program, inputs, 'float32');
}

/**
 * Registers a webgpu kernel whose kernelFunc runs one FlatProgram (idempotent: a second call, e.g.
 * from a second initBackend, keeps the first registration).
 */
export function registerFlatKernel(
  kernelName: string,
  program: (inputs: Record<string, tf.TensorInfo>, attrs: Record<string, unknown>) => { program: FlatProgram; inputs: tf.TensorInfo[] },
): void {
  if (tf.getKernel(kernelName, 'webgpu') !== undefined) return;
  tf.registerKernel({
    kernelName,
    backendName: 'webgpu',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const r = program(inputs as Record<string, tf.TensorInfo>, attrs as unknown as Record<string, unknown>);
      return runProgram(backend, r.program, r.inputs);
    },
  });
}
