// One training loop for every task (minGPT's trainer: it knows nothing about particular models).
// Per run: results/<experiment>/<run-id>/{config.json, metrics.jsonl, summary.json, checkpoint/}.
// Finished runs are skipped; unfinished ones resume from their last checkpoint, replaying the
// same data order (per-epoch shuffles derive from the seed and the epoch number).
import { existsSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { RunSpec } from '../config/schema.js';
import type { BackendInfo } from '../backend/index.js';
import { BACKBONES } from '../models/registry.js';
import type { SupervisedOptions, TrainableModel } from '../models/types.js';
import { getTask } from '../tasks/registry.js';
import type { Batch, TaskData, TaskDef } from '../tasks/types.js';
import { appendJsonl, atomicWriteFile, writeJson, CHECKPOINT_DIR, CONFIG_FILE, METRICS_FILE, SUMMARY_FILE } from '../results/store.js';
import type { RunStatus, RunSummary } from '../results/store.js';
import { assignParams, exportParams, saveCheckpointTensors } from '../checkpoint/io.js';
import { encodeSafetensors, readSafetensors } from '../checkpoint/safetensors.js';
import { GpuBufferLimitError, MetalaError, RunError } from '../util/errors.js';
import { releaseGpuPool, takeGpuError, takePeakBytesUsed } from '../backend/index.js';
import { Rng } from '../util/rng.js';
import { gitCommit } from '../util/git.js';
import { AdamW } from './optim.js';
import { lrAt } from './schedule.js';
import { crossEntropy, meanSquaredError } from './loss.js';
import { headCrossEntropy, headPredictions } from './head_cross_entropy.js';
import { lossAndGrads } from './micro_batch.js';
import { hash32 } from '../layers/dropout.js';
import { StepReplay } from '../backend/step_replay.js';
import type { HostArray } from '../backend/host_inputs.js';
import { createProgress, type Progress } from './progress.js';
import { asStorageError, assertWritable, readCheckpointJson, readPreviousSummary, removeOrphanTmps, RunLock, truncateMetrics } from './run_folder.js';

// A type alias, not an interface, so it fits summary.json's loose schema (RunSummary['best']).
export type EvalResult = {
  accuracy: number;
  loss: number;
  perplexity: number;
  correct: number;
  total: number;
  /** Regression tasks: mean squared error against the noise-free targets (= loss; accuracy and perplexity are NaN). */
  excess_risk?: number;
};

export interface RunOutcome {
  dir: string;
  /** locked: another process holds the run's lock (summary.locked_by says which); nothing was done. */
  status: 'finished' | 'skipped' | 'failed' | 'interrupted' | 'locked';
  summary: Record<string, unknown>;
}

/** An evaluation: test metrics at `step`, and the validation split's when the task has one. */
export type StepEval = EvalResult & { step: number; val?: EvalResult };

export interface TrainerState {
  step: number;
  /** The best evaluation: by validation metric when the task has a validation split, else by test. */
  best: StepEval | null;
  last: StepEval | null;
  wall_s: number;
  tokens: number;
}

/**
 * Evaluate on one split (test, or the validation split used for model selection): the task's metric
 * (`score`) on the argmax over supervised units, mean CE and perplexity.
 */
export async function evaluateSplit(model: TrainableModel, split: TaskData['test'], batchSize: number, score: TaskDef['score']): Promise<EvalResult> {
  let correct = 0;
  let total = 0;
  let lossSum = 0;
  let units = 0;
  let regression = false;
  for (const b of split.batches(batchSize)) {
    const { preds, lossT, targets } = tf.tidy(() => {
      const s = model.supervised(b);
      if (s.kind === 'regression') return { preds: undefined, lossT: tf.mul(meanSquaredError(s.predictions, s.targets), s.targets.length), targets: s.targets };
      // Logits too large to form at once: the argmax and each replica's mean CE (× its units) from chunks of rows.
      if (s.kind === 'head') return { preds: headPredictions(s), lossT: tf.sum(tf.mul(headCrossEntropy(s), tf.tensor1d(Float32Array.from(s.replicaUnits)))), targets: s.targets };
      return { preds: tf.argMax(s.logits, -1), lossT: tf.mul(crossEntropy(s.logits, s.targets), s.targets.length), targets: s.targets };
    });
    lossSum += (await lossT.data())[0]!;
    lossT.dispose();
    units += targets.length;
    if (preds === undefined) {
      regression = true;
      continue;
    }
    const p = (await preds.data()) as Int32Array;
    preds.dispose();
    const m = score(p, targets as Int32Array);
    correct += m.correct;
    total += m.total;
  }
  const gpuError = await takeGpuError();
  if (gpuError !== undefined) throw new RunError(`evaluation: GPU error: ${gpuError}`);
  const loss = units === 0 ? Number.NaN : lossSum / units;
  if (regression) return { accuracy: Number.NaN, loss, perplexity: Number.NaN, correct: 0, total: units, excess_risk: loss };
  return { accuracy: total === 0 ? Number.NaN : correct / total, loss, perplexity: Math.exp(loss), correct, total };
}

/**
 * Out-of-memory failures come out of the backends as assorted errors (Dawn buffer allocation,
 * "memory access out of bounds" / "Aborted()" from the wasm heap, a JS RangeError). Name the run
 * and the remedy instead of printing a stack trace.
 */
export function asOutOfMemory(e: unknown, label: string, batch: number, backend: string): RunError | undefined {
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
  if (metric === 'excess_risk') return a.loss < b.loss;
  return metric === 'perplexity' ? a.perplexity < b.perplexity : a.accuracy > b.accuracy;
}

/** Seed of the shuffle of epoch e: a pure function so a resumed run replays the same order. */
function epochSeed(seed: number, epoch: number): number {
  return new Rng((seed * 0x9e3779b1 + epoch * 0x85ebca6b) >>> 0).fork();
}

/** Batches from step `from` on, across epochs. */
export function* batchStream(data: TaskData, batchSize: number, seed: number, stepsPerEpoch: number, from: number): Generator<Batch> {
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
  /** Called with the run's life events, bar or not: resuming from step N, interrupted at step N, cleanups. */
  notice?: (line: string) => void;
  /**
   * Stop (checkpointed, resumable) once this many steps ran in this call, or at this wall-clock
   * time (ms since epoch): `metala train --max-minutes` on a time-limited GPU.
   */
  stopAfterSteps?: number;
  deadline?: number;
  /** Polled after every step: true once the user asked to stop (SIGINT/SIGTERM, stop_signal.ts). */
  shouldStop?: () => boolean;
}

/**
 * A run's folder, task data, schedule and trainer state: everything but the model, which a stack of
 * runs shares (stack_loop.ts). Built by prepareRun.
 */
export interface RunPlan {
  spec: RunSpec;
  opts: TrainOptions;
  dir: string;
  label: string;
  task: TaskDef;
  data: TaskData;
  unit: string;
  state: TrainerState;
  resumed: boolean;
  totalSteps: number;
  stepsPerEpoch: number;
  evalEvery: number;
  ckptEvery: number;
  /** The checkpoint a resume continues from, read but not yet applied (applyResume). */
  resumeFrom?: { state: TrainerState & { optim_t: number }; model: TensorMap; optim: TensorMap };
  /** The summary's fields fixed for the run. */
  base: Pick<RunSummary, 'run_id' | 'experiment' | 'variant' | 'metric' | 'params' | 'total_steps' | 'backend' | 'device' | 'seed' | 'git_commit'>;
}

type TensorMap = Map<string, { shape: number[]; data: Float32Array }>;

/** Everything one run needs while it trains (built by openRun, used by the step/eval/finish parts). */
interface RunSession extends RunPlan {
  model: TrainableModel;
  optim: AdamW;
  varList: tf.Variable[];
  /** The run's training steps, replayed on webgpu while they repeat (step_replay.ts). */
  replay: StepReplay;
}

const ckptDirOf = (s: RunPlan): string => join(s.dir, CHECKPOINT_DIR);
export const keptMessage = (s: RunPlan): string =>
  existsSync(join(ckptDirOf(s), 'trainer_state.json')) ? `the last good checkpoint is kept in ${ckptDirOf(s)}` : 'no checkpoint was written yet';

export function summaryOf(s: RunPlan & { model: Pick<TrainableModel, 'learned'> }, status: RunStatus, extra: Pick<RunSummary, 'stopped' | 'error' | 'stack'> = {}): RunSummary {
  return {
    ...s.base,
    status,
    steps: s.state.step,
    best: s.state.best,
    final: s.state.last,
    wall_s: Math.round(s.state.wall_s * 10) / 10,
    tokens_per_s: s.state.wall_s > 0 ? Math.round(s.state.tokens / s.state.wall_s) : null,
    // Image tasks count images in tokens_per_s (seqLen 1 per image); say so beside it.
    ...(s.unit === 'img' ? { throughput_unit: 'images' } : {}),
    resumed: s.resumed,
    // Small learned quantities a study reports (the h3 filter of the ICL study), as of this summary.
    ...(s.model.learned !== undefined ? { learned: s.model.learned() } : {}),
    ...extra,
  };
}

async function checkpoint(s: RunSession): Promise<void> {
  await writeRunCheckpoint(s, s.model.config, await exportParams(s.model.params), await s.optim.exportState(), s.optim.t);
}

/** A run's resumable checkpoint from its parameters and optimizer moments (file layout, read already). */
export async function writeRunCheckpoint(s: RunPlan, config: TrainableModel['config'], params: TensorMap, optState: TensorMap, optimT: number): Promise<void> {
  // metala_task: the task options (e.g. the LM tokenizer) so `metala eval` can use the checkpoint alone.
  await saveCheckpointTensors(ckptDirOf(s), config, params, { run_id: s.spec.run_id, metala_task: s.spec.task }, {
    'optimizer.safetensors': encodeSafetensors(optState),
    'trainer_state.json': JSON.stringify({ ...s.state, optim_t: optimT }),
  });
}

/** A checkpoint that cannot be resumed from: one line with the ways out. */
export function resumeError(ckptDir: string, e: unknown): MetalaError {
  return new MetalaError(`${ckptDir}: cannot resume from this checkpoint (${(e as Error).message.split('\n')[0]}). Re-run with --force to retrain the run from scratch, or delete its folder`, 2);
}

/**
 * Writes config.json, clears what a killed process left, builds the task data and schedule, and
 * reads the checkpoint a resume continues from (applied by the caller, then applyResume).
 */
export async function prepareRun(spec: RunSpec, opts: TrainOptions, dir: string): Promise<RunPlan> {
  await writeJson(join(dir, CONFIG_FILE), spec);
  const orphans = await removeOrphanTmps(dir);
  if (orphans.length > 0) opts.notice?.(`${spec.experiment}/${spec.run_id}: removed ${orphans.join(', ')} left by a process killed while checkpointing`);
  const task = getTask(spec.task.name);
  const { name: _n, ...taskOpts } = spec.task;
  const data = task.makeData(task.options.parse(taskOpts), spec.seed);
  const t = spec.train;
  const stepsPerEpoch = Math.ceil(data.train.size / t.batch_size);
  const totalSteps = t.max_steps ?? Math.max(1, Math.round((t.epochs ?? 1) * stepsPerEpoch));
  const evalEvery = Math.min(t.eval_every ?? Math.min(stepsPerEpoch, 1000), totalSteps);
  const ckptDir = join(dir, CHECKPOINT_DIR);
  let resumeFrom: RunPlan['resumeFrom'];
  if (!opts.force && existsSync(join(ckptDir, 'trainer_state.json'))) {
    const st = await readCheckpointJson<TrainerState & { optim_t: number }>(join(ckptDir, 'trainer_state.json'));
    try {
      resumeFrom = {
        state: st,
        model: (await readSafetensors(join(ckptDir, 'model.safetensors'))).tensors,
        optim: (await readSafetensors(join(ckptDir, 'optimizer.safetensors'))).tensors,
      };
    } catch (e) {
      throw resumeError(ckptDir, e);
    }
  } else if (opts.force) {
    await atomicWriteFile(join(dir, METRICS_FILE), '');
  } else if (existsSync(join(dir, METRICS_FILE)) && statSync(join(dir, METRICS_FILE)).size > 0) {
    // A run folder whose checkpoint is gone (e.g. results copied back from a GPU machine without
    // their checkpoints): the run starts over, so the lines of the earlier attempt go.
    opts.notice?.(`${spec.experiment}/${spec.run_id}: no checkpoint to resume from; training from step 0 (the earlier metrics.jsonl is replaced)`);
    await atomicWriteFile(join(dir, METRICS_FILE), '');
  }
  return {
    spec,
    opts,
    dir,
    label: `${spec.experiment}/${spec.run_id}`,
    task,
    data,
    unit: task.throughputUnit ?? 'tok', // what tokens/s counts: tokens, or images
    state: { step: 0, best: null, last: null, wall_s: 0, tokens: 0 },
    resumed: false,
    totalSteps,
    stepsPerEpoch,
    evalEvery,
    ckptEvery: t.checkpoint_every ?? evalEvery,
    ...(resumeFrom !== undefined ? { resumeFrom } : {}),
    base: {
      run_id: spec.run_id,
      experiment: spec.experiment,
      variant: spec.variant,
      metric: task.metric,
      params: 0, // set once the model exists
      total_steps: totalSteps,
      backend: opts.backend.backend,
      device: opts.backend.device,
      seed: spec.seed,
      git_commit: gitCommit(),
    },
  };
}

/** After the checkpoint's tensors went into the model and optimizer: continue its trainer state. */
export async function applyResume(p: RunPlan): Promise<void> {
  if (p.resumeFrom === undefined) return;
  const { optim_t: _t, ...st } = p.resumeFrom.state;
  Object.assign(p.state, st);
  p.resumed = true;
  delete p.resumeFrom;
  // Lines written after this checkpoint are replayed by the resumed run: drop them.
  await truncateMetrics(join(p.dir, METRICS_FILE), p.state.step);
  p.opts.notice?.(`resuming ${p.label} from step ${p.state.step}`);
}

/** Builds data, model and optimizer, and continues from the checkpoint when there is one (resume). */
async function openRun(spec: RunSpec, opts: TrainOptions, dir: string): Promise<RunSession> {
  const plan = await prepareRun(spec, opts, dir);
  const t = spec.train;
  const model = BACKBONES[spec.model.backbone]!.create(spec.model, spec.seed);
  const optim = new AdamW(model.params, { betas: t.betas, eps: t.eps, weightDecay: t.weight_decay });
  try {
    if (plan.resumeFrom !== undefined) {
      try {
        assignParams(model.params, plan.resumeFrom.model, ckptDirOf(plan));
        optim.importState(plan.resumeFrom.optim, plan.resumeFrom.state.optim_t);
      } catch (e) {
        throw resumeError(ckptDirOf(plan), e);
      }
      await applyResume(plan);
    }
  } catch (e) {
    model.dispose();
    optim.dispose();
    throw e;
  }
  return { ...plan, base: { ...plan.base, params: model.params.count() }, model, optim, varList: [...model.params.vars.values()], replay: new StepReplay() };
}

/** How a training step computes its loss and gradients, from the run's train config. */
export function stepOptions(t: RunSpec['train']): SupervisedOptions & { labelSmoothing?: number; micro?: number } {
  return { training: true, recompute: t.recompute === true, labelSmoothing: t.label_smoothing, micro: t.micro_batch_size };
}

/** Gradients keyed by tf variable name → keyed by parameter name (what AdamW takes). */
export function byParamName(model: TrainableModel, grads: tf.NamedTensorMap): Record<string, tf.Tensor> {
  const named: Record<string, tf.Tensor> = {};
  for (const [vn, g] of Object.entries(grads)) named[model.params.byVarName.get(vn)!] = g;
  return named;
}

/**
 * Says when a run on webgpu replayed none of its steps (step_replay.ts): each then ran its
 * JavaScript, at several times the host cost, and `why` names what changed between two steps.
 */
export function replayNotice(label: string, replay: StepReplay, notice: TrainOptions['notice']): void {
  if (replay.enabled && replay.stats.replayed === 0 && replay.stats.captured >= 4 && replay.whyNot !== undefined) {
    notice?.(`${label}: no training step was replayed on webgpu (${replay.whyNot}); each step ran in full`);
  }
}

/** A batch's host arrays: the inputs of a training step (step_replay.ts writes a replayed step's from these). */
export function batchArrays(b: Batch): HostArray[] {
  const all: (HostArray | undefined)[] = [b.ids, b.labels, b.lengths, b.ids2, b.lengths2, b.pixels, b.features, b.targets];
  return all.filter((a): a is HostArray => a !== undefined);
}

/** One optimizer step on batch b; returns its loss and pre-clip gradient norm (read back). */
async function trainStep(s: RunSession, b: Batch, lr: number): Promise<{ loss: number; gn: number }> {
  const t = s.spec.train;
  // This step's dropout seed: a function of the run's seed and the step, so a resumed run draws
  // the masks it would have drawn (src/layers/dropout.ts).
  const dropoutSeed = Int32Array.of(hash32((Math.imul(s.spec.seed, 0x9e3779b9) + s.state.step) >>> 0) | 0);
  const [lossA, gnA] = await s.replay.run([...batchArrays(b), dropoutSeed, ...s.optim.stepInputs(lr)], () => {
    const { value, grads } = lossAndGrads(s.model, b, s.varList, { ...stepOptions(t), dropoutSeed });
    const gnorm = s.optim.apply(byParamName(s.model, grads), [t.grad_clip]);
    tf.dispose(Object.values(grads));
    return [value, gnorm];
  });
  const loss = lossA![0]!;
  const gn = gnA![0]!;
  const gpuError = await takeGpuError();
  if (gpuError !== undefined) throw new RunError(`${s.label}: GPU error at step ${s.state.step + 1}: ${gpuError}; ${keptMessage(s)}`);
  if (!Number.isFinite(loss) || !Number.isFinite(gn)) {
    throw new RunError(
      `${s.label}: training diverged at step ${s.state.step + 1} (loss ${loss}, gradient norm ${gn}, lr ${lr.toExponential(2)}); ${keptMessage(s)}. Lower train.lr or set train.grad_clip`,
    );
  }
  return { loss, gn };
}

/** Evaluates on the test split, records best/last, and says whether early stopping triggers. */
async function evaluateAndCheck(s: RunSession, loss: number, meanTps: number, bar: Progress): Promise<boolean> {
  const ev = await evaluateSplit(s.model, s.data.test, s.spec.train.batch_size, s.task.score);
  const val = s.data.val !== undefined ? await evaluateSplit(s.model, s.data.val, s.spec.train.batch_size, s.task.score) : undefined;
  await releaseGpuPool();
  return recordEval(s, ev, val, loss, meanTps, bar);
}

/** Records an evaluation (best/last, metrics.jsonl, bar, log line) and says whether early stopping triggers. */
export async function recordEval(s: RunPlan, ev: EvalResult, val: EvalResult | undefined, loss: number, meanTps: number, bar: Progress): Promise<boolean> {
  s.state.last = { ...ev, step: s.state.step, ...(val !== undefined ? { val } : {}) };
  // Model selection on the validation split when there is one (LRA/S4): best = test metrics at the best val step.
  const chosen = val ?? ev;
  const bestSoFar = s.state.best === null ? null : (s.state.best.val ?? s.state.best);
  if (better(s.task.metric, chosen, bestSoFar)) s.state.best = { ...s.state.last };
  const brief = (e: EvalResult) => (e.excess_risk !== undefined ? { excess_risk: e.excess_risk } : { accuracy: e.accuracy, loss: e.loss, perplexity: e.perplexity });
  await appendJsonl(join(s.dir, METRICS_FILE), { step: s.state.step, eval: brief(ev), ...(val !== undefined ? { val: brief(val) } : {}) });
  bar.update(s.state.step, { metric: ev.excess_risk ?? ev.accuracy });
  const shown = ev.excess_risk !== undefined ? `eval excess risk ${ev.excess_risk.toFixed(4)}` : `eval acc ${ev.accuracy.toFixed(4)} eval loss ${ev.loss.toFixed(4)}`;
  s.opts.log?.(`${s.label} step ${s.state.step}/${s.totalSteps} loss ${loss.toFixed(4)} ${shown}${val !== undefined ? ` val acc ${val.accuracy.toFixed(4)}` : ''} ${Math.round(meanTps)} ${s.unit}/s`);
  const es = s.spec.train.early_stop;
  if (es === null) return false;
  // Early stopping reads the model-selection split too.
  const v = chosen[es.metric];
  return (es.above !== undefined && v > es.above) || (es.below !== undefined && v < es.below);
}

/**
 * The step's metrics.jsonl line, every train.log_every steps and at step 1. `peakBytes`: the GPU
 * bytes in use at the step's peak when the caller took it (a stack takes it once for its replicas);
 * by default the peak since the last line.
 */
export async function logStep(s: RunPlan, loss: number, lr: number, gn: number, tps: number, peakBytes?: number): Promise<void> {
  const { step } = s.state;
  if (step % s.spec.train.log_every !== 0 && step !== 1) return;
  // On webgpu, the bytes held by tfjs's buffer pool (live + free-listed): a pool that keeps growing
  // is how a run ends in GPU out-of-memory after hundreds of steps; and the most bytes in use at once.
  const pool = (tf.memory() as tf.MemoryInfo & { numBytesAllocatedInGPU?: number }).numBytesAllocatedInGPU;
  const peak = pool !== undefined ? (peakBytes ?? takePeakBytesUsed()) : undefined;
  await appendJsonl(join(s.dir, METRICS_FILE), {
    step, loss, lr, grad_norm: gn, tokens_per_s: Math.round(tps), epoch: Math.floor((step - 1) / s.stepsPerEpoch),
    ...(pool !== undefined ? { gpu_pool_mb: Math.round(pool / 2 ** 20), gpu_peak_mb: Math.round(peak! / 2 ** 20) } : {}),
  });
}

/** The step loop: returns why it ended ('max_steps', 'early_stop', or 'interrupted' for a budget or a stop request). */
async function trainSteps(s: RunSession, bar: Progress): Promise<'max_steps' | 'early_stop' | 'interrupted'> {
  const t = s.spec.train;
  const { state } = s;
  const stream = batchStream(s.data, t.batch_size, s.spec.seed, s.stepsPerEpoch, state.step);
  const n0 = tf.memory().numTensors;
  const firstStep = state.step;
  let win = { tokens: 0, s: 0 };
  while (state.step < s.totalSteps) {
    const b = stream.next().value as Batch;
    const lr = lrAt(state.step, s.totalSteps, t);
    const t0 = performance.now();
    const { loss, gn } = await trainStep(s, b, lr);
    const dt = (performance.now() - t0) / 1000;
    state.step += 1;
    state.wall_s += dt;
    state.tokens += b.batch * b.seqLen;
    const tps = (b.batch * b.seqLen) / dt;
    // Shown: the mean rate since the last evaluation (one step's rate jumps with GC pauses and
    // the first steps after the evaluation released the GPU pool). metrics.jsonl keeps per-step rates.
    win.tokens += b.batch * b.seqLen;
    win.s += dt;
    const meanTps = win.tokens / win.s;
    bar.update(state.step, { loss, tps: meanTps });
    await logStep(s, loss, lr, gn, tps);
    const isEval = state.step % s.evalEvery === 0 || state.step === s.totalSteps;
    let early = false;
    if (isEval) {
      early = await evaluateAndCheck(s, loss, meanTps, bar);
      win = { tokens: 0, s: 0 };
    }
    const checkpointed = isEval || state.step % s.ckptEvery === 0 || early;
    if (checkpointed) {
      await checkpoint(s);
      await writeJson(join(s.dir, SUMMARY_FILE), summaryOf(s, 'running'));
    }
    if (early) return 'early_stop';
    const budgetHit =
      (s.opts.stopAfterSteps !== undefined && state.step - firstStep >= s.opts.stopAfterSteps) ||
      (s.opts.deadline !== undefined && Date.now() >= s.opts.deadline) ||
      s.opts.shouldStop?.() === true;
    if (budgetHit && state.step < s.totalSteps) {
      if (!checkpointed) await checkpoint(s);
      return 'interrupted';
    }
    const leaked = tf.memory().numTensors - n0;
    if (leaked > 0) throw new Error(`internal: ${leaked} tensors leaked in training step ${state.step}`);
  }
  return 'max_steps';
}

export async function trainRun(spec: RunSpec, opts: TrainOptions): Promise<RunOutcome> {
  try {
    return await trainRunIn(spec, opts);
  } catch (e) {
    throw asStorageError(e, opts.resultsDir) ?? e;
  }
}

async function trainRunIn(spec: RunSpec, opts: TrainOptions): Promise<RunOutcome> {
  const dir = join(opts.resultsDir, spec.experiment, spec.run_id);
  const summaryPath = join(dir, SUMMARY_FILE);
  const finishedBefore = async (): Promise<RunSummary | undefined> => {
    if (opts.force) return undefined;
    const prev = await readPreviousSummary(summaryPath);
    return prev?.status === 'finished' ? prev : undefined;
  };
  const done = await finishedBefore();
  if (done !== undefined) return { dir, status: 'skipped', summary: done };
  await assertWritable(opts.resultsDir);
  await mkdir(dir, { recursive: true });
  const lock = await RunLock.acquire(dir);
  if (!(lock instanceof RunLock)) return { dir, status: 'locked', summary: { locked_by: lock.heldBy } };
  let s: RunSession | undefined;
  try {
    // Another process may have finished it between the first look and taking the lock.
    const doneMeanwhile = await finishedBefore();
    if (doneMeanwhile !== undefined) return { dir, status: 'skipped', summary: doneMeanwhile };
    s = await openRun(spec, opts, dir);
    await writeJson(summaryPath, summaryOf(s, 'running'));
    const bar = createProgress(s.label, opts.progress, s.unit);
    bar.start(s.totalSteps, s.state.step);
    let ended: Awaited<ReturnType<typeof trainSteps>>;
    try {
      ended = await trainSteps(s, bar);
    } catch (e0) {
      bar.stop();
      // A full or read-only disk: nothing about the run failed, and summary.json cannot be written.
      if (asStorageError(e0, opts.resultsDir) !== undefined) throw e0;
      const half = Math.max(1, Math.floor((spec.train.micro_batch_size ?? spec.train.batch_size) / 2));
      const e =
        e0 instanceof GpuBufferLimitError
          ? new RunError(`${s.label}: ${e0.message}. Set train.micro_batch_size (e.g. --set train.micro_batch_size=${half}; same steps), or lower train.batch_size or the sequence length; ${keptMessage(s)}`)
          : (asOutOfMemory(e0, s.label, spec.train.batch_size, opts.backend.backend) ?? e0);
      await writeJson(summaryPath, summaryOf(s, 'failed', { error: (e as Error).message }));
      throw e;
    }
    bar.stop();
    replayNotice(s.label, s.replay, opts.notice);
    if (ended === 'interrupted') {
      const summary = summaryOf(s, 'interrupted');
      await writeJson(summaryPath, summary);
      opts.notice?.(`interrupted ${s.label} at step ${s.state.step}/${s.totalSteps} (checkpointed); the same command resumes it`);
      return { dir, status: 'interrupted', summary };
    }
    const summary = summaryOf(s, 'finished', { stopped: ended });
    await writeJson(summaryPath, summary);
    return { dir, status: 'finished', summary };
  } finally {
    s?.replay.dispose();
    s?.model.dispose();
    s?.optim.dispose();
    await lock.release();
  }
}
