// Training curves of one experiment: training loss and the evaluation metric against step, one
// line per run (labelled by what the runs of the experiment differ in), from each run's metrics.jsonl.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import type { RunRecord } from '../../results/store.js';
import { CHART_CONFIG } from './svg.js';

export interface CurvePoint {
  run: string;
  step: number;
  /** 'train loss' or 'eval <metric>' */
  measure: string;
  value: number;
}

interface MetricsLine {
  step?: number;
  loss?: number;
  eval?: Record<string, number>;
}

/** What a run is, field by field: the knobs the paper's sweeps turn. */
function runFields(run: RunRecord): Record<string, string> {
  const c = run.config as { model?: { mixer?: { name?: string }; d_model?: number }; task?: { input_seq_len?: number; num_kv_pairs?: number }; train?: { lr?: number }; seed?: number; variant?: string | null };
  const f: Record<string, string> = {};
  if (c.variant !== undefined && c.variant !== null) f['variant'] = c.variant;
  if (c.model?.mixer?.name !== undefined) f['mixer'] = c.model.mixer.name;
  if (c.model?.d_model !== undefined) f['d'] = String(c.model.d_model);
  if (c.task?.input_seq_len !== undefined) f['T'] = String(c.task.input_seq_len);
  if (c.task?.num_kv_pairs !== undefined) f['kv'] = String(c.task.num_kv_pairs);
  if (c.train?.lr !== undefined) f['lr'] = c.train.lr.toExponential(1);
  if (c.seed !== undefined) f['seed'] = String(c.seed);
  return f;
}

/**
 * Labels for an experiment's runs from the fields that differ between them (mixer d=128 lr=1.0e-3),
 * the run id appended where two runs would otherwise read the same.
 */
function runLabels(runs: RunRecord[]): Map<RunRecord, string> {
  const fields = runs.map(runFields);
  const keys = [...new Set(fields.flatMap((f) => Object.keys(f)))].filter((k) => new Set(fields.map((f) => f[k])).size > 1);
  const base = fields.map((f) => keys.map((k) => (k === 'mixer' || k === 'variant' ? (f[k] ?? '') : `${k}=${f[k] ?? '—'}`)).join(' ').trim());
  const labels = new Map<RunRecord, string>();
  runs.forEach((r, i) => {
    const b = base[i]!;
    const clash = b === '' || base.filter((x) => x === b).length > 1;
    labels.set(r, clash ? `${b} ${String(r.config.run_id)}`.trim() : b);
  });
  return labels;
}

/** The metric an experiment's runs report in eval lines (accuracy where present). */
function evalMetric(lines: MetricsLine[]): string | undefined {
  const keys = new Set(lines.flatMap((l) => Object.keys(l.eval ?? {})));
  return keys.has('accuracy') ? 'accuracy' : [...keys][0];
}

/** Points of every run of the experiment; runs without a readable metrics.jsonl are left out. */
export async function curvePoints(runs: RunRecord[]): Promise<CurvePoint[]> {
  const out: CurvePoint[] = [];
  const labels = runLabels(runs);
  for (const run of runs) {
    let text: string;
    try {
      text = await readFile(join(run.dir, 'metrics.jsonl'), 'utf8');
    } catch {
      continue;
    }
    const lines: MetricsLine[] = [];
    for (const l of text.split('\n')) {
      if (l.trim() === '') continue;
      try {
        lines.push(JSON.parse(l) as MetricsLine);
      } catch {
        // a line cut by a crash: the rest of the file still plots
      }
    }
    const label = labels.get(run)!;
    const metric = evalMetric(lines);
    for (const l of lines) {
      if (typeof l.step !== 'number') continue;
      if (typeof l.loss === 'number' && Number.isFinite(l.loss)) out.push({ run: label, step: l.step, measure: 'train loss', value: l.loss });
      const v = metric !== undefined ? l.eval?.[metric] : undefined;
      if (typeof v === 'number' && Number.isFinite(v)) out.push({ run: label, step: l.step, measure: `eval ${metric}`, value: v });
    }
  }
  return out;
}

export function curvesSpec(experiment: string, points: CurvePoint[]): TopLevelSpec {
  const measures = [...new Set(points.map((p) => p.measure))].sort((a, b) => (a === 'train loss' ? -1 : b === 'train loss' ? 1 : a.localeCompare(b)));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: `Training curves: ${experiment}`, subtitle: 'one line per run, labelled by what the runs differ in; from each run\'s metrics.jsonl' },
    data: { values: points },
    facet: { column: { field: 'measure', type: 'nominal', title: null, sort: measures } },
    resolve: { scale: { y: 'independent' } },
    spec: {
      width: 320,
      height: 220,
      // Eval metrics also get points: a run evaluated once would otherwise draw nothing.
      layer: [{ mark: { type: 'line', strokeWidth: 1.5 } }, { transform: [{ filter: "datum.measure !== 'train loss'" }], mark: { type: 'point', filled: true, size: 25 } }],
      encoding: {
        x: { field: 'step', type: 'quantitative', title: 'step' },
        y: { field: 'value', type: 'quantitative', scale: { zero: false }, title: null },
        color: { field: 'run', type: 'nominal', title: 'run', scale: { scheme: 'tableau20' }, legend: { columns: 1, symbolLimit: 60, labelLimit: 320 } },
      },
    },
    config: CHART_CONFIG,
  } as TopLevelSpec;
}
