// The harness on the fixtures with a model whose log-likelihoods are known: a stand-in
// LoglikelihoodModel assigns each (context + continuation) text a fixed pseudo-random ll and
// greedy flag, and the expected acc / acc_norm / F1 / EM / perplexity are computed here from those
// numbers with independent code (confusion counts, per-question grouping), then compared exactly.
import { describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { loadTaskDocs } from '../../src/eval/docs.js';
import { evaluateTask } from '../../src/eval/harness.js';
import { buildRequests } from '../../src/eval/requests.js';
import type { LoglikelihoodModel, TokenRequest } from '../../src/eval/scorer.js';
import { loadTaskConfig } from '../../src/eval/task_config.js';
import { byteTokenizer } from '../../src/tokenizers/index.js';

const DATA = resolve('test/fixtures/eval');
const DIR = resolve('configs/tasks');
const tok = byteTokenizer();

/** FNV-1a of a string: the fixed "model" behind every log-likelihood. */
function fnv(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}
const knownLl = (text: string): number => -(0.5 + (fnv(text) % 10007) / 997);
const knownGreedy = (text: string): boolean => fnv(`g${text}`) % 3 === 0;

/** Decodes the bytes of context + continuation and looks their ll up: exactly known values. */
const KNOWN: LoglikelihoodModel = {
  maxLength: 1 << 20,
  loglikelihood: async (reqs: readonly TokenRequest[]) =>
    reqs.map((r) => {
      const text = tok.decode([...r.context, ...r.continuation]);
      return { ll: knownLl(text), greedy: knownGreedy(text) };
    }),
};

async function setup(task: string) {
  const cfg = loadTaskConfig(task, DIR);
  const { docs } = await loadTaskDocs(cfg, DATA);
  const reqs = docs.map((d) => buildRequests(cfg, d));
  const lls = reqs.map((r) => r.pairs.map(([c, x]) => knownLl(c + x)));
  return { cfg, docs, reqs, lls, result: await evaluateTask(cfg, docs, tok, KNOWN) };
}

/** Index of the largest value, first on ties (written independently of metrics.ts). */
const best = (xs: number[]): number => xs.indexOf(Math.max(...xs));

describe('metrics with known log-likelihoods', () => {
  it.each(['piqa', 'hellaswag', 'arc_easy', 'arc_challenge', 'openbookqa', 'logiqa'])('%s: acc and acc_norm', async (task) => {
    const { reqs, lls, result } = await setup(task);
    const acc = lls.filter((l, i) => best(l) === reqs[i]!.gold).length / lls.length;
    const accNorm = lls.filter((l, i) => best(l.map((v, j) => v / reqs[i]!.choices[j]!.length)) === reqs[i]!.gold).length / lls.length;
    expect(result.metrics.acc!.value).toBe(acc);
    expect(result.metrics.acc_norm!.value).toBe(accNorm);
    const n = lls.length;
    const sd = Math.sqrt((acc * (1 - acc) * n) / (n - 1));
    expect(result.metrics.acc!.stderr).toBeCloseTo(sd / Math.sqrt(n), 12);
  });

  it.each(['winogrande', 'wsc273', 'boolq', 'copa', 'rte', 'wic', 'wsc'])('%s: acc', async (task) => {
    const { reqs, lls, result } = await setup(task);
    expect(result.metrics.acc!.value).toBe(lls.filter((l, i) => best(l) === reqs[i]!.gold).length / lls.length);
  });

  it('cb: macro F1 over True/False/Neither', async () => {
    const { reqs, lls, result } = await setup('cb');
    const preds = lls.map(best);
    const golds = reqs.map((r) => r.gold);
    let f1sum = 0;
    for (const cls of [0, 1, 2]) {
      const tp = preds.filter((p, i) => p === cls && golds[i] === cls).length;
      const predicted = preds.filter((p) => p === cls).length;
      const actual = golds.filter((g) => g === cls).length;
      const precision = predicted === 0 ? 0 : tp / predicted;
      const recall = actual === 0 ? 0 : tp / actual;
      f1sum += precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
    }
    expect(result.metrics.f1!.value).toBeCloseTo(f1sum / 3, 14);
    expect(result.metrics.acc!.value).toBe(preds.filter((p, i) => p === golds[i]).length / preds.length);
  });

  it('multirc: EM counts a question only if all its answers are right', async () => {
    const { docs, reqs, lls, result } = await setup('multirc');
    const byQuestion = new Map<string, boolean[]>();
    docs.forEach((d, i) => {
      const idx = d['idx'] as { paragraph: number; question: number };
      const k = `${idx.paragraph}/${idx.question}`;
      byQuestion.set(k, [...(byQuestion.get(k) ?? []), best(lls[i]!) === reqs[i]!.gold]);
    });
    const em = [...byQuestion.values()].filter((v) => v.every(Boolean)).length / byQuestion.size;
    expect(byQuestion.size).toBe(2);
    expect(result.metrics.em!.value).toBe(em);
  });

  it('lambada: perplexity = exp(−mean ll), acc = fraction greedy', async () => {
    const { reqs, result } = await setup('lambada');
    const texts = reqs.map((r) => r.pairs[0]![0] + r.pairs[0]![1]);
    const ppl = Math.exp(-texts.reduce((s, t) => s + knownLl(t), 0) / texts.length);
    expect(result.metrics.perplexity!.value).toBeCloseTo(ppl, 12);
    expect(result.metrics.acc!.value).toBe(texts.filter(knownGreedy).length / texts.length);
  });

  it('acc_norm divides by the choice length in characters, not tokens or bytes', async () => {
    const cfg = loadTaskConfig('piqa', DIR);
    // ll/len: choice 0 = −3/3 = −1.0 (3 characters, 6 bytes: "ααα"); choice 1 = −5/4 = −1.25.
    const doc = { goal: 'g', sol1: 'ααα', sol2: 'bbbb', label: 0 };
    const model: LoglikelihoodModel = {
      maxLength: 100,
      loglikelihood: async (r) => r.map((x) => ({ ll: tok.decode(x.continuation).includes('α') ? -3 : -5, greedy: false })),
    };
    const res = await evaluateTask(cfg, [doc], tok, model);
    expect(res.metrics.acc_norm!.value).toBe(1);
  });
});
