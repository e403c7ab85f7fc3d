// The LM head's chunked cross-entropy (src/train/head_cross_entropy.ts): the loss that never forms a
// training step's whole logits equals the plain path (logits whole, crossEntropy) in value and
// gradients, chunked or not, padded replicas included, and its chunked argmax is tf.argMax's; the LM
// hands it head rows exactly when the logits exceed METALA_HEAD_LOGITS_MAX_BYTES, in training and
// evaluation, and evaluation gives the same metrics either way; bad settings are one-line errors.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { CausalLM } from '../../src/models/lm.js';
import { lmSchema, type LmConfig } from '../../src/models/lm_config.js';
import { headLogitsMaxBytes } from '../../src/backend/logits_limit.js';
import { stackBatches, stackedLossAndGrads } from '../../src/train/stacked_batch.js';
import { evaluateSplit, type EvalResult } from '../../src/train/loop.js';
import { evaluateStack } from '../../src/train/stack_loop.js';
import { mqarAccuracy } from '../../src/tasks/mqar.js';
import type { Batch } from '../../src/tasks/types.js';
import { supervisedLoss } from '../../src/train/loss.js';
import { MetalaError } from '../../src/util/errors.js';
import { expectClose } from '../helpers/close.js';
import { expectHeadMatchesPlain, expectPredictionsMatchPlain, randomHead } from '../helpers/head_rows.js';
import { batchOf } from '../helpers/stacked.js';

const REPO = resolve(import.meta.dirname, '../..');

beforeAll(async () => {
  await initBackend('cpu');
});

afterEach(() => {
  delete process.env['METALA_HEAD_LOGITS_MAX_BYTES'];
});

describe('headCrossEntropy', () => {
  it('equals the plain path for one replica, in one chunk and in ragged chunks', async () => {
    for (const chunk of [9, 4, 1]) await expectHeadMatchesPlain(randomHead(1, [9], 6, 11, false), chunk, `R 1, chunk ${chunk}`);
  });

  it('equals it for padded replicas and a transposed (tied) head', async () => {
    await expectHeadMatchesPlain(randomHead(2, [7, 4, 7], 5, 13, false), 3, 'R 3 padded');
    await expectHeadMatchesPlain(randomHead(3, [6, 2], 4, 9, true), 4, 'R 2 transposed');
  });

  it('leaks no tensors', async () => {
    const h = randomHead(4, [5, 5], 4, 7, false);
    const before = tf.memory().numTensors;
    await expectHeadMatchesPlain(h, 2, 'leak check');
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('headPredictions', () => {
  it('is the argmax of the whole logits of the real rows, padded replicas, ragged chunks and a tied head included', async () => {
    const h = randomHead(5, [7, 3, 5], 5, 13, false);
    const before = tf.memory().numTensors;
    for (const chunk of [7, 3, 1]) await expectPredictionsMatchPlain(h, chunk, `R 3 padded, chunk ${chunk}`);
    expect(tf.memory().numTensors).toBe(before);
    await expectPredictionsMatchPlain(randomHead(6, [2, 6], 4, 9, true), 4, 'R 2 transposed');
  });
});

describe('the LM head', () => {
  const cfg = (tie: boolean): LmConfig =>
    lmSchema.parse({ d_model: 8, n_layers: 1, vocab_size: 24, mixer: { name: 'metala', num_heads: 2 }, max_seq_len: 8, tie_embeddings: tie }) as LmConfig;

  it('gives head rows (training and evaluation) exactly when the logits are over the limit, and the same loss and gradients', async () => {
    for (const tie of [false, true]) {
      const model = new CausalLM(cfg(tie), [0, 1]);
      const bs = [batchOf(5, 6, 2, 8, 24), batchOf(6, 3, 2, 8, 24)];
      const vars = [...model.params.vars.values()];
      const run = () => stackedLossAndGrads(model, bs, [1, 2], vars, { training: true });
      const plain = run();
      // 6 labelled rows per replica (padded) × 2 replicas × 24 classes × 4 bytes = 1152 bytes.
      process.env['METALA_HEAD_LOGITS_MAX_BYTES'] = '400';
      const kind = tf.tidy(() => model.supervised(stackBatches(bs), { training: true }).kind);
      const evalKind = tf.tidy(() => model.supervised(stackBatches(bs)).kind);
      const chunked = run();
      delete process.env['METALA_HEAD_LOGITS_MAX_BYTES'];
      expect(kind).toBe('head');
      expect(evalKind).toBe('head');
      expectClose(chunked.losses, plain.losses, { name: `tie ${tie} losses`, rtol: 1e-5 });
      for (const [k, g] of Object.entries(plain.grads)) expectClose(chunked.grads[k]!, g, { name: `tie ${tie} ∂${k}`, rtol: 1e-5 });
      tf.dispose([plain.losses, chunked.losses, ...Object.values(plain.grads), ...Object.values(chunked.grads)]);
      model.dispose();
    }
  });

  it('below the limit keeps the plain logits (one replica)', () => {
    const model = new CausalLM(cfg(false), 0);
    const s = tf.tidy(() => {
      const r = model.supervised(batchOf(7, 4, 2, 8, 24), { training: true });
      return r.kind;
    });
    expect(s).toBeUndefined();
    model.dispose();
  });

  it('evaluation gives the same predictions, accuracy and loss through head rows as through whole logits', async () => {
    // Two batches per split. At 200 bytes one model's 6 rows × 24 classes (576 bytes) go 2 rows a
    // chunk; the stack (tied head) pads replica 0's 3 rows to replica 1's 6, 1 row a chunk.
    const split = (seed: number, labelled: number) => ({ size: 4, batches: (): Batch[] => [batchOf(seed, labelled, 2, 8, 24), batchOf(seed + 10, labelled, 2, 8, 24)] });
    const evaluate = async (limit: string | undefined, run: (score: typeof mqarAccuracy) => Promise<EvalResult[]>) => {
      if (limit === undefined) delete process.env['METALA_HEAD_LOGITS_MAX_BYTES'];
      else process.env['METALA_HEAD_LOGITS_MAX_BYTES'] = limit;
      const preds: number[][] = [];
      const results = await run((p, y) => (preds.push([...p]), mqarAccuracy(p, y)));
      return { results, preds };
    };
    const expectSame = (got: { results: EvalResult[]; preds: number[][] }, want: { results: EvalResult[]; preds: number[][] }, name: string) => {
      expect(got.preds, `${name} predictions`).toEqual(want.preds);
      got.results.forEach((g, r) => {
        const w = want.results[r]!;
        expect([g.correct, g.total], `${name} replica ${r}`).toEqual([w.correct, w.total]);
        expect(g.loss, `${name} replica ${r} loss`).toBeCloseTo(w.loss, 5);
      });
    };
    const one = new CausalLM(cfg(false), 3);
    const alone = (score: typeof mqarAccuracy) => evaluateSplit(one, split(1, 6), 2, score).then((e) => [e]);
    expect(tf.tidy(() => one.supervised(split(1, 6).batches()[0]!).kind)).toBeUndefined();
    const plainOne = await evaluate(undefined, alone);
    process.env['METALA_HEAD_LOGITS_MAX_BYTES'] = '200';
    expect(tf.tidy(() => one.supervised(split(1, 6).batches()[0]!).kind)).toBe('head');
    expectSame(await evaluate('200', alone), plainOne, 'one model');
    one.dispose();
    const stack = new CausalLM(cfg(true), [0, 1]);
    const stacked = (score: typeof mqarAccuracy) => evaluateStack(stack, [split(2, 3), split(3, 6)], 2, score);
    const plainStack = await evaluate(undefined, stacked);
    process.env['METALA_HEAD_LOGITS_MAX_BYTES'] = '200';
    expect(tf.tidy(() => stack.supervised(stackBatches([split(2, 3).batches()[0]!, split(3, 6).batches()[0]!])).kind)).toBe('head');
    expectSame(await evaluate('200', stacked), plainStack, 'stack');
    stack.dispose();
  });

  it('label smoothing with head rows and a bad limit are one-line errors (exit 2)', () => {
    const model = new CausalLM(cfg(false), 0);
    process.env['METALA_HEAD_LOGITS_MAX_BYTES'] = '16';
    const err = (() => {
      try {
        tf.tidy(() => supervisedLoss(model.supervised(batchOf(8, 4, 2, 8, 24), { training: true }), 0.1));
      } catch (e) {
        return e as MetalaError;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(MetalaError);
    expect(err!.message).toMatch(/^train\.label_smoothing: .*METALA_HEAD_LOGITS_MAX_BYTES/);
    expect(err!.message).not.toContain('\n');
    process.env['METALA_HEAD_LOGITS_MAX_BYTES'] = 'lots';
    expect(() => headLogitsMaxBytes()).toThrow(/^METALA_HEAD_LOGITS_MAX_BYTES: 'lots' is not a whole number of bytes/);
    model.dispose();
  });

  it('a bad METALA_HEAD_LOGITS_MAX_BYTES stops `metala train` with one line, exit 2, before any run folder', () => {
    const results = mkdtempSync(join(tmpdir(), 'metala-head-'));
    const r = spawnSync(process.execPath, [join(REPO, 'bin/metala.js'), 'train', join(REPO, 'configs/smoke/mqar.yaml'), '--backend', 'cpu', '--results', results], {
      encoding: 'utf8',
      env: { ...process.env, METALA_HEAD_LOGITS_MAX_BYTES: '1.5' },
    });
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n').filter((l) => !l.startsWith('metala: '))).toEqual([
      "error: METALA_HEAD_LOGITS_MAX_BYTES: '1.5' is not a whole number of bytes (≥ 4). Unset it, or give e.g. 536870912",
    ]);
    expect(readdirSync(results)).toEqual([]);
  });
});
