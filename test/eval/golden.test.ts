// The real scoring path on the official MetaLA checkpoint (../shared/golden/metala-tiny, byte
// vocabulary 256): the batched, budgeted log-likelihoods equal a float64 log-softmax of the
// model's own logits; batch size and left truncation behave as lm-eval's; and `metala eval`'s
// runEval scores fixture tasks end to end and writes result folders that `metala report` renders.
import { beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { initBackend } from '../../src/backend/index.js';
import { loadCheckpoint } from '../../src/checkpoint/io.js';
import { openCheckpoint } from '../../src/eval/checkpoint.js';
import { loadTaskDocs } from '../../src/eval/docs.js';
import { evaluateTask } from '../../src/eval/harness.js';
import { runEval } from '../../src/eval/run.js';
import { loadTaskConfig } from '../../src/eval/task_config.js';
import { causalLmScorer, encodePair, type TokenRequest } from '../../src/eval/scorer.js';
import type { CausalLM } from '../../src/models/lm.js';
import { runReport } from '../../src/report/index.js';
import { byteTokenizer } from '../../src/tokenizers/index.js';
import { GOLDEN } from '../helpers/golden.js';

const CKPT = resolve(GOLDEN, 'metala-tiny');
const tok = byteTokenizer();

/** Σ log p(cont | prefix) from full logits, float64 log-softmax, input left-truncated to maxLen. */
async function reference(model: CausalLM, r: TokenRequest, maxLen: number): Promise<{ ll: number; greedy: boolean }> {
  const all = [...r.context, ...r.continuation].slice(-(maxLen + 1));
  const input = all.slice(0, -1);
  const logits = (await model.logits([input]))[0]!;
  let ll = 0;
  let greedy = true;
  for (let t = input.length - r.continuation.length; t < input.length; t++) {
    const row = logits[t]!;
    const m = Math.max(...row);
    const lse = m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
    const target = all[t + 1]!;
    ll += row[target]! - lse;
    if (row.indexOf(m) !== target) greedy = false;
  }
  return { ll, greedy };
}

describe('log-likelihood scoring on the golden MetaLA checkpoint', () => {
  let model: CausalLM;
  beforeAll(async () => {
    await initBackend('cpu');
    model = await loadCheckpoint(CKPT);
  });
  const pairs: [string, string][] = [
    ['Question: How do you open a jar?\nAnswer:', ' Twist the lid.'],
    ['The sky is ', 'blue.'],
    ['A', ' b'],
    ['She found a small silver', ' key'],
  ];

  it('equals a float64 log-softmax of the model logits, for any batch budget', async () => {
    const reqs = pairs.map(([c, x]) => encodePair(tok, c, x, 10));
    // Trailing context spaces move into the continuation (lm-eval _encode_pair).
    expect(tok.decode(reqs[1]!.continuation)).toBe(' blue.');
    const big = await causalLmScorer(model).loglikelihood(reqs);
    const small = await causalLmScorer(model, { batchTokens: 8 }).loglikelihood(reqs);
    for (let i = 0; i < reqs.length; i++) {
      const ref = await reference(model, reqs[i]!, 2048);
      expect(Math.abs(big[i]!.ll - ref.ll)).toBeLessThan(1e-3);
      expect(Math.abs(small[i]!.ll - big[i]!.ll)).toBeLessThan(1e-4);
      expect(big[i]!.greedy).toBe(ref.greedy);
    }
  });

  it('left-truncates to max_length like lm-eval', async () => {
    const r = encodePair(tok, 'Question: How do you open a jar?\nAnswer:', ' Twist the lid.', 10);
    const [got] = await causalLmScorer(model, { maxLength: 20 }).loglikelihood([r]);
    const ref = await reference(model, r, 20);
    expect(Math.abs(got!.ll - ref.ll)).toBeLessThan(1e-3);
  });
});

describe('a released-style folder with a tiktoken rank file', () => {
  it('finds the *.tiktoken beside the weights and scores with it', async () => {
    await initBackend('cpu');
    const dir = mkdtempSync(join(tmpdir(), 'metala-released-'));
    for (const f of ['config.json', 'model.safetensors']) copyFileSync(join(CKPT, f), join(dir, f));
    // Ranks 0..254 are the single bytes 0..254; <|endoftext|> takes id 255 (the first after the ranks).
    const lines = Array.from({ length: 255 }, (_, b) => `${Buffer.from([b]).toString('base64')} ${b}`);
    writeFileSync(join(dir, 'bytes_255.tiktoken'), `${lines.join('\n')}\n`);
    const ck = await openCheckpoint(dir);
    expect([ck.tokenizerFrom, ck.source, ck.tokenizer.vocabSize, ck.tokenizer.eosId]).toEqual(['bytes_255.tiktoken', 'official', 256, 255]);
    expect(ck.tokenizer.encode('Hi there')).toEqual(tok.encode('Hi there'));
    const cfg = loadTaskConfig('copa', resolve('configs/tasks'));
    const { docs } = await loadTaskDocs(cfg, resolve('test/fixtures/eval'));
    const a = await evaluateTask(cfg, docs, ck.tokenizer, causalLmScorer(ck.model));
    const b = await evaluateTask(cfg, docs, tok, causalLmScorer(ck.model));
    expect(a.scores.map((x) => x.lls)).toEqual(b.scores.map((x) => x.lls));
    ck.model.dispose();
  });
});

describe('runEval end to end (golden checkpoint, fixture data)', () => {
  it('scores piqa (Parquet), copa and lambada, writes result folders, and the report renders them', async () => {
    await initBackend('cpu');
    const results = mkdtempSync(join(tmpdir(), 'metala-eval-'));
    const lines: string[] = [];
    const out = await runEval({ checkpoint: CKPT, tasks: ['piqa', 'copa', 'lambada'], dataDir: resolve('test/fixtures/eval'), results, log: (l) => lines.push(l) });
    expect(out.name).toBe('metala-tiny');
    expect(out.results.map((r) => r.task)).toEqual(['piqa', 'copa', 'lambada']);
    expect(lines[0]).toMatch(/tokenizer byte \(UTF-8\) from vocab_size 256 → byte/);
    const piqa = out.results[0]!;
    expect(piqa.docs).toBe(4);
    const dir = join(results, 'eval', 'metala-tiny');
    for (const f of ['piqa', 'copa', 'lambada', 'lambada.perplexity']) expect(existsSync(join(dir, f, 'summary.json'))).toBe(true);
    const s = JSON.parse(readFileSync(join(dir, 'piqa', 'summary.json'), 'utf8')) as { metric: string; value: number; status: string };
    expect(s).toMatchObject({ status: 'finished', metric: 'acc' });
    expect(s.value).toBeCloseTo(100 * piqa.metrics.acc!.value, 10);
    const ppl = JSON.parse(readFileSync(join(dir, 'lambada.perplexity', 'summary.json'), 'utf8')) as { value: number };
    expect(ppl.value).toBeCloseTo(out.results[2]!.metrics.perplexity!.value, 10);
    // A byte model that never trained on text: perplexity per word near 256^(bytes per word).
    expect(ppl.value).toBeGreaterThan(10);
    const cfg = JSON.parse(readFileSync(join(dir, 'piqa', 'config.json'), 'utf8')) as { task: { name: string; benchmark: string }; checkpoint: { source: string; params: number } };
    expect(cfg.task).toMatchObject({ name: 'zeroshot', benchmark: 'piqa' });
    expect(cfg.checkpoint.source).toBe('official');
    const rep = await runReport({ resultsDir: results, outDir: join(results, 'tables') });
    const ids = rep.written.map((w) => w.id);
    expect(ids).toContain('tab5_commonsense');
    expect(ids).toContain('tab4_superglue');
    const md = readFileSync(join(results, 'tables', 'commonsense.md'), 'utf8');
    expect(md).toMatch(/\| MetaLA \(0\.36B params, 15B tokens\) \| — \| 22\.43 \|/);
    expect(md).toMatch(/ours: metala \(released\) \[metala-tiny\] \(\d+K params, \? tokens; data fixtures\/eval\)/);
  });
});
