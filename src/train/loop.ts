// One training loop for every task (minGPT's trainer: it knows nothing about particular models).
// Per run: results/<experiment>/<run-id>/{config.json, metrics.jsonl, summary.json, checkpoint/}.
// Finished runs are skipped; unfinished ones resume from their last checkpoint, replaying the
// same data order (per-epoch shuffles derive from the seed and the epoch number).
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { RunSpec } from '../config/schema.js';
import type { BackendInfo } from '../backend/index.js';
import { BACKBONES } from '../models/registry.js';
import type { TrainableModel } from '../models/types.js';
import { TASKS } from '../tasks/registry.js';
import type { Batch, TaskData, TaskDef } from '../tasks/types.js';
import { appendJsonl, atomicWriteFile, writeJson, CHECKPOINT_DIR, CONFIG_FILE, METRICS_FILE, SUMMARY_FILE } from '../results/store.js';
import { assignParams, saveCheckpoint } from '../checkpoint/io.js';
import { encodeSafetensors, readSafetensors } from '../checkpoint/safetensors.js';
import { GpuBufferLimitError, RunError } from '../util/errors.js';
import { markGpuStep, releaseGpuPool, takeGpuError } from '../backend/index.js';
import { Rng } from '../util/rng.js';
import { gitCommit } from '../util/git.js';
import { AdamW } from './optim.js';
import { lrAt } from './schedule.js';
import { crossEntropy } from './loss.js';
import { lossAndGrads } from './micro_batch.js';
import { createProgress } from './progress.js';

export interface EvalResult {
  accuracy: number;
  loss: number;
  perplexity: number;
  correct: number;
  total: number;
}

export interface RunOutcome {
  dir: string;
  status: 'finished' | 'skipped' | 'failed' | 'interrupted';
  summary: Record<string, unknown>;
}

interface TrainerState {
  step: number;
  best: (EvalResult & { step: number }) | null;
  last: (EvalResult & { step: number }) | null;
  wall_s: number;
  tokens: number;
}

/** Evaluate on the whole test split: accuracy of the argmax, mean CE and perplexity over supervised units. */
export async function evaluate(model: TrainableModel, data: TaskData, batchSize: number): Promise<EvalResult> {
  let correct = 0;
  let total = 0;
  let lossSum = 0;
  for (const b of data.test.batches(batchSize)) {
    const { preds, lossT, targets } = tf.tidy(() => {
      const s = model.supervised(b);
      return { preds: tf.argMax(s.logits, -1), lossT: tf.mul(crossEntropy(s.logits, s.targets), s.targets.length), targets: s.targets };
    });
    const p = (await preds.data()) as Int32Array;
    lossSum += (await lossT.data())[0]!;
    preds.dispose();
    lossT.dispose();
    for (let i = 0; i < targets.length; i++) if (p[i] === targets[i]) correct++;
    total += targets.length;
  }
  const gpuError = await takeGpuError();
  if (gpuError !== undefined) throw new RunError(`evaluation: GPU error: ${gpuError}`);
  const loss = total === 0 ? Number.NaN : lossSum / total;
  return { accuracy: total === 0 ? Number.NaN : correct / total, loss, perplexity: Math.exp(loss), correct, total };
}

/**
 * Out-of-memory failures come out of the backends as assorted errors (Dawn buffer allocation,
 * "memory access out of bounds" / "Aborted()" from the wasm heap, a JS RangeError). Name the run
 * and the remedy instead of printing a stack trace.
 */
function asOutOfMemory(e: unknown, label: string, batch: number, backend: string): RunError | undefined {
  const msg = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  const oom = /out of memory|OOM|Failed to allocate|allocation failed|createBuffer|memory access out of bounds|Aborted\(\)|Array buffer allocation|Invalid typed array length/i;
  if (e instanceof RunError || !oom.test(msg)) return undefined;
  const where = backend === 'webgpu' ? 'GPU' : `CPU (${backend} backend)`;
  return new RunError(
    `${label}: out of ${where} memory (${msg.split('\n')[0]!.slice(0, 120)}). Lower train.batch_size (e.g. --set train.batch_size=${Math.max(1, Math.floor(batch / 2))}) or the sequence length; the last good checkpoint is kept`,
  );
}

/** Is `a` a better eval than `b` for the task's metric? */
function better(metric: string, a: EvalResult, b: EvalResult | null): boolean {
  if (b === null) return true;
  return metric === 'perplexity' ? a.perplexity < b.perplexity : a.accuracy > b.accuracy;
}

/** Seed of the shuffle of epoch e: a pure function so a resumed run replays the same order. */
function epochSeed(seed: number, epoch: number): number {
  return new Rng((seed * 0x9e3779b1 + epoch * 0x85ebca6b) >>> 0).fork();
}

/** Batches from step `from` on, across epochs. */
function* batchStream(data: TaskData, batchSize: number, seed: number, stepsPerEpoch: number, from: number): Generator<Batch> {
  let epoch = Math.floor(from / stepsPerEpoch);
  let skip = from - epoch * stepsPerEpoch;
  for (;;) {
    for (const b of data.train.batches(batchSize, new Rng(epochSeed(seed, epoch)))) {
      if (skip > 0) {
        skip--;
        continue;
      }
      yield b;
    }
    epoch++;
  }
}

export interface TrainOptions {
  resultsDir: string;
  backend: BackendInfo;
  /** Show the progress bar. */
  progress: boolean;
  /** Re-run even if a finished summary exists. */
  force?: boolean;
  /** Called with one line per finished eval when the bar is off (logs). */
  log?: (line: string) => void;
  /**
   * Stop (checkpointed, resumable) once this many steps ran in this call, or at this wall-clock
   * time (ms since epoch): `metala train --max-minutes` on a time-limited GPU.
   */
  stopAfterSteps?: number;
  deadline?: number;
}

export async function trainRun(spec: RunSpec, opts: TrainOptions): Promise<RunOutcome> {
  const dir = join(opts.resultsDir, spec.experiment, spec.run_id);
  const summaryPath = join(dir, SUMMARY_FILE);
  const ckptDir = join(dir, CHECKPOINT_DIR);
  if (!opts.force && existsSync(summaryPath)) {
    const prev = JSON.parse(await readFile(summaryPath, 'utf8')) as Record<string, unknown>;
    if (prev['status'] === 'finished') return { dir, status: 'skipped', summary: prev };
  }
  await writeJson(join(dir, CONFIG_FILE), spec);
  const task = TASKS[spec.task.name as keyof typeof TASKS] as unknown as TaskDef;
  const { name: _n, ...taskOpts } = spec.task;
  const data = task.makeData(task.options.parse(taskOpts), spec.seed);
  const unit = task.throughputUnit ?? 'tok'; // what tokens/s counts: tokens, or images
  const t = spec.train;
  const stepsPerEpoch = Math.ceil(data.train.size / t.batch_size);
  const totalSteps = t.max_steps ?? Math.max(1, Math.round((t.epochs ?? 1) * stepsPerEpoch));
  const evalEvery = Math.min(t.eval_every ?? Math.min(stepsPerEpoch, 1000), totalSteps);
  const ckptEvery = t.checkpoint_every ?? evalEvery;

  const model = BACKBONES[spec.model.backbone]!.create(spec.model, spec.seed);
  const optim = new AdamW(model.params, { betas: t.betas, eps: t.eps, weightDecay: t.weight_decay });
  const state: TrainerState = { step: 0, best: null, last: null, wall_s: 0, tokens: 0 };
  let resumed = false;
  if (!opts.force && existsSync(join(ckptDir, 'trainer_state.json'))) {
    const st = JSON.parse(await readFile(join(ckptDir, 'trainer_state.json'), 'utf8')) as TrainerState & { optim_t: number };
    assignParams(model.params, (await readSafetensors(join(ckptDir, 'model.safetensors'))).tensors, ckptDir);
    optim.importState((await readSafetensors(join(ckptDir, 'optimizer.safetensors'))).tensors, st.optim_t);
    Object.assign(state, st);
    resumed = true;
  } else if (opts.force) {
    await atomicWriteFile(join(dir, METRICS_FILE), '');
  }
  const varList = [...model.params.vars.values()];
  const base = {
    run_id: spec.run_id,
    experiment: spec.experiment,
    variant: spec.variant,
    metric: task.metric,
    params: model.params.count(),
    total_steps: totalSteps,
    backend: opts.backend.backend,
    device: opts.backend.device,
    seed: spec.seed,
    git_commit: gitCommit(),
  };
  const summaryOf = (status: string, extra: Record<string, unknown> = {}) => ({
    ...base,
    status,
    steps: state.step,
    best: state.best,
    final: state.last,
    wall_s: Math.round(state.wall_s * 10) / 10,
    tokens_per_s: state.wall_s > 0 ? Math.round(state.tokens / state.wall_s) : null,
    // Image tasks count images in tokens_per_s (seqLen 1 per image); say so beside it.
    ...(unit === 'img' ? { throughput_unit: 'images' } : {}),
    resumed,
    ...extra,
  });
  const checkpoint = async () => {
    const optState = await optim.exportState();
    // metala_task: the task options (e.g. the LM tokenizer) so `metala eval` can use the checkpoint alone.
    await saveCheckpoint(ckptDir, model, { run_id: spec.run_id, metala_task: spec.task }, {
      'optimizer.safetensors': encodeSafetensors(optState),
      'trainer_state.json': JSON.stringify({ ...state, optim_t: optim.t }),
    });
  };
  await writeJson(summaryPath, summaryOf('running'));

  const label = `${spec.experiment}/${spec.run_id}`;
  const bar = createProgress(label, opts.progress, unit);
  bar.start(totalSteps, state.step);
  const stream = batchStream(data, t.batch_size, spec.seed, stepsPerEpoch, state.step);
  let stopReason = 'max_steps';
  const n0 = tf.memory().numTensors;
  const firstStep = state.step;
  try {
    let win = { tokens: 0, s: 0 };
    while (state.step < totalSteps) {
      const b = stream.next().value as Batch;
      const lr = lrAt(state.step, totalSteps, t);
      const t0 = performance.now();
      markGpuStep();
      const { value, grads } = lossAndGrads(model, b, varList, {
        training: true,
        recompute: t.recompute === true,
        labelSmoothing: t.label_smoothing,
        micro: t.micro_batch_size,
      });
      const named: Record<string, tf.Tensor> = {};
      for (const [vn, g] of Object.entries(grads)) named[model.params.byVarName.get(vn)!] = g;
      const gnorm = optim.step(named, lr, t.grad_clip);
      for (const g of Object.values(grads)) g.dispose();
      const loss = (await value.data())[0]!;
      const gn = (await gnorm.data())[0]!;
      value.dispose();
      gnorm.dispose();
      const gpuError = await takeGpuError();
      if (gpuError !== undefined) {
        const kept = existsSync(join(ckptDir, 'trainer_state.json')) ? `the last good checkpoint is kept in ${ckptDir}` : 'no checkpoint was written yet';
        throw new RunError(`${label}: GPU error at step ${state.step + 1}: ${gpuError}; ${kept}`);
      }
      const dt = (performance.now() - t0) / 1000;
      state.step += 1;
      state.wall_s += dt;
      state.tokens += b.batch * b.seqLen;
      if (!Number.isFinite(loss) || !Number.isFinite(gn)) {
        const kept = existsSync(join(ckptDir, 'trainer_state.json')) ? `the last good checkpoint is kept in ${ckptDir}` : 'no checkpoint was written yet';
        throw new RunError(
          `${label}: training diverged at step ${state.step} (loss ${loss}, gradient norm ${gn}, lr ${lr.toExponential(2)}); ${kept}. Lower train.lr or set train.grad_clip`,
        );
      }
      const tps = (b.batch * b.seqLen) / dt;
      // Shown: the mean rate since the last evaluation (one step's rate jumps with GC pauses and
      // the first steps after the evaluation released the GPU pool). metrics.jsonl keeps per-step rates.
      win.tokens += b.batch * b.seqLen;
      win.s += dt;
      const meanTps = win.tokens / win.s;
      bar.update(state.step, { loss, tps: meanTps });
      if (state.step % t.log_every === 0 || state.step === 1) {
        // On webgpu, the bytes held by tfjs's buffer pool (live + free-listed): a pool that keeps growing
        // is how a run ends in GPU out-of-memory after hundreds of steps.
        const pool = (tf.memory() as tf.MemoryInfo & { numBytesAllocatedInGPU?: number }).numBytesAllocatedInGPU;
        await appendJsonl(join(dir, METRICS_FILE), {
          step: state.step, loss, lr, grad_norm: gn, tokens_per_s: Math.round(tps), epoch: Math.floor((state.step - 1) / stepsPerEpoch),
          ...(pool !== undefined ? { gpu_pool_mb: Math.round(pool / 2 ** 20) } : {}),
        });
      }
      const isEval = state.step % evalEvery === 0 || state.step === totalSteps;
      if (isEval) {
        const ev = await evaluate(model, data, t.batch_size);
        await releaseGpuPool();
        state.last = { ...ev, step: state.step };
        if (better(task.metric, ev, state.best)) state.best = { ...ev, step: state.step };
        await appendJsonl(join(dir, METRICS_FILE), { step: state.step, eval: { accuracy: ev.accuracy, loss: ev.loss, perplexity: ev.perplexity } });
        bar.update(state.step, { metric: ev.accuracy });
        opts.log?.(`${label} step ${state.step}/${totalSteps} loss ${loss.toFixed(4)} eval acc ${ev.accuracy.toFixed(4)} eval loss ${ev.loss.toFixed(4)} ${Math.round(meanTps)} ${unit}/s`);
        win = { tokens: 0, s: 0 };
        const es = t.early_stop;
        if (es !== null) {
          const v = ev[es.metric];
          if ((es.above !== undefined && v > es.above) || (es.below !== undefined && v < es.below)) stopReason = 'early_stop';
        }
      }
      if (isEval || state.step % ckptEvery === 0 || stopReason === 'early_stop') {
        await checkpoint();
        await writeJson(summaryPath, summaryOf('running'));
      }
      if (stopReason === 'early_stop') break;
      const budgetHit =
        (opts.stopAfterSteps !== undefined && state.step - firstStep >= opts.stopAfterSteps) || (opts.deadline !== undefined && Date.now() >= opts.deadline);
      if (budgetHit && state.step < totalSteps) {
        if (!isEval && state.step % ckptEvery !== 0) await checkpoint();
        bar.stop();
        const summary = summaryOf('running', { interrupted: true });
        await writeJson(summaryPath, summary);
        model.dispose();
        optim.dispose();
        return { dir, status: 'interrupted', summary };
      }
      const leaked = tf.memory().numTensors - n0;
      if (leaked > 0) throw new Error(`internal: ${leaked} tensors leaked in training step ${state.step}`);
    }
  } catch (e0) {
    bar.stop();
    const kept = existsSync(join(ckptDir, 'trainer_state.json')) ? `the last good checkpoint is kept in ${ckptDir}` : 'no checkpoint was written yet';
    const half = Math.max(1, Math.floor((spec.train.micro_batch_size ?? spec.train.batch_size) / 2));
    const e =
      e0 instanceof GpuBufferLimitError
        ? new RunError(`${label}: ${e0.message}. Set train.micro_batch_size (e.g. --set train.micro_batch_size=${half}; same steps), or lower train.batch_size or the sequence length; ${kept}`)
        : (asOutOfMemory(e0, label, spec.train.batch_size, opts.backend.backend) ?? e0);
    const summary = summaryOf('failed', { error: (e as Error).message });
    await writeJson(summaryPath, summary);
    model.dispose();
    optim.dispose();
    throw e;
  }
  bar.stop();
  const summary = summaryOf('finished', { stopped: stopReason });
  await writeJson(summaryPath, summary);
  model.dispose();
  optim.dispose();
  return { dir, status: 'finished', summary };
}
