// MetaLA Fig. A2-style efficiency table from `metala bench` records (results/bench/*.json):
// training/inference throughput and memory against sequence length, one section per bench
// invocation — ratios are only compared inside one invocation (one machine, one moment).
// Unlike the paper tables this reads bench files, not run folders, so it is rendered here and not
// through the TableSpec registry; `metala report` calls it and `--only figA2_efficiency` selects it.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { benchLabel } from '../bench/label.js';
import type { MatmulResult } from '../bench/matmul.js';
import type { BenchResult } from '../bench/run.js';
import { atomicWriteFile } from '../results/store.js';

export const EFFICIENCY_ID = 'figA2_efficiency';
export const EFFICIENCY_FILES = ['figA2_efficiency.csv', 'figA2_efficiency.md'] as const;

export interface BenchFile {
  file: string;
  created: string;
  settings: string;
  /** Free text written beside the results (e.g. the code version measured). */
  note?: string;
  results: BenchResult[];
  /** `bench --matmul` files: matrix products instead of model cases. */
  matmul?: MatmulResult[];
}

export async function readBenchFiles(dir: string): Promise<{ files: BenchFile[]; skipped: string[] }> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.json')).sort();
  } catch {
    return { files: [], skipped: [] };
  }
  const files: BenchFile[] = [];
  const skipped: string[] = [];
  for (const n of names) {
    try {
      const j = JSON.parse(await readFile(join(dir, n), 'utf8')) as Partial<BenchFile>;
      if (!Array.isArray(j.results) || typeof j.settings !== 'string') throw new Error('not a metala bench file');
      files.push({
        file: n,
        created: String(j.created ?? ''),
        settings: j.settings,
        results: j.results,
        ...(typeof j.note === 'string' ? { note: j.note } : {}),
        ...(Array.isArray(j.matmul) ? { matmul: j.matmul } : {}),
      });
    } catch (e) {
      skipped.push(`${n}: ${(e as Error).message}`);
    }
  }
  files.sort((a, b) => a.created.localeCompare(b.created));
  return { files, skipped };
}

const mib = (b: number | undefined): string => (b === undefined || !Number.isFinite(b) ? '' : (b / 2 ** 20).toFixed(0));
const int = (x: number): string => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '—');

/** Memory of a case: GPU pool bytes on webgpu (per-process peak), tf.profile peak elsewhere. */
function memory(r: BenchResult): { bytes: number | undefined; source: string } {
  if (r.gpu_bytes_allocated !== undefined) return { bytes: r.gpu_bytes_allocated, source: 'gpu_pool' };
  return { bytes: Number.isFinite(r.peak_bytes) ? r.peak_bytes : undefined, source: 'tf_profile_peak' };
}

/** The fused kernel families a case ran without ('' = all on), for sorting and pairing. */
const offKey = (r: BenchResult): string => (r.fused_off ?? []).join(',');

/** Our train tokens/s as a share of the reference's (PyTorch + fla, same shape, same GPU call). */
const refShare = (r: BenchResult): string =>
  r.reference !== undefined && Number.isFinite(r.train_tokens_per_s) ? `${((100 * r.train_tokens_per_s) / r.reference.tokens_per_s).toFixed(0)}%` : '';

function matmulSection(f: BenchFile): string {
  const rows = f.matmul ?? [];
  const device = [...new Set(rows.map((r) => `${r.backend} · ${r.device}`))].join('; ');
  const clock = rows.some((r) => r.clock === 'gpu') ? 'GPU time per product from pass timestamps' : 'wall time per product (host launch cost included)';
  const t = (x: { ms: number; tflops: number } | undefined): string => (x === undefined || !Number.isFinite(x.ms) ? '' : `${x.ms} ms (${x.tflops})`);
  const lines = [`## ${f.file}`, '', `${f.settings}; ${clock}. ${device}. Created ${f.created}.${f.note !== undefined ? ` ${f.note}` : ''}`, ''];
  lines.push('| product [batch x] M x N x K | tfjs ms (TFLOP/s) | metala tiled ms (TFLOP/s) | reference ms (TFLOP/s) | tiled / reference speed | max rel diff |');
  lines.push('| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const r of rows) {
    if (r.error !== undefined) {
      lines.push(`| ${r.spec} | error: ${r.error} | | | | |`);
      continue;
    }
    const share = r.tiled !== undefined && r.reference !== undefined ? `${((100 * r.reference.ms) / r.tiled.ms).toFixed(0)}%` : '';
    lines.push(`| ${r.spec} | ${t(r.tfjs)} | ${t(r.tiled)} | ${r.reference !== undefined ? `${t(r.reference)} ${r.reference.framework} ${r.reference.dtype}` : ''} | ${share} | ${r.max_rel_diff !== undefined ? r.max_rel_diff.toExponential(1) : ''} |`);
  }
  return lines.join('\n');
}

function section(f: BenchFile): string {
  if (f.matmul !== undefined) return matmulSection(f);
  const ok = f.results.filter((r) => r.error === undefined);
  const device = [...new Set(f.results.map((r) => `${r.backend} · ${r.device}`))].join('; ');
  const overCounted = f.results.some((r) => r.backend === 'webgpu' && r.error === undefined && r.gpu_bytes_allocated === undefined);
  const lines = [`## ${f.file}`, '', `${f.settings}. ${device}. Created ${f.created}.${f.note !== undefined ? ` ${f.note}` : ''}`];
  if (overCounted) lines.push('', 'Memory here is the tf.profile peak, which over-counts on webgpu (this file predates the GPU pool measurement).');
  lines.push('');
  const withRef = f.results.some((r) => r.reference !== undefined);
  lines.push(`| mixer | T | train tok/s | step ms | infer tok/s | memory MiB | decode tok/s | decode live MiB (first → last) |${withRef ? ' reference train tok/s | ours / reference | reference peak GB |' : ''}`);
  lines.push(`| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |${withRef ? ' ---: | ---: | ---: |' : ''}`);
  const rows = [...f.results].sort((a, b) => a.mixer.name.localeCompare(b.mixer.name) || a.seq_len - b.seq_len || offKey(a).localeCompare(offKey(b)));
  for (const r of rows) {
    if (r.error !== undefined) {
      lines.push(`| ${benchLabel(r)} | ${r.seq_len} | error: ${r.error} | | | | | |${withRef ? ' | | |' : ''}`);
      continue;
    }
    const d = r.decode;
    const live = d !== undefined && d.live_bytes.length > 0 ? `${mib(d.live_bytes[0]!.bytes)} @${d.live_bytes[0]!.at} → ${mib(d.live_bytes.at(-1)!.bytes)} @${d.live_bytes.at(-1)!.at}` : '';
    // A case whose inference failed keeps its training numbers; the reason is listed under the table.
    const infer = r.infer_error !== undefined ? 'failed' : int(r.infer_tokens_per_s);
    const ref = withRef ? ` ${r.reference !== undefined ? `${int(r.reference.tokens_per_s)} (${r.reference.framework} ${r.reference.dtype})` : ''} | ${refShare(r)} | ${r.reference?.peak_gb ?? ''} |` : '';
    lines.push(`| ${benchLabel(r)} | ${r.seq_len} | ${int(r.train_tokens_per_s)} | ${r.train_step_ms} | ${infer} | ${mib(memory(r).bytes)} | ${d !== undefined ? int(d.tokens_per_s) : ''} | ${live} |${ref}`);
  }
  const inferFailed = rows.filter((r) => r.error === undefined && r.infer_error !== undefined).map((r) => `${benchLabel(r)} T=${r.seq_len}: ${r.infer_error}`);
  if (inferFailed.length > 0) lines.push('', `Inference failed (training measured): ${inferFailed.join('; ')}.`);
  // Ratios against softmax at equal T, when both ran in this invocation.
  const ratios: string[] = [];
  for (const r of ok) {
    if (r.mixer.name === 'softmax') continue;
    const s = ok.find((x) => x.mixer.name === 'softmax' && x.seq_len === r.seq_len && offKey(x) === offKey(r));
    if (s === undefined) continue;
    const mr = memory(r).bytes;
    const ms = memory(s).bytes;
    ratios.push(`T=${r.seq_len}: ${benchLabel(r)}/softmax train ${(r.train_tokens_per_s / s.train_tokens_per_s).toFixed(2)}×${mr !== undefined && ms !== undefined ? `, memory ${(mr / ms).toFixed(2)}×` : ''}`);
  }
  if (ratios.length > 0) lines.push('', `Against softmax: ${ratios.join('; ')}.`);
  return lines.join('\n');
}

export interface EfficiencyWritten {
  files: string[];
  cases: number;
  skipped: string[];
}

/** Writes <outDir>/figA2_efficiency.{csv,md}; undefined when there are no bench files. */
export async function renderEfficiency(benchDir: string, outDir: string): Promise<EfficiencyWritten | undefined> {
  const { files, skipped } = await readBenchFiles(benchDir);
  const cases = files.reduce((n, f) => n + f.results.length + (f.matmul?.length ?? 0), 0);
  if (cases === 0) return undefined;
  const csvRows = files.flatMap((f) =>
    f.results.map((r) => {
      const m = memory(r);
      return {
        file: f.file,
        created: f.created,
        backend: r.backend,
        device: r.device,
        mixer: r.mixer.name,
        fused_off: offKey(r),
        d_model: r.d_model,
        n_layers: r.n_layers,
        batch: r.batch,
        seq_len: r.seq_len,
        params: r.params,
        train_tokens_per_s: r.train_tokens_per_s,
        train_step_ms: r.train_step_ms,
        infer_tokens_per_s: Number.isFinite(r.infer_tokens_per_s) ? r.infer_tokens_per_s : '',
        memory_bytes: m.bytes ?? '',
        memory_source: m.source,
        decode_tokens_per_s: r.decode?.tokens_per_s ?? '',
        decode_live_bytes: r.decode === undefined ? '' : r.decode.live_bytes.map((x) => `${x.at}:${x.bytes}`).join(' '),
        reference_framework: r.reference === undefined ? '' : `${r.reference.framework} ${r.reference.dtype}`,
        reference_train_tokens_per_s: r.reference?.tokens_per_s ?? '',
        train_ratio_to_reference: r.reference === undefined || !Number.isFinite(r.train_tokens_per_s) ? '' : Math.round((1000 * r.train_tokens_per_s) / r.reference.tokens_per_s) / 1000,
        reference_peak_gb: r.reference?.peak_gb ?? '',
        infer_error: r.infer_error ?? '',
        error: r.error ?? '',
      };
    }),
  );
  const csv = stringify(csvRows, { header: true });
  const md = [
    '# Efficiency: throughput and memory vs sequence length (MetaLA Fig. A2)',
    '',
    'From `metala bench` (results/bench/*.json), one section per invocation, oldest first. Train = forward + backward + AdamW on the LM backbone with next-token loss at every position; infer = parallel forward with logits read back (a stack whose logits are over METALA_HEAD_LOGITS_MAX_BYTES: formed in chunks, each replica\'s loss read back; `failed` where inference failed, its training numbers kept); memory = bytes of the webgpu buffer pool after the case (each length in its own process; bench files from 2026-11-23T22:00 on release the pool between mixers, in earlier ones the second mixer\'s figure also counts buffers the first left in the pool) or the tf.profile peak on cpu/wasm; decode = recurrent generation one token per step, live tensor bytes sampled at powers of two (flat for linear mixers: constant memory per token).',
    '',
    ...files.map(section).flatMap((s) => [s, '']),
    ...(skipped.length > 0 ? [`Skipped: ${skipped.join('; ')}`, ''] : []),
  ].join('\n');
  const csvPath = join(outDir, EFFICIENCY_FILES[0]);
  const mdPath = join(outDir, EFFICIENCY_FILES[1]);
  await atomicWriteFile(csvPath, csv);
  await atomicWriteFile(mdPath, md);
  return { files: [csvPath, mdPath], cases, skipped };
}
