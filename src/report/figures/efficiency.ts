// MetaLA Fig. A2 as a picture: training tokens/s and GPU/CPU memory against sequence length, one
// line per mixer (and fused-kernel variant), one column per bench invocation that measured at least
// two lengths (numbers are compared only within one invocation). A reference framework's tokens/s
// from the same call (bench --reference) is drawn as dashed.
import type { TopLevelSpec } from 'vega-lite';
import { benchLabel } from '../../bench/label.js';
import type { BenchResult } from '../../bench/run.js';
import { CHART_CONFIG } from './svg.js';

export interface EfficiencyPoint {
  file: string;
  series: string;
  seq_len: number;
  /** 'train tokens/s' or 'memory (MiB)' */
  measure: string;
  value: number;
  source: 'metala' | 'reference';
}

/** Points of the bench files that measured ≥ 2 sequence lengths. */
export function efficiencyPoints(files: { file: string; results: BenchResult[] }[]): EfficiencyPoint[] {
  const out: EfficiencyPoint[] = [];
  for (const f of files) {
    const ok = f.results.filter((r) => r.error === undefined && Number.isFinite(r.train_tokens_per_s));
    if (new Set(ok.map((r) => r.seq_len)).size < 2) continue;
    for (const r of ok) {
      const series = `${benchLabel(r)} (${r.backend})`;
      out.push({ file: f.file, series, seq_len: r.seq_len, measure: 'train tokens/s', value: r.train_tokens_per_s, source: 'metala' });
      const bytes = r.gpu_bytes_allocated ?? (Number.isFinite(r.peak_bytes) ? r.peak_bytes : undefined);
      if (bytes !== undefined) out.push({ file: f.file, series, seq_len: r.seq_len, measure: 'memory (MiB)', value: Math.round(bytes / 2 ** 20), source: 'metala' });
      if (r.reference !== undefined) {
        out.push({ file: f.file, series: `${r.mixer.name}: ${r.reference.framework} ${r.reference.dtype}`, seq_len: r.seq_len, measure: 'train tokens/s', value: r.reference.tokens_per_s, source: 'reference' });
      }
    }
  }
  return out;
}

export function efficiencySpec(points: EfficiencyPoint[]): TopLevelSpec {
  const files = [...new Set(points.map((p) => p.file))];
  const lengths = [...new Set(points.map((p) => p.seq_len))].sort((a, b) => a - b);
  const sources = (['metala', 'reference'] as const).filter((s) => points.some((p) => p.source === s));
  const dashes = { metala: [1, 0], reference: [6, 4] };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'Training throughput and memory vs sequence length (MetaLA Fig. A2)', subtitle: 'metala bench, one column per invocation (results/bench/<file>); memory = GPU buffer pool on webgpu, tf.profile peak elsewhere' },
    data: { values: points },
    facet: {
      row: { field: 'measure', type: 'nominal', title: null, sort: ['train tokens/s', 'memory (MiB)'] },
      column: { field: 'file', type: 'nominal', title: null, sort: files },
    },
    resolve: { scale: { y: 'independent' } },
    spec: {
      width: 280,
      height: 200,
      mark: { type: 'line', point: true, strokeWidth: 2 },
      encoding: {
        x: { field: 'seq_len', type: 'quantitative', scale: { type: 'log', base: 2, nice: false }, axis: { values: lengths, format: 'd' }, title: 'sequence length' },
        y: { field: 'value', type: 'quantitative', scale: { type: 'log' }, title: null },
        color: { field: 'series', type: 'nominal', title: 'mixer (backend)' },
        strokeDash: { field: 'source', type: 'nominal', title: 'measured by', scale: { domain: sources, range: sources.map((s) => dashes[s]) }, legend: sources.length > 1 ? {} : null },
      },
    },
    config: CHART_CONFIG,
  } as TopLevelSpec;
}
