// Stacked sweeps (train.stack): R runs whose tensors share every shape train as ONE model with a
// leading replica axis (src/layers/replicas.ts), one batched matmul per projection and one AdamW
// over [R, P] with each replica's lr, weight decay and clip norm (optim.ts stepReplicas). Each
// replica still is its own run: its own run folder, data stream (its seed), schedule, evaluations,
// metrics.jsonl, summary.json and checkpoint, written as trainRun writes them alone. A replica that
// finishes, early-stops or diverges is recorded, and the rest go on as a smaller stack: they are
// checkpointed and the stack is rebuilt from their checkpoints (the resume path), so a sweep's
// finished runs stop costing GPU time (a masked replica would still run its forward and backward).
// Which runs stack is stack_plan.ts's decision; a stack resumes together (same step).
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { RunSpec } from '../config/schema.js';
import { releaseGpuPool, takeGpuError, takePeakBytesUsed } from '../backend/index.js';
import { assignReplicaParams, exportReplicaParams } from '../checkpoint/io.js';
import { BACKBONES } from '../models/registry.js';
import type { TrainableModel } from '../models/types.js';
import type { Batch, TaskData, TaskDef } from '../tasks/types.js';
import { SUMMARY_FILE, writeJson, type RunSummary } from '../results/store.js';
import { GpuBufferLimitError, MetalaError, RunError } from '../util/errors.js';
import {
  applyResume,
  asOutOfMemory,
  batchArrays,
  batchStream,
  byParamName,
  keptMessage,
  logStep,
  prepareRun,
  recordEval,
  replayNotice,
  resumeError,
  stepOptions,
  summaryOf,
  writeRunCheckpoint,
  type EvalResult,
  type RunOutcome,
  type RunPlan,
  type TrainOptions,
} from './loop.js';
import { AdamW } from './optim.js';
import { StepReplay } from '../backend/step_replay.js';
import { createProgress } from './progress.js';
import { assertWritable, asStorageError, readPreviousSummary, RunLock } from './run_folder.js';
import { lrAt } from './schedule.js';
import { headPredictions } from './head_cross_entropy.js';
import { replicaLosses, stackBatches, stackedLossAndGrads } from './stacked_batch.js';

/** One run of a stack while it trains. */
interface Replica extends RunPlan {
  lock: RunLock;
  stream: Generator<Batch>;
  /** Still training (not finished, early-stopped, diverged or interrupted). */
  active: boolean;
  /** Tokens and seconds since the last evaluation (the rate shown and logged). */
  win: { tokens: number; s: number };
}

interface Stack {
  replicas: Replica[];
  model: TrainableModel;
  optim: AdamW;
  varList: tf.Variable[];
  /** The stack's training steps, replayed on webgpu while they repeat (step_replay.ts). */
  replay: StepReplay;
  label: string;
  opts: TrainOptions;
}

const stackField = (st: Stack): NonNullable<RunSummary['stack']> => ({ replicas: st.replicas.length, runs: st.replicas.map((r) => r.spec.run_id) });
const summary = (st: Stack, r: Replica, status: RunSummary['status'], extra: Pick<RunSummary, 'stopped' | 'error'> = {}): RunSummary =>
  summaryOf({ ...r, model: st.model }, status, { ...extra, stack: stackField(st) });

/**
 * Evaluates every replica on its own split (test or validation) in one pass of stacked batches:
 * each replica's accuracy and mean loss, as evaluateSplit gives them alone.
 */
export async function evaluateStack(model: TrainableModel, splits: TaskData['test'][], batchSize: number, score: TaskDef['score']): Promise<EvalResult[]> {
  const R = splits.length;
  const acc = Array.from({ length: R }, () => ({ correct: 0, total: 0, lossSum: 0, units: 0 }));
  const gens = splits.map((s) => s.batches(batchSize)[Symbol.iterator]());
  for (;;) {
    const next = gens.map((g) => g.next());
    if (next.every((n) => n.done === true)) break;
    if (next.some((n) => n.done === true)) throw new Error('internal: the replicas\' evaluation splits differ in size');
    const bs = next.map((n) => n.value as Batch);
    const out = tf.tidy(() => {
      const s = model.supervised(stackBatches(bs));
      if (s.kind === 'regression') throw new Error('internal: stacked regression is not supported');
      const units = s.replicaUnits!;
      // Head rows (logits too large to form at once): the argmax from chunks of rows; replicaLosses chunks the CE alike.
      const preds = s.kind === 'head' ? headPredictions(s) : tf.argMax(s.logits, -1);
      return { preds, losses: tf.mul(replicaLosses(s, R), tf.tensor1d(Float32Array.from(units))), targets: s.targets, units };
    });
    const preds = (await out.preds.data()) as Int32Array;
    const losses = await out.losses.data();
    tf.dispose([out.preds, out.losses]);
    let from = 0;
    out.units.forEach((n, r) => {
      const m = score(preds.subarray(from, from + n), out.targets.subarray(from, from + n));
      const a = acc[r]!;
      a.correct += m.correct;
      a.total += m.total;
      a.lossSum += losses[r]!;
      a.units += n;
      from += n;
    });
  }
  const gpuError = await takeGpuError();
  if (gpuError !== undefined) throw new RunError(`evaluation: GPU error: ${gpuError}`);
  return acc.map((a) => {
    const loss = a.units === 0 ? Number.NaN : a.lossSum / a.units;
    return { accuracy: a.total === 0 ? Number.NaN : a.correct / a.total, loss, perplexity: Math.exp(loss), correct: a.correct, total: a.total };
  });
}

/** Each replica's checkpoint (those in `which`), from one read of the stacked parameters and moments. */
async function checkpointReplicas(st: Stack, which: Replica[]): Promise<void> {
  if (which.length === 0) return;
  const params = await exportReplicaParams(st.model.params);
  const moments = await st.optim.exportReplicaStates();
  for (const r of which) {
    const i = st.replicas.indexOf(r);
    await writeRunCheckpoint(r, st.model.config, params[i]!, moments[i]!, st.optim.t);
    await writeJson(join(r.dir, SUMMARY_FILE), summary(st, r, 'running'));
  }
}

/** Locks the runs that still need training and builds the stacked model (resumed when they were checkpointed). */
async function openStack(specs: RunSpec[], opts: TrainOptions, outcomes: Map<RunSpec, RunOutcome>): Promise<Stack | undefined> {
  const replicas: Replica[] = [];
  const release = async (): Promise<void> => {
    for (const r of replicas) await r.lock.release();
  };
  try {
    for (const spec of specs) {
      const dir = join(opts.resultsDir, spec.experiment, spec.run_id);
      const done = opts.force ? undefined : await readPreviousSummary(join(dir, SUMMARY_FILE));
      if (done?.status === 'finished') {
        outcomes.set(spec, { dir, status: 'skipped', summary: done });
        continue;
      }
      await assertWritable(opts.resultsDir);
      await mkdir(dir, { recursive: true });
      const lock = await RunLock.acquire(dir);
      if (!(lock instanceof RunLock)) {
        outcomes.set(spec, { dir, status: 'locked', summary: { locked_by: lock.heldBy } });
        continue;
      }
      const meanwhile = opts.force ? undefined : await readPreviousSummary(join(dir, SUMMARY_FILE));
      if (meanwhile?.status === 'finished') {
        await lock.release();
        outcomes.set(spec, { dir, status: 'skipped', summary: meanwhile });
        continue;
      }
      const plan = await prepareRun(spec, opts, dir).catch(async (e: unknown) => {
        await lock.release();
        throw e;
      });
      replicas.push({ ...plan, lock, stream: batchStream(plan.data, spec.train.batch_size, spec.seed, plan.stepsPerEpoch, plan.resumeFrom?.state.step ?? 0), active: true, win: { tokens: 0, s: 0 } });
    }
    if (replicas.length === 0) return undefined;
    const steps = new Set(replicas.map((r) => r.resumeFrom?.state.step ?? 0));
    if (steps.size > 1) {
      throw new MetalaError(
        `train.stack: ${replicas.map((r) => r.label).join(', ')} stand at different steps (${[...steps].join(', ')}): a stack resumes together. Run them with --set train.stack=off`,
        2,
      );
    }
    const spec0 = replicas[0]!.spec;
    const model = BACKBONES[spec0.model.backbone]!.stack!.create(spec0.model, replicas.map((r) => r.spec.seed));
    const t = spec0.train;
    const optim = new AdamW(model.params, { betas: t.betas, eps: t.eps, weightDecay: replicas.map((r) => r.spec.train.weight_decay) });
    const st: Stack = {
      replicas,
      model,
      optim,
      varList: [...model.params.vars.values()],
      replay: new StepReplay(),
      label: `${spec0.experiment} stack of ${replicas.length}`,
      opts,
    };
    for (const r of replicas) r.base = { ...r.base, params: model.params.count() };
    try {
      if (replicas[0]!.resumeFrom !== undefined) {
        const from = replicas.map((r) => r.resumeFrom!);
        try {
          assignReplicaParams(model.params, from.map((f) => f.model), replicas.map((r) => join(r.dir, 'checkpoint')));
          optim.importReplicaStates(from.map((f) => f.optim), from[0]!.state.optim_t);
        } catch (e) {
          throw resumeError(replicas.map((r) => join(r.dir, 'checkpoint')).join(', '), e);
        }
        for (const r of replicas) await applyResume(r);
      }
    } catch (e) {
      model.dispose();
      optim.dispose();
      throw e;
    }
    return st;
  } catch (e) {
    await release();
    throw e;
  }
}

/** Marks a replica done: its summary, its outcome, and (for a diverged one) its parameters zeroed. */
async function retire(st: Stack, r: Replica, outcomes: Map<RunSpec, RunOutcome>, status: 'finished' | 'failed' | 'interrupted', extra: Pick<RunSummary, 'stopped' | 'error'> = {}): Promise<void> {
  r.active = false;
  const s = summary(st, r, status, extra);
  await writeJson(join(r.dir, SUMMARY_FILE), s);
  outcomes.set(r.spec, { dir: r.dir, status, summary: s });
}

/**
 * The stacked step loop, until every replica finished, stopped or failed, or the budget ends; or
 * until a replica retires while others go on: then those are checkpointed at this step and it
 * returns 'restack'. `done` counts the steps of earlier stacks of this call (for opts.stopAfterSteps).
 */
async function trainStackSteps(st: Stack, outcomes: Map<RunSpec, RunOutcome>, done = 0): Promise<{ end: 'done' | 'restack'; steps: number }> {
  const { replicas, opts } = st;
  const total = Math.max(...replicas.map((r) => r.totalSteps));
  const bar = createProgress(st.label, opts.progress, replicas[0]!.unit);
  bar.start(total, replicas[0]!.state.step);
  const firstStep = replicas[0]!.state.step;
  const n0 = tf.memory().numTensors;
  try {
    for (let step = firstStep; replicas.some((r) => r.active); step++) {
      // Every replica reads a batch (a masked one too: the stacked shapes stay fixed).
      const batches = replicas.map((r) => r.stream.next().value as Batch);
      const lrs = replicas.map((r) => (r.active ? lrAt(r.state.step, r.totalSteps, r.spec.train) : 0));
      const t0 = performance.now();
      const weights = replicas.map((r) => (r.active ? 1 : 0));
      const roots = [...batches.flatMap(batchArrays), ...st.optim.stepInputs(lrs)];
      const [loss, gn] = (await st.replay.run(roots, () => {
        const { losses, grads } = stackedLossAndGrads(st.model, batches, weights, st.varList, stepOptions(replicas[0]!.spec.train));
        const norms = st.optim.apply(byParamName(st.model, grads), replicas.map((r) => r.spec.train.grad_clip));
        tf.dispose(Object.values(grads));
        return [losses, norms];
      })) as [Float32Array, Float32Array];
      const gpuError = await takeGpuError();
      if (gpuError !== undefined) throw new RunError(`${st.label}: GPU error at step ${step + 1}: ${gpuError}`);
      const dt = (performance.now() - t0) / 1000;
      const peakBytes = takePeakBytesUsed(); // this step's, logged by every replica
      const evals: Replica[] = [];
      for (const [i, r] of replicas.entries()) {
        if (!r.active) continue;
        const b = batches[i]!;
        if (!Number.isFinite(loss[i]!) || !Number.isFinite(gn[i]!)) {
          const error = `${r.label}: training diverged at step ${r.state.step + 1} (loss ${loss[i]}, gradient norm ${gn[i]}, lr ${lrs[i]!.toExponential(2)}); ${keptMessage(r)}. Lower train.lr or set train.grad_clip`;
          await retire(st, r, outcomes, 'failed', { error });
          await st.optim.zeroReplica(i);
          continue;
        }
        r.state.step += 1;
        r.state.wall_s += dt;
        r.state.tokens += b.batch * b.seqLen;
        r.win.tokens += b.batch * b.seqLen;
        r.win.s += dt;
        await logStep(r, loss[i]!, lrs[i]!, gn[i]!, (b.batch * b.seqLen) / dt, peakBytes);
        if (r.state.step % r.evalEvery === 0 || r.state.step === r.totalSteps) evals.push(r);
      }
      const active = replicas.filter((r) => r.active);
      bar.update(step + 1, { loss: active.length > 0 ? active.reduce((a, r) => a + loss[replicas.indexOf(r)]!, 0) / active.length : undefined, tps: active.reduce((a, r) => a + r.win.tokens / r.win.s, 0) });
      const early = new Set<Replica>();
      if (evals.length > 0) {
        const { batch_size } = replicas[0]!.spec.train;
        const ev = await evaluateStack(st.model, replicas.map((r) => r.data.test), batch_size, replicas[0]!.task.score);
        const val = replicas[0]!.data.val !== undefined ? await evaluateStack(st.model, replicas.map((r) => r.data.val!), batch_size, replicas[0]!.task.score) : undefined;
        await releaseGpuPool();
        for (const r of evals) {
          const i = replicas.indexOf(r);
          if (await recordEval(r, ev[i]!, val?.[i], loss[i]!, r.win.tokens / r.win.s, bar)) early.add(r);
          r.win = { tokens: 0, s: 0 };
        }
      }
      const due = replicas.filter((r) => r.active && (evals.includes(r) || r.state.step % r.ckptEvery === 0));
      await checkpointReplicas(st, due);
      for (const r of replicas) {
        if (!r.active) continue;
        if (early.has(r)) await retire(st, r, outcomes, 'finished', { stopped: 'early_stop' });
        else if (r.state.step >= r.totalSteps) await retire(st, r, outcomes, 'finished', { stopped: 'max_steps' });
      }
      const budgetHit =
        (opts.stopAfterSteps !== undefined && done + step + 1 - firstStep >= opts.stopAfterSteps) || (opts.deadline !== undefined && Date.now() >= opts.deadline) || opts.shouldStop?.() === true;
      if (budgetHit && replicas.some((r) => r.active)) {
        const left = replicas.filter((r) => r.active);
        await checkpointReplicas(st, left.filter((r) => !due.includes(r)));
        for (const r of left) {
          await retire(st, r, outcomes, 'interrupted');
          opts.notice?.(`interrupted ${r.label} at step ${r.state.step}/${r.totalSteps} (checkpointed); the same command resumes it`);
        }
      }
      const leaked = tf.memory().numTensors - n0;
      if (leaked > 0) throw new Error(`internal: ${leaked} tensors leaked in stacked training step ${step + 1}`);
      const left = replicas.filter((r) => r.active);
      if (left.length > 0 && left.length < replicas.length) {
        await checkpointReplicas(st, left.filter((r) => !due.includes(r)));
        opts.notice?.(`${st.label}: ${left.length} of its runs go on as a stack of ${left.length} from step ${left[0]!.state.step}`);
        return { end: 'restack', steps: done + step + 1 - firstStep };
      }
    }
    return { end: 'done', steps: done + Math.max(...replicas.map((r) => r.state.step)) - firstStep };
  } finally {
    bar.stop();
  }
}

async function closeStack(st: Stack): Promise<void> {
  replayNotice(st.label, st.replay, st.opts.notice);
  st.replay.dispose();
  st.model.dispose();
  st.optim.dispose();
  for (const r of st.replicas) await r.lock.release();
}

/**
 * Trains `specs` (runs stack_plan.ts grouped) as one stacked model. Returns each run's outcome in
 * spec order, as trainRun would for the run alone; a run that failed has status `failed` and its
 * error in the summary (the caller reports it), the others go on.
 */
export async function trainStack(specs: RunSpec[], opts: TrainOptions): Promise<RunOutcome[]> {
  const outcomes = new Map<RunSpec, RunOutcome>();
  let st: Stack | undefined;
  try {
    st = await openStack(specs, opts, outcomes);
    let steps = 0;
    while (st !== undefined) {
      for (const r of st.replicas) await writeJson(join(r.dir, SUMMARY_FILE), summary(st, r, 'running'));
      let end: 'done' | 'restack' = 'done';
      try {
        ({ end, steps } = await trainStackSteps(st, outcomes, steps));
      } catch (e0) {
        if (asStorageError(e0, opts.resultsDir) !== undefined) throw e0;
        const B = specs[0]!.train.micro_batch_size ?? specs[0]!.train.batch_size;
        const why =
          e0 instanceof GpuBufferLimitError
            ? `${e0.message}. Stack fewer runs (train.stack) or set train.micro_batch_size (e.g. --set train.micro_batch_size=${Math.max(1, Math.floor(B / 2))})`
            : (asOutOfMemory(e0, st.label, specs[0]!.train.batch_size, opts.backend.backend)?.message ?? (e0 instanceof RunError ? e0.message : undefined));
        // As trainRun alone: every replica still training records the failure in its summary; an
        // error that is not a run's (a bug) is thrown on after that.
        const message = why ?? (e0 as Error).message;
        for (const r of st.replicas) if (r.active) await retire(st, r, outcomes, 'failed', { error: why !== undefined ? `${why}; ${keptMessage(r)}` : message });
        if (why === undefined) throw e0;
      }
      if (end === 'done') break;
      // The runs still training, rebuilt as a smaller stack from the checkpoints just written.
      const left = st.replicas.filter((r) => r.active).map((r) => r.spec);
      await closeStack(st);
      st = undefined;
      await releaseGpuPool(); // the larger stack's buffers, of sizes the smaller one never asks for
      st = await openStack(left, opts, outcomes);
    }
  } catch (e) {
    throw asStorageError(e, opts.resultsDir) ?? e;
  } finally {
    if (st !== undefined) await closeStack(st);
  }
  return specs.map((s) => outcomes.get(s) ?? { dir: join(opts.resultsDir, s.experiment, s.run_id), status: 'skipped', summary: {} });
}
