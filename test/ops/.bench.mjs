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
function copyToCpu(cpu, wasm, t) {
  const values = wasm.readSync(t.dataId);
  const data = values instanceof Float32Array || values instanceof Int32Array ? values.slice() : Array.from(values);
  return { dataId: cpu.write(data, t.shape, t.dtype), shape: t.shape, dtype: t.dtype };
}
function registerCpuFallbacks() {
  for (const kernelName of MISSING_ON_WASM) {
    const cpuKernel = tf.getKernel(kernelName, "cpu");
    if (cpuKernel === void 0 || tf.getKernel(kernelName, "wasm") !== void 0) continue;
    const kernelFunc = ({ inputs, attrs, backend: backend2 }) => {
      const wasm = backend2;
      const cpu = tf.engine().findBackend("cpu");
      const cpuInputs = {};
      for (const [name, t] of Object.entries(inputs)) if (t !== void 0) cpuInputs[name] = copyToCpu(cpu, wasm, t);
      const result = cpuKernel.kernelFunc({ inputs: cpuInputs, attrs, backend: cpu });
      const back = (o) => {
        const out = wasm.makeOutput(o.shape, o.dtype, void 0, cpu.readSync(o.dataId));
        cpu.disposeData(o.dataId, true);
        return out;
      };
      const outs = Array.isArray(result) ? result.map(back) : back(result);
      for (const t of Object.values(cpuInputs)) if (t !== void 0) cpu.disposeData(t.dataId, true);
      return outs;
    };
    tf.registerKernel({ kernelName, backendName: "wasm", kernelFunc });
  }
}
function registerFastSegmentSum(backendName) {
  if (tf.getKernel("UnsortedSegmentSum", backendName) !== void 0) tf.unregisterKernel("UnsortedSegmentSum", backendName);
  const kernelFunc = ({ inputs, attrs, backend: backend2 }) => {
    const x2 = inputs["x"];
    const segmentIds = inputs["segmentIds"];
    const numSegments = attrs.numSegments;
    const b = backend2;
    const xv = b.readSync(x2.dataId);
    const ids = b.readSync(segmentIds.dataId);
    const inner = x2.shape.slice(segmentIds.shape.length).reduce((p, q2) => p * q2, 1);
    const out = new Float32Array(numSegments * inner);
    for (let i = 0; i < ids.length; i++) {
      const s = ids[i];
      if (s < 0 || s >= numSegments) continue;
      const o = s * inner;
      const xo = i * inner;
      for (let j = 0; j < inner; j++) out[o + j] += xv[xo + j];
    }
    const shape = [numSegments, ...x2.shape.slice(segmentIds.shape.length)];
    if (backendName === "wasm") return b.makeOutput(shape, x2.dtype, void 0, out);
    return { dataId: b.write(out, shape, x2.dtype), shape, dtype: x2.dtype };
  };
  tf.registerKernel({ kernelName: "UnsortedSegmentSum", backendName, kernelFunc });
}
function patchMatMulTranspose() {
  const orig = tf.getKernel("BatchMatMul", "wasm");
  const transpose6 = tf.getKernel("Transpose", "wasm");
  if (orig === void 0 || transpose6 === void 0) return;
  if (orig.metalaPatched === true) return;
  tf.unregisterKernel("BatchMatMul", "wasm");
  const kernelFunc = (args) => {
    const { inputs, attrs, backend: backend2 } = args;
    const a0 = attrs;
    if (!a0.transposeA && !a0.transposeB) return orig.kernelFunc(args);
    const temps = [];
    const materialise = (t) => {
      const r = t.shape.length;
      const perm = [...Array(r - 2).keys(), r - 1, r - 2];
      const out = transpose6.kernelFunc({ inputs: { x: t }, attrs: { perm }, backend: backend2 });
      temps.push(out);
      return out;
    };
    const a = a0.transposeA ? materialise(inputs["a"]) : inputs["a"];
    const b = a0.transposeB ? materialise(inputs["b"]) : inputs["b"];
    const res = orig.kernelFunc({ inputs: { ...inputs, a, b }, attrs: { ...attrs, transposeA: false, transposeB: false }, backend: backend2 });
    for (const t of temps) backend2.disposeData(t.dataId);
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
  } catch (e) {
    return { why: `${explicit ?? "the 'webgpu' package"} could not be loaded (${e.message.split("\n")[0]})` };
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
  } catch (e) {
    if (opts.required) throw new MetalaError(`backend webgpu: requestAdapter failed (${e.message}). Check the Vulkan driver (VK_DRIVER_FILES), or use --backend wasm`);
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

// test/ops/bench.ts
import * as tf18 from "@tensorflow/tfjs";

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
    } catch (e) {
      tried.push(`${pkg}: ${e.message.split("\n")[0]}`);
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
  let info2;
  switch (name) {
    case "wasm":
      info2 = await initWasm();
      break;
    case "cpu":
      info2 = await initCpu();
      break;
    case "tensorflow":
      info2 = await initTensorflow();
      break;
    case "webgpu": {
      const { initWebgpu: initWebgpu2 } = await Promise.resolve().then(() => (init_webgpu(), webgpu_exports));
      const gpu = await initWebgpu2({ required: true });
      if (gpu === void 0) throw new MetalaError("backend webgpu: no GPU adapter found. Use --backend wasm");
      info2 = gpu;
      break;
    }
    case "auto": {
      const { initWebgpu: initWebgpu2 } = await Promise.resolve().then(() => (init_webgpu(), webgpu_exports));
      const gpu = process.env["METALA_NO_GPU"] === "1" ? void 0 : await initWebgpu2({ required: false });
      info2 = gpu ?? await initWasm();
      break;
    }
  }
  current = info2;
  return info2;
}
async function shutdownBackend() {
  if (current?.backend === "webgpu") {
    const { shutdownWebgpu: shutdownWebgpu2 } = await Promise.resolve().then(() => (init_webgpu(), webgpu_exports));
    shutdownWebgpu2();
  }
}

// src/ops/common/types.ts
var FORMS = ["naive", "parallel", "chunk"];

// src/ops/common/validate.ts
function expectShape(op, name, x2, want, layout) {
  const ok = x2.rank === want.length && want.every((w, i) => w === void 0 || x2.shape[i] === w);
  if (!ok) {
    const expected = want.map((w) => w === void 0 ? "?" : String(w)).join(",");
    throw new Error(`${op}: ${name} must be ${layout} = [${expected}], got [${x2.shape.join(",")}]`);
  }
  if (x2.dtype !== "float32") throw new Error(`${op}: ${name} must be float32, got ${x2.dtype}`);
}
function dims(op, name, x2, rank, layout) {
  if (x2.rank !== rank) throw new Error(`${op}: ${name} must be ${layout} (rank ${rank}), got [${x2.shape.join(",")}]`);
  if (x2.shape.some((d) => d === 0)) throw new Error(`${op}: ${name} has an empty axis: [${x2.shape.join(",")}]`);
  return x2.shape;
}
function resolveForm(op, form, t, long = "chunk") {
  if (form !== void 0 && !FORMS.includes(form)) throw new Error(`${op}: unknown form '${String(form)}' (naive | parallel | chunk)`);
  return form ?? (t > 1 ? long : "naive");
}
function resolveOptions(op, opts, keyDim, defaultChunk) {
  const chunkSize = opts.chunkSize ?? defaultChunk;
  if (!Number.isInteger(chunkSize) || chunkSize < 1) throw new Error(`${op}: chunkSize must be a positive integer, got ${chunkSize}`);
  const scale = opts.scale ?? keyDim ** -0.5;
  if (!Number.isFinite(scale)) throw new Error(`${op}: scale must be a finite number, got ${scale}`);
  return { scale, initialState: opts.initialState, chunkSize, wantState: opts.wantState ?? true };
}

// src/ops/delta_rule/chunk.ts
import * as tf6 from "@tensorflow/tfjs";

// src/ops/common/tensor.ts
import * as tf4 from "@tensorflow/tfjs";
var MASKED = -1e30;
function trilOnes(n, strict = false) {
  const a = new Float32Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < (strict ? i : i + 1); j++) a[i * n + j] = 1;
  return tf4.tensor2d(a, [n, n]);
}
function causalLogMask(n) {
  const a = new Float32Array(n * n);
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) a[i * n + j] = MASKED;
  return tf4.tensor2d(a, [n, n]);
}
function prefixSum(x2) {
  const [m, c] = x2.shape;
  return tf4.matMul(tf4.broadcastTo(trilOnes(c), [m, c, c]), x2);
}
function decayMatrixChannels(b) {
  const [m, c, f] = b.shape;
  const diff = tf4.sub(tf4.reshape(b, [m, c, 1, f]), tf4.reshape(b, [m, 1, c, f]));
  return tf4.exp(tf4.add(diff, tf4.reshape(causalLogMask(c), [1, c, c, 1])));
}
function decayMatrixScalar(b) {
  const [m, c] = b.shape;
  const diff = tf4.sub(b, tf4.reshape(b, [m, 1, c]));
  return tf4.exp(tf4.add(diff, tf4.reshape(causalLogMask(c), [1, c, c])));
}
function padTime(x2, tp) {
  const t = x2.shape[1] ?? 0;
  if (tp === t) return x2;
  const pads = x2.shape.map((_, i) => i === 1 ? [0, tp - t] : [0, 0]);
  return tf4.pad(x2, pads);
}
function toChunks(x2, c) {
  const [b, t, h, d] = x2.shape;
  const n = Math.ceil(t / c);
  const xc = tf4.reshape(padTime(x2, n * c), [b, n, c, h, d]);
  return tf4.reshape(tf4.transpose(xc, [1, 0, 3, 2, 4]), [n * b * h, c, d]);
}
function fromChunks(x2, b, h, t) {
  const [m, c, d] = x2.shape;
  const n = m / (b * h);
  const y = tf4.reshape(tf4.transpose(tf4.reshape(x2, [n, b, h, c, d]), [1, 0, 3, 2, 4]), [b, n * c, h, d]);
  return n * c === t ? y : tf4.slice(y, [0, 0, 0, 0], [b, t, h, d]);
}
function lastRow(x2) {
  const [m, c, f] = x2.shape;
  return tf4.slice(x2, [0, c - 1, 0], [m, 1, f]);
}
function expandLast(x2) {
  return tf4.expandDims(x2, 3);
}
var GROUP_ABOVE = 16;
function groupSizes(n) {
  const g2 = Math.ceil(Math.sqrt(n));
  const sizes = [];
  for (let s = 0; s < n; s += g2) sizes.push(Math.min(g2, n - s));
  return sizes;
}
function unstackSafe(x2, axis) {
  const n = x2.shape[axis] ?? 0;
  if (n === 1) return [tf4.squeeze(x2, [axis])];
  if (n <= GROUP_ABOVE) return tf4.unstack(x2, axis);
  return tf4.split(x2, groupSizes(n), axis).flatMap((part) => unstackSafe(part, axis));
}
function stackSafe(xs, axis) {
  if (xs.length === 1) return tf4.expandDims(xs[0], axis);
  if (xs.length <= GROUP_ABOVE) return tf4.stack(xs, axis);
  let at = 0;
  const groups = groupSizes(xs.length).map((size) => {
    const part = stackSafe(xs.slice(at, at + size), axis);
    at += size;
    return part;
  });
  return tf4.concat(groups, axis);
}

// src/ops/common/tri_inverse.ts
import * as tf5 from "@tensorflow/tfjs";
function diagonalBlocks(a, s) {
  const [m, p] = a.shape;
  const nb = p / s;
  if (nb === 1) return a;
  const grid = tf5.transpose(tf5.reshape(a, [m, nb, s, nb, s]), [0, 1, 3, 2, 4]);
  const eye2 = tf5.reshape(tf5.eye(nb), [1, nb, nb, 1, 1]);
  return tf5.reshape(tf5.sum(tf5.mul(grid, eye2), 2), [m * nb, s, s]);
}
function unitLowerInverse(a) {
  const [m, c] = a.shape;
  let p = 1;
  while (p < c) p *= 2;
  const ap = p === c ? a : tf5.pad(a, [[0, 0], [0, p - c], [0, p - c]]);
  let inv = tf5.ones([m * p, 1, 1]);
  for (let s = 1; s < p; s *= 2) {
    const nb = p / (2 * s);
    const a21 = tf5.slice(diagonalBlocks(ap, 2 * s), [0, s, 0], [m * nb, s, s]);
    const pairs = tf5.reshape(inv, [m * nb, 2, s, s]);
    const ai11 = tf5.reshape(tf5.slice(pairs, [0, 0, 0, 0], [m * nb, 1, s, s]), [m * nb, s, s]);
    const ai22 = tf5.reshape(tf5.slice(pairs, [0, 1, 0, 0], [m * nb, 1, s, s]), [m * nb, s, s]);
    const ai21 = tf5.neg(tf5.matMul(tf5.matMul(ai22, a21), ai11));
    const top = tf5.concat([ai11, tf5.zeros([m * nb, s, s])], 2);
    const bottom = tf5.concat([ai21, ai22], 2);
    inv = tf5.concat([top, bottom], 1);
  }
  return p === c ? inv : tf5.slice(inv, [0, 0, 0], [m, c, c]);
}

// src/ops/delta_rule/chunk.ts
function deltaRuleChunk(q2, k2, v2, beta2, opts, g2) {
  return tf6.tidy(() => {
    const [b, t, h, dk] = q2.shape;
    const dv = v2.shape[3];
    const c = opts.chunkSize;
    const n = Math.ceil(t / c);
    const bh = b * h;
    const m = bh * n;
    const [q3, k3, v3] = [toChunks(q2, c), toChunks(k2, c), toChunks(v2, c)];
    const beta3 = toChunks(expandLast(beta2), c);
    const cum = g2 === void 0 ? void 0 : prefixSum(toChunks(expandLast(g2), c));
    const causal = cum === void 0 ? trilOnes(c) : decayMatrixScalar(cum);
    const kk = tf6.mul(tf6.matMul(k3, k3, false, true), causal);
    const a = tf6.mul(tf6.mul(beta3, kk), trilOnes(c, true));
    const tInv = unitLowerInverse(a);
    const u = tf6.matMul(tInv, tf6.mul(beta3, v3));
    const kIn = cum === void 0 ? k3 : tf6.mul(k3, tf6.exp(cum));
    const w = tf6.matMul(tInv, tf6.mul(beta3, kIn));
    const att = tf6.mul(tf6.matMul(q3, k3, false, true), causal);
    const bLast = cum === void 0 ? void 0 : lastRow(cum);
    const kOut = bLast === void 0 ? k3 : tf6.mul(k3, tf6.exp(tf6.sub(bLast, cum)));
    const split2 = (x2, d) => unstackSafe(tf6.reshape(x2, [n, bh, c, d]), 0);
    const us = split2(u, dv);
    const ws = split2(w, dk);
    const ks = split2(kOut, dk);
    const decays = bLast === void 0 ? void 0 : unstackSafe(tf6.reshape(tf6.exp(bLast), [n, bh, 1, 1]), 0);
    let s = opts.initialState === void 0 ? tf6.zeros([bh, dk, dv]) : tf6.reshape(opts.initialState, [bh, dk, dv]);
    const entering = [];
    const vNew = [];
    for (let i = 0; i < n; i++) {
      entering.push(s);
      const vi = tf6.sub(us[i], tf6.matMul(ws[i], s));
      vNew.push(vi);
      if (i < n - 1 || opts.wantState) {
        const kept = decays === void 0 ? s : tf6.mul(decays[i], s);
        s = tf6.add(kept, tf6.matMul(ks[i], vi, true, false));
      }
    }
    const states = tf6.reshape(stackSafe(entering, 0), [m, dk, dv]);
    const vAll = tf6.reshape(stackSafe(vNew, 0), [m, c, dv]);
    const qIn = cum === void 0 ? q3 : tf6.mul(q3, tf6.exp(cum));
    const o3 = tf6.mul(tf6.add(tf6.matMul(qIn, states), tf6.matMul(att, vAll)), opts.scale);
    const o = fromChunks(o3, b, h, t);
    return opts.wantState ? { o, finalState: tf6.reshape(s, [b, h, dk, dv]) } : { o };
  });
}
function deltaRuleParallel(q2, k2, v2, beta2, opts, g2) {
  return deltaRuleChunk(q2, k2, v2, beta2, { ...opts, chunkSize: q2.shape[1] }, g2);
}

// src/ops/delta_rule/naive.ts
import * as tf7 from "@tensorflow/tfjs";
function deltaRuleNaive(q2, k2, v2, beta2, opts, g2) {
  return tf7.tidy(() => {
    const [b, , h, dk] = q2.shape;
    const dv = v2.shape[3];
    const qs = unstackSafe(q2, 1);
    const ks = unstackSafe(k2, 1);
    const vs = unstackSafe(v2, 1);
    const betas = unstackSafe(beta2, 1);
    const gs = g2 === void 0 ? void 0 : unstackSafe(g2, 1);
    let s = opts.initialState ?? tf7.zeros([b, h, dk, dv]);
    const os = [];
    qs.forEach((qt, t) => {
      if (gs !== void 0) s = tf7.mul(tf7.reshape(tf7.exp(gs[t]), [b, h, 1, 1]), s);
      const kt = tf7.reshape(ks[t], [b, h, dk, 1]);
      const predicted = tf7.sum(tf7.mul(kt, s), 2);
      const u = tf7.mul(tf7.reshape(betas[t], [b, h, 1]), tf7.sub(vs[t], predicted));
      s = tf7.add(s, tf7.mul(kt, tf7.reshape(u, [b, h, 1, dv])));
      os.push(tf7.sum(tf7.mul(tf7.reshape(qt, [b, h, dk, 1]), s), 2));
    });
    const o = tf7.mul(stackSafe(os, 1), opts.scale);
    return opts.wantState ? { o, finalState: s } : { o };
  });
}

// src/ops/delta_rule/index.ts
var DELTA_RULE_DEFAULT_CHUNK = 32;
function checkDeltaInputs(op, q2, k2, v2, beta2, initialState) {
  const [b, t, h, dk] = dims(op, "q", q2, 4, "[B,T,H,K]");
  expectShape(op, "k", k2, [b, t, h, dk], "[B,T,H,K]");
  expectShape(op, "v", v2, [b, t, h, void 0], "[B,T,H,V]");
  expectShape(op, "beta", beta2, [b, t, h], "[B,T,H]");
  if (initialState !== void 0) expectShape(op, "initialState", initialState, [b, h, dk, v2.shape[3]], "[B,H,K,V]");
  return [b, t, h, dk];
}
function deltaRule(q2, k2, v2, beta2, opts = {}) {
  const op = "deltaRule";
  const [, t, , dk] = checkDeltaInputs(op, q2, k2, v2, beta2, opts.initialState);
  const resolved = resolveOptions(op, opts, dk, DELTA_RULE_DEFAULT_CHUNK);
  switch (resolveForm(op, opts.form, t)) {
    case "naive":
      return deltaRuleNaive(q2, k2, v2, beta2, resolved);
    case "parallel":
      return deltaRuleParallel(q2, k2, v2, beta2, resolved);
    case "chunk":
      return deltaRuleChunk(q2, k2, v2, beta2, resolved);
  }
}

// src/ops/gated_delta_rule/chunk.ts
function gatedDeltaRuleChunk(q2, k2, v2, g2, beta2, opts) {
  return deltaRuleChunk(q2, k2, v2, beta2, opts, g2);
}
function gatedDeltaRuleParallel(q2, k2, v2, g2, beta2, opts) {
  return deltaRuleParallel(q2, k2, v2, beta2, opts, g2);
}

// src/ops/gated_delta_rule/naive.ts
function gatedDeltaRuleNaive(q2, k2, v2, g2, beta2, opts) {
  return deltaRuleNaive(q2, k2, v2, beta2, opts, g2);
}

// src/ops/gated_delta_rule/index.ts
function gatedDeltaRule(q2, k2, v2, g2, beta2, opts = {}) {
  const op = "gatedDeltaRule";
  const [b, t, h, dk] = checkDeltaInputs(op, q2, k2, v2, beta2, opts.initialState);
  expectShape(op, "g", g2, [b, t, h], "[B,T,H]");
  const resolved = resolveOptions(op, opts, dk, DELTA_RULE_DEFAULT_CHUNK);
  switch (resolveForm(op, opts.form, t)) {
    case "naive":
      return gatedDeltaRuleNaive(q2, k2, v2, g2, beta2, resolved);
    case "parallel":
      return gatedDeltaRuleParallel(q2, k2, v2, g2, beta2, resolved);
    case "chunk":
      return gatedDeltaRuleChunk(q2, k2, v2, g2, beta2, resolved);
  }
}

// src/ops/gated_recurrence/chunk.ts
import * as tf8 from "@tensorflow/tfjs";
function glaChunk(q2, k2, v2, g2, opts) {
  return tf8.tidy(() => {
    const [b, t, h, dk] = q2.shape;
    const dv = v2.shape[3];
    const c = opts.chunkSize;
    const n = Math.ceil(t / c);
    const bh = b * h;
    const m = bh * n;
    const [q3, k3, v3] = [toChunks(q2, c), toChunks(k2, c), toChunks(v2, c)];
    const cum = prefixSum(toChunks(g2, c));
    const ke = tf8.mul(tf8.reshape(k3, [m, 1, c, dk]), decayMatrixChannels(cum));
    const p = tf8.matMul(tf8.reshape(ke, [m * c, c, dk]), tf8.reshape(q3, [m * c, dk, 1]));
    const intra = tf8.matMul(tf8.reshape(p, [m, c, c]), v3);
    const bLast = lastRow(cum);
    const qDecayed = tf8.mul(q3, tf8.exp(cum));
    const kDecayed = tf8.mul(k3, tf8.exp(tf8.sub(bLast, cum)));
    const writes = unstackSafe(tf8.reshape(tf8.matMul(kDecayed, v3, true, false), [n, bh, dk, dv]), 0);
    const decays = unstackSafe(tf8.reshape(tf8.exp(bLast), [n, bh, dk, 1]), 0);
    let s = opts.initialState === void 0 ? tf8.zeros([bh, dk, dv]) : tf8.reshape(opts.initialState, [bh, dk, dv]);
    const entering = [];
    for (let i = 0; i < n; i++) {
      entering.push(s);
      if (i < n - 1 || opts.wantState) s = tf8.add(tf8.mul(decays[i], s), writes[i]);
    }
    const states = tf8.reshape(stackSafe(entering, 0), [m, dk, dv]);
    const o3 = tf8.mul(tf8.add(tf8.matMul(qDecayed, states), intra), opts.scale);
    const o = fromChunks(o3, b, h, t);
    return opts.wantState ? { o, finalState: tf8.reshape(s, [b, h, dk, dv]) } : { o };
  });
}

// src/ops/gated_recurrence/naive.ts
import * as tf9 from "@tensorflow/tfjs";
function glaNaive(q2, k2, v2, g2, opts) {
  return tf9.tidy(() => {
    const [b, , h, dk] = q2.shape;
    const dv = v2.shape[3];
    const qs = unstackSafe(q2, 1);
    const ks = unstackSafe(k2, 1);
    const vs = unstackSafe(v2, 1);
    const gs = unstackSafe(g2, 1);
    let s = opts.initialState ?? tf9.zeros([b, h, dk, dv]);
    const os = [];
    qs.forEach((qt, t) => {
      const decay = tf9.reshape(tf9.exp(gs[t]), [b, h, dk, 1]);
      const outer = tf9.mul(tf9.reshape(ks[t], [b, h, dk, 1]), tf9.reshape(vs[t], [b, h, 1, dv]));
      s = tf9.add(tf9.mul(decay, s), outer);
      os.push(tf9.sum(tf9.mul(tf9.reshape(qt, [b, h, dk, 1]), s), 2));
    });
    const o = tf9.mul(stackSafe(os, 1), opts.scale);
    return opts.wantState ? { o, finalState: s } : { o };
  });
}

// src/ops/gated_recurrence/parallel.ts
import * as tf10 from "@tensorflow/tfjs";
function headFirst(x2) {
  const [b, t, h, d] = x2.shape;
  return tf10.reshape(tf10.transpose(x2, [0, 2, 1, 3]), [b * h, t, d]);
}
function glaParallel(q2, k2, v2, g2, opts) {
  return tf10.tidy(() => {
    const [b, t, h, dk] = q2.shape;
    const dv = v2.shape[3];
    const [q3, k3, v3] = [headFirst(q2), headFirst(k2), headFirst(v2)];
    const cum = prefixSum(headFirst(g2));
    const e = decayMatrixChannels(cum);
    const p = tf10.sum(tf10.mul(tf10.reshape(q3, [b * h, t, 1, dk]), tf10.mul(tf10.reshape(k3, [b * h, 1, t, dk]), e)), 3);
    let o = tf10.matMul(p, v3);
    const s0 = opts.initialState === void 0 ? void 0 : tf10.reshape(opts.initialState, [b * h, dk, dv]);
    if (s0 !== void 0) o = tf10.add(o, tf10.matMul(tf10.mul(q3, tf10.exp(cum)), s0));
    o = tf10.mul(o, opts.scale);
    const out = tf10.transpose(tf10.reshape(o, [b, h, t, dv]), [0, 2, 1, 3]);
    if (!opts.wantState) return { o: out };
    const bLast = lastRow(cum);
    let s = tf10.matMul(tf10.mul(k3, tf10.exp(tf10.sub(bLast, cum))), v3, true, false);
    if (s0 !== void 0) s = tf10.add(s, tf10.mul(tf10.reshape(tf10.exp(bLast), [b * h, dk, 1]), s0));
    return { o: out, finalState: tf10.reshape(s, [b, h, dk, dv]) };
  });
}

// src/ops/gated_recurrence/index.ts
var GLA_DEFAULT_CHUNK = 16;
function gla(q2, k2, v2, g2, opts = {}) {
  const op = "gla";
  const [b, t, h, dk] = dims(op, "q", q2, 4, "[B,T,H,K]");
  expectShape(op, "k", k2, [b, t, h, dk], "[B,T,H,K]");
  expectShape(op, "g", g2, [b, t, h, dk], "[B,T,H,K]");
  expectShape(op, "v", v2, [b, t, h, void 0], "[B,T,H,V]");
  const dv = v2.shape[3];
  if (opts.initialState !== void 0) expectShape(op, "initialState", opts.initialState, [b, h, dk, dv], "[B,H,K,V]");
  const resolved = resolveOptions(op, opts, dk, GLA_DEFAULT_CHUNK);
  switch (resolveForm(op, opts.form, t)) {
    case "naive":
      return glaNaive(q2, k2, v2, g2, resolved);
    case "parallel":
      return glaParallel(q2, k2, v2, g2, resolved);
    case "chunk":
      return glaChunk(q2, k2, v2, g2, resolved);
  }
}

// src/ops/hgrn/chunk.ts
import * as tf11 from "@tensorflow/tfjs";
function hgrnChunk(x2, g2, opts) {
  return tf11.tidy(() => {
    const [b, t, d] = x2.shape;
    const c = opts.chunkSize;
    const n = Math.ceil(t / c);
    const m = b * n;
    const chunked = (y) => tf11.reshape(tf11.transpose(tf11.reshape(padTime(y, n * c), [b, n, c, d]), [1, 0, 2, 3]), [m, c, d]);
    const x3 = chunked(x2);
    const cum = prefixSum(chunked(g2));
    const e = decayMatrixChannels(cum);
    const local = tf11.sum(tf11.mul(e, tf11.reshape(x3, [m, 1, c, d])), 2);
    const carry = unstackSafe(tf11.reshape(lastRow(local), [n, b, d]), 0);
    const decays = unstackSafe(tf11.reshape(tf11.exp(lastRow(cum)), [n, b, d]), 0);
    let h = opts.initialState ?? tf11.zeros([b, d]);
    const entering = [];
    for (let i = 0; i < n; i++) {
      entering.push(h);
      if (i < n - 1 || opts.wantState) h = tf11.add(tf11.mul(decays[i], h), carry[i]);
    }
    const hIn = tf11.reshape(stackSafe(entering, 0), [m, 1, d]);
    const o3 = tf11.add(local, tf11.mul(tf11.exp(cum), hIn));
    let o = tf11.reshape(tf11.transpose(tf11.reshape(o3, [n, b, c, d]), [1, 0, 2, 3]), [b, n * c, d]);
    if (n * c !== t) o = tf11.slice(o, [0, 0, 0], [b, t, d]);
    return opts.wantState ? { o, finalState: h } : { o };
  });
}

// src/ops/hgrn/naive.ts
import * as tf12 from "@tensorflow/tfjs";
function hgrnNaive(x2, g2, opts) {
  return tf12.tidy(() => {
    const [b, , d] = x2.shape;
    const xs = unstackSafe(x2, 1);
    const gs = unstackSafe(g2, 1);
    let h = opts.initialState ?? tf12.zeros([b, d]);
    const os = [];
    xs.forEach((xt, t) => {
      h = tf12.add(tf12.mul(tf12.exp(gs[t]), h), xt);
      os.push(h);
    });
    const o = stackSafe(os, 1);
    return opts.wantState ? { o, finalState: h } : { o };
  });
}

// src/ops/hgrn/parallel.ts
import * as tf13 from "@tensorflow/tfjs";
function shiftRight(x2, s) {
  const [b, t, d] = x2.shape;
  return tf13.pad(tf13.slice(x2, [0, 0, 0], [b, t - s, d]), [
    [0, 0],
    [s, 0],
    [0, 0]
  ]);
}
function hgrnParallel(x2, g2, opts) {
  return tf13.tidy(() => {
    const [b, t, d] = x2.shape;
    let h = x2;
    let a = g2;
    for (let s = 1; s < t; s *= 2) {
      h = tf13.add(h, tf13.mul(tf13.exp(a), shiftRight(h, s)));
      a = tf13.add(a, shiftRight(a, s));
    }
    if (opts.initialState !== void 0) h = tf13.add(h, tf13.mul(tf13.exp(a), tf13.reshape(opts.initialState, [b, 1, d])));
    if (!opts.wantState) return { o: h };
    return { o: h, finalState: tf13.reshape(tf13.slice(h, [0, t - 1, 0], [b, 1, d]), [b, d]) };
  });
}

// src/ops/hgrn/index.ts
var HGRN_DEFAULT_CHUNK = 16;
function hgrn(x2, g2, opts = {}) {
  const op = "hgrn";
  const [b, t, d] = dims(op, "x", x2, 3, "[B,T,D]");
  expectShape(op, "g", g2, [b, t, d], "[B,T,D]");
  if (opts.initialState !== void 0) expectShape(op, "initialState", opts.initialState, [b, d], "[B,D]");
  const resolved = resolveOptions(op, opts, d, HGRN_DEFAULT_CHUNK);
  switch (resolveForm(op, opts.form, t, "parallel")) {
    case "naive":
      return hgrnNaive(x2, g2, resolved);
    case "parallel":
      return hgrnParallel(x2, g2, resolved);
    case "chunk":
      return hgrnChunk(x2, g2, resolved);
  }
}

// src/ops/simple_gla/chunk.ts
import * as tf14 from "@tensorflow/tfjs";
function simpleGlaChunk(q2, k2, v2, g2, opts) {
  return tf14.tidy(() => {
    const [b, t, h, dk] = q2.shape;
    const dv = v2.shape[3];
    const c = opts.chunkSize;
    const n = Math.ceil(t / c);
    const bh = b * h;
    const m = bh * n;
    const [q3, k3, v3] = [toChunks(q2, c), toChunks(k2, c), toChunks(v2, c)];
    const cum = prefixSum(toChunks(expandLast(g2), c));
    const att = tf14.mul(tf14.matMul(q3, k3, false, true), decayMatrixScalar(cum));
    const intra = tf14.matMul(att, v3);
    const bLast = lastRow(cum);
    const kDecayed = tf14.mul(k3, tf14.exp(tf14.sub(bLast, cum)));
    const writes = unstackSafe(tf14.reshape(tf14.matMul(kDecayed, v3, true, false), [n, bh, dk, dv]), 0);
    const decays = unstackSafe(tf14.reshape(tf14.exp(bLast), [n, bh, 1, 1]), 0);
    let s = opts.initialState === void 0 ? tf14.zeros([bh, dk, dv]) : tf14.reshape(opts.initialState, [bh, dk, dv]);
    const entering = [];
    for (let i = 0; i < n; i++) {
      entering.push(s);
      if (i < n - 1 || opts.wantState) s = tf14.add(tf14.mul(decays[i], s), writes[i]);
    }
    const states = tf14.reshape(stackSafe(entering, 0), [m, dk, dv]);
    const inter = tf14.mul(tf14.exp(cum), tf14.matMul(q3, states));
    const o3 = tf14.mul(tf14.add(inter, intra), opts.scale);
    const o = fromChunks(o3, b, h, t);
    return opts.wantState ? { o, finalState: tf14.reshape(s, [b, h, dk, dv]) } : { o };
  });
}

// src/ops/simple_gla/naive.ts
import * as tf15 from "@tensorflow/tfjs";
function simpleGlaNaive(q2, k2, v2, g2, opts) {
  return tf15.tidy(() => {
    const [b, , h, dk] = q2.shape;
    const dv = v2.shape[3];
    const qs = unstackSafe(q2, 1);
    const ks = unstackSafe(k2, 1);
    const vs = unstackSafe(v2, 1);
    const gs = unstackSafe(g2, 1);
    let s = opts.initialState ?? tf15.zeros([b, h, dk, dv]);
    const os = [];
    qs.forEach((qt, t) => {
      const decay = tf15.reshape(tf15.exp(gs[t]), [b, h, 1, 1]);
      const outer = tf15.mul(tf15.reshape(ks[t], [b, h, dk, 1]), tf15.reshape(vs[t], [b, h, 1, dv]));
      s = tf15.add(tf15.mul(decay, s), outer);
      os.push(tf15.sum(tf15.mul(tf15.reshape(qt, [b, h, dk, 1]), s), 2));
    });
    const o = tf15.mul(stackSafe(os, 1), opts.scale);
    return opts.wantState ? { o, finalState: s } : { o };
  });
}

// src/ops/simple_gla/parallel.ts
import * as tf16 from "@tensorflow/tfjs";
function headFirst2(x2) {
  const [b, t, h, d] = x2.shape;
  return tf16.reshape(tf16.transpose(x2, [0, 2, 1, 3]), [b * h, t, d]);
}
function simpleGlaParallel(q2, k2, v2, g2, opts) {
  return tf16.tidy(() => {
    const [b, t, h, dk] = q2.shape;
    const dv = v2.shape[3];
    const [q3, k3, v3] = [headFirst2(q2), headFirst2(k2), headFirst2(v2)];
    const cum = prefixSum(headFirst2(tf16.expandDims(g2, 3)));
    const att = tf16.mul(tf16.matMul(q3, k3, false, true), decayMatrixScalar(cum));
    let o = tf16.matMul(att, v3);
    const s0 = opts.initialState === void 0 ? void 0 : tf16.reshape(opts.initialState, [b * h, dk, dv]);
    if (s0 !== void 0) o = tf16.add(o, tf16.mul(tf16.exp(cum), tf16.matMul(q3, s0)));
    o = tf16.mul(o, opts.scale);
    const out = tf16.transpose(tf16.reshape(o, [b, h, t, dv]), [0, 2, 1, 3]);
    if (!opts.wantState) return { o: out };
    const bLast = lastRow(cum);
    let s = tf16.matMul(tf16.mul(k3, tf16.exp(tf16.sub(bLast, cum))), v3, true, false);
    if (s0 !== void 0) s = tf16.add(s, tf16.mul(tf16.exp(bLast), s0));
    return { o: out, finalState: tf16.reshape(s, [b, h, dk, dv]) };
  });
}

// src/ops/simple_gla/index.ts
var SIMPLE_GLA_DEFAULT_CHUNK = 32;
function simpleGla(q2, k2, v2, g2, opts = {}) {
  const op = "simpleGla";
  const [b, t, h, dk] = dims(op, "q", q2, 4, "[B,T,H,K]");
  expectShape(op, "k", k2, [b, t, h, dk], "[B,T,H,K]");
  expectShape(op, "g", g2, [b, t, h], "[B,T,H]");
  expectShape(op, "v", v2, [b, t, h, void 0], "[B,T,H,V]");
  const dv = v2.shape[3];
  if (opts.initialState !== void 0) expectShape(op, "initialState", opts.initialState, [b, h, dk, dv], "[B,H,K,V]");
  const resolved = resolveOptions(op, opts, dk, SIMPLE_GLA_DEFAULT_CHUNK);
  switch (resolveForm(op, opts.form, t)) {
    case "naive":
      return simpleGlaNaive(q2, k2, v2, g2, resolved);
    case "parallel":
      return simpleGlaParallel(q2, k2, v2, g2, resolved);
    case "chunk":
      return simpleGlaChunk(q2, k2, v2, g2, resolved);
  }
}

// test/ops/harness.ts
import * as tf17 from "@tensorflow/tfjs";
var Rng = class {
  s;
  constructor(seed) {
    this.s = seed >>> 0;
  }
  uniform() {
    this.s = this.s + 1831565813 >>> 0;
    let t = this.s;
    t = Math.imul(t ^ t >>> 15, t | 1);
    t ^= t + Math.imul(t ^ t >>> 7, t | 61);
    return ((t ^ t >>> 14) >>> 0) / 4294967296;
  }
  normal() {
    const u = Math.max(this.uniform(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.uniform());
  }
  /** Tensor of N(0, std²) entries. */
  randn(shape, std = 1) {
    const n = shape.reduce((a2, b) => a2 * b, 1);
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = std * this.normal();
    return tf17.tensor(a, shape);
  }
  /** Log decays logsigmoid(z)/temperature, z ~ N(0,1) (temperature 16: GLA/MetaLA; 1: strong decay). */
  logDecay(shape, temperature) {
    const n = shape.reduce((a2, b) => a2 * b, 1);
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const z = this.normal();
      a[i] = -(z > 0 ? Math.log1p(Math.exp(-z)) : -z + Math.log1p(Math.exp(z))) / temperature;
    }
    return tf17.tensor(a, shape);
  }
  /** Uniform(lo, hi) entries. */
  uniformTensor(shape, lo, hi) {
    const n = shape.reduce((a2, b) => a2 * b, 1);
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * this.uniform();
    return tf17.tensor(a, shape);
  }
  /** Rows of unit L2 norm along the last axis. */
  unitRows(shape) {
    return tf17.tidy(() => {
      const x2 = this.randn(shape);
      return tf17.div(x2, tf17.norm(x2, "euclidean", -1, true));
    });
  }
};

// test/ops/bench.ts
var [backend = "cpu", ...dimArgs] = process.argv.slice(2);
var [B, T, H, K, V] = dimArgs.length === 5 ? dimArgs.map(Number) : [4, 512, 2, 32, 64];
var only = process.env["OPS"]?.split(",");
async function time(run, reps = 3) {
  const once = async () => {
    const t0 = performance.now();
    const r = run();
    await r.data();
    r.dispose();
    return performance.now() - t0;
  };
  await once();
  const ts = [];
  for (let i = 0; i < reps; i++) ts.push(await once());
  ts.sort((a, b) => a - b);
  return ts[Math.floor(ts.length / 2)];
}
async function bench(name, inputs, call, configs) {
  if (only !== void 0 && !only.includes(name)) return;
  for (const [form, c] of configs) {
    const fwd = await time(() => tf18.tidy(() => call(inputs, form, c)));
    const bwd = await time(
      () => tf18.tidy(() => {
        const gs = tf18.grads((...xs) => tf18.sum(tf18.square(call(xs, form, c))))(inputs);
        return tf18.addN(gs.map((g2) => tf18.sum(g2)));
      })
    );
    console.log(`${name.padEnd(15)} ${(form + (c === void 0 ? "" : ` C=${c}`)).padEnd(12)} fwd ${fwd.toFixed(1).padStart(8)} ms   fwd+bwd ${bwd.toFixed(1).padStart(8)} ms   tensors ${tf18.memory().numTensors}`);
  }
}
var info = await initBackend(backend);
console.log(`backend ${info.backend} (${info.device}); B=${B} T=${T} H=${H} K=${K} V=${V}`);
var rng = new Rng(1);
var q = rng.randn([B, T, H, K]);
var k = rng.randn([B, T, H, K]);
var kn = rng.unitRows([B, T, H, K]);
var v = rng.randn([B, T, H, V]);
var g = rng.logDecay([B, T, H, K], 16);
var gh = rng.logDecay([B, T, H], 16);
var beta = rng.uniformTensor([B, T, H], 0, 1);
var x = rng.randn([B, T, H * V]);
var gx = rng.logDecay([B, T, H * V], 1);
var chunks = [["chunk", 8], ["chunk", 16], ["chunk", 32], ["chunk", 64]];
var withNaive = (cfg) => T <= 512 ? [["naive"], ...cfg] : cfg;
var wantState = false;
await bench("gla", [q, k, v, g], (a, form, c) => gla(a[0], a[1], a[2], a[3], { form, chunkSize: c, wantState }).o, withNaive(chunks));
await bench("simpleGla", [q, k, v, gh], (a, form, c) => simpleGla(a[0], a[1], a[2], a[3], { form, chunkSize: c, wantState }).o, withNaive([["parallel"], ...chunks]));
await bench("deltaRule", [q, kn, v, beta], (a, form, c) => deltaRule(a[0], a[1], a[2], a[3], { form, chunkSize: c, wantState }).o, withNaive(chunks));
await bench("gatedDeltaRule", [q, kn, v, gh, beta], (a, form, c) => gatedDeltaRule(a[0], a[1], a[2], a[3], a[4], { form, chunkSize: c, wantState }).o, chunks);
await bench("hgrn", [x, gx], (a, form, c) => hgrn(a[0], a[1], { form, chunkSize: c, wantState }).o, withNaive([["parallel"], ["chunk", 16], ["chunk", 32]]));
await shutdownBackend();
