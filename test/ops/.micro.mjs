var __defProp = Object.defineProperty;
var __getOwnPropNames = Object.getOwnPropertyNames;
var __esm = (fn, res) => function __init() {
  return fn && (res = (0, fn[__getOwnPropNames(fn)[0]])(fn = 0)), res;
};
var __export = (target, all) => {
  for (var name in all)
    __defProp(target, name, { get: all[name], enumerable: true });
};

// src/util/errors.ts
var EXIT_USAGE, MetalaError;
var init_errors = __esm({
  "src/util/errors.ts"() {
    "use strict";
    EXIT_USAGE = 2;
    MetalaError = class extends Error {
      exitCode;
      constructor(message, exitCode = EXIT_USAGE) {
        super(message);
        this.name = "MetalaError";
        this.exitCode = exitCode;
      }
    };
  }
});

// src/backend/wasm_patches.ts
var wasm_patches_exports = {};
__export(wasm_patches_exports, {
  applyWasmPatches: () => applyWasmPatches,
  registerFastSegmentSum: () => registerFastSegmentSum
});
import * as tf from "@tensorflow/tfjs";
function copyToCpu(cpu, wasm, t2) {
  const values = wasm.readSync(t2.dataId);
  const data = values instanceof Float32Array || values instanceof Int32Array ? values.slice() : Array.from(values);
  return { dataId: cpu.write(data, t2.shape, t2.dtype), shape: t2.shape, dtype: t2.dtype };
}
function registerCpuFallbacks() {
  for (const kernelName of MISSING_ON_WASM) {
    const cpuKernel = tf.getKernel(kernelName, "cpu");
    if (cpuKernel === void 0 || tf.getKernel(kernelName, "wasm") !== void 0) continue;
    const kernelFunc = ({ inputs, attrs, backend }) => {
      const wasm = backend;
      const cpu = tf.engine().findBackend("cpu");
      const cpuInputs = {};
      for (const [name, t2] of Object.entries(inputs)) if (t2 !== void 0) cpuInputs[name] = copyToCpu(cpu, wasm, t2);
      const result = cpuKernel.kernelFunc({ inputs: cpuInputs, attrs, backend: cpu });
      const back = (o) => {
        const out = wasm.makeOutput(o.shape, o.dtype, void 0, cpu.readSync(o.dataId));
        cpu.disposeData(o.dataId, true);
        return out;
      };
      const outs = Array.isArray(result) ? result.map(back) : back(result);
      for (const t2 of Object.values(cpuInputs)) if (t2 !== void 0) cpu.disposeData(t2.dataId, true);
      return outs;
    };
    tf.registerKernel({ kernelName, backendName: "wasm", kernelFunc });
  }
}
function registerFastSegmentSum(backendName) {
  if (tf.getKernel("UnsortedSegmentSum", backendName) !== void 0) tf.unregisterKernel("UnsortedSegmentSum", backendName);
  const kernelFunc = ({ inputs, attrs, backend }) => {
    const x = inputs["x"];
    const segmentIds = inputs["segmentIds"];
    const numSegments = attrs.numSegments;
    const b = backend;
    const xv = b.readSync(x.dataId);
    const ids = b.readSync(segmentIds.dataId);
    const inner = x.shape.slice(segmentIds.shape.length).reduce((p, q) => p * q, 1);
    const out = new Float32Array(numSegments * inner);
    for (let i = 0; i < ids.length; i++) {
      const s = ids[i];
      if (s < 0 || s >= numSegments) continue;
      const o = s * inner;
      const xo = i * inner;
      for (let j = 0; j < inner; j++) out[o + j] += xv[xo + j];
    }
    const shape = [numSegments, ...x.shape.slice(segmentIds.shape.length)];
    if (backendName === "wasm") return b.makeOutput(shape, x.dtype, void 0, out);
    return { dataId: b.write(out, shape, x.dtype), shape, dtype: x.dtype };
  };
  tf.registerKernel({ kernelName: "UnsortedSegmentSum", backendName, kernelFunc });
}
function patchMatMulTranspose() {
  const orig = tf.getKernel("BatchMatMul", "wasm");
  const transpose2 = tf.getKernel("Transpose", "wasm");
  if (orig === void 0 || transpose2 === void 0) return;
  if (orig.metalaPatched === true) return;
  tf.unregisterKernel("BatchMatMul", "wasm");
  const kernelFunc = (args) => {
    const { inputs, attrs, backend } = args;
    const a02 = attrs;
    if (!a02.transposeA && !a02.transposeB) return orig.kernelFunc(args);
    const temps = [];
    const materialise = (t2) => {
      const r = t2.shape.length;
      const perm = [...Array(r - 2).keys(), r - 1, r - 2];
      const out = transpose2.kernelFunc({ inputs: { x: t2 }, attrs: { perm }, backend });
      temps.push(out);
      return out;
    };
    const a = a02.transposeA ? materialise(inputs["a"]) : inputs["a"];
    const b = a02.transposeB ? materialise(inputs["b"]) : inputs["b"];
    const res = orig.kernelFunc({ inputs: { ...inputs, a, b }, attrs: { ...attrs, transposeA: false, transposeB: false }, backend });
    for (const t2 of temps) backend.disposeData(t2.dataId);
    return res;
  };
  tf.registerKernel({ ...orig, kernelFunc, metalaPatched: true });
}
function applyWasmPatches() {
  if (applied) return;
  applied = true;
  registerCpuFallbacks();
  registerFastSegmentSum("wasm");
  patchMatMulTranspose();
}
var MISSING_ON_WASM, applied;
var init_wasm_patches = __esm({
  "src/backend/wasm_patches.ts"() {
    "use strict";
    MISSING_ON_WASM = [
      "Conv2DBackpropFilter",
      "DepthwiseConv2dNativeBackpropFilter",
      "DepthwiseConv2dNativeBackpropInput",
      "Einsum"
    ];
    applied = false;
  }
});

// src/backend/webgpu.ts
var webgpu_exports = {};
__export(webgpu_exports, {
  initWebgpu: () => initWebgpu,
  shutdownWebgpu: () => shutdownWebgpu
});
import * as tf2 from "@tensorflow/tfjs";
import { createRequire } from "node:module";
async function loadDawn() {
  const explicit = process.env["METALA_DAWN_NODE"];
  try {
    if (explicit !== void 0 && explicit !== "") {
      const req = createRequire(import.meta.url ?? __filename);
      return { dawn: req(explicit) };
    }
    const pkg = "webgpu";
    return { dawn: await import(pkg) };
  } catch (e2) {
    return { why: `${explicit ?? "the 'webgpu' package"} could not be loaded (${e2.message.split("\n")[0]})` };
  }
}
function adapterName(a) {
  const i = a.info ?? {};
  return [i.vendor, i.description || i.device, i.architecture].filter((s) => s !== void 0 && s !== "").join(" / ") || "unknown GPU";
}
async function initWebgpu(opts) {
  const { dawn, why } = await loadDawn();
  if (dawn === void 0) {
    if (!opts.required) return void 0;
    throw new MetalaError(`backend webgpu unavailable: ${why}. Install the optional 'webgpu' package (npm install webgpu) or set METALA_DAWN_NODE to dawn.node; or use --backend wasm`);
  }
  Object.assign(globalThis, dawn.globals);
  const flags = (process.env["METALA_DAWN_FLAGS"] ?? "").split(" ").filter((f) => f !== "");
  const gpu = dawn.create(flags);
  let adapter = null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  } catch (e2) {
    if (opts.required) throw new MetalaError(`backend webgpu: requestAdapter failed (${e2.message}). Check the Vulkan driver (VK_DRIVER_FILES), or use --backend wasm`);
  }
  if (adapter === null) {
    if (!opts.required) return void 0;
    throw new MetalaError("backend webgpu: no GPU adapter found (no Vulkan device visible to Dawn). Use --backend wasm, or check the GPU driver and VK_DRIVER_FILES");
  }
  globalThis.navigator = { gpu, userAgent: "node" };
  navigatorSet = true;
  await import("@tensorflow/tfjs-backend-webgpu");
  const ok = await tf2.setBackend("webgpu");
  if (!ok) throw new MetalaError("backend webgpu failed to initialise. Use --backend wasm");
  await tf2.ready();
  return { backend: "webgpu", device: adapterName(adapter) };
}
function shutdownWebgpu() {
  if (navigatorSet) delete globalThis.navigator;
}
var navigatorSet;
var init_webgpu = __esm({
  "src/backend/webgpu.ts"() {
    "use strict";
    init_errors();
    navigatorSet = false;
  }
});

// test/ops/.micro.ts
import * as tf4 from "@tensorflow/tfjs";

// src/backend/index.ts
init_errors();
import * as tf3 from "@tensorflow/tfjs";
var current;
async function cpuModel() {
  const os = await import("node:os");
  const cpus = os.cpus();
  return `${cpus[0]?.model.trim() ?? "cpu"} (${cpus.length} cores)`;
}
async function initWasm() {
  const wasm = await import("@tensorflow/tfjs-backend-wasm");
  const wasmDir = process.env["METALA_WASM_DIR"];
  if (wasmDir !== void 0 && wasmDir !== "") wasm.setWasmPaths(wasmDir.endsWith("/") ? wasmDir : `${wasmDir}/`);
  const { applyWasmPatches: applyWasmPatches2, registerFastSegmentSum: registerFastSegmentSum2 } = await Promise.resolve().then(() => (init_wasm_patches(), wasm_patches_exports));
  if (!await tf3.setBackend("wasm")) throw new MetalaError("backend wasm failed to initialise. Use --backend cpu");
  await tf3.ready();
  applyWasmPatches2();
  registerFastSegmentSum2("cpu");
  return { backend: "wasm", device: await cpuModel() };
}
async function initCpu() {
  const { registerFastSegmentSum: registerFastSegmentSum2 } = await Promise.resolve().then(() => (init_wasm_patches(), wasm_patches_exports));
  await tf3.setBackend("cpu");
  await tf3.ready();
  registerFastSegmentSum2("cpu");
  return { backend: "cpu", device: await cpuModel() };
}
async function initTensorflow() {
  const tried = [];
  for (const pkg of ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"]) {
    try {
      await import(pkg);
      await tf3.setBackend("tensorflow");
      await tf3.ready();
      return { backend: "tensorflow", device: pkg };
    } catch (e2) {
      tried.push(`${pkg}: ${e2.message.split("\n")[0]}`);
    }
  }
  throw new MetalaError(
    `backend 'tensorflow' unavailable (${tried.join("; ")}). Install @tensorflow/tfjs-node-gpu where libtensorflow can be downloaded, or use --backend webgpu|wasm`
  );
}
async function initBackend(name = "auto") {
  if (current !== void 0) {
    if (name === "auto" || name === current.backend) return current;
    throw new MetalaError(`backend already initialised as '${current.backend}'; cannot switch to '${name}' in one process`);
  }
  let info;
  switch (name) {
    case "wasm":
      info = await initWasm();
      break;
    case "cpu":
      info = await initCpu();
      break;
    case "tensorflow":
      info = await initTensorflow();
      break;
    case "webgpu": {
      const { initWebgpu: initWebgpu2 } = await Promise.resolve().then(() => (init_webgpu(), webgpu_exports));
      const gpu = await initWebgpu2({ required: true });
      if (gpu === void 0) throw new MetalaError("backend webgpu: no GPU adapter found. Use --backend wasm");
      info = gpu;
      break;
    }
    case "auto": {
      const { initWebgpu: initWebgpu2 } = await Promise.resolve().then(() => (init_webgpu(), webgpu_exports));
      const gpu = process.env["METALA_NO_GPU"] === "1" ? void 0 : await initWebgpu2({ required: false });
      info = gpu ?? await initWasm();
      break;
    }
  }
  current = info;
  return info;
}

// test/ops/.micro.ts
await initBackend("wasm");
var t = (name, f) => {
  for (let w = 0; w < 2; w++) tf4.dispose(f());
  const t0 = performance.now();
  for (let i = 0; i < 10; i++) {
    const r = f();
    const a = Array.isArray(r) ? r : [r];
    a[a.length - 1].dataSync();
    tf4.dispose(r);
  }
  console.log(name.padEnd(30), ((performance.now() - t0) / 10).toFixed(2), "ms");
};
var a0 = tf4.randomNormal([32, 8, 32, 64]);
var a1 = tf4.randomNormal([8, 32, 32, 64]);
t("unstack axis0", () => tf4.unstack(a0, 0));
t("unstack axis1", () => tf4.unstack(a1, 1));
var x5 = tf4.randomNormal([4, 32, 16, 2, 32]);
t("transpose [0,3,1,2,4]", () => tf4.transpose(x5, [0, 3, 1, 2, 4]));
t("transpose [1,0,3,2,4]", () => tf4.transpose(x5, [1, 0, 3, 2, 4]));
var e = tf4.randomNormal([256, 16, 16, 32]);
t("exp 2M", () => tf4.exp(e));
t("mul 2M", () => tf4.mul(e, e));
var kk = tf4.randomNormal([4096, 16, 32]);
var qq = tf4.randomNormal([4096, 32, 1]);
t("matvec batched 4096x16x32", () => tf4.matMul(kk, qq));
