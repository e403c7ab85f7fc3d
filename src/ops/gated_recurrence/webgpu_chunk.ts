// Chunkwise WebGPU kernels of the per-channel gated recurrence (GLA / MetaLA):
//   S_t = diag(exp(g_t)) S_{t-1} + k_tᵀ v_t,   o_t = scale · q_t S_t
// Why: the sequential kernels (ops/gated_recurrence/webgpu_recurrent.ts) give one thread a state column and walk all T steps,
// so only B·H·V threads run and each does T dependent steps (21 ms of a 76 ms training step on the
// H200 at B 32, T 512, H 4, K = V = 64, 4 layers). Here the sequence is cut into chunks of C = 64
// tokens; only a scan over the T/C chunk states stays sequential, everything else is parallel over
// (B, H, chunk) and done as small matrix products staged in workgroup memory. Measured on the H200
// (MetaLA d 256, 4 layers, B 32, T 512: K 32, V 64 per head): 8.5 ms of GPU time per training step
// for these four kernels against 21.1 ms for the sequential three (bench --profile, same call).
//
// Per chunk n (rows i, j = 0..C−1 at t = nC + i; b_i = Σ_{u≤i} g_{nC+u}, the in-chunk inclusive
// cumulative log decay, ≤ 0 and non-increasing in i; B_n = b at the chunk's last token; S_n the
// state entering chunk n, S_0 = h0):
//   S_{n+1} = diag(e^{B_n}) S_n + Σ_j (k_j ⊙ e^{B_n − b_j})ᵀ v_j                       (scan)
//   o_i     = scale · [ (q_i ⊙ e^{b_i}) S_n + Σ_{j≤i} A_ij v_j ],  A_ij = Σ_d q_id k_jd e^{b_id − b_jd}
// Backward, with ď = scale · d_o and dS_n the gradient of S_n (dS_N = d_final or 0):
//   dS_n  = diag(e^{B_n}) dS_{n+1} + Σ_i (q_i ⊙ e^{b_i})ᵀ ď_i       (reverse scan; dh0 = dS_0)
//   dA_ij = ď_i · v_j  (i ≥ j)
//   dv_j  = Σ_{i≥j} A_ij ď_i + (k_j ⊙ e^{B_n − b_j}) dS_{n+1}
//   dq_i  = Σ_{j≤i} dA_ij (k_j ⊙ e^{b_i − b_j}) + e^{b_i} ⊙ (S_n ď_iᵀ)
//   dk_j  = Σ_{i≥j} dA_ij (q_i ⊙ e^{b_i − b_j}) + e^{B_n − b_j} ⊙ (dS_{n+1} v_jᵀ)
//   dg_i  = Σ_{u≥i in chunk n} (q_u ⊙ dq_u − k_u ⊙ dk_u) + Σ_v S_{n+1} ⊙ dS_{n+1}
// The last line is the identity of src/ops/gated_recurrence/fused.ts (dg_t = Σ_{u≥t} (q⊙dq − k⊙dk)_u
// + Σ_v dS_T ⊙ S_T) cut at the chunk's end: everything after the chunk adds up to the gradient of a
// log decay applied to S_{n+1}, which is Σ_v S_{n+1} ⊙ dS_{n+1}. So dg needs no pass across chunks.
//
// Numerical stability: every exponent formed is ≤ 0 (b_i − b_j with i ≥ j, B_n − b_j, b_i, B_n), so
// nothing overflows at any decay; a factor that underflows belongs to a term that is itself below
// float32 range relative to the terms kept. No e^{−b} is ever formed.
// Precision: under strong decay |b| reaches hundreds within a chunk (64 steps of −5), and a float32
// b then carries an absolute error of ~1e-5, which a pair weight e^{b_i − b_j} near 1 (weak decay
// between i and j after strong decay before) turns into a relative error of the same size; dg, a
// difference of such terms, showed 1.5e-5 against a float64 reference (the sequential kernels:
// 4.6e-6). So each step is split as g = gh + gl with gh = round(g · 1024) / 1024 (g clamped at
// −200 first: e^{−200} is already 0 in float32), and b is kept as hi = Σ gh, lo = Σ gl. Every
// partial sum of gh is a multiple of 2^-10 below 2^14 in magnitude, so hi is exact in float32 in
// any summation order, and |lo| ≤ 64 · 2^-11; differences are formed as (hi_i − hi_j) +
// (lo_i − lo_j), exact up to ~1e-9. dg's error on that case falls to 2e-7. (Compensated TwoSum
// sums would do the same, but a driver compiling with fast-math removes them: lavapipe does.)
//
// Kernels (one launch each). The sizes are uniforms, not baked into the source: one pipeline per
// kernel serves every shape (a new T, as in evaluation or generation, compiles nothing; lavapipe
// takes seconds per compile of the backward kernel).
//   MetalaGlaChunkFwdH  workgroup (b,h, 16 keys, 32 values), 128 threads, walks the chunks:
//                       in-chunk cumsum b (written once), S_n for n = 0..N → [states | b hi | b lo]
//   MetalaGlaChunkFwdO  workgroup (b,h,n, 64 values), 256 threads: A and (q ⊙ e^{b}) S_n over K
//                       slices of 16, then A·v over row slices of 16 → [o | final state if wanted]
//   MetalaGlaChunkBwdH  workgroup (b,h, 16 keys, 32 values), 128 threads, walks the chunks
//                       backwards: dS_n for n = 0..N → [dS]
//   MetalaGlaChunkBwd   two kinds of workgroup in one launch: (b,h,n, 64 values) recomputes A
//                       and writes dv; (b,h,n, 64 keys) forms dA and the inter-chunk sums over V
//                       slices, then dq, dk and the in-chunk reverse cumsum for dg over 8-key
//                       slices → [dq | dk | dg | dv]
// Layouts as src/ops: q, k, g, b [B,T,H,K]; v, o [B,T,H,V]; chunk states n-major [N+1, B, H, K, V]
// (so n = 0 is laid out as h0 and n = N as the final state).
//
// WGSL: workgroupBarrier() must sit in uniform control flow, and tfjs hands the workgroup id over
// in a module-scope private variable, which the uniformity analysis treats as non-uniform. Each
// kernel therefore re-reads it with workgroupUniformLoad (uniform by definition): branches on the
// workgroup kind and loops with barriers then pass the analysis. Loops with barriers inside have
// constant trip counts; rows past T and channels past K, V are staged as zeros (and b as its last
// valid value, so b stays non-increasing and no exponent turns positive).
//
// Latency, not arithmetic, bounded these kernels (the chunk states are small and the exps cheap):
// every staging of global memory into workgroup memory issues all its loads before its first store
// (stageUnrolled), the two scans load chunk n + 1 into registers while chunk n computes, and no
// private array is indexed by a loop variable (it would live in off-chip local memory). On the
// H200 at ref2 these took the four kernels from 96.1 to 45.0 ms of a profiled training step
// (results/bench/ref2-kernel-profile.json → ref2-kernel-profile-gla-bwd-split.json).
//
// Porting note: fla's chunk_gla (fla/ops/gla/chunk.py) keeps the float32 cumulative gate over the
// chunk and factors intra-chunk pair weights at sub-chunk boundaries (16-token sub-chunks, the
// diagonal sub-chunk blocks computed per pair), with separate kernels for A, h, o and for dA, dv,
// dq/dk intra, dq/dk inter and the reverse cumsum of dg; it recomputes the chunk states in the
// backward pass. Here every intra-chunk pair weight e^{b_i − b_j} is computed directly (one exp per
// pair and channel: exact, and cheap next to launch costs at these sizes) from the split (hi, lo) b
// above, the forward chunk states and b are kept for the backward pass instead of recomputed, dg is
// finished per chunk with the Σ_v S_{n+1} ⊙ dS_{n+1} term above instead of a reverse cumsum over
// the sequence, and the backward work is two launches (reverse state scan, then all gradients).
import * as tf from '@tensorflow/tfjs';
import { defineKernelFamily } from '../../backend/kernels/index.js';
import { MetalaError } from '../../util/errors.js';

/** Chunk length (rows per workgroup tile). */
export const GLA_CHUNK = 64;

/** Sizes and flags of one call (passed to the shaders as uniforms). */
export interface GlaChunkDims {
  B: number;
  T: number;
  H: number;
  K: number;
  V: number;
  scale: number;
  /** The forward returns the final state (dy then carries d_final after d_o). */
  hasFinal: boolean;
  /** An initial state h0 is bound (else S_0 = 0). */
  hasH0: boolean;
}

// Workgroup memory (floats) each kernel declares, besides the one-word workgroup-id slot.
const SCAN_FLOATS = 5 * 1024 + 2 * 128 + 2 * 16; // g → b hi, b lo, k̃, v [64][32], segment sums, B
// The [C][16] tiles are stored with rows 17 floats apart (RS): a warp's threads read rows 4J + r for
// J = 0 … 15, and at a stride of 16 floats all 16 rows fall in one of the 32 banks of workgroup
// memory (a 16-way conflict on the innermost loop of A); at 17 they fall in 8 banks two apart.
const RS = 17;
/** Floats of one [C][16] tile at row stride RS. */
const TILE16 = 64 * RS;
/** Elements of one [C][16] tile. */
const CH_TILE16 = 64 * 16;
const VALUE_TILE_FLOATS = 5 * TILE16 + 1024; // q, k, b hi, b lo, a derived tile [64][16], a state slice [16][64]
/** Row stride of dA [C][C] in the backward key pass (see bwdSource), and where it ends. */
const DA_RS = 65;
const DA_END = 64 * DA_RS;
const KEY_TILE_FLOATS = DA_END + 4 * 512 + 256; // dA [64][64], q, k, b hi, b lo [64][8], Σ_v S ⊙ dS in 4 parts per key

/**
 * Workgroup memory the largest of these kernels declares, in bytes (25,860). WebGPU guarantees only
 * 16 KiB; the caller keeps the chunk path to devices whose limit is at least this (lavapipe gives
 * 32 KiB, Dawn on the H200 48 KiB).
 */
export const GLA_CHUNK_WORKGROUP_BYTES = 4 * (Math.max(SCAN_FLOATS, VALUE_TILE_FLOATS, KEY_TILE_FLOATS) + 1);

const ceilDiv = (a: number, b: number): number => Math.ceil(a / b);
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
const XYZW = ['x', 'y', 'z', 'w'];

/**
 * WGSL that stages `count` elements, e = tid + threads · u for u = 0 … count/threads − 1, with
 * every load issued before the first store. A staging loop `for (e = tid; …; e += threads)` is not
 * unrolled by the drivers (its trip count depends on tid), so each iteration's store waits for its
 * own loads: one global-memory latency per iteration, while the kernel has little else to hide it
 * behind. Here the loads of all iterations are in flight at once. `load(u, e)` declares element
 * u's values (names ending in u), `store(u, e)` writes them to workgroup memory.
 */
function stageUnrolled(count: number, threads: number, load: (u: number, e: string) => string, store: (u: number, e: string) => string): string {
  if (count % threads !== 0) throw new Error(`internal: ${count} staged elements over ${threads} threads`);
  const us = range(count / threads);
  return `{
${us.map((u) => `      let e${u} = tid + ${threads * u};\n${load(u, `e${u}`)}`).join('\n')}
${us.map((u) => store(u, `e${u}`)).join('\n')}
    }`;
}

/** `expr` with the staged value names qv, kv, hiV, loV, hiL, loL suffixed by u. */
const suffixed = (expr: string, u: number): string => expr.replace(/\b(qv|kv|hiV|loV|hiL|loL)\b/g, `$1${u}`);

// Uniforms after tfjs's own (declaration order = data order in uniformData below).
const UNIFORMS = 'gB : i32, gT : i32, gH : i32, gK : i32, gV : i32, gNC : i32, gNWG : i32, gFinal : i32, gScale : f32,';

function uniformData(d: GlaChunkDims, workgroups: number): { type: string; data: number[] }[] {
  const ints = [d.B, d.T, d.H, d.K, d.V, ceilDiv(d.T, GLA_CHUNK), workgroups, d.hasFinal ? 1 : 0];
  return [...ints.map((x) => ({ type: 'int32', data: [x] })), { type: 'float32', data: [d.scale] }];
}

// Index helpers: q, k, g, b rows [B,T,H,K]; v, o rows [B,T,H,V]; state set n, row d of (b,h)
// [N+1, B·H, K, V]. The forward buffer holds the NC + 1 state sets, then b hi at HS, b lo at HS + NQK.
function header(readsB = true): string {
  return `
const CH = ${GLA_CHUNK};
fn gqk(b : i32, t : i32, h : i32) -> i32 { return ((b * uniforms.gT + t) * uniforms.gH + h) * uniforms.gK; }
fn gvo(b : i32, t : i32, h : i32) -> i32 { return ((b * uniforms.gT + t) * uniforms.gH + h) * uniforms.gV; }
fn gst(n : i32, bh : i32, d : i32) -> i32 { return ((n * uniforms.gB * uniforms.gH + bh) * uniforms.gK + d) * uniforms.gV; }
${
  readsB
    ? `// b at flat [B,T,H,K] offset o, hi + lo in one float (where no difference is formed)
fn bSum(o : i32) -> f32 {
  let hs = (uniforms.gNC + 1) * uniforms.gB * uniforms.gH * uniforms.gK * uniforms.gV;
  return HB[hs + o] + HB[hs + uniforms.gB * uniforms.gT * uniforms.gH * uniforms.gK + o];
}`
    : ''
}
var<workgroup> wgSlot : i32;`;
}

// The workgroup's linear id, made uniform (see the header comment), and the early exit of the
// workgroups a 2-D dispatch adds past NWG.
const WORKGROUP_ID = `
  guard(index);
  let B = uniforms.gB; let T = uniforms.gT; let H = uniforms.gH; let DK = uniforms.gK; let DV = uniforms.gV;
  let NC = uniforms.gNC; let NWG = uniforms.gNWG; let HAS_FINAL = uniforms.gFinal != 0; let SCALE = uniforms.gScale;
  let BH = B * H;
  let NQK = B * T * H * DK;
  let NVO = B * T * H * DV;
  let HS = (NC + 1) * BH * DK * DV;
  if (localIndex == 0u) { wgSlot = i32(workgroupId.y * numWorkgroups.x + workgroupId.x); }
  let wid = workgroupUniformLoad(&wgSlot);
  if (wid >= NWG) { return; }
  let tid = i32(localIndex);`;

// ---- The two scans over chunks (forward states, backward state gradients) ----
// Workgroup (bh, kt, vt) owns S[kt·16 .. +16, vt·32 .. +32]; thread tid holds row dl = tid / 8,
// columns vl .. vl + 3 (vl = 4 · (tid % 8)) in a vec4.
function scanTiles(d: GlaChunkDims): { kt: number; vt: number; workgroups: number } {
  const kt = ceilDiv(d.K, 16);
  const vt = ceilDiv(d.V, 32);
  return { kt, vt, workgroups: d.B * d.H * kt * vt };
}

const SCAN_PROLOGUE = `const TK = 16; const TV = 32;
var<workgroup> xs : array<f32, ${64 * 16}>;
var<workgroup> ys : array<vec4<f32>, ${(64 * 32) / 4}>;
var<workgroup> lastB : array<f32, 16>;`;

const SCAN_THREAD = `
  let KT = (DK + TK - 1) / TK;
  let VT = (DV + TV - 1) / TV;
  let vt = wid % VT;
  let kt = (wid / VT) % KT;
  let bh = wid / (VT * KT);
  let b = bh / H;
  let h = bh % H;
  let dl = tid / 8;
  let d = kt * TK + dl;
  let vl = (tid % 8) * 4;
  let v0 = vt * TV + vl;`;

// Writes the thread's vec4 `s` as row d, columns v0.. of chunk state set `n`.
const storeState = (n: string): string => `
    if (d < DK) {
      for (var jj = 0; jj < 4; jj++) { if (v0 + jj < DV) { result[gst(${n}, bh, d) + v0 + jj] = s[jj]; } }
    }`;

// s ← e^{B} s + Σ_r xs[r][dl] · ys[r][vl..vl+3]: the chunk's rank-C update of the thread's row
// (`lastB` is B, or its hi part with `extra` the lo part).
const scanUpdate = (extra = ''): string => `
    s *= exp(lastB[dl]${extra});
    for (var r = 0; r < CH; r++) { s += xs[r * TK + dl] * ys[r * (TV / 4) + vl / 4]; }`;

// Software pipelining of the scans: each thread loads chunk n + 1's inputs into registers right after
// the barrier that publishes chunk n's, so their global-memory latency passes while chunk n is
// computed (the scan walks all NC chunks in one workgroup, with little parallel work to hide it
// behind otherwise), and stores them to workgroup memory at the top of the next iteration.
// Every thread stages 8 key-tile elements e = tid + 128 u ([C][16]) and 16 value-tile elements
// ([C][32]); the loads assign registers declared by scanRegisters.
const scanRegisters = (keyRegs: string[]): string =>
  [...keyRegs.flatMap((r) => range(8).map((u) => `  var ${r}${u} = 0.0;`)), ...range(16).map((u) => `  var pv${u} = 0.0;`)].join('\n');

// Loads v (forward) or ď = scale · d_o (backward) rows of chunk `nn`, columns vt·32 .. +32, into pv*.
const loadScanValues = (nn: string, expr: string): string =>
  range(16)
    .map(
      (u) => `    {
      let e = tid + ${128 * u};
      let t = (${nn}) * CH + e / TV;
      let vv = vt * TV + e % TV;
      pv${u} = 0.0;
      if (t < T && vv < DV) { pv${u} = ${expr}; }
    }`,
    )
    .join('\n');

// Stores pv* into ys.
const storeScanValues = range(16)
  .map((u) => `    ys[(tid + ${128 * u}) / 4][(tid + ${128 * u}) % 4] = pv${u};`)
  .join('\n');

// Loads the key-tile elements e = tid + 128 u ([C][16]) of chunk nn: the registers `regs` (u
// appended) zeroed, then `assign(u)` with o the element's [B,T,H,K] offset where it exists.
const loadScanKeys = (nn: string, regs: string[], assign: (u: number) => string): string =>
  range(8)
    .map(
      (u) => `    {
      let e = tid + ${128 * u};
      let t = (${nn}) * CH + e / TK;
      let dd = kt * TK + e % TK;
${regs.map((r) => `      ${r}${u} = 0.0;`).join('\n')}
      if (t < T && dd < DK) { let o = gqk(b, t, h) + dd; ${assign(u)} }
    }`,
    )
    .join('\n');

// Forward scan: g, k of chunk nn into pg*, pk* and v into pv*.
const fwdHLoad = (nn: string): string =>
  `${loadScanKeys(nn, ['pg', 'pk'], (u) => `pg${u} = max(Gs[o], -200.0); pk${u} = Ks[o];`)}
${loadScanValues(nn, 'Vs[gvo(b, t, h) + vv]')}`;

// g split into gh + gl (see the header comment) into bHi, bLo; k into xs; v into ys.
const fwdHStore = `${range(8)
  .map(
    (u) => `    {
      let e = tid + ${128 * u};
      let gh = round(pg${u} * 1024.0) / 1024.0;
      bHi[e] = gh;
      bLo[e] = pg${u} - gh;
      xs[e] = pk${u};
    }`,
  )
  .join('\n')}
${storeScanValues}`;

// Backward scan: q ⊙ e^{b} of chunk nn into px*, ď into pv*, B of the chunk into pl (tid < 16).
const bwdHLoad = (nn: string): string =>
  `${loadScanKeys(nn, ['px'], (u) => `px${u} = Qs[o] * exp(bSum(o));`)}
${loadScanValues(nn, 'SCALE * Dy[gvo(b, t, h) + vv]')}
    if (tid < TK) {
      let dd = kt * TK + tid;
      pl = 0.0;
      if (dd < DK) { pl = bSum(gqk(b, min((${nn}) * CH + CH - 1, T - 1), h) + dd); }
    }`;

const bwdHStore = `${range(8)
  .map((u) => `    xs[tid + ${128 * u}] = px${u};`)
  .join('\n')}
${storeScanValues}
    if (tid < TK) { lastB[tid] = pl; }`;

// Forward scan. Per chunk: stage g (split into gh + gl, see the header comment), k [C,16] and
// v [C,32]; in-chunk inclusive cumsums of gh and gl per key channel (8 segments of 8 rows, then
// segment offsets); write b (from the vt = 0 workgroups) and S_n; k̃ = k ⊙ e^{B − b} in place;
// S ← e^{B} S + k̃ᵀ v.
// result = [S_0 .. S_N (n-major) | b hi (B·T·H·K) | b lo (B·T·H·K)]
function fwdHSource(hasH0: boolean): string {
  return `${header(false)}
${SCAN_PROLOGUE}
var<workgroup> bHi : array<f32, ${64 * 16}>;
var<workgroup> bLo : array<f32, ${64 * 16}>;
var<workgroup> segHi : array<f32, ${8 * 16}>;
var<workgroup> segLo : array<f32, ${8 * 16}>;
var<workgroup> lastLo : array<f32, 16>;
fn main(index : i32) {
${WORKGROUP_ID}
${SCAN_THREAD}
  var s = vec4<f32>(0.0);
${
  hasH0
    ? `  if (d < DK) {
    for (var jj = 0; jj < 4; jj++) { if (v0 + jj < DV) { s[jj] = H0[gst(0, bh, d) + v0 + jj]; } }
  }`
    : ''
}
${scanRegisters(['pg', 'pk'])}
${fwdHLoad('0')}
  for (var n = 0; n < NC; n++) {
${fwdHStore}
    workgroupBarrier();
    if (n + 1 < NC) {
${fwdHLoad('n + 1')}
    }
    // Rows past T were staged with g = 0, so b stays at its last valid value there.
    let c = tid % TK;
    let seg = tid / TK;
    var run = vec2<f32>(0.0);
    for (var r = seg * 8; r < seg * 8 + 8; r++) {
      run += vec2<f32>(bHi[r * TK + c], bLo[r * TK + c]);
      bHi[r * TK + c] = run.x;
      bLo[r * TK + c] = run.y;
    }
    segHi[seg * TK + c] = run.x;
    segLo[seg * TK + c] = run.y;
    workgroupBarrier();
    var pre = vec2<f32>(0.0);
    for (var s2 = 0; s2 < seg; s2++) { pre += vec2<f32>(segHi[s2 * TK + c], segLo[s2 * TK + c]); }
    let dc = kt * TK + c;
    for (var r = seg * 8; r < seg * 8 + 8; r++) {
      let x = vec2<f32>(bHi[r * TK + c], bLo[r * TK + c]) + pre;
      bHi[r * TK + c] = x.x;
      bLo[r * TK + c] = x.y;
      let t = n * CH + r;
      if (vt == 0 && t < T && dc < DK) { let o = HS + gqk(b, t, h) + dc; result[o] = x.x; result[NQK + o] = x.y; }
      if (r == CH - 1) { lastB[c] = x.x; lastLo[c] = x.y; }
    }
    workgroupBarrier();
${storeState('n')}
    for (var e = tid; e < CH * TK; e += 128) {
      let c2 = e % TK;
      xs[e] *= exp((lastB[c2] - bHi[e]) + (lastLo[c2] - bLo[e]));
    }
    workgroupBarrier();
${scanUpdate(' + lastLo[dl]')}
    workgroupBarrier();
  }
${storeState('NC')}
}`;
}

// Backward scan, chunks in reverse. Per chunk: stage q̃ = q ⊙ e^{b} [C,16], ď [C,32] and B_n;
// write dS_{n+1}; dS ← e^{B} dS + q̃ᵀ ď.
// dy = [d_o | d_final when HAS_FINAL]; result = [dS_0 .. dS_N (n-major)]
function bwdHSource(): string {
  return `${header()}
${SCAN_PROLOGUE}
fn main(index : i32) {
${WORKGROUP_ID}
${SCAN_THREAD}
  var s = vec4<f32>(0.0);
  if (HAS_FINAL && d < DK) {
    for (var jj = 0; jj < 4; jj++) { if (v0 + jj < DV) { s[jj] = Dy[NVO + gst(0, bh, d) + v0 + jj]; } }
  }
${scanRegisters(['px'])}
  var pl = 0.0;
${bwdHLoad('NC - 1')}
  for (var m = 0; m < NC; m++) {
    let n = NC - 1 - m;
${bwdHStore}
    workgroupBarrier();
    if (m + 1 < NC) {
${bwdHLoad('n - 1')}
    }
${storeState('n + 1')}
${scanUpdate()}
    workgroupBarrier();
  }
${storeState('0')}
}`;
}

// ---- The per-chunk kernels ----
// 256 threads; thread (I, J) = (tid / 16, tid % 16) owns (in the value-tiled passes) rows 4I..,
// value columns 4J.. of the output tile. The chunk's C×C matrix A is formed in 4×4 blocks
// (IA, JA), one per thread, numbered so that whole warps share a kind: threads 0–119 the strictly
// lower blocks (the only ones with work: one exp per pair and channel), 120–135 the diagonal ones,
// 136–255 the upper ones (zeros). With blocks (tid / 16, tid % 16), every warp held blocks of all
// three kinds, so each computed the lower blocks' exps for all 32 lanes: now 4¼ warps of 8 do.
const A_BLOCK = `
// (IA, JA) of the strictly lower block number t < 120, in row-major order: IA(IA − 1)/2 ≤ t < IA(IA + 1)/2
fn lowerBlock(t : i32) -> vec2<i32> {
  var r = i32(floor((1.0 + sqrt(f32(8 * t + 1))) * 0.5));
  if (r * (r - 1) / 2 > t) { r -= 1; }
  if (r * (r + 1) / 2 <= t) { r += 1; }
  return vec2<i32>(r, t - r * (r - 1) / 2);
}`;

// A's share of one K slice of 16 channels, staged as q, k, b hi, b lo [C][16] (row stride RS) at
// 0, 1, 2, 3 · TILE16 of `sh`; channel c of the slice. Only blocks with IA ≥ JA are formed (A is
// lower triangular), and in the diagonal blocks only pairs j ≤ i, so every exponent is ≤ 0.
function aSliceStep(): string {
  const rows = (off: number, name: string, blk: string): string =>
    range(4)
      .map((r) => `let ${name}${r} = sh[${off} + (4 * ${blk} + ${r}) * ${RS} + c];`)
      .join(' ');
  // e^{b_i − b_j} from the (hi, lo) parts, hi difference first (row i: bi, li; column j: bj, lj)
  const w = (i: string, li: string, j: string, lj: string): string => `exp((${i} - ${j}) + (${li} - ${lj}))`;
  const full = range(4)
    .map((ii) => `        a[${ii}] += q${ii} * vec4<f32>(${range(4).map((jj) => `k${jj} * ${w(`b${ii}`, `l${ii}`, `g${jj}`, `m${jj}`)}`).join(', ')});`)
    .join('\n');
  const diag = range(4)
    .map((ii) => {
      const terms = range(4).map((jj) => (jj < ii ? `k${jj} * ${w(`b${ii}`, `l${ii}`, `b${jj}`, `l${jj}`)}` : jj === ii ? `k${ii}` : '0.0'));
      return `        a[${ii}] += q${ii} * vec4<f32>(${terms.join(', ')});`;
    })
    .join('\n');
  return `
      if (IA > JA) {
        ${rows(0, 'q', 'IA')} ${rows(2 * TILE16, 'b', 'IA')} ${rows(3 * TILE16, 'l', 'IA')}
        ${rows(TILE16, 'k', 'JA')} ${rows(2 * TILE16, 'g', 'JA')} ${rows(3 * TILE16, 'm', 'JA')}
${full}
      } else if (IA == JA) {
        ${rows(0, 'q', 'IA')} ${rows(TILE16, 'k', 'IA')} ${rows(2 * TILE16, 'b', 'IA')} ${rows(3 * TILE16, 'l', 'IA')}
${diag}
      }`;
}

// Loads element u (index e) of the [C][w] key slice k0 .. k0+w−1 of chunk n: qv, kv and b as
// hiV, loV (rows past T: q = k = 0 and b clamped to the last valid row); with `last`, also b of
// the chunk's last row as hiL, loL.
function loadQKB(u: number, e: string, w: number, last: boolean): string {
  return `      let t${u} = n * CH + ${e} / ${w};
      let dd${u} = k0 + ${e} % ${w};
      var qv${u} = 0.0;
      var kv${u} = 0.0;
      var hiV${u} = 0.0;
      var loV${u} = 0.0;${last ? `\n      var hiL${u} = 0.0;\n      var loL${u} = 0.0;` : ''}
      if (dd${u} < DK) {
        let ob = HS + gqk(b, min(t${u}, T - 1), h) + dd${u};
        hiV${u} = HB[ob];
        loV${u} = HB[NQK + ob];${
    last
      ? `\n        let oc = HS + gqk(b, lastT, h) + dd${u};\n        hiL${u} = HB[oc];\n        loL${u} = HB[NQK + oc];`
      : ''
  }
        if (t${u} < T) { let o = gqk(b, t${u}, h) + dd${u}; qv${u} = Qs[o]; kv${u} = Ks[o]; }
      }`;
}

// Stages the K slice k0 .. k0+15 of chunk n: q, k, b hi, b lo (rows past T: q = k = 0 and b
// clamped to the last valid row) and one derived tile at 4 · TILE16 = f(qv, kv, hiV, loV, hiL, loL):
// b of the row and of the chunk's last row, as hi + lo; and the slice k0 .. of state set `m` of
// buffer `buf`, [16][64] at 5 · TILE16. Every thread stages four elements of each.
function stageQKBS(extra: string, buf: string, m: string): string {
  return stageUnrolled(
    CH_TILE16,
    256,
    (u, e) => `${loadQKB(u, e, 16, true)}
      let sd${u} = k0 + ${e} / 64;
      let sv${u} = vt * 64 + ${e} % 64;
      var sx${u} = 0.0;
      if (sd${u} < DK && sv${u} < DV) { sx${u} = ${buf}[gst(${m}, bh, sd${u}) + sv${u}]; }`,
    (u, e) => `      let at${u} = (${e} / 16) * ${RS} + ${e} % 16;
      sh[at${u}] = qv${u};
      sh[${TILE16} + at${u}] = kv${u};
      sh[${2 * TILE16} + at${u}] = hiV${u};
      sh[${3 * TILE16} + at${u}] = loV${u};
      sh[${4 * TILE16} + at${u}] = ${suffixed(extra, u)};
      sh[${5 * TILE16} + ${e}] = sx${u};`,
  );
}

// A over all K slices for chunk n, plus acc[ii] += X[4I+ii][c] · S[c][4J..4J+3] where X is the
// derived tile at 4 · TILE16 (q ⊙ e^{b} forward, k ⊙ e^{B − b} for dv) and S the slice k0.. of state
// set `m` of buffer `buf`, staged [16][64] at 5 · TILE16. Leaves A in sh[0 .. 4096) as [C][C].
function aAndInter(extra: string, buf: string, m: string): string {
  return `
  for (var k0 = 0; k0 < DK; k0 += 16) {
    ${stageQKBS(extra, buf, m)}
    workgroupBarrier();
    for (var c = 0; c < 16; c++) {
${aSliceStep()}
      let s4 = vec4<f32>(${range(4).map((j) => `sh[${5 * TILE16} + c * 64 + 4 * J + ${j}]`).join(', ')});
${range(4).map((ii) => `      acc[${ii}] += sh[${4 * TILE16} + (4 * I + ${ii}) * ${RS} + c] * s4;`).join('\n')}
    }
    workgroupBarrier();
  }
  // A to workgroup memory, [C][C] at 0 (the upper blocks' threads write their zeros)
${range(4).map((ii) => range(4).map((jj) => `  sh[(4 * IA + ${ii}) * 64 + 4 * JA + ${jj}] = a[${ii}].${XYZW[jj]};`).join('\n')).join('\n')}
  workgroupBarrier();`;
}

// Stages rows r0 .. r0+15 of chunk n, value columns vt·64 .. +64, of `expr` (index o) at 4096.
const stageRowsV = (expr: string): string =>
  stageUnrolled(
    16 * 64,
    256,
    (u, e) => `      let t${u} = n * CH + r0 + ${e} / 64;
      let vv${u} = vt * 64 + ${e} % 64;
      var x${u} = 0.0;
      if (t${u} < T && vv${u} < DV) { let o = gvo(b, t${u}, h) + vv${u}; x${u} = ${expr}; }`,
    (u, e) => `      sh[4096 + ${e}] = x${u};`,
  );

const VALUE_TILE_THREAD = `
  let I = tid / 16;
  let J = tid % 16;
  var blk = vec2<i32>(tid - 120, tid - 120);
  if (tid < 120) { blk = lowerBlock(tid); } else if (tid >= 136) { blk = lowerBlock(tid - 136).yx; }
  let IA = blk.x;
  let JA = blk.y;
  let lastT = min(n * CH + CH - 1, T - 1);
  var a = array<vec4<f32>, 4>();
  var acc = array<vec4<f32>, 4>();`;

// Writes acc (rows 4I+ii of chunk n, columns vt·64 + 4J + jj) times `mul` to result[off + …].
// (Unrolled here, so acc is only ever indexed by constants and stays in registers.)
const storeValueTile = (off: string, mul: string): string =>
  range(4)
    .map(
      (ii) => `  {
    let t = n * CH + 4 * I + ${ii};
    if (t < T) {
${range(4)
  .map(
    (jj) => `      {
        let vv = vt * 64 + 4 * J + ${jj};
        if (vv < DV) { result[${off} + gvo(b, t, h) + vv] = ${mul}acc[${ii}].${XYZW[jj]}; }
      }`,
  )
  .join('\n')}
    }
  }`,
    )
    .join('\n');

// Forward outputs. Workgroup (bh, n, vt) of BH·NC·⌈V/64⌉.
// result = [o (B·T·H·V) | final state (B·H·K·V) when HAS_FINAL, copied from the chunk states]
function fwdOSource(): string {
  return `${header()}
var<workgroup> sh : array<f32, ${VALUE_TILE_FLOATS}>;
${A_BLOCK}
fn main(index : i32) {
${WORKGROUP_ID}
  let VT = (DV + 63) / 64;
  let vt = wid % VT;
  let n = (wid / VT) % NC;
  let bh = wid / (VT * NC);
  let b = bh / H;
  let h = bh % H;
${VALUE_TILE_THREAD}
  // inter-chunk part (q ⊙ e^{b}) S_n and A, over K slices
${aAndInter('qv * exp(hiV + loV)', 'HB', 'n')}
  // intra-chunk part A·v over row slices (rows j ≤ 4I+3 only)
  for (var r0 = 0; r0 < CH; r0 += 16) {
    ${stageRowsV('Vs[o]')}
    workgroupBarrier();
    if (r0 <= 4 * I + 3) {
      for (var jr = 0; jr < 16; jr++) {
        let j = r0 + jr;
        let v4 = vec4<f32>(${range(4).map((x) => `sh[4096 + jr * 64 + 4 * J + ${x}]`).join(', ')});
${range(4).map((ii) => `        acc[${ii}] += sh[(4 * I + ${ii}) * 64 + j] * v4;`).join('\n')}
      }
    }
    workgroupBarrier();
  }
${storeValueTile('0', 'SCALE * ')}
  if (HAS_FINAL && n == NC - 1) {
    for (var e = tid; e < DK * 64; e += 256) {
      let dd = e / 64;
      let vv = vt * 64 + e % 64;
      if (vv < DV) { result[NVO + gst(0, bh, dd) + vv] = HB[gst(NC, bh, dd) + vv]; }
    }
  }
}`;
}

// Backward gradients. Workgroups [0, NY): (bh, n, vt) write dv; [NY, NY + NX): (bh, n, kt) write
// dq, dk and dg for keys kt·64 .. +64.
// dy = [d_o | d_final]; result = [dq | dk | dg (B·T·H·K each) | dv (B·T·H·V)]
// `part` 'dv' or 'dqk' makes a shader of one kind of workgroup only (result [dv], or [dq | dk | dg]):
// the backward pass as two launches, each pipeline with the registers and workgroup memory its
// own kind needs rather than the larger of the two (METALA_GLA_BWD=split; see bwdSplit).
function bwdSource(part: 'both' | 'dv' | 'dqk' = 'both'): string {
  // In the key-tiled workgroups thread (row i = tid / 4, c2 = 2 · (tid % 4)) owns keys
  // l = 8 s + c2 + dd (s = 0..7, dd = 0..1) of the 64-key tile: component dd of dqI[s], dkI[s].
  const key = (s: number, dd: number): string => `${8 * s} + c2 + ${dd}`;
  const pair = (f: (x: number) => string): string => `vec2<f32>(${f(0)}, ${f(1)})`;
  const shFloats = part === 'dv' ? VALUE_TILE_FLOATS : part === 'dqk' ? KEY_TILE_FLOATS : Math.max(VALUE_TILE_FLOATS, KEY_TILE_FLOATS);
  // Which kind a workgroup is: split by id in the shared shader, fixed in a one-part shader (whose
  // other branch the compiler drops: the condition is a constant).
  const isValueTile = part === 'both' ? 'wid < NY' : part === 'dv' ? 'true' : 'false';
  return `${header()}
var<workgroup> sh : array<f32, ${shFloats}>;
${A_BLOCK}
fn main(index : i32) {
${WORKGROUP_ID}
  let VT = (DV + 63) / 64;
  let KT = (DK + 63) / 64;
  let NY = ${part === 'dqk' ? '0' : 'BH * NC * VT'};
  if (${isValueTile}) {
    // ---- dv_j = Σ_{i≥j} A_ij ď_i + (k_j ⊙ e^{B − b_j}) dS_{n+1} ----
    let vt = wid % VT;
    let n = (wid / VT) % NC;
    let bh = wid / (VT * NC);
    let b = bh / H;
    let h = bh % H;
${VALUE_TILE_THREAD}
${aAndInter('kv * exp((hiL - hiV) + (loL - loV))', 'DH', 'n + 1')}
    // Aᵀ ď over row slices i (rows i ≥ 4I only)
    for (var r0 = 0; r0 < CH; r0 += 16) {
      ${stageRowsV('SCALE * Dy[o]')}
      workgroupBarrier();
      if (r0 + 15 >= 4 * I) {
        for (var ir = 0; ir < 16; ir++) {
          let i = r0 + ir;
          let d4 = vec4<f32>(${range(4).map((x) => `sh[4096 + ir * 64 + 4 * J + ${x}]`).join(', ')});
${range(4).map((jj) => `          acc[${jj}] += sh[i * 64 + 4 * I + ${jj}] * d4;`).join('\n')}
        }
      }
      workgroupBarrier();
    }
${storeValueTile(part === 'dv' ? '0' : '3 * NQK', '')}
  } else {
    // ---- dq, dk, dg for keys kt·64 .. +64 ----
    let w2 = wid - NY;
    let kt = w2 % KT;
    let n = (w2 / KT) % NC;
    let bh = w2 / (KT * NC);
    let b = bh / H;
    let h = bh % H;
    let I = tid / 16;
    let J = tid % 16;
    let i = tid / 4;
    let c2 = (tid % 4) * 2;
    let t = n * CH + i;
    let lastT = min(n * CH + CH - 1, T - 1);
    var da = array<vec4<f32>, 4>();
    // inter parts before their decay factors: Σ_v ď_i S_n[l] and Σ_v v_i dS_{n+1}[l]
    var dqI = array<vec2<f32>, 8>();
    var dkI = array<vec2<f32>, 8>();
    // Σ_v S_{n+1} ⊙ dS_{n+1} of key i over columns 4q .. 4q + 3 (q = tid % 4) of each 16-column
    // slice: the four threads of a key share the sum, added up in pass 2
    var fin = 0.0;
    // Pass 1 over V slices of 16 (rows RS apart): ď [C][16] at 0, v [C][16] at TILE16, S_n
    // [64 keys][16] at 2 · TILE16, dS_{n+1} [64 keys][16] at 3 · TILE16, S_{n+1} [64 keys][16] at
    // 4 · TILE16 (inside the dA region of pass 2, written after this pass).
    for (var v0 = 0; v0 < DV; v0 += 16) {
      ${stageUnrolled(
        CH_TILE16,
        256,
        (u, e) => `      let tt${u} = n * CH + ${e} / 16;
      let vv${u} = v0 + ${e} % 16;
      var dov${u} = 0.0;
      var vvv${u} = 0.0;
      if (tt${u} < T && vv${u} < DV) { let o = gvo(b, tt${u}, h) + vv${u}; dov${u} = SCALE * Dy[o]; vvv${u} = Vs[o]; }
      let dd${u} = kt * 64 + ${e} / 16;
      var sv${u} = 0.0;
      var dsv${u} = 0.0;
      var snv${u} = 0.0;
      if (dd${u} < DK && vv${u} < DV) {
        sv${u} = HB[gst(n, bh, dd${u}) + vv${u}];
        dsv${u} = DH[gst(n + 1, bh, dd${u}) + vv${u}];
        snv${u} = HB[gst(n + 1, bh, dd${u}) + vv${u}];
      }`,
        (u, e) => `      let at${u} = (${e} / 16) * ${RS} + ${e} % 16;
      sh[at${u}] = dov${u};
      sh[${TILE16} + at${u}] = vvv${u};
      sh[${2 * TILE16} + at${u}] = sv${u};
      sh[${3 * TILE16} + at${u}] = dsv${u};
      sh[${4 * TILE16} + at${u}] = snv${u};`,
      )}
      workgroupBarrier();
      for (var c = 0; c < 16; c++) {
        if (I >= J) {
${range(4).map((r) => `          let x${r} = sh[(4 * I + ${r}) * ${RS} + c];`).join('\n')}
          let y4 = vec4<f32>(${range(4).map((r) => `sh[${TILE16} + (4 * J + ${r}) * ${RS} + c]`).join(', ')});
${range(4).map((r) => `          da[${r}] += x${r} * y4;`).join('\n')}
        }
        let di = sh[i * ${RS} + c];
        let vi = sh[${TILE16} + i * ${RS} + c];
${range(8)
  .map(
    (s) => `        dqI[${s}] += di * ${pair((dd) => `sh[${2 * TILE16} + (${key(s, dd)}) * ${RS} + c]`)};
        dkI[${s}] += vi * ${pair((dd) => `sh[${3 * TILE16} + (${key(s, dd)}) * ${RS} + c]`)};`,
  )
  .join('\n')}
      }
      // (staged, not read from global memory here: two warps walking 16 dependent loads each held
      // the other six at the barrier below)
${range(4)
  .map((u) => `      fin += sh[${4 * TILE16} + i * ${RS} + 4 * (tid % 4) + ${u}] * sh[${3 * TILE16} + i * ${RS} + 4 * (tid % 4) + ${u}];`)
  .join('\n')}
      workgroupBarrier();
    }
    // dA to [C][C] at 0 with rows DA_RS = 65 floats apart (the dq loop below reads rows i = tid / 4:
    // 8 rows per warp, all in one bank at a stride of 64): lower blocks, and only j ≤ i inside the
    // diagonal blocks
${range(4)
  .map((ii) =>
    range(4)
      .map((jj) => `    sh[(4 * I + ${ii}) * ${DA_RS} + 4 * J + ${jj}] = ${jj > ii ? `select(da[${ii}].${XYZW[jj]}, 0.0, I == J)` : `da[${ii}].${XYZW[jj]}`};`)
      .join('\n'),
  )
  .join('\n')}
    sh[${DA_END + 2048} + tid] = fin; // key i = tid / 4, part tid % 4
    // Pass 2 over the 8-key slices that hold keys (K = 32: four of eight): q [C][8] at DA_END, k at
    // + 512, b hi at + 1024, b lo at + 1536; then r = q ⊙ dq − k ⊙ dk at DA_END and the segment sums of
    // its reverse cumsum at 4608. (nSlices is uniform: from uniforms and the uniform workgroup id.)
    let nSlices = min(8, (DK - kt * 64 + 7) / 8);
    for (var s = 0; s < nSlices; s++) {
      let k0 = kt * 64 + 8 * s;
      workgroupBarrier();
      ${stageUnrolled(
        64 * 8,
        256,
        (u, e) => loadQKB(u, e, 8, false),
        (u, e) => `      sh[${DA_END} + ${e}] = qv${u};
      sh[${DA_END + 512} + ${e}] = kv${u};
      sh[${DA_END + 1024} + ${e}] = hiV${u};
      sh[${DA_END + 1536} + ${e}] = loV${u};`,
      )}
      workgroupBarrier();
      var dq = vec2<f32>(0.0);
      var dk = vec2<f32>(0.0);
      let bhi = ${pair((x) => `sh[${DA_END + 1024} + i * 8 + c2 + ${x}]`)};
      let bli = ${pair((x) => `sh[${DA_END + 1536} + i * 8 + c2 + ${x}]`)};
      // dq_i = Σ_{j<i} dA_ij k_j ⊙ e^{b_i − b_j} (the pair j = i below)
      for (var j = 0; j < i; j++) {
        let bhj = ${pair((x) => `sh[${DA_END + 1024} + j * 8 + c2 + ${x}]`)};
        let blj = ${pair((x) => `sh[${DA_END + 1536} + j * 8 + c2 + ${x}]`)};
        let kj = ${pair((x) => `sh[${DA_END + 512} + j * 8 + c2 + ${x}]`)};
        dq += sh[i * ${DA_RS} + j] * kj * exp((bhi - bhj) + (bli - blj));
      }
      // dk_i = Σ_{j>i} dA_ji q_j ⊙ e^{b_j − b_i}
      for (var j = i + 1; j < CH; j++) {
        let bhj = ${pair((x) => `sh[${DA_END + 1024} + j * 8 + c2 + ${x}]`)};
        let blj = ${pair((x) => `sh[${DA_END + 1536} + j * 8 + c2 + ${x}]`)};
        let qj = ${pair((x) => `sh[${DA_END} + j * 8 + c2 + ${x}]`)};
        dk += sh[j * ${DA_RS} + i] * qj * exp((bhj - bhi) + (blj - bli));
      }
      // inter parts: e^{b_i} ⊙ Σ_v ď_i S_n and e^{B − b_i} ⊙ Σ_v v_i dS_{n+1}
      var hiL = vec2<f32>(0.0);
      var loL = vec2<f32>(0.0);
      for (var x = 0; x < 2; x++) {
        let dd = k0 + c2 + x;
        if (dd < DK) { let oc = HS + gqk(b, lastT, h) + dd; hiL[x] = HB[oc]; loL[x] = HB[NQK + oc]; }
      }
      // dqI[s], dkI[s] picked with constant indices only: an array indexed by a loop variable lives
      // in (off-chip) local memory, and with it every += of pass 1
      var dqS = dqI[0];
      var dkS = dkI[0];
${range(7)
  .map((x) => `      if (s == ${x + 1}) { dqS = dqI[${x + 1}]; dkS = dkI[${x + 1}]; }`)
  .join('\n')}
      dq += exp(bhi + bli) * dqS;
      dk += exp((hiL - bhi) + (loL - bli)) * dkS;
      let qi = ${pair((x) => `sh[${DA_END} + i * 8 + c2 + ${x}]`)};
      let ki = ${pair((x) => `sh[${DA_END + 512} + i * 8 + c2 + ${x}]`)};
      // The pair j = i adds dA_ii k_i to dq_i and dA_ii q_i to dk_i, so q_i ⊙ dA_ii k_i − k_i ⊙
      // dA_ii q_i = 0 to r: left out of r, where its rounding would only add noise.
      let r = qi * dq - ki * dk;
      let dii = sh[i * ${DA_RS} + i];
      dq += dii * ki;
      dk += dii * qi;
      if (t < T) {
        for (var x = 0; x < 2; x++) {
          let dd = k0 + c2 + x;
          if (dd < DK) { let o = gqk(b, t, h) + dd; result[o] = dq[x]; result[NQK + o] = dk[x]; }
        }
      }
      workgroupBarrier();
      sh[${DA_END} + i * 8 + c2] = r.x;
      sh[${DA_END} + i * 8 + c2 + 1] = r.y;
      workgroupBarrier();
      // reverse cumsum of r over the chunk's rows, per key: 32 segments of 2 rows, then offsets
      let c = tid % 8;
      let seg = tid / 8;
      let r1 = sh[${DA_END} + (seg * 2 + 1) * 8 + c];
      let r0 = sh[${DA_END} + seg * 2 * 8 + c] + r1;
      sh[${DA_END + 512} + seg * 8 + c] = r0;
      workgroupBarrier();
      let fk = ${DA_END + 2048} + 4 * (8 * s + c);
      var post = (sh[fk] + sh[fk + 1]) + (sh[fk + 2] + sh[fk + 3]);
      for (var s2 = seg + 1; s2 < 32; s2++) { post += sh[${DA_END + 512} + s2 * 8 + c]; }
      let dd = k0 + c;
      let t0 = n * CH + seg * 2;
      if (dd < DK) {
        if (t0 < T) { result[2 * NQK + gqk(b, t0, h) + dd] = r0 + post; }
        if (t0 + 1 < T) { result[2 * NQK + gqk(b, t0 + 1, h) + dd] = r1 + post; }
      }
    }
  }
}`;
}

/** tfjs-webgpu program shape (its WebGPUProgram interface is not exported); see program.ts. */
class GlaChunkProgram {
  readonly uniforms = UNIFORMS;
  readonly outputShape: number[];
  readonly dispatchLayout = { x: [0] };
  readonly dispatch: [number, number, number];
  readonly workgroupSize: [number, number, number];
  readonly size = false;

  constructor(
    readonly shaderKey: string,
    readonly variableNames: string[],
    outSize: number,
    workgroups: number,
    threads: number,
    private readonly source: string,
  ) {
    this.outputShape = [outSize];
    this.workgroupSize = [threads, 1, 1];
    // WebGPU allows 65,535 workgroups per dimension: larger counts go 2-D (the kernels read the
    // linear id y · X + x and leave past NWG).
    const x = Math.min(workgroups, 65535);
    this.dispatch = [x, Math.ceil(workgroups / x), 1];
  }

  getUserCode(): string {
    // guard(): see program.ts (keeps tfjs's uniform binding in the pipeline layout).
    return `fn guard(index : i32) { if (index < 0) { result[0] = uniforms.NAN; } }\n${this.source}`;
  }
}

export const GLA_CHUNK_FWD_H = 'MetalaGlaChunkFwdH';
export const GLA_CHUNK_FWD_O = 'MetalaGlaChunkFwdO';
export const GLA_CHUNK_BWD_H = 'MetalaGlaChunkBwdH';
export const GLA_CHUNK_BWD = 'MetalaGlaChunkBwd';
/** The backward gradients as two launches (METALA_GLA_BWD=split): dv, then dq | dk | dg. */
export const GLA_CHUNK_BWD_DV = 'MetalaGlaChunkBwdDv';
export const GLA_CHUNK_BWD_DQK = 'MetalaGlaChunkBwdDqk';

/**
 * Whether the backward gradients run as two launches (value-tile and key-tile workgroups each in a
 * pipeline of its own) instead of one launch holding both kinds, whose pipeline gets the registers of
 * the larger. Measured on the H200 at ref2 (B 16, T 2048, H 4, K 64, V 128), after the staging and
 * local-memory fixes above: 137,139 tokens/s split against 137,492 in one launch
 * (results/bench/ref2-kernel-profile-gla-bwd-split.json, ref2-gla-latency-after.json; there the
 * key tiles took 2.0 ms per layer and the value tiles 1.1), so `one` stays the default:
 * METALA_GLA_BWD=split|one.
 */
export function bwdSplit(value = process.env['METALA_GLA_BWD'] ?? ''): boolean {
  if (value === '' || value === 'one') return false;
  if (value === 'split') return true;
  throw new MetalaError(`METALA_GLA_BWD: '${value}' is not one or split. Unset it, or set one or split`);
}

/** Floats in the chunk states, [N+1, B, H, K, V]. */
export function glaChunkStateSize(d: GlaChunkDims): number {
  return (ceilDiv(d.T, GLA_CHUNK) + 1) * d.B * d.H * d.K * d.V;
}

function dimsOf(attrs: Record<string, unknown>): GlaChunkDims {
  const a = attrs as unknown as GlaChunkDims;
  return { B: a.B, T: a.T, H: a.H, K: a.K, V: a.V, scale: a.scale, hasFinal: a.hasFinal, hasH0: a.hasH0 };
}


interface WebgpuBackendLike {
  runWebGPUProgram(program: GlaChunkProgram, inputs: tf.TensorInfo[], dtype: 'float32', uniforms: { type: string; data: number[] }[]): tf.TensorInfo;
}

/** Registers the chunk kernels for the 'webgpu' backend (idempotent). */
export function registerGlaChunkWebgpuKernels(): void {
  const nc = (d: GlaChunkDims): number => ceilDiv(d.T, GLA_CHUNK);
  const nQK = (d: GlaChunkDims): number => d.B * d.T * d.H * d.K;
  const nVO = (d: GlaChunkDims): number => d.B * d.T * d.H * d.V;
  interface Spec {
    kind: string;
    /** [attribute name, WGSL binding name] in binding order */
    inputs: (d: GlaChunkDims) => [string, string][];
    outSize: (d: GlaChunkDims) => number;
    workgroups: (d: GlaChunkDims) => number;
    threads: number;
    /** WGSL of main; the same for every shape (see the header comment) */
    source: (d: GlaChunkDims) => string;
  }
  const specs: Record<string, Spec> = {
    // k, v, g (, h0) → [S_0 .. S_N | b hi | b lo]
    [GLA_CHUNK_FWD_H]: {
      kind: 'fwd_h',
      inputs: (d) => [['k', 'Ks'], ['v', 'Vs'], ['g', 'Gs'], ...(d.hasH0 ? [['h0', 'H0'] as [string, string]] : [])],
      outSize: (d) => glaChunkStateSize(d) + 2 * nQK(d),
      workgroups: (d) => scanTiles(d).workgroups,
      threads: 128,
      source: (d) => fwdHSource(d.hasH0),
    },
    // q, k, v, hb = [states | b hi | b lo] → [o | final state when hasFinal]
    [GLA_CHUNK_FWD_O]: {
      kind: 'fwd_o',
      inputs: () => [['q', 'Qs'], ['k', 'Ks'], ['v', 'Vs'], ['hb', 'HB']],
      outSize: (d) => nVO(d) + (d.hasFinal ? d.B * d.H * d.K * d.V : 0),
      workgroups: (d) => d.B * d.H * nc(d) * ceilDiv(d.V, 64),
      threads: 256,
      source: fwdOSource,
    },
    // q, hb, dy = [d_o | d_final] → [dS_0 .. dS_N]
    [GLA_CHUNK_BWD_H]: {
      kind: 'bwd_h',
      inputs: () => [['q', 'Qs'], ['hb', 'HB'], ['dy', 'Dy']],
      outSize: glaChunkStateSize,
      workgroups: (d) => scanTiles(d).workgroups,
      threads: 128,
      source: bwdHSource,
    },
    // q, k, v, hb, dh = [dS_0 .. dS_N], dy → [dq | dk | dg | dv]
    [GLA_CHUNK_BWD]: {
      kind: 'bwd',
      inputs: () => [['q', 'Qs'], ['k', 'Ks'], ['v', 'Vs'], ['hb', 'HB'], ['dh', 'DH'], ['dy', 'Dy']],
      outSize: (d) => 3 * nQK(d) + nVO(d),
      workgroups: (d) => d.B * d.H * nc(d) * (ceilDiv(d.V, 64) + ceilDiv(d.K, 64)),
      threads: 256,
      source: () => bwdSource(),
    },
    // the same, value-tile workgroups only → [dv]
    [GLA_CHUNK_BWD_DV]: {
      kind: 'bwd_dv',
      inputs: () => [['q', 'Qs'], ['k', 'Ks'], ['v', 'Vs'], ['hb', 'HB'], ['dh', 'DH'], ['dy', 'Dy']],
      outSize: nVO,
      workgroups: (d) => d.B * d.H * nc(d) * ceilDiv(d.V, 64),
      threads: 256,
      source: () => bwdSource('dv'),
    },
    // the same, key-tile workgroups only → [dq | dk | dg]
    [GLA_CHUNK_BWD_DQK]: {
      kind: 'bwd_dqk',
      inputs: () => [['q', 'Qs'], ['k', 'Ks'], ['v', 'Vs'], ['hb', 'HB'], ['dh', 'DH'], ['dy', 'Dy']],
      outSize: (d) => 3 * nQK(d),
      workgroups: (d) => d.B * d.H * nc(d) * ceilDiv(d.K, 64),
      threads: 256,
      source: () => bwdSource('dqk'),
    },
  };
  for (const [kernelName, spec] of Object.entries(specs)) {
    if (tf.getKernel(kernelName, 'webgpu') !== undefined) continue;
    tf.registerKernel({
      kernelName,
      backendName: 'webgpu',
      kernelFunc: ({ inputs, backend, attrs }) => {
        const d = dimsOf(attrs as unknown as Record<string, unknown>);
        const bound = spec.inputs(d);
        // one pipeline per kernel (and h0 binding): the shapes travel as uniforms
        const key = `metala_gla_chunk_${spec.kind}${spec.kind === 'fwd_h' && d.hasH0 ? '_h0' : ''}`;
        const workgroups = spec.workgroups(d);
        const program = new GlaChunkProgram(key, bound.map(([, w]) => w), spec.outSize(d), workgroups, spec.threads, spec.source(d));
        const xs = bound.map(([name]) => (inputs as Record<string, tf.TensorInfo>)[name]!);
        return (backend as unknown as WebgpuBackendLike).runWebGPUProgram(program, xs, 'float32', uniformData(d, workgroups));
      },
    });
  }
}

defineKernelFamily('gla', registerGlaChunkWebgpuKernels);
