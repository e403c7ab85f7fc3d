// Tiled, register-blocked matrix products for training's shapes on WebGPU, registered as the
// webgpu BatchMatMul kernel (tf.matMul and every matMul gradient go through it).
//
// Why: tfjs 4.22's MatMulPackedProgram computes a 32×32 tile per 64-thread workgroup (4×4 per
// thread) and reached ~2.4 TFLOP/s on an H200 on the head of the MQAR model ([32768,128]×[128,8192]);
// its split-K path is taken only for batch 1 with K ≥ 2000 and few workgroups, and accumulates
// with atomics. A training step's matrix products are
//   forward        [B·T, d] × [d, d']               tall-skinny × small weight
//   input grad     [B·T, d'] × [d, d']ᵀ             (transposeB)
//   weight grad    [B·T, d]ᵀ × [B·T, d']            K = B·T: few output tiles, a long K
//   head           [N, d] × [d, V] and its two gradients (V up to 8192)
//   attention      [B·H, T, e] × [B·H, S, e]ᵀ, …    batched
// Here each workgroup of NT threads computes a BM×BN output tile, each thread a TM×TN block of it
// in registers (vec4 accumulators), staging BK-deep slices of A and B in workgroup memory; the
// global loads follow each operand's contiguous axis, so transposed operands read as coalesced as
// plain ones. A product with few output tiles and a long K (weight gradients) splits K over S
// workgroups that write partial products [S, batch, M, N]; MetalaSumSplits adds them (no atomics,
// so the result is deterministic).
import * as tf from '@tensorflow/tfjs';
import { MetalaError } from '../../util/errors.js';
import { FlatProgram } from './program.js';

/** One tile configuration: BM×BN output tile, BK-deep k slices, TM×TN outputs per thread. */
export interface MatmulTile {
  BM: number;
  BN: number;
  BK: number;
  TM: number;
  TN: number;
}

/** Sizes of one product C[b] = op(A[b]) · op(B[b]), with batch broadcasting of a size-1 operand. */
export interface MatmulDims {
  batch: number;
  batchA: number;
  batchB: number;
  M: number;
  N: number;
  K: number;
  transA: boolean;
  transB: boolean;
}

export const TILES = {
  /** 256 threads, 8×8 per thread: the large tile, for outputs with ≥ 128 rows and columns. */
  large: { BM: 128, BN: 128, BK: 8, TM: 8, TN: 8 },
  /** 256 threads, 8×4 per thread: d = 64 models (N = 64). */
  wide: { BM: 128, BN: 64, BK: 8, TM: 8, TN: 4 },
  /** 256 threads, 4×8 per thread: M = 64 (transposed weight gradients of d = 64). */
  tall: { BM: 64, BN: 128, BK: 8, TM: 4, TN: 8 },
  /** 256 threads, 4×4 per thread: small matrices of batched products (chunks, heads). */
  small: { BM: 64, BN: 64, BK: 8, TM: 4, TN: 4 },
  /** The large and wide tiles with 16-deep k slices (half the barriers, twice the workgroup memory). */
  large_k16: { BM: 128, BN: 128, BK: 16, TM: 8, TN: 8 },
  wide_k16: { BM: 128, BN: 64, BK: 16, TM: 8, TN: 4 },
} as const satisfies Record<string, MatmulTile>;

export type TileName = keyof typeof TILES;

/**
 * Workgroups a product should launch so every SM of a large GPU has several to hide latency
 * (an H200 has 132 SMs); below this, K is split. METALA_MATMUL_TARGET_WORKGROUPS overrides it.
 */
function targetWorkgroups(): number {
  const v = Number(process.env['METALA_MATMUL_TARGET_WORKGROUPS'] ?? '');
  return Number.isFinite(v) && v > 0 ? v : 512;
}

/** The tile for a product's output shape (the one its rows and columns fill best). */
export function pickTile(d: MatmulDims): TileName {
  const forced = process.env['METALA_MATMUL_TILE'];
  if (forced !== undefined && forced !== '') {
    if (!(forced in TILES)) throw new MetalaError(`METALA_MATMUL_TILE: unknown tile '${forced}'. Use one of ${Object.keys(TILES).join(', ')}`);
    return forced as TileName;
  }
  if (d.M <= 64 && d.N <= 64) return 'small';
  if (d.N <= 64) return 'wide';
  if (d.M <= 64) return 'tall';
  // 16-deep k slices (half the barriers per k) ran as fast or faster than 8-deep ones on every
  // product with K ≥ 512 of one H200 sweep (32768×1376×512: 1.44 ms against 2.19; 512×1376×32768
  // with A transposed: 1.34 against 1.53) and slower at K = 128 (32768×128×128: 0.098 against
  // 0.039 ms): results/bench/matmul-ref2-mqar128-tiles.json. (K here is the whole K, before splits.)
  return d.K >= 512 ? 'large_k16' : 'large';
}

/** K splits: enough workgroups for the GPU, each split at least 256 deep, a multiple of BK. */
export function pickSplits(d: MatmulDims, t: MatmulTile): { splits: number; kChunk: number } {
  const tiles = d.batch * Math.ceil(d.M / t.BM) * Math.ceil(d.N / t.BN);
  const target = targetWorkgroups();
  let s = 1;
  if (tiles < target) s = Math.min(Math.ceil(target / tiles), Math.floor(d.K / 256), 64);
  s = Math.max(1, s);
  const kChunk = Math.ceil(Math.ceil(d.K / s) / t.BK) * t.BK;
  return { splits: Math.ceil(d.K / kChunk), kChunk };
}

/** Whether the tiled kernel takes this product (otherwise tfjs's own kernels run). */
export function tiledMatmulApplies(d: MatmulDims): boolean {
  // Vector-shaped products (decode with batch 1, reductions) fill a 64-row tile badly; tfjs's
  // MatMulReduce / SmallOutputSize programs are made for them.
  if (d.M < 16 || d.N < 16 || d.K < 8) return false;
  // The LM head's forward ([B·T, d] × [d, V], a short K and a wide output) once measured faster on
  // tfjs's 32×32-tile kernel (3.35 ms against 9.46 at 32768×8192×128, matmul-training-products.json);
  // with the pipelined kernel it is the other way round: 5.15 ms against tfjs's 9.06 in one H200 call
  // (results/bench/matmul-ref2-mqar128-tiles.json), so the tiled kernel takes it too.
  return true;
}

/**
 * Whether op(B) = Bᵀ is first transposed into a buffer of its own and the plain product run. In one
 * H200 call every product that reads B along K (transposeB: a layer's input gradient ∂x = ∂y·Wᵀ) ran
 * 3.6–5.2× slower than the same product with B stored [K, N]: 1.83 ms against 0.505 at
 * 32768×512×512, 0.203 against 0.039 at 32768×128×128 (results/bench/matmul-ref2-mqar128-tiles.json;
 * both operands then take the transposing store into workgroup memory). A transpose moves B's
 * batchB·N·K floats once, and the product then does 2·M·batch/batchB FLOPs per element of B: at 64
 * rows of A per B matrix or more (weights, a stack's [R, N, K], attention's Q·Kᵀ from T = 64) the
 * product's time dominates the move's. METALA_MATMUL_PRETRANSPOSE=off keeps the in-kernel transpose
 * everywhere (to measure what this buys).
 */
export function pretransposeB(d: MatmulDims): boolean {
  if (!d.transB) return false;
  const mode = process.env['METALA_MATMUL_PRETRANSPOSE'] ?? '';
  if (mode !== '' && mode !== 'on' && mode !== 'off') throw new MetalaError(`METALA_MATMUL_PRETRANSPOSE: '${mode}' is not on or off. Unset it, or set on or off`);
  if (mode === 'off') return false;
  return d.batch * d.M >= 64 * d.batchB;
}

const COMP = ['x', 'y', 'z', 'w'];

/**
 * The body of the `kk` loop over one staged BK slice: thread (ty, tx) reads its TM/4 vec4s of A and
 * TN/4 of B from workgroup memory and adds their outer product to its TM×TN accumulators. Its rows
 * are tileM + p·4·NTY + 4·ty + r and its columns tileN + q·4·NTX + 4·tx + c (p < TM/4, q < TN/4,
 * r, c < 4): its vec4 groups are interleaved with its neighbours', so a warp's workgroup-memory
 * reads and global stores of one group are consecutive vec4s.
 */
function sliceProducts(t: MatmulTile, bases: [string, string] = ['', '']): string[] {
  const { BM, BN, TM, TN } = t;
  const NTX = BN / TN;
  const NTY = BM / TM;
  const lines: string[] = [];
  for (let p = 0; p < TM / 4; p++) lines.push(`      let a${p} = As[${bases[0]}kk * ${BM / 4} + ${p * NTY} + ty];`);
  for (let q = 0; q < TN / 4; q++) lines.push(`      let b${q} = Bs[${bases[1]}kk * ${BN / 4} + ${q * NTX} + tx];`);
  for (let i = 0; i < TM; i++) {
    for (let q = 0; q < TN / 4; q++) lines.push(`      acc${i}_${q} = fma(vec4<f32>(a${Math.floor(i / 4)}.${COMP[i % 4]}), b${q}, acc${i}_${q});`);
  }
  return lines;
}

/**
 * The thread's accumulators into `result` [S, batch, M, N] (layout of sliceProducts), with the row
 * and column checks only where the sizes need them. N % 4 = 0: the output is bound as vec4s
 * (outputComponent 4), one store per group.
 */
function storeTile(d: MatmulDims, t: MatmulTile, checkM: boolean, checkN: boolean): string[] {
  const { BM, BN, TM, TN } = t;
  const NTX = BN / TN;
  const NTY = BM / TM;
  const lines = ['  let outBase = (split * BATCH + b) * M * N;'];
  for (let i = 0; i < TM; i++) {
    lines.push(`  { let m = tileM + ${Math.floor(i / 4) * 4 * NTY} + 4 * ty + ${i % 4};`);
    if (checkM) lines.push('    if (m < M) {');
    for (let q = 0; q < TN / 4; q++) {
      const col = `tileN + ${q * 4 * NTX} + 4 * tx`;
      if (d.N % 4 === 0) {
        const st = `result[(outBase + m * N + n) / 4] = acc${i}_${q};`;
        lines.push(`      { let n = ${col}; ${checkN ? `if (n < N) { ${st} }` : st} }`);
      } else {
        for (let c = 0; c < 4; c++) lines.push(`      { let n = ${col} + ${c}; if (n < N) { result[outBase + m * N + n] = acc${i}_${q}.${COMP[c]}; } }`);
      }
    }
    if (checkM) lines.push('    }');
    lines.push('  }');
  }
  return lines;
}

/** WGSL of the tiled product; `result` is [S, batch, M, N] (S = 1 unless K is split). */
export function matmulSource(d: MatmulDims, t: MatmulTile, kChunk: number, splits: number): string {
  const { BM, BN, BK, TM, TN } = t;
  const NT = (BM / TM) * (BN / TN);
  const lines: string[] = [];
  lines.push(`
const M = ${d.M}; const N = ${d.N}; const K = ${d.K};
const BATCH = ${d.batch}; const SPLITS = ${splits}; const KCHUNK = ${kChunk};
const BM = ${BM}; const BN = ${BN}; const BK = ${BK}; const TM = ${TM}; const TN = ${TN};
const A_BATCH_STRIDE = ${d.batchA === 1 ? 0 : d.M * d.K};
const B_BATCH_STRIDE = ${d.batchB === 1 ? 0 : d.K * d.N};
const TILES_N = ${Math.ceil(d.N / BN)};
// A tile [BK][BM] and B tile [BK][BN] in workgroup memory, 4 consecutive rows/columns per vec4.
var<workgroup> As : array<vec4<f32>, ${(BK * BM) / 4}>;
var<workgroup> Bs : array<vec4<f32>, ${(BK * BN) / 4}>;

// A[b] element (m, k): A is [batch, M, K], or [batch, K, M] when transposed.
fn loadA(base : i32, m : i32, k : i32) -> f32 {
  if (m >= M || k >= K) { return 0.0; }
  return A[base + ${d.transA ? 'k * M + m' : 'm * K + k'}];
}
fn loadB(base : i32, k : i32, n : i32) -> f32 {
  if (k >= K || n >= N) { return 0.0; }
  return B[base + ${d.transB ? 'n * K + k' : 'k * N + n'}];
}

fn main(index : i32) {
  guard(index);
  let tid = i32(localIndex);
  let tileM = i32(workgroupId.y) * BM;
  let tileN = i32(workgroupId.x) * BN;
  let zs = i32(workgroupId.z);
  let b = zs / SPLITS;
  let split = zs % SPLITS;
  let aBase = b * A_BATCH_STRIDE;
  let bBase = b * B_BATCH_STRIDE;
  let tx = tid % ${BN / TN};
  let ty = tid / ${BN / TN};
  let kBegin = split * KCHUNK;
  let kEnd = min(K, kBegin + KCHUNK);`);
  for (let i = 0; i < TM; i++) for (let q = 0; q < TN / 4; q++) lines.push(`  var acc${i}_${q} = vec4<f32>(0.0);`);
  // A constant trip count keeps the barriers in uniform control flow (WGSL's uniformity analysis
  // treats workgroup ids, read through tfjs's private copies, as non-uniform); the slices past kEnd
  // of a shorter last split load zeros.
  lines.push(`  for (var it = 0; it < KCHUNK / BK; it++) {
    let k0 = kBegin + it * BK;`);
  // Stage the A slice: consecutive threads take consecutive elements along A's contiguous axis.
  const aPer = (BM * BK) / NT;
  for (let r = 0; r < aPer; r++) {
    const e = `tid + ${r * NT}`;
    if (d.transA) {
      // [K, M] rows: e → (k = e / BM, m = e % BM)
      lines.push(`    { let e = ${e}; let kk = e / BM; let mm = e % BM;
      let v = select(0.0, loadA(aBase, tileM + mm, k0 + kk), k0 + kk < kEnd);
      As[kk * ${BM / 4} + mm / 4][mm % 4] = v; }`);
    } else {
      // [M, K] rows: e → (m = e / BK, k = e % BK)
      lines.push(`    { let e = ${e}; let mm = e / BK; let kk = e % BK;
      let v = select(0.0, loadA(aBase, tileM + mm, k0 + kk), k0 + kk < kEnd);
      As[kk * ${BM / 4} + mm / 4][mm % 4] = v; }`);
    }
  }
  const bPer = (BN * BK) / NT;
  for (let r = 0; r < bPer; r++) {
    const e = `tid + ${r * NT}`;
    if (d.transB) {
      // [N, K] rows: e → (n = e / BK, k = e % BK)
      lines.push(`    { let e = ${e}; let nn = e / BK; let kk = e % BK;
      let v = select(0.0, loadB(bBase, k0 + kk, tileN + nn), k0 + kk < kEnd);
      Bs[kk * ${BN / 4} + nn / 4][nn % 4] = v; }`);
    } else {
      // [K, N] rows: e → (k = e / BN, n = e % BN)
      lines.push(`    { let e = ${e}; let kk = e / BN; let nn = e % BN;
      let v = select(0.0, loadB(bBase, k0 + kk, tileN + nn), k0 + kk < kEnd);
      Bs[kk * ${BN / 4} + nn / 4][nn % 4] = v; }`);
    }
  }
  lines.push(`    workgroupBarrier();
    for (var kk = 0; kk < BK; kk++) {`);
  lines.push(...sliceProducts(t));
  lines.push(`    }
    workgroupBarrier();
  }`);
  lines.push(...storeTile(d, t, true, true), '}');
  return lines.join('\n');
}

/**
 * The forms of the tiled kernel (METALA_MATMUL_KERNEL): `staged` loads each BK slice of A and B
 * element by element, stores it, waits and computes; `pipelined` loads whole vec4s where an operand's
 * contiguous axis is a multiple of 4, holds the next slice's loads in registers while it computes on
 * the current one (the global-load latency hides behind the FMAs, as CUTLASS's register prefetch),
 * and drops the bounds checks that the compile-time sizes prove unnecessary; `double` is `pipelined`
 * with two slices of workgroup memory: slice it + 1 is stored into one while slice it is multiplied
 * from the other, one barrier per slice instead of two (twice the workgroup memory; not yet timed on
 * a GPU, so not the default).
 */
export type MatmulKernel = 'staged' | 'pipelined' | 'double';

export function matmulKernel(): MatmulKernel {
  const v = process.env['METALA_MATMUL_KERNEL'] ?? '';
  if (v === '') return 'pipelined';
  if (v !== 'staged' && v !== 'pipelined' && v !== 'double') throw new MetalaError(`METALA_MATMUL_KERNEL: '${v}' is not staged, pipelined or double. Unset it, or set one of them`);
  return v;
}

/** Whether an operand is read as vec4s: its contiguous axis (K unless transposed) is a multiple of 4. */
export function vec4Operands(d: MatmulDims): [boolean, boolean] {
  return [(d.transA ? d.M : d.K) % 4 === 0, (d.transB ? d.K : d.N) % 4 === 0];
}

/**
 * WGSL of the pipelined product (same output layout as matmulSource). A's slice is staged as
 * As[k][m/4] (vec4 over m), B's as Bs[k][n/4]; an operand contiguous along k is transposed on its
 * way into workgroup memory (4 component stores per vec4), one contiguous along m or n is copied
 * as whole vec4s.
 */
export function pipelinedSource(d: MatmulDims, t: MatmulTile, kChunk: number, splits: number, double = false): string {
  const { BM, BN, BK, TM, TN } = t;
  const NT = (BM / TM) * (BN / TN);
  const NTX = BN / TN;
  const [vecA, vecB] = vec4Operands(d);
  // Bounds checks the sizes cannot prove away: rows of the last tile, columns, and a K that the
  // splits do not cut into whole BK slices (every kChunk is a multiple of BK).
  const checkM = d.M % BM !== 0;
  const checkN = d.N % BN !== 0;
  const checkK = d.K % kChunk !== 0;
  const lines: string[] = [];
  lines.push(`
const M = ${d.M}; const N = ${d.N}; const K = ${d.K};
const BATCH = ${d.batch}; const SPLITS = ${splits}; const KCHUNK = ${kChunk};
const A_BATCH_STRIDE = ${d.batchA === 1 ? 0 : d.M * d.K};
const B_BATCH_STRIDE = ${d.batchB === 1 ? 0 : d.K * d.N};
var<workgroup> As : array<vec4<f32>, ${((double ? 2 : 1) * BK * BM) / 4}>;
var<workgroup> Bs : array<vec4<f32>, ${((double ? 2 : 1) * BK * BN) / 4}>;

fn main(index : i32) {
  guard(index);
  let tid = i32(localIndex);
  let tileM = i32(workgroupId.y) * ${BM};
  let tileN = i32(workgroupId.x) * ${BN};
  let zs = i32(workgroupId.z);
  let b = zs / SPLITS;
  let split = zs % SPLITS;
  let aBase = b * A_BATCH_STRIDE;
  let bBase = b * B_BATCH_STRIDE;
  let tx = tid % ${NTX};
  let ty = tid / ${NTX};
  let kBegin = split * KCHUNK;
  let kEnd = min(K, kBegin + KCHUNK);`);
  // One operand's loads into registers (`load`) and their stores into workgroup memory (`store`).
  // rows = the tile's extent along M (A) or N (B); contiguous along k unless `alongRows`.
  interface Plan { decl: string[]; load: string[]; store: string[] }
  const plan = (name: 'A' | 'B', rows: number, vec: boolean, alongRows: boolean, checkRows: boolean): Plan => {
    const reg = name === 'A' ? 'ra' : 'rb';
    const shared = name === 'A' ? 'As' : 'Bs';
    const base = name === 'A' ? 'aBase' : 'bBase';
    const tile0 = name === 'A' ? 'tileM' : 'tileN';
    const R = name === 'A' ? 'M' : 'N';
    const width = vec ? 4 : 1;
    const units = (rows * BK) / width;
    const per = Math.ceil(units / NT);
    const partial = units % NT !== 0;
    const decl: string[] = [];
    const load: string[] = [];
    const store: string[] = [];
    for (let r = 0; r < per; r++) {
      decl.push(`  var ${reg}${r} = ${vec ? 'vec4<f32>(0.0)' : '0.0'};`);
      const e = `tid + ${r * NT}`;
      // (row, k) of the unit's first element and its flat index in the operand
      let row: string;
      let kk: string;
      let idx: string;
      if (alongRows) {
        // stored [K, rows]: consecutive units run along the rows
        const perK = rows / width;
        kk = `e / ${perK}`;
        row = `(e % ${perK}) * ${width}`;
        idx = `${base} + (k0 + kk) * ${R} + ${tile0} + rr`;
      } else {
        // stored [rows, K]: consecutive units run along k
        const perRow = BK / width;
        row = `e / ${perRow}`;
        kk = `(e % ${perRow}) * ${width}`;
        idx = `${base} + (${tile0} + rr) * K + k0 + kk`;
      }
      const conds: string[] = [];
      if (partial) conds.push(`e < ${units}`);
      if (checkRows) conds.push(`${tile0} + rr < ${R}`);
      if (checkK) conds.push('k0 + kk < kEnd');
      const read = vec ? `${name}[(${idx}) / 4]` : `${name}[${idx}]`;
      // out of bounds: zeros (the register is reset first only where a check can skip the read)
      const guarded = conds.length === 0 ? `${reg}${r} = ${read};` : `${reg}${r} = ${vec ? 'vec4<f32>(0.0)' : '0.0'}; if (${conds.join(' && ')}) { ${reg}${r} = ${read}; }`;
      load.push(`    { let e = ${e}; let rr = ${row}; let kk = ${kk}; ${guarded} }`);
      // workgroup stores: the slice is [BK][rows/4] vec4s
      const st: string[] = [];
      // `double`: the slice goes into the half at sbA / sbB (vec4 offset, set where the stores run)
      const sb = double ? `sb${name} + ` : '';
      if (alongRows && vec) st.push(`${shared}[${sb}kk * ${rows / 4} + rr / 4] = ${reg}${r};`);
      else if (vec) for (let c = 0; c < 4; c++) st.push(`${shared}[${sb}(kk + ${c}) * ${rows / 4} + rr / 4][rr % 4] = ${reg}${r}.${COMP[c]};`);
      else st.push(`${shared}[${sb}kk * ${rows / 4} + rr / 4][rr % 4] = ${reg}${r};`);
      const placed = `let rr = ${row}; let kk = ${kk}; ${st.join(' ')}`;
      store.push(`    { let e = ${e}; ${partial ? `if (e < ${units}) { ${placed} }` : placed} }`);
    }
    return { decl, load, store };
  };
  const pa = plan('A', BM, vecA, d.transA, checkM);
  const pb = plan('B', BN, vecB, !d.transB, checkN);
  for (let i = 0; i < TM; i++) for (let q = 0; q < TN / 4; q++) lines.push(`  var acc${i}_${q} = vec4<f32>(0.0);`);
  lines.push(...pa.decl, ...pb.decl);
  lines.push('  { let k0 = kBegin;', ...pa.load, ...pb.load, '  }');
  if (double) {
    // Slice 0 into half 0; then per slice: prefetch slice it + 1 into registers, multiply slice it
    // from half it % 2, store slice it + 1 into the other half, one barrier. The other half was last
    // read while multiplying slice it − 1, which every thread finished before the previous barrier.
    // A's halves are BK·BM/4 vec4s apart, B's BK·BN/4.
    const nIt = kChunk / BK;
    lines.push('  { let sbA = 0; let sbB = 0;', ...pa.store, ...pb.store, '  }', '  workgroupBarrier();');
    lines.push(`  for (var it = 0; it < ${nIt}; it++) {
    let half = it % 2;
    let rdA = half * ${(BK * BM) / 4};
    let rdB = half * ${(BK * BN) / 4};
    let more = it + 1 < ${nIt};
    if (more) {
      let k0 = kBegin + (it + 1) * ${BK};`, ...pa.load, ...pb.load, '    }');
    lines.push(`    for (var kk = 0; kk < ${BK}; kk++) {`);
    lines.push(...sliceProducts(t, ['rdA + ', 'rdB + ']));
    lines.push(`    }
    if (more) {
      let sbA = (1 - half) * ${(BK * BM) / 4};
      let sbB = (1 - half) * ${(BK * BN) / 4};`, ...pa.store, ...pb.store, `    }
    workgroupBarrier();
  }`);
    lines.push(...storeTile(d, t, checkM, checkN), '}');
    return lines.join('\n');
  }
  // A constant trip count keeps the barriers in uniform control flow; the prefetch of slice it + 1
  // is issued after the barrier, so its loads are in flight while slice it is multiplied.
  lines.push(`  for (var it = 0; it < ${kChunk / BK}; it++) {`, ...pa.store, ...pb.store, '    workgroupBarrier();');
  lines.push(`    if (it + 1 < ${kChunk / BK}) {
      let k0 = kBegin + (it + 1) * ${BK};`, ...pa.load, ...pb.load, '    }');
  lines.push(`    for (var kk = 0; kk < ${BK}; kk++) {`);
  lines.push(...sliceProducts(t));
  lines.push(`    }
    workgroupBarrier();
  }`);
  lines.push(...storeTile(d, t, checkM, checkN), '}');
  return lines.join('\n');
}

class TiledMatmulProgram {
  readonly variableNames = ['A', 'B'];
  readonly outputShape: number[];
  readonly dispatchLayout = { x: [0] };
  readonly dispatch: [number, number, number];
  readonly workgroupSize: [number, number, number];
  readonly size = false;
  readonly shaderKey: string;
  /** 4 when N % 4 = 0: the output is bound as vec4<f32> (matmulSource stores whole groups). */
  readonly outputComponent: number;
  /** staged: the inputs are scalar arrays; pipelined: vec4 arrays where vec4Operands allows. */
  readonly variableComponents: number[];

  constructor(
    private readonly d: MatmulDims,
    private readonly tile: MatmulTile,
    private readonly splits: number,
    private readonly kChunk: number,
    private readonly kernel: MatmulKernel,
  ) {
    const { BM, BN, TM, TN } = tile;
    const [vecA, vecB] = vec4Operands(d);
    this.variableComponents = kernel !== 'staged' ? [vecA ? 4 : 1, vecB ? 4 : 1] : [1, 1];
    this.outputShape = splits === 1 ? [d.batch, d.M, d.N] : [splits, d.batch, d.M, d.N];
    this.workgroupSize = [(BM / TM) * (BN / TN), 1, 1];
    this.outputComponent = d.N % 4 === 0 ? 4 : 1;
    this.dispatch = [Math.ceil(d.N / BN), Math.ceil(d.M / BM), d.batch * splits];
    const t = tile;
    this.shaderKey = `metala_matmul_${kernel}_${d.batch}_${d.batchA}_${d.batchB}_${d.M}_${d.N}_${d.K}_${d.transA}_${d.transB}_${t.BM}_${t.BN}_${t.BK}_${t.TM}_${t.TN}_${splits}_${kChunk}`;
  }

  getUserCode(): string {
    const nan = this.outputComponent === 4 ? 'vec4<f32>(uniforms.NAN)' : 'uniforms.NAN';
    const src = this.kernel === 'staged' ? matmulSource(this.d, this.tile, this.kChunk, this.splits) : pipelinedSource(this.d, this.tile, this.kChunk, this.splits, this.kernel === 'double');
    return `fn guard(index : i32) { if (index < 0) { result[0] = ${nan}; } }\n${src}`;
  }
}

/** result[i] = Σ_s X[s·n + i]: adds the partial products of a split-K product. */
class SumSplitsProgram extends FlatProgram {
  readonly variableNames = ['X'];
  readonly shaderKey: string;

  constructor(
    private readonly n: number,
    private readonly splits: number,
  ) {
    super(n, Math.min(n, 1 << 20), 256);
    this.shaderKey = `metala_sum_splits_${n}_${splits}`;
  }

  protected body(): string {
    return `
const NOUT = ${this.n}; const S = ${this.splits}; const STRIDE = ${Math.min(this.n, 1 << 20)};
fn main(index : i32) {
  guard(index);
  for (var i = index; i < NOUT; i += STRIDE) {
    var acc = 0.0;
    for (var s = 0; s < S; s++) { acc += X[s * NOUT + i]; }
    result[i] = acc;
  }
}`;
  }
}

interface WebgpuBackendLike {
  runWebGPUProgram(program: unknown, inputs: tf.TensorInfo[], dtype: 'float32'): tf.TensorInfo;
  disposeData(dataId: object): void;
}

/** C = op(A)·op(B) for A [batchA, M|K, K|M], B [batchB, K|N, N|K] (rank-3 views); returns [batch, M, N]. */
export function runTiledMatmul(backend: unknown, a: tf.TensorInfo, b: tf.TensorInfo, d: MatmulDims): tf.TensorInfo {
  const be = backend as WebgpuBackendLike;
  if (pretransposeB(d)) {
    // B [batchB, N, K] → Bᵀ [batchB, K, N] with tfjs's Transpose (a 2-D one runs its shared-memory
    // tiled program), then the plain product; Bᵀ is freed once the product is recorded.
    const transpose = tf.getKernel('Transpose', 'webgpu')!.kernelFunc as unknown as KernelFunc;
    const b3 = d.batchB === 1 ? view(backend, b, [d.N, d.K]) : view(backend, b, [d.batchB, d.N, d.K]);
    const bt = transpose({ inputs: { x: b3 }, backend, attrs: { perm: d.batchB === 1 ? [1, 0] : [0, 2, 1] } });
    be.disposeData(b3.dataId);
    const out = runTiledMatmul(backend, a, bt, { ...d, transB: false });
    be.disposeData(bt.dataId);
    return out;
  }
  const tile = TILES[pickTile(d)];
  const { splits, kChunk } = pickSplits(d, tile);
  // WebGPU allows 65,535 workgroups per dimension: z carries batch × splits.
  if (d.batch * splits > 65535) throw new MetalaError(`tiled matmul: batch ${d.batch} × ${splits} K splits is over WebGPU's 65,535 workgroups per dimension`);
  const out = be.runWebGPUProgram(new TiledMatmulProgram(d, tile, splits, kChunk, matmulKernel()), [a, b], 'float32');
  if (splits === 1) return out;
  const n = d.batch * d.M * d.N;
  const sum = be.runWebGPUProgram(new SumSplitsProgram(n, splits), [out], 'float32');
  be.disposeData(out.dataId);
  const shaped = view(backend, sum, [d.batch, d.M, d.N]);
  be.disposeData(sum.dataId);
  return shaped;
}

type KernelFunc = (args: { inputs: Record<string, tf.TensorInfo>; backend: unknown; attrs: Record<string, unknown> }) => tf.TensorInfo;

interface ReshapeBackend {
  incRef(dataId: object): void;
}

/** A view of x with another shape (the webgpu backend's Reshape: shares the buffer, counts a reference). */
function view(backend: unknown, x: tf.TensorInfo, shape: number[]): tf.TensorInfo {
  (backend as ReshapeBackend).incRef(x.dataId);
  return { dataId: x.dataId, shape, dtype: x.dtype };
}

let registered = false;
let enabled = true;
let launches = 0;

/** Products the tiled kernel has run in this process (tests check that a path really took it). */
export function tiledMatmulLaunches(): number {
  return launches;
}

/**
 * Turns the tiled kernel off (tfjs's own BatchMatMul runs) or back on, within one process:
 * `metala bench --matmul` times both on the same shapes. Returns the previous setting.
 */
export function setTiledMatmul(on: boolean): boolean {
  const was = enabled;
  enabled = on;
  return was;
}

/** Whether the tiled kernel is registered in this process (webgpu, not left out by METALA_NO_FUSED). */
export function tiledMatmulRegistered(): boolean {
  return registered;
}

/**
 * Replaces the webgpu BatchMatMul kernel: products the tiled kernel takes run it, the rest run
 * tfjs's own implementation (kept and called). Idempotent.
 */
export function registerMatmulWebgpuKernel(): void {
  if (registered) return;
  const original = tf.getKernel('BatchMatMul', 'webgpu');
  if (original === undefined) return;
  const fallback = original.kernelFunc as unknown as KernelFunc;
  tf.unregisterKernel('BatchMatMul', 'webgpu');
  tf.registerKernel({
    kernelName: 'BatchMatMul',
    backendName: 'webgpu',
    kernelFunc: ((args: { inputs: Record<string, tf.TensorInfo>; backend: unknown; attrs: Record<string, unknown> }) => {
      const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
      const transA = args.attrs['transposeA'] === true;
      const transB = args.attrs['transposeB'] === true;
      const ra = a.shape.length;
      const rb = b.shape.length;
      const M = transA ? a.shape[ra - 1]! : a.shape[ra - 2]!;
      const K = transA ? a.shape[ra - 2]! : a.shape[ra - 1]!;
      const N = transB ? b.shape[rb - 2]! : b.shape[rb - 1]!;
      const batchA = a.shape.slice(0, -2).reduce((x, y) => x * y, 1);
      const batchB = b.shape.slice(0, -2).reduce((x, y) => x * y, 1);
      const outer = tf.backend_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
      const batch = Math.max(batchA, batchB);
      const d: MatmulDims = { batch, batchA, batchB, M, N, K, transA, transB };
      // Only the plain float32 case and batch broadcasting of a whole operand (what tf.matMul allows).
      const simpleBroadcast = batchA === batchB || batchA === 1 || batchB === 1;
      if (!enabled || a.dtype !== 'float32' || b.dtype !== 'float32' || !simpleBroadcast || !tiledMatmulApplies(d) || (ra !== rb && Math.min(batchA, batchB) !== 1)) {
        return fallback(args);
      }
      const out = runTiledMatmul(args.backend, a, b, d);
      launches++;
      const shaped = view(args.backend, out, [...outer, M, N]);
      (args.backend as { disposeData(id: object): void }).disposeData(out.dataId);
      return shaped;
    }) as unknown as tf.KernelFunc,
  });
  registered = true;
}
