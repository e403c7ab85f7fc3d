// Writes zero-shot results in the run-folder format `metala report` reads (DESIGN.md §5):
// results/eval/<checkpoint>/<task>/{config.json, summary.json}, one folder per reported number
// (LAMBADA's perplexity gets its own `lambada.perplexity/`), plus `avg.<table>/` once every column
// a table averages has been evaluated for that checkpoint (the paper's AVG column).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONFIG_FILE, SUMMARY_FILE, writeJson } from '../results/store.js';
import { gitCommit } from '../util/git.js';
import type { EvalCheckpoint } from './checkpoint.js';
import { EVAL_GROUPS, columnKey, reportedMetrics } from './groups.js';
import type { TaskResult } from './harness.js';
import type { MetricId } from './task_config.js';

/** Display units: percent for acc/acc_norm/f1/em, perplexity as is. */
export function displayValue(metric: string, v: number): number {
  return metric === 'perplexity' ? v : 100 * v;
}

export interface EvalRunInfo {
  split: string;
  dataFile: string;
  /** --limit, if given. */
  limit: number | undefined;
  /** --data-dir, if given (non-standard data: fixtures or a subset). */
  dataDir: string | undefined;
  backend: string;
  device: string;
  wallS: number;
  maxLength: number;
}

function checkpointBlock(ck: EvalCheckpoint) {
  return { dir: ck.dir, name: ck.name, source: ck.source, params: ck.params, train_tokens: ck.trainTokens, tokenizer: ck.tokenizer.spec, tokenizer_from: ck.tokenizerFrom };
}

/** Write the folders of one evaluated task; returns their paths. */
export async function writeTaskResult(resultsDir: string, ck: EvalCheckpoint, r: TaskResult, info: EvalRunInfo): Promise<string[]> {
  const written: string[] = [];
  const metrics = Object.fromEntries(Object.entries(r.metrics).map(([k, v]) => [k, { value: v.value, stderr: v.stderr }]));
  const views: MetricId[] = [r.paperMetric, ...reportedMetrics(r.task).filter((m) => m !== r.paperMetric && r.metrics[m] !== undefined)];
  for (const metric of views) {
    const folder = metric === r.paperMetric ? r.task : `${r.task}.${metric}`;
    const dir = join(resultsDir, 'eval', ck.name, folder);
    const value = r.metrics[metric]!.value;
    await writeJson(join(dir, CONFIG_FILE), {
      experiment: `eval/${ck.name}`,
      run_id: `${ck.name}/${folder}`,
      task: { name: 'zeroshot', benchmark: r.task, metric, split: info.split, data: info.dataFile, data_dir: info.dataDir ?? null, limit: info.limit ?? null, num_fewshot: 0 },
      model: ck.model.config,
      checkpoint: checkpointBlock(ck),
      eval: { harness: 'metala port of lm-evaluation-harness v0.4 scoring', max_length: info.maxLength },
    });
    await writeJson(join(dir, SUMMARY_FILE), {
      run_id: `${ck.name}/${folder}`,
      experiment: `eval/${ck.name}`,
      status: 'finished',
      metric,
      value: displayValue(metric, value),
      metrics,
      docs: r.docs,
      requests: r.requests,
      gold_errors: r.goldErrors,
      backend: info.backend,
      device: info.device,
      wall_s: Math.round(info.wallS * 10) / 10,
      git_commit: gitCommit(),
    });
    written.push(dir);
  }
  return written;
}

/** summary.value of results/eval/<name>/<task or task.metric>/, if there. */
function readValue(resultsDir: string, name: string, task: string, metric: string, paperMetric: boolean): { value: number; docs: number } | undefined {
  const f = join(resultsDir, 'eval', name, paperMetric ? task : `${task}.${metric}`, SUMMARY_FILE);
  if (!existsSync(f)) return undefined;
  const s = JSON.parse(readFileSync(f, 'utf8')) as { metric?: string; value?: number; docs?: number };
  return s.metric === metric && typeof s.value === 'number' ? { value: s.value, docs: s.docs ?? 0 } : undefined;
}

/**
 * (Re)write avg.<table>/ for every table whose averaged columns all exist for this checkpoint.
 * The mean is over display values (percent), as the paper's AVG column.
 */
export async function writeAverages(resultsDir: string, ck: EvalCheckpoint, paperMetricOf: (task: string) => string, info: EvalRunInfo): Promise<string[]> {
  const written: string[] = [];
  for (const g of Object.values(EVAL_GROUPS)) {
    const cols = g.columns.filter((col) => g.averaged.includes(columnKey(col)));
    const vals = cols.map((col) => readValue(resultsDir, ck.name, col.task, col.metric, paperMetricOf(col.task) === col.metric));
    if (vals.some((v) => v === undefined)) continue;
    const mean = vals.reduce((s, v) => s + v!.value, 0) / vals.length;
    const dir = join(resultsDir, 'eval', ck.name, `avg.${g.id}`);
    await writeJson(join(dir, CONFIG_FILE), {
      experiment: `eval/${ck.name}`,
      run_id: `${ck.name}/avg.${g.id}`,
      task: { name: 'zeroshot', benchmark: `avg.${g.id}`, metric: 'mean', over: cols.map(columnKey), data_dir: info.dataDir ?? null, limit: info.limit ?? null },
      model: ck.model.config,
      checkpoint: checkpointBlock(ck),
    });
    await writeJson(join(dir, SUMMARY_FILE), { run_id: `${ck.name}/avg.${g.id}`, experiment: `eval/${ck.name}`, status: 'finished', metric: 'mean', value: mean, docs: vals.reduce((s, v) => s + v!.docs, 0), git_commit: gitCommit() });
    written.push(dir);
  }
  return written;
}
