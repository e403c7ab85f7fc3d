// Orchestrates `metala bench`: the parent spawns one child per backend and gathers their JSON.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { MetalaError } from '../util/errors.js';
import { atomicWriteFile } from '../results/store.js';
import { benchLabel } from './label.js';
import type { BenchResult } from './run.js';

export interface BenchOpts {
  backends: string[];
  mixers: string[];
  seqLens: number[];
  batch: number;
  dModel: number;
  layers: number;
  vocab: number;
  heads: number;
  steps: number;
  warmup: number;
  out?: string;
  /** Free text written beside the results (BenchFile.note in src/report/efficiency.ts). */
  note?: string;
  /**
   * webgpu: also run every case with these fused kernel families left out (METALA_NO_FUSED in a
   * separate child), so an A/B of the fused kernels comes from one invocation.
   */
  fusedOff?: string;
  child: boolean;
  /** bench --adapter: describe Dawn's adapter (backend/webgpu.ts describeAdapters) and stop. */
  adapter?: boolean;
  profile: boolean;
  recompute: boolean;
  /** With matmul: also time the tiled kernel with each of these tiles forced. */
  matmulTiles?: string[];
  /** Write a V8 CPU profile of each case's measured steps into this folder. */
  cpuProf?: string;
  /** Tokens to generate recurrently per case (0 = no decode measurement). */
  decode: number;
  /** Replica counts: every case runs once per entry, as a stack of that many models (1 = one model). */
  stack: number[];
  /** Matrix-product specs (src/bench/matmul.ts) to time instead of model cases. */
  matmul?: string[];
  /**
   * JSON lines measured by another framework in the same GPU call, attached to matching results:
   * ../shared/bench/torch_reference.py output for model cases, src/bench/reference/torch_matmul.py for --matmul.
   */
  reference?: string;
}

async function runChild(o: BenchOpts): Promise<void> {
  const { initBackend } = await import('../backend/index.js');
  if (o.matmul !== undefined) {
    const { benchMatmul, parseMatmulSpec } = await import('./matmul.js');
    const backend = await initBackend(o.backends[0] as never);
    for (const r of await benchMatmul(o.matmul.map(parseMatmulSpec), backend, o.steps, o.warmup, o.matmulTiles ?? [])) process.stdout.write(`${JSON.stringify(r)}\n`);
    return;
  }
  const { benchCase } = await import('./run.js');
  const { MIXERS } = await import('../mixers/registry.js');
  const { lookup } = await import('../util/registry.js');
  const backend = await initBackend(o.backends[0] as never);
  let fusedOff: string[] = [];
  if (backend.backend === 'webgpu') {
    const { disabledFamilies } = await import('../backend/kernels/index.js');
    fusedOff = [...disabledFamilies()].sort();
  }
  for (const T of o.seqLens) {
    for (const m of o.mixers) {
      // --heads applies to the mixers that have heads (SSMs and LinRNNs have none).
      const def = lookup(MIXERS, 'mixer', m);
      const hasHeads = 'num_heads' in def.options.shape;
      for (const R of o.stack) {
        const c = { mixer: { name: m, ...(hasHeads ? { num_heads: o.heads } : {}) }, d_model: o.dModel, n_layers: o.layers, batch: o.batch, seq_len: T, vocab_size: o.vocab, ...(R > 1 ? { stack: R } : {}), ...(o.recompute ? { recompute: true } : {}) };
        const r = await benchCase(c, backend, o.steps, o.warmup, o.profile, o.decode, o.cpuProf);
        process.stdout.write(`${JSON.stringify(fusedOff.length > 0 ? { ...r, fused_off: fusedOff } : r)}\n`);
      }
    }
  }
}

function spawnBackend(o: BenchOpts, backend: string, noFused?: string): Promise<BenchResult[]> {
  const args = [process.argv[1]!, 'bench', '--child', '--backends', backend, '--mixers', o.mixers.join(','), '--seq-lens', o.seqLens.join(','),
    '--batch', String(o.batch), '--d-model', String(o.dModel), '--layers', String(o.layers), '--vocab', String(o.vocab), '--heads', String(o.heads),
    '--steps', String(o.steps), '--warmup', String(o.warmup), ...(o.profile ? ['--profile'] : []), ...(o.recompute ? ['--recompute'] : []), ...(o.cpuProf !== undefined ? ['--cpu-prof', o.cpuProf] : []), '--decode', String(o.decode), '--stack', o.stack.join(','),
    ...(o.matmul !== undefined ? ['--matmul', o.matmul.join(',')] : []), ...(o.matmulTiles !== undefined ? ['--matmul-tiles', o.matmulTiles.join(',')] : [])];
  return new Promise((resolve, reject) => {
    const env = noFused === undefined ? process.env : { ...process.env, METALA_NO_FUSED: noFused };
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'], env });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const rows = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as BenchResult);
      if (code !== 0 && rows.length === 0) reject(new MetalaError(`bench on backend ${backend} failed (exit ${code}); see the messages above`, 1));
      else resolve(rows);
    });
  });
}

function fmt(r: BenchResult): string {
  const mixer = benchLabel(r);
  if (r.error !== undefined) return `| ${r.backend} | ${mixer} | ${r.seq_len} | error: ${r.error} | | | | |`;
  const ref = r.reference !== undefined ? `${r.reference.tokens_per_s.toLocaleString('en-US')} (${((100 * r.train_tokens_per_s) / r.reference.tokens_per_s).toFixed(0)}%)` : '';
  // A failed inference arrives as null (NaN through JSON), with its reason in infer_error.
  const infer = r.infer_error !== undefined || !Number.isFinite(r.infer_tokens_per_s) ? `failed: ${r.infer_error ?? 'no number'}` : r.infer_tokens_per_s.toLocaleString('en-US');
  return `| ${r.backend} | ${mixer} | ${r.seq_len} | ${r.train_tokens_per_s.toLocaleString('en-US')} | ${r.train_step_ms} | ${infer} | ${(r.peak_bytes / 2 ** 20).toFixed(1)} | ${ref} |`;
}

async function readReference(file: string): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    throw new MetalaError(`bench --reference: ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}. Give a file of JSON lines from the reference script`, 2);
  }
}

async function runMatmulBench(o: BenchOpts): Promise<void> {
  const { attachMatmulReference, matmulTable, parseMatmulSpec } = await import('./matmul.js');
  o.matmul!.forEach(parseMatmulSpec); // a bad spec is a one-line error before anything runs
  if (o.matmulTiles !== undefined) {
    const { TILES } = await import('../backend/kernels/matmul_webgpu.js');
    const bad = o.matmulTiles.find((t) => !(t in TILES));
    if (bad !== undefined) throw new MetalaError(`bench --matmul-tiles: unknown tile '${bad}'. Use some of ${Object.keys(TILES).join(', ')}`, 2);
  }
  const refText = o.reference !== undefined ? await readReference(o.reference) : undefined;
  let rows = (await spawnBackend(o, o.backends[0]!)) as unknown as import('./matmul.js').MatmulResult[];
  if (refText !== undefined) rows = attachMatmulReference(rows, refText, o.reference!);
  const header = `matrix products, mean of ${o.steps} back-to-back products after ${o.warmup} warm-up`;
  process.stdout.write(`${header}\n\n${matmulTable(rows)}\n`);
  const out = o.out ?? join('results', 'bench', `matmul-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  const note = o.note?.trim() || undefined;
  await atomicWriteFile(out, `${JSON.stringify({ created: new Date().toISOString(), kind: 'matmul', settings: header, ...(note !== undefined ? { note } : {}), matmul: rows, results: [] }, null, 1)}\n`);
  process.stdout.write(`\n→ ${out}\n`);
}

export async function runBench(o: BenchOpts): Promise<void> {
  if (o.child) return runChild(o);
  if (o.adapter === true) {
    const { describeAdapters } = await import('../backend/webgpu.js');
    const text = `${JSON.stringify({ created: new Date().toISOString(), adapters: await describeAdapters() }, null, 1)}\n`;
    process.stdout.write(text);
    if (o.out !== undefined) await atomicWriteFile(o.out, text);
    return;
  }
  if (o.matmulTiles !== undefined && o.matmul === undefined) throw new MetalaError('bench --matmul-tiles: it sweeps the tiles of --matmul products. Add --matmul SPECS, or leave --matmul-tiles out', 2);
  if (o.matmul !== undefined) return runMatmulBench(o);
  const refText = o.reference !== undefined ? await readReference(o.reference) : undefined;
  const rows: BenchResult[] = [];
  // One process per backend × sequence length: the webgpu buffer pool only grows, so
  // gpu_bytes_allocated is a per-length peak only when each length has its own process.
  if (o.fusedOff !== undefined) {
    if (!o.backends.includes('webgpu')) throw new MetalaError('bench --fused-off: the fused kernels are webgpu kernels; add webgpu to --backends', 2);
    const { disabledFamilies } = await import('../backend/kernels/index.js');
    disabledFamilies(o.fusedOff); // an unknown family is a one-line error before anything runs
  }
  if (o.stack.some((R) => R > 1)) {
    // Checked here, before any child starts: a mixer that cannot stack is the user's input.
    const { MIXERS } = await import('../mixers/registry.js');
    const { lookup } = await import('../util/registry.js');
    const R = Math.max(...o.stack);
    for (const m of o.mixers) {
      if (lookup(MIXERS, 'mixer', m).stacks !== true) throw new MetalaError(`bench --stack ${R}: mixer ${m} does not support stacked replicas yet. Leave it out of --mixers or use --stack 1`, 2);
    }
  }
  for (const b of o.backends) {
    for (const T of o.seqLens) {
      rows.push(...(await spawnBackend({ ...o, seqLens: [T] }, b)));
      // The A/B partner right after it, in its own process (a process registers its kernels once).
      if (b === 'webgpu' && o.fusedOff !== undefined) rows.push(...(await spawnBackend({ ...o, seqLens: [T] }, b, o.fusedOff)));
    }
  }
  if (refText !== undefined) {
    const { attachModelReference } = await import('./reference.js');
    rows.splice(0, rows.length, ...attachModelReference(rows, refText, o.reference!));
  }
  const header = `B=${o.batch} d=${o.dModel} layers=${o.layers} vocab=${o.vocab} heads=${o.heads}, mean of ${o.steps} steps after ${o.warmup} warm-up`;
  process.stdout.write(`${header}\n\n| backend | mixer | T | train tok/s | train step ms | infer tok/s | peak MiB | reference train tok/s (ours %) |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n${rows.map(fmt).join('\n')}\n`);
  const out = o.out ?? join('results', 'bench', `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  // Which fused kernels a case ran without is in each result (fused_off); the note is free text.
  const note = o.note?.trim() || undefined;
  await atomicWriteFile(out, `${JSON.stringify({ created: new Date().toISOString(), settings: header, ...(note !== undefined ? { note } : {}), results: rows }, null, 1)}\n`);
  process.stdout.write(`\n→ ${out}\n`);
}
