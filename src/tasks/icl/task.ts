// In-context linear regression (`icl_linreg`; Li, Rawat, Oymak, NeurIPS 2024; docs/seed-systems.md
// §5): prompts of n context pairs [x_i, y_i] and a query [x, 0], the target the noise-free xᵀβ, the
// metric the excess risk E(ŷ − xᵀβ)². Training prompts are fresh at every step (a fixed training set
// lets a model memorise the βs): each epoch draws its own from the epoch's seed, so a resumed run
// replays them. The test set is a fixed 10 000 prompts from a separate seed.
import { z } from 'zod';
import { Rng } from '../../util/rng.js';
import { defineTask } from '../types.js';
import type { Batch, OptionProblem, TaskData } from '../types.js';
import { samplePrompts, type IclDesign, type IclPrompts, type TaskCovariance } from './data.js';
import { decayingEigenvalues, equicorrelatedEigenvalues, pgdPredictor, pgdRisk, positionNoiseRisks, ragRisk, riskOn } from './theory.js';

const options = z
  .object({
    /** d, the regression dimension (tokens are d + 1 wide). */
    dim: z.number().int().positive().default(10),
    /** n, the context pairs per prompt (prompts are n + 1 tokens). */
    context_len: z.number().int().positive().default(20),
    /** Label noise variance σ² of the context pairs. */
    noise_var: z.number().min(0).default(0),
    /** `constant`: σ² at every pair; `step`: σ² for pairs i ≤ n/2 and 0 after (H3's advantage, E5). */
    noise_schedule: z.enum(['constant', 'step']).default('constant'),
    /**
     * Σβ: `identity`; `equicorrelated` γ·11ᵀ + (1 − γ)I (Fig. 2c); `decaying` diag(λ), λ_j ∝ 2^{−j/2}
     * with Σλ = d (the low-rank study, Fig. 3c).
     */
    task_cov: z.enum(['identity', 'equicorrelated', 'decaying']).default('identity'),
    task_cov_gamma: z.number().min(0).max(1).default(0.5),
    /** Context inputs: `iid` N(0, I), or (ours) `rag`: αx + √(1 − α²)g_i around the query. */
    context_design: z.enum(['iid', 'rag']).default('iid'),
    rag_alpha: z.number().min(0).max(0.99).default(0),
    /** Fresh prompts drawn per epoch (an epoch only sets how often the data seed changes). */
    train_prompts: z.number().int().positive().default(102400),
    test_prompts: z.number().int().positive().default(10000),
  })
  .strict();

export type IclOptions = z.output<typeof options>;

/** The data model of the options. */
export function iclDesign(o: IclOptions): IclDesign {
  const beta: TaskCovariance =
    o.task_cov === 'identity'
      ? { kind: 'identity' }
      : o.task_cov === 'equicorrelated'
        ? { kind: 'equicorrelated', gamma: o.task_cov_gamma }
        : { kind: 'diagonal', lambda: decayingEigenvalues(o.dim, o.dim) };
  return {
    d: o.dim,
    n: o.context_len,
    beta,
    context: o.context_design === 'rag' ? { kind: 'rag', alpha: o.rag_alpha } : { kind: 'iid' },
    noise: noiseSchedule(o),
  };
}

/** σ_i² of the n context pairs. */
export function noiseSchedule(o: IclOptions): number[] {
  const n = o.context_len;
  return Array.from({ length: n }, (_, i) => (o.noise_schedule === 'step' ? (i + 1 <= n / 2 ? o.noise_var : 0) : o.noise_var));
}

/**
 * The excess risk of the best one-step PGD for this design, which the paper proves one-layer
 * linear attention (`linear_attention`) and H3 (`h3`) reach; rank r of W_q, W_k. undefined where
 * no closed form is derived (e.g. rag with per-position noise): the spec's Monte Carlo least-squares
 * route is not implemented.
 */
export function iclTheoryRisk(o: IclOptions, form: 'linear_attention' | 'h3', rank = o.dim + 1): number | undefined {
  const d = o.dim;
  const n = o.context_len;
  const full = rank >= d;
  if (o.noise_schedule === 'step') {
    if (o.task_cov !== 'identity' || o.context_design !== 'iid' || !full) return undefined;
    const r = positionNoiseRisks(d, noiseSchedule(o));
    return form === 'h3' ? r.h3 : r.la;
  }
  if (o.context_design === 'rag') return o.task_cov === 'identity' && full ? ragRisk(d, n, o.rag_alpha, o.noise_var) : undefined;
  const lambda = o.task_cov === 'identity' ? new Array<number>(d).fill(1) : o.task_cov === 'equicorrelated' ? equicorrelatedEigenvalues(d, o.task_cov_gamma) : decayingEigenvalues(d, d);
  return pgdRisk(lambda, n, o.noise_var, Math.min(rank, d));
}

/** The seeds of a run's splits: the training stream's (per epoch, from the loop) and the fixed test set's. */
function splitSeeds(seed: number): { train: number; test: number } {
  return { train: new Rng(seed).fork(), test: new Rng(seed + 0x51ed).fork() };
}

/** The fixed test prompts of a run with options `o` and seed `seed`. */
export function iclTestPrompts(o: IclOptions, seed: number): IclPrompts {
  return samplePrompts(new Rng(splitSeeds(seed).test), o.test_prompts, iclDesign(o));
}

/**
 * The optimal PGD predictor's excess risk on a run's own test prompts (mean and standard error):
 * the theory without the test set's sampling error, the reference a trained model is compared with.
 * undefined where iclTheoryRisk has no predictor in closed form.
 */
export function iclPgdTestRisk(o: IclOptions, seed: number, form: 'linear_attention' | 'h3', rank = o.dim + 1): { mean: number; se: number } | undefined {
  const design = iclDesign(o);
  const p = pgdPredictor(design, form, rank);
  return p === undefined ? undefined : riskOn(iclTestPrompts(o, seed), design, p);
}

function toBatch(o: IclOptions, tokens: Float32Array, targets: Float32Array, count: number): Batch {
  return { ids: new Int32Array(0), labels: new Int32Array(0), batch: count, seqLen: o.context_len + 1, features: tokens, featureDim: o.dim + 1, targets };
}

export const iclLinreg = defineTask({
  name: 'icl_linreg',
  description: 'in-context linear regression (Li et al. 2024): n pairs [x_i, y_i] and a query [x, 0], excess risk of ŷ against xᵀβ',
  options,
  metric: 'excess_risk',
  check(o): OptionProblem[] {
    const out: OptionProblem[] = [];
    if (o.noise_schedule === 'step' && o.noise_var === 0) out.push({ path: ['noise_var'], message: 'the step schedule puts noise_var on the first half of the pairs; set noise_var > 0' });
    if (o.context_design !== 'rag' && o.rag_alpha !== 0) out.push({ path: ['rag_alpha'], message: 'only the rag design uses rag_alpha; set context_design: rag or remove rag_alpha' });
    return out;
  },
  vocabSize: () => 0,
  seqLen: (o) => o.context_len + 1,
  featureDim: (o) => o.dim + 1,
  makeData(o, seed): TaskData {
    const design = iclDesign(o);
    const seeds = splitSeeds(seed);
    const test = iclTestPrompts(o, seed);
    const T = o.context_len + 1;
    const F = o.dim + 1;
    return {
      train: {
        size: o.train_prompts,
        *batches(batchSize, rng) {
          // Fresh prompts from the epoch's generator (the loop seeds it per epoch).
          for (let from = 0; from < o.train_prompts; from += batchSize) {
            const count = Math.min(batchSize, o.train_prompts - from);
            const p = samplePrompts(rng, count, design);
            yield toBatch(o, p.tokens, p.targets, count);
          }
        },
      },
      test: {
        size: test.count,
        *batches(batchSize) {
          for (let from = 0; from < test.count; from += batchSize) {
            const count = Math.min(batchSize, test.count - from);
            yield toBatch(o, test.tokens.subarray(from * T * F, (from + count) * T * F), test.targets.subarray(from, from + count), count);
          }
        },
      },
      seeds,
    };
  },
  // Regression: the loop computes the excess risk itself; there are no classes to score.
  score: () => ({ correct: 0, total: 0, accuracy: Number.NaN }),
});
