// On-disk results (DESIGN.md §5): results/<experiment>/<run-id>/{config.json, metrics.jsonl,
// summary.json, checkpoint/}. Writers here are crash-safe (tmp + fsync + rename); readers never
// crash on a half-written or foreign folder, they skip it and say why, so `metala report` works
// on whatever a sweep left behind (Zoology keeps this in W&B; we keep it in files).
import { randomBytes } from 'node:crypto';
import { appendFile, mkdir, open, readFile, readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { z } from 'zod';
import { InputError } from '../util/errors.js';

export const CONFIG_FILE = 'config.json';
export const SUMMARY_FILE = 'summary.json';
export const METRICS_FILE = 'metrics.jsonl';
export const CHECKPOINT_DIR = 'checkpoint';

/**
 * The fully resolved run spec as written to config.json. Only the fields readers rely on are
 * typed (optional ones also accept null, as writers emit for "not yet"); everything else is kept.
 */
export const runConfigSchema = z.looseObject({
  experiment: z.string().nullish(),
  run_id: z.string().nullish(),
  /** Named row of an ablation (`variants:`), e.g. 'no_conv'. */
  variant: z.string().nullish(),
  task: z.looseObject({ name: z.string() }),
  model: z
    .looseObject({
      d_model: z.number().nullish(),
      n_layers: z.number().nullish(),
      mixer: z.looseObject({ name: z.string() }).nullish(),
    })
    .nullish(),
  train: z.looseObject({ lr: z.number().nullish() }).nullish(),
  seed: z.number().nullish(),
});
export type RunConfig = z.output<typeof runConfigSchema>;

/** interrupted: stopped by --max-minutes or a signal, checkpointed; the same command resumes it. */
export const RUN_STATUSES = ['finished', 'running', 'interrupted', 'failed'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/** One evaluation in summary.json (accuracy as a fraction); `val` when the task has a validation split. */
const evalSchema = z.looseObject({
  accuracy: z.number().nullish(),
  loss: z.number().nullish(),
  perplexity: z.number().nullish(),
  step: z.number().nullish(),
  val: z.looseObject({ accuracy: z.number().nullish(), loss: z.number().nullish() }).nullish(),
});

/**
 * summary.json: final/best metrics plus where and how the run ran. The one schema of the file: the
 * train loop writes a RunSummary, and `report`, `status`, Slurm's pending check and a re-run's
 * finished check read it through this schema. Loose, so older summaries with fewer or more keys
 * still read; eval results (src/eval/results.ts) write their own kind of summary.json.
 */
export const runSummarySchema = z.looseObject({
  run_id: z.string().nullish(),
  experiment: z.string().nullish(),
  variant: z.string().nullish(),
  status: z.enum(RUN_STATUSES),
  metric: z.string().nullish(),
  params: z.number().nullish(),
  total_steps: z.number().nullish(),
  /** Best evaluation so far, e.g. { accuracy: 0.93, step: 1200 }: by the validation split when there is one. */
  best: evalSchema.nullish(),
  /** Last evaluation, same keys as `best`. */
  final: evalSchema.nullish(),
  steps: z.number().nullish(),
  backend: z.string().nullish(),
  device: z.string().nullish(),
  wall_s: z.number().nullish(),
  tokens_per_s: z.number().nullish(),
  /** 'images' for image tasks, whose tokens_per_s counts images. */
  throughput_unit: z.string().nullish(),
  resumed: z.boolean().nullish(),
  seed: z.number().nullish(),
  git_commit: z.string().nullish(),
  /** Why a finished run stopped: max_steps or early_stop. */
  stopped: z.string().nullish(),
  /** Why a run failed (status failed). */
  error: z.string().nullish(),
  /**
   * Trained as one replica of a stack (train.stack): how many replicas the stack had and their run
   * ids. How the run executed, not what it is: its numbers are those of the run trained alone.
   */
  stack: z.object({ replicas: z.number(), runs: z.array(z.string()) }).nullish(),
});
export type RunSummary = z.output<typeof runSummarySchema>;

/** Parses summary.json text; a message (not a throw) when it is not a run summary. */
export function parseRunSummary(text: string): { summary: RunSummary } | { problem: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return { problem: `not valid JSON (${(e as Error).message.split('\n')[0]})` };
  }
  const parsed = runSummarySchema.safeParse(raw);
  if (parsed.success) return { summary: parsed.data };
  const issue = parsed.error.issues[0];
  const where = issue === undefined || issue.path.length === 0 ? '(top level)' : issue.path.join('.');
  return { problem: `${where}: ${issue?.message ?? 'invalid'}` };
}

export interface RunRecord {
  /** The run folder. */
  dir: string;
  config: RunConfig;
  summary: RunSummary;
}

export interface SkippedRun {
  dir: string;
  reason: string;
}

/** `<resultsDir>/<experiment>/<runId>`; experiment may contain '/' (e.g. 'mqar/fig3_seq256'). */
export function runDir(resultsDir: string, experiment: string, runId: string): string {
  return join(resultsDir, experiment, runId);
}

/**
 * Replaces `path` with `data` atomically: writes a sibling temp file, fsyncs it, renames it over
 * `path`, then fsyncs the folder, so a reader sees the old or the new file, never a torn one.
 * Creates missing parent folders.
 */
export async function atomicWriteFile(path: string, data: string | Uint8Array): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  await fsyncDir(dir);
}

async function fsyncDir(dir: string): Promise<void> {
  // Durability of the rename; not supported on every platform (Windows), so best effort.
  try {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // Ignored: the rename itself is already atomic.
  }
}

/** Pretty JSON with a trailing newline, written atomically. */
export async function writeJson(path: string, obj: unknown): Promise<void> {
  await atomicWriteFile(path, `${JSON.stringify(obj, null, 2)}\n`);
}

/** Appends one JSON line; creates the file and its folders if needed. */
export async function appendJsonl(path: string, obj: unknown): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await appendFile(path, `${JSON.stringify(obj)}\n`);
}

/** The JSON lines of a file; a torn last line (crash mid-append) is dropped, other bad lines throw. */
export async function readJsonl(path: string): Promise<unknown[]> {
  const lines = (await readFile(path, 'utf8')).split('\n');
  const out: unknown[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    try {
      out.push(JSON.parse(line));
    } catch {
      if (i === lines.length - 1) break;
      throw new InputError(`${path}:${i + 1}: not valid JSON`);
    }
  }
  return out;
}

async function readJsonFile<S extends z.ZodType>(path: string, schema: S): Promise<z.output<S>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new InputError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new InputError(`${path}: not valid JSON`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue === undefined || issue.path.length === 0 ? '(top level)' : issue.path.join('.');
    throw new InputError(`${path}: ${where}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

/** Reads one run folder; InputError naming the file and key when it is malformed. */
export async function readRun(dir: string): Promise<RunRecord> {
  const config = await readJsonFile(join(dir, CONFIG_FILE), runConfigSchema);
  const summary = await readJsonFile(join(dir, SUMMARY_FILE), runSummarySchema);
  return { dir, config, summary };
}

/**
 * Every run under `resultsDir`, at any depth (experiments may be nested). A folder holding
 * config.json or summary.json is a run folder: it is read if it has both and they parse, else it
 * goes to `skipped` with the reason. Folders named `checkpoint` and hidden folders are not entered.
 * Runs are sorted by folder path, so reports are stable.
 */
export async function scanRuns(resultsDir: string): Promise<{ runs: RunRecord[]; skipped: SkippedRun[] }> {
  const runs: RunRecord[] = [];
  const skipped: SkippedRun[] = [];
  const walk = async (dir: string, depth: number): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (e) {
      if (depth === 0 && (e as NodeJS.ErrnoException).code === 'ENOENT') return;
      skipped.push({ dir, reason: `cannot list (${(e as NodeJS.ErrnoException).code ?? String(e)})` });
      return;
    }
    const files = new Set(entries.filter((d) => d.isFile()).map((d) => d.name));
    const hasConfig = files.has(CONFIG_FILE);
    const hasSummary = files.has(SUMMARY_FILE);
    if (hasConfig && hasSummary) {
      try {
        runs.push(await readRun(dir));
      } catch (e) {
        skipped.push({ dir, reason: e instanceof Error ? e.message : String(e) });
      }
      return;
    }
    if (hasConfig || hasSummary) {
      skipped.push({ dir, reason: `has ${hasConfig ? CONFIG_FILE : SUMMARY_FILE} but no ${hasConfig ? SUMMARY_FILE : CONFIG_FILE}` });
      return;
    }
    // Bounded depth guards against symlink loops; experiments are at most a few levels deep.
    if (depth >= 8) return;
    const subdirs = entries
      .filter((d) => d.isDirectory() && d.name !== CHECKPOINT_DIR && !d.name.startsWith('.'))
      .map((d) => d.name)
      .sort();
    for (const name of subdirs) await walk(join(dir, name), depth + 1);
  };
  await walk(resultsDir, 0);
  runs.sort((a, b) => (a.dir < b.dir ? -1 : a.dir > b.dir ? 1 : 0));
  return { runs, skipped };
}

/** The readable runs under `resultsDir` (see `scanRuns` for the skipped ones). */
export async function listRuns(resultsDir: string): Promise<RunRecord[]> {
  return (await scanRuns(resultsDir)).runs;
}
