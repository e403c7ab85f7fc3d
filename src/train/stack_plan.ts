// Which runs of an experiment train together as one stacked model (train.stack; the training
// itself is stack_loop.ts). Runs may stack when they differ only in what each replica keeps of its
// own: the seed (its own data and init), the optimizer's per-run settings, the schedule, the
// number of steps and when to evaluate or stop. Everything else fixes the tensors' shapes or the
// step's math, so it must agree; and the runs must stand at the same step (a stack resumes together).
import { join } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import type { RunSpec } from '../config/schema.js';
import { BACKBONES } from '../models/registry.js';
import { CHECKPOINT_DIR, parseRunSummary, SUMMARY_FILE } from '../results/store.js';
import { ConfigError } from '../util/errors.js';

/** Dotted keys a replica of a stack may have of its own. */
export const REPLICA_KEYS = [
  'seed',
  'train.lr',
  'train.weight_decay',
  'train.warmup_steps',
  'train.schedule',
  'train.min_lr_ratio',
  'train.grad_clip',
  'train.max_steps',
  'train.epochs',
  'train.eval_every',
  'train.checkpoint_every',
  'train.log_every',
  'train.early_stop',
  'train.stack',
] as const;

/** `auto` stacks at most this many runs (on webgpu). */
export const AUTO_STACK = 8;

/** What must agree between replicas: the run without its identity and its replica keys. */
function shared(r: RunSpec): Record<string, unknown> {
  const { run_id: _id, point: _p, variant: _v, seed: _s, ...rest } = r;
  const train: Record<string, unknown> = { ...r.train };
  for (const k of REPLICA_KEYS) if (k.startsWith('train.')) delete train[k.slice('train.'.length)];
  return { ...rest, train };
}

function canon(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canon);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canon((v as Record<string, unknown>)[k])]));
  return v;
}

/** The first dotted key whose values differ, with both values. */
export function firstDifference(a: unknown, b: unknown, path = ''): { key: string; a: unknown; b: unknown } | undefined {
  const isObj = (x: unknown): x is Record<string, unknown> => x !== null && typeof x === 'object' && !Array.isArray(x);
  if (isObj(a) && isObj(b)) {
    for (const k of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
      const d = firstDifference(a[k], b[k], path === '' ? k : `${path}.${k}`);
      if (d !== undefined) return d;
    }
    return undefined;
  }
  return JSON.stringify(canon(a)) === JSON.stringify(canon(b)) ? undefined : { key: path, a, b };
}

/** How far a run got: 'finished', the step of its checkpoint, or 0 (fresh, or forced from scratch). */
export function runProgress(resultsDir: string, r: RunSpec, force: boolean): number | 'finished' {
  if (force) return 0;
  const dir = join(resultsDir, r.experiment, r.run_id);
  try {
    const s = parseRunSummary(readFileSync(join(dir, SUMMARY_FILE), 'utf8'));
    if ('summary' in s && s.summary.status === 'finished') return 'finished';
  } catch {
    // no summary yet
  }
  const st = join(dir, CHECKPOINT_DIR, 'trainer_state.json');
  if (!existsSync(st)) return 0;
  try {
    const step = (JSON.parse(readFileSync(st, 'utf8')) as { step?: unknown }).step;
    return typeof step === 'number' ? step : Number.NaN;
  } catch {
    return Number.NaN; // unreadable: the run goes alone, and its own resume reports the problem
  }
}

/** At most this many runs per stack, as the run asks on this backend (1 = trains alone). */
function stackCap(r: RunSpec, backend: string): number {
  const s = r.train.stack;
  if (s === undefined || s === 'off') return 1;
  if (s === 'auto') return backend === 'webgpu' ? AUTO_STACK : 1;
  return s;
}

/** Why this run's model cannot stack, or undefined. */
function cannotStack(r: RunSpec): string | undefined {
  const bb = BACKBONES[r.model.backbone]!;
  return bb.stack === undefined ? `backbone ${r.model.backbone} does not support stacked replicas yet` : bb.stack.cannot(r.model);
}

/**
 * Groups the runs into stacks, in run order (a group trains at the place of its first run; groups of
 * one train alone). Finished runs stay alone (they are skipped). One-line errors for a stack the
 * config asks for (train.stack: N ≥ 2) that cannot form: a model that cannot stack, or no two runs
 * that agree on everything but the replica keys.
 */
export function planStacks(file: string, runs: readonly RunSpec[], backend: string, progress: (r: RunSpec) => number | 'finished'): RunSpec[][] {
  const buckets = new Map<string, RunSpec[][]>();
  const groups: RunSpec[][] = [];
  const at = new Map(runs.map((r) => [r, progress(r)]));
  // Runs this call trains that the config asks to stack.
  const asked = runs.filter((r) => typeof r.train.stack === 'number' && r.train.stack >= 2 && at.get(r) !== 'finished');
  for (const r of runs) {
    const cap = stackCap(r, backend);
    const why = cap >= 2 ? cannotStack(r) : undefined;
    if (why !== undefined && typeof r.train.stack === 'number') throw new ConfigError(file, 'train.stack', `${r.train.stack}: ${why}. Set train.stack: off`);
    const step = at.get(r)!;
    if (cap < 2 || why !== undefined || step === 'finished' || Number.isNaN(step)) {
      groups.push([r]);
      continue;
    }
    const key = `${cap}|${step}|${JSON.stringify(canon(shared(r)))}`;
    const open = buckets.get(key);
    const last = open?.[open.length - 1];
    if (last !== undefined && last.length < cap) {
      last.push(r);
      continue;
    }
    const g = [r];
    groups.push(g);
    buckets.set(key, [...(open ?? []), g]);
  }
  if (asked.length >= 2 && groups.every((g) => g.length === 1)) {
    const [a, b] = asked as [RunSpec, RunSpec];
    const d = firstDifference(shared(a), shared(b));
    const [pa, pb] = [at.get(a), at.get(b)];
    const why =
      d !== undefined
        ? `they differ in ${d.key} (${JSON.stringify(d.a)} vs ${JSON.stringify(d.b)}), which changes the model's tensors or its step`
        : `they stand at different steps (${String(pa)} vs ${String(pb)}); a stack starts and resumes together`;
    throw new ConfigError(file, 'train.stack', `${String(a.train.stack)}: no two runs can stack: ${why}. Only ${REPLICA_KEYS.join(', ')} may differ between replicas. Set train.stack: off, or sweep only those keys`);
  }
  return groups;
}
