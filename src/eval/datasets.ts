// The zero-shot evaluation sets as `metala data fetch <task>` entries (src/data/types.ts): each
// task's evaluation split, as the Hugging Face hub's Parquet conversion of the dataset that the
// task YAML names (`refs/convert/parquet/<config>/<split>/0000.parquet`), saved to
// datasets/<task>/cache/<split>.parquet where src/eval/docs.ts reads it. Checksums are not
// published for these files; downloadFile prints the sha256 of what it fetched.
import { join } from 'node:path';
import { missingData } from '../data/paths.js';
import { defineDataset, type DatasetDef } from '../data/types.js';
import { dataFileOf, readJsonl, readParquet } from './docs.js';

/** Task → [HF dataset id, config, evaluation split] (as configs/tasks/<task>.yaml). */
export const EVAL_SOURCES: Readonly<Record<string, readonly [string, string, string]>> = {
  logiqa: ['EleutherAI/logiqa', 'logiqa', 'test'],
  wsc273: ['lighteval/winograd_wsc', 'wsc273', 'test'],
  boolq: ['aps/super_glue', 'boolq', 'validation'],
  piqa: ['baber/piqa', 'default', 'validation'],
  hellaswag: ['Rowan/hellaswag', 'default', 'validation'],
  winogrande: ['allenai/winogrande', 'winogrande_xl', 'validation'],
  arc_easy: ['allenai/ai2_arc', 'ARC-Easy', 'test'],
  arc_challenge: ['allenai/ai2_arc', 'ARC-Challenge', 'test'],
  openbookqa: ['allenai/openbookqa', 'main', 'test'],
  lambada: ['EleutherAI/lambada_openai', 'default', 'test'],
  wsc: ['aps/super_glue', 'wsc.fixed', 'validation'],
  wic: ['aps/super_glue', 'wic', 'validation'],
  rte: ['aps/super_glue', 'rte', 'validation'],
  cb: ['aps/super_glue', 'cb', 'validation'],
  multirc: ['aps/super_glue', 'multirc', 'validation'],
  copa: ['aps/super_glue', 'copa', 'validation'],
};

/** The hub URL of a dataset split's Parquet conversion (first shard; these splits have one). */
export function hubParquetUrl(repo: string, config: string, split: string): string {
  return `https://huggingface.co/datasets/${repo}/resolve/refs%2Fconvert%2Fparquet/${encodeURIComponent(config)}/${split}/0000.parquet`;
}

/** One `metala data fetch <task>` entry per zero-shot task. */
export const EVAL_DATASETS: DatasetDef[] = Object.entries(EVAL_SOURCES).map(([task, [repo, config, split]]) => {
  const check = async (dir: string): Promise<string> => {
    const file = dataFileOf(dir, split);
    if (file === undefined) throw missingData(join(dir, `${split}.parquet`), `${repo} ${config}, ${split} split`, task, 'fetched');
    const rows = file.endsWith('.parquet') ? await readParquet(file) : readJsonl(file);
    return `${task}: ${rows.length} documents in ${file}`;
  };
  return defineDataset({
    name: task,
    description: `zero-shot ${task}: ${repo} (${config}), ${split} split, Parquet from the Hugging Face hub`,
    kind: 'fetched',
    folder: task,
    files: [{ url: hubParquetUrl(repo, config, split), dest: `${split}.parquet` }],
    check,
    // Nothing to unpack: `metala data fetch` lands here only when check failed, so say why.
    make: async ({ dir }) => check(dir),
  });
});
