// `metala eval` end to end: resolve the task list, check every task's config and data before
// loading the model (a typo or a missing download fails in a second, not after the load), load the
// checkpoint and its tokenizer, score each task, and write results/eval/<checkpoint>/….
import { initBackend, type BackendName } from '../backend/index.js';
import { MetalaError } from '../util/errors.js';
import { openCheckpoint } from './checkpoint.js';
import { loadTaskDocs, type LoadedDocs } from './docs.js';
import { expandTaskList } from './groups.js';
import { evaluateTask, prefixTokenOf, type TaskResult } from './harness.js';
import { displayValue, writeAverages, writeTaskResult } from './results.js';
import { causalLmScorer } from './scorer.js';
import { loadTaskConfig, type TaskConfig } from './task_config.js';

export interface EvalOptions {
  checkpoint: string;
  /** Task names and/or group ids (tab4, tab5, taba5, taba9, all). */
  tasks: string[];
  limit?: number;
  backend?: BackendName;
  tokenizer?: string;
  dataDir?: string;
  results: string;
  name?: string;
  batchTokens?: number;
  maxLength?: number;
  /** Progress and result lines (default: stderr / stdout). */
  log?: (line: string) => void;
}

export interface EvalOutcome {
  name: string;
  results: TaskResult[];
  written: string[];
}

export async function runEval(o: EvalOptions): Promise<EvalOutcome> {
  const log = o.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  if (o.limit !== undefined && (!Number.isInteger(o.limit) || o.limit < 1)) throw new MetalaError(`--limit: expected a positive integer, got ${o.limit}`);
  const names = expandTaskList(o.tasks);
  if (names.length === 0) throw new MetalaError('--tasks: no task given. Example: --tasks piqa,hellaswag or --tasks tab5');
  const plan: { cfg: TaskConfig; data: LoadedDocs }[] = [];
  for (const n of names) {
    const cfg = loadTaskConfig(n);
    plan.push({ cfg, data: await loadTaskDocs(cfg, o.dataDir, o.limit) });
  }
  const backend = await initBackend(o.backend ?? 'auto');
  const ck = await openCheckpoint(o.checkpoint, { tokenizer: o.tokenizer, name: o.name });
  log(`${ck.dir}: ${ck.params.toLocaleString('en-US')} parameters (${ck.source}), tokenizer ${ck.tokenizer.kind} from ${ck.tokenizerFrom}; backend ${backend.backend}`);
  const results: TaskResult[] = [];
  const written: string[] = [];
  const paperMetric = new Map<string, string>();
  try {
    for (const { cfg, data } of plan) {
      const t0 = performance.now();
      const scorer = causalLmScorer(ck.model, {
        maxLength: o.maxLength,
        batchTokens: o.batchTokens,
        onProgress: (done, total) => {
          if (process.stderr.isTTY) process.stderr.write(`\r${cfg.task}: ${done}/${total} requests`);
        },
      });
      const r = await evaluateTask(cfg, data.docs, ck.tokenizer, scorer, prefixTokenOf(ck.tokenizer, ck.eosTokenId));
      if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
      const wallS = (performance.now() - t0) / 1000;
      const info = { split: data.split, dataFile: data.file, limit: o.limit, dataDir: o.dataDir, backend: backend.backend, device: backend.device, wallS, maxLength: scorer.maxLength };
      written.push(...(await writeTaskResult(o.results, ck, r, info)));
      paperMetric.set(cfg.task, cfg.metadata.paper_metric);
      results.push(r);
      const shown = Object.entries(r.metrics)
        .map(([k, v]) => `${k} ${displayValue(k, v.value).toFixed(2)}${v.stderr !== null ? ` ±${displayValue(k, v.stderr).toFixed(2)}` : ''}`)
        .join(', ');
      log(`${cfg.task}: ${r.docs} docs (${data.total} in ${data.file}), ${r.requests} requests, ${wallS.toFixed(1)} s: ${shown}${r.goldErrors > 0 ? ` (${r.goldErrors} docs whose gold matched no choice)` : ''}`);
    }
    const all = (t: string): string => paperMetric.get(t) ?? loadTaskConfig(t).metadata.paper_metric;
    const last = results.at(-1);
    if (last !== undefined) {
      const info = { split: '', dataFile: '', limit: o.limit, dataDir: o.dataDir, backend: backend.backend, device: backend.device, wallS: 0, maxLength: 0 };
      written.push(...(await writeAverages(o.results, ck, all, info)));
    }
  } finally {
    ck.model.dispose();
  }
  return { name: ck.name, results, written };
}
