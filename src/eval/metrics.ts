// Zero-shot metrics over per-document log-likelihoods, as lm-evaluation-harness computes them
// (lm_eval/api/task.py process_results, api/metrics.py; reference-implementations.md §4.1):
// acc, acc_norm (argmax of ll / choice length), CB's macro F1 (super_glue/cb/aggregate.py
// cb_multi_fi), MultiRC's EM (v0.3 acc_all: a question counts only if all its answers are right),
// LAMBADA's perplexity exp(−mean ll) and accuracy (every target token greedy).
import type { MetricId } from './task_config.js';
import { getPath, type Doc } from './template.js';

export interface DocScore {
  /** Summed continuation log-likelihood per request (choice). */
  lls: number[];
  /** Whether every continuation token was the argmax, per request. */
  greedy: boolean[];
  gold: number;
  choices: string[];
  doc: Doc;
}

export interface MetricValue {
  value: number;
  /** Standard error of the mean for mean-aggregated metrics (n − 1 denominator); null otherwise. */
  stderr: number | null;
}

/** np.argmax: the first index of the maximum. */
export function argmax(xs: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i]! > xs[best]!) best = i;
  return best;
}

/**
 * Length used by acc_norm: characters (Unicode code points) of the choice, without the delimiter.
 * Porting note: lm-eval v0.4 divides by `len(choice)` (Python code points); EleutherAI's blog
 * calls it byte-length normalisation — the two agree on ASCII text, which these benchmarks are.
 */
export function completionLength(choice: string): number {
  return [...choice].length;
}

function meanWithStderr(xs: number[]): MetricValue {
  const n = xs.length;
  const mean = xs.reduce((s, x) => s + x, 0) / n;
  if (n < 2) return { value: mean, stderr: null };
  const varSample = xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1);
  return { value: mean, stderr: Math.sqrt(varSample / n) };
}

/** F1 of one class as a binary problem (sklearn f1_score; 0 when the class never occurs). */
function binaryF1(golds: number[], preds: number[], c: number): number {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (let i = 0; i < golds.length; i++) {
    const g = golds[i] === c;
    const p = preds[i] === c;
    if (g && p) tp++;
    else if (p) fp++;
    else if (g) fn++;
  }
  return tp === 0 ? 0 : (2 * tp) / (2 * tp + fp + fn);
}

/** Macro F1 over the task's classes (CB: 3 — the mean of the three one-vs-rest F1s). */
export function macroF1(golds: number[], preds: number[], nClasses: number): number {
  let s = 0;
  for (let c = 0; c < nClasses; c++) s += binaryF1(golds, preds, c);
  return s / nClasses;
}

/**
 * Every metric of `ids` over the scored documents.
 * @param groupBy for `em`: document paths identifying a question (MultiRC idx.paragraph, idx.question)
 */
export function computeMetrics(ids: readonly MetricId[], scores: DocScore[], groupBy: readonly string[] = []): Partial<Record<MetricId, MetricValue>> {
  const out: Partial<Record<MetricId, MetricValue>> = {};
  if (scores.length === 0) return out;
  const preds = scores.map((s) => argmax(s.lls));
  for (const id of ids) {
    switch (id) {
      case 'acc':
        // Multiple-choice: argmax == gold; loglikelihood tasks (one request): is_greedy.
        out.acc = meanWithStderr(scores.map((s, i) => (s.choices.length === 0 ? (s.greedy[0] ? 1 : 0) : preds[i] === s.gold ? 1 : 0)));
        break;
      case 'acc_norm':
        out.acc_norm = meanWithStderr(scores.map((s) => (argmax(s.lls.map((ll, j) => ll / completionLength(s.choices[j]!))) === s.gold ? 1 : 0)));
        break;
      case 'f1': {
        const k = Math.max(...scores.map((s) => s.choices.length));
        out.f1 = { value: macroF1(scores.map((s) => s.gold), preds, k), stderr: null };
        break;
      }
      case 'em': {
        const questions = new Map<string, boolean>();
        scores.forEach((s, i) => {
          const key = JSON.stringify(groupBy.map((p) => getPath(s.doc, p)));
          questions.set(key, (questions.get(key) ?? true) && preds[i] === s.gold);
        });
        const vals = [...questions.values()];
        out.em = { value: vals.filter((v) => v).length / vals.length, stderr: null };
        break;
      }
      case 'perplexity':
        out.perplexity = { value: Math.exp(-scores.reduce((t, s) => t + s.lls[0]!, 0) / scores.length), stderr: null };
        break;
    }
  }
  return out;
}
