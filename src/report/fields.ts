// Typed reads of the run fields the tables key on (config.json / summary.json, DESIGN.md §5).
// config.json is a loose object (any task's options), so task options are read defensively:
// a missing or mistyped field gives undefined and the run is reported as unplaceable.
import { basename } from 'node:path';
import type { RunRecord } from '../results/store.js';
import type { Dim } from './types.js';

export function taskName(run: RunRecord): string {
  return run.config.task.name;
}

/** A numeric task option, e.g. 'input_seq_len'. */
export function taskNumber(run: RunRecord, key: string): number | undefined {
  const v = run.config.task[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/**
 * Mixer options that pick a different design rather than tune one (FEM's prior: softmax, GLA, …;
 * InLine with or without its local residual), so that runs of two designs of one mixer get rows
 * of their own.
 */
const DESIGN_OPTIONS: Readonly<Record<string, string>> = { fem: 'prior', inline: 'residual' };

/** Row label: mixer name (with its design option, e.g. 'fem (prior=gla)'), plus ' (variant)' for a named ablation variant. */
export function mixerLabel(run: RunRecord): string | undefined {
  const mixer = run.config.model?.mixer;
  if (mixer === undefined || mixer === null) return undefined;
  const key = DESIGN_OPTIONS[mixer.name];
  const value = key === undefined ? undefined : mixer[key];
  const design = value !== undefined && value !== null ? ` (${key}=${String(value)})` : '';
  const variant = run.config.variant;
  return `${mixer.name}${design}${variant === undefined || variant === null ? '' : ` (${variant})`}`;
}

/** summary.best.accuracy (a fraction) in percent. */
export function bestAccuracyPct(run: RunRecord): number | undefined {
  const a = run.summary.best?.accuracy;
  return typeof a === 'number' && Number.isFinite(a) ? 100 * a : undefined;
}

export const mixerDim: Dim = { name: 'mixer', of: mixerLabel };
export const seqLenDim: Dim = { name: 'seq_len', of: (r) => taskNumber(r, 'input_seq_len') };
export const kvPairsDim: Dim = { name: 'num_kv_pairs', of: (r) => taskNumber(r, 'num_kv_pairs') };
export const dModelDim: Dim = { name: 'd_model', of: (r) => r.config.model?.d_model ?? undefined };

/** Details of the run behind a cell: its learning rate (the swept axis), id and best step. */
export const BEST_RUN_DETAILS: readonly Dim[] = [
  { name: 'best_lr', of: (r) => r.config.train?.lr ?? undefined },
  { name: 'best_run_id', of: (r) => r.config.run_id ?? basename(r.dir) },
  { name: 'best_step', of: (r) => r.summary.best?.step ?? undefined },
  { name: 'best_device', of: (r) => runDevice(r) },
];

/**
 * Epochs a run trained: steps × batch size / training examples, for tasks with a fixed training set
 * (MQAR's task.train_examples); two decimals, so a run stopped mid-epoch shows how far it got.
 */
export function epochsTrained(r: RunRecord): number | undefined {
  const examples = taskNumber(r, 'train_examples');
  const batch = r.config.train?.batch_size;
  const steps = r.summary.steps;
  if (examples === undefined || typeof batch !== 'number' || typeof steps !== 'number') return undefined;
  return Math.round((100 * steps * batch) / examples) / 100;
}

/** BEST_RUN_DETAILS with the epochs the best run trained beside its lr (the MQAR tables). */
export const BEST_RUN_DETAILS_WITH_EPOCHS: readonly Dim[] = [BEST_RUN_DETAILS[0]!, { name: 'best_epochs', of: epochsTrained }, ...BEST_RUN_DETAILS.slice(1)];

/**
 * Where a run trained, short: backend plus the adapter's device name (summary.device is
 * "vendor / device / driver" on webgpu), e.g. "webgpu nvidia-h200"; undefined when not recorded.
 */
export function runDevice(r: RunRecord): string | undefined {
  const { backend, device } = r.summary;
  if (backend == null && device == null) return undefined;
  const parts = (device ?? '').split(' / ');
  const name = parts.length === 3 ? parts[1] : device ?? '';
  return [backend ?? '', name].filter((x) => x !== '').join(' ');
}

// Baselines first and MetaLA last, as the paper's tables list them; unknown mixers after.
const MIXER_ORDER = ['softmax', 'based', 'gla', 'rwkv4', 'mamba', 'metala'];

export function compareMixerLabels(a: string, b: string): number {
  const base = (s: string): string => s.split(' (')[0]!;
  const rank = (s: string): number => {
    const i = MIXER_ORDER.indexOf(base(s));
    return i < 0 ? MIXER_ORDER.length : i;
  };
  return rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0);
}

export function pct1(v: number): string {
  return v.toFixed(1);
}
