// Loads a zero-shot task's evaluation documents from datasets/<task>/cache/<split>.{jsonl,parquet}
// (what `metala data fetch <task>` writes), or <data dir>/<task>/<split>.* when a folder is given
// (tests use test/fixtures/eval); applies process_docs and lm-eval's --limit (first N documents).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import { datasetCache, missingData } from '../data/paths.js';
import { InputError } from '../util/errors.js';
import { docFunction } from './functions.js';
import { evalSplit, type TaskConfig } from './task_config.js';
import type { Doc } from './template.js';

/** Parquet INT64 columns arrive as bigint; the templates and metrics want numbers. */
function plain(v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === 'object' && !(v instanceof Uint8Array)) {
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, plain(x)]));
  }
  return v;
}

/** Rows of a JSONL file (one JSON object per line). */
export function readJsonl(file: string): Doc[] {
  const out: Doc[] = [];
  for (const [i, line] of readFileSync(file, 'utf8').split('\n').entries()) {
    if (line.trim() === '') continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      throw new InputError(`${file}:${i + 1}: not valid JSON. Each line must be one JSON object`);
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new InputError(`${file}:${i + 1}: expected a JSON object`);
    out.push(v as Doc);
  }
  return out;
}

/** Rows of a Parquet file as plain objects (nested structs and lists kept), via hyparquet. */
export async function readParquet(file: string): Promise<Doc[]> {
  try {
    const rows = await parquetReadObjects({ file: await asyncBufferFromFile(file) });
    return rows.map((r) => plain(r) as Doc);
  } catch (e) {
    throw new InputError(`${file}: cannot read as Parquet (${(e as Error).message}). Delete it and run metala data fetch again`);
  }
}

/** Folder of a task's files: <dataDir>/<task>, or datasets/<task>/cache by default. */
export function taskDataDir(task: string, dataDir?: string): string {
  return dataDir === undefined ? datasetCache(task) : join(dataDir, task);
}

/** The data file of a task split, or undefined. JSONL wins over Parquet when both exist. */
export function dataFileOf(dir: string, split: string): string | undefined {
  for (const ext of ['jsonl', 'parquet']) {
    const f = join(dir, `${split}.${ext}`);
    if (existsSync(f)) return f;
  }
  return undefined;
}

export interface LoadedDocs {
  docs: Doc[];
  file: string;
  split: string;
  /** Documents in the file before --limit. */
  total: number;
}

/**
 * The evaluation documents of a task, processed and limited.
 * @param dataDir folder with <task>/<split>.jsonl|parquet (default: datasets/<task>/cache/)
 * @param limit   first N documents only (lm-eval --limit)
 */
export async function loadTaskDocs(cfg: TaskConfig, dataDir?: string, limit?: number): Promise<LoadedDocs> {
  const split = evalSplit(cfg);
  const dir = taskDataDir(cfg.task, dataDir);
  const file = dataFileOf(dir, split);
  if (file === undefined) {
    const what = `${cfg.dataset_path}${cfg.dataset_name !== null ? ` ${cfg.dataset_name}` : ''}, split ${split}`;
    throw missingData(join(dir, `${split}.parquet`), what, cfg.task, 'fetched', '--data-dir');
  }
  const raw = file.endsWith('.parquet') ? await readParquet(file) : readJsonl(file);
  const picked = limit === undefined ? raw : raw.slice(0, limit);
  const proc = cfg.process_docs === undefined ? undefined : docFunction(cfg.process_docs.name, `${cfg.task}: process_docs`);
  const docs = proc === undefined ? picked : picked.map((d) => proc(d) as Doc);
  return { docs, file, split, total: raw.length };
}
