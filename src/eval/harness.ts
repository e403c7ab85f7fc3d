// The zero-shot harness: task config + documents + tokenizer + log-likelihood model → metrics.
// Mirrors lm-eval's evaluate(): build every request of every document, score them in one batched
// pass (so batches mix documents, as lm-eval's length-sorted reordering does), then process the
// results per document and aggregate (reference-implementations.md §4.1).
import type { Tokenizer } from '../tokenizers/types.js';
import { computeMetrics, type DocScore, type MetricValue } from './metrics.js';
import { buildRequests } from './requests.js';
import { encodePair, type LoglikelihoodModel } from './scorer.js';
import type { MetricId, TaskConfig } from './task_config.js';
import type { Doc } from './template.js';

export interface TaskResult {
  task: string;
  /** Metric → value (fractions for acc/acc_norm/f1/em; perplexity as is). */
  metrics: Partial<Record<MetricId, MetricValue>>;
  /** The metric the paper reports for this column (metadata.paper_metric). */
  paperMetric: MetricId;
  docs: number;
  requests: number;
  /** Documents whose gold matched no choice (lm-eval warns and scores them as wrong). */
  goldErrors: number;
  /** Per-document scores, for inspection and tests. */
  scores: DocScore[];
}

/**
 * The empty-context stand-in (lm-eval's prefix_token_id = BOS/EOS).
 * Porting note: a byte-level tokenizer has no EOS; '\n' (byte 10) stands in. No task here has an
 * empty context (partial scoring puts the choice in the context), so this rarely matters.
 */
export function prefixTokenOf(tok: Tokenizer, fallback?: number): number {
  return tok.eosId ?? fallback ?? tok.encode('\n')[0] ?? 0;
}

/**
 * Score one task on its documents.
 * @param prefixId empty-context token (default: see prefixTokenOf)
 */
export async function evaluateTask(cfg: TaskConfig, docs: Doc[], tok: Tokenizer, model: LoglikelihoodModel, prefixId?: number): Promise<TaskResult> {
  const prefix = prefixId ?? prefixTokenOf(tok);
  const perDoc = docs.map((d) => buildRequests(cfg, d));
  const tokenReqs = perDoc.flatMap((r) => r.pairs.map(([c, x]) => encodePair(tok, c, x, prefix)));
  const results = await model.loglikelihood(tokenReqs);
  let k = 0;
  const scores: DocScore[] = perDoc.map((r, i) => {
    const n = r.pairs.length;
    const slice = results.slice(k, k + n);
    k += n;
    return { lls: slice.map((x) => x.ll), greedy: slice.map((x) => x.greedy), gold: r.gold, choices: r.choices, doc: docs[i]! };
  });
  const ids = cfg.metric_list.map((m) => m.metric);
  const groupBy = cfg.metric_list.find((m) => m.metric === 'em')?.group_by ?? [];
  return {
    task: cfg.task,
    metrics: computeMetrics(ids, scores, groupBy),
    paperMetric: cfg.metadata.paper_metric,
    docs: docs.length,
    requests: tokenReqs.length,
    goldErrors: perDoc.filter((r) => cfg.output_type === 'multiple_choice' && r.gold < 0).length,
    scores,
  };
}
