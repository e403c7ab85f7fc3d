// LRA ListOps task (MetaLA Tab. 7 / Tab. A4 row 1; reference-implementations.md §3.2): 10-way
// classification of a prefix expression of up to 2000 tokens. Data either generated in memory
// (seeded, LRA's algorithm: listops_gen.ts) or read from the official TSV files
// (`basic_{train,val,test}.tsv`, as in the LRA release's listops-1000/ and `metala data lra-listops`).
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { PackedBuilder } from '../../data/sequences.js';
import type { PackedExamples } from '../../data/sequences.js';
import { datasetCache, requireFiles } from '../../data/paths.js';
import { InputError } from '../../util/errors.js';
import { defineTask } from '../types.js';
import type { OptionProblem } from '../types.js';
import { generatedSeeds, lraAccuracy, lraCommonFields, lraTaskData } from './common.js';
import { LISTOPS_VOCAB, LRA_LISTOPS, generateListOps, listOpsTsv, tokenizeListOps } from './listops_gen.js';
import type { ListOpsExample, ListOpsParams } from './listops_gen.js';

export const LISTOPS_DATASET = 'lra-listops';
export const LISTOPS_FOLDER = 'lra_listops';
/** LRA release file names (task 'basic'). */
export const LISTOPS_FILES = { train: 'basic_train.tsv', val: 'basic_val.tsv', test: 'basic_test.tsv' } as const;

/** Reads one official ListOps TSV into packed examples (ids, label = Target). */
export function readListOpsTsv(file: string, maxLength: number): PackedExamples {
  const text = readFileSync(file, 'utf8');
  const lines = text.split(/\r?\n/);
  if (lines[0]?.trim() !== 'Source\tTarget') throw new InputError(`${file}: line 1: expected the header 'Source<TAB>Target'. Is this a ListOps TSV?`);
  const b = new PackedBuilder(8);
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    const tab = line.lastIndexOf('\t');
    const target = Number(line.slice(tab + 1));
    if (tab < 0 || !Number.isInteger(target) || target < 0 || target > 9) throw new InputError(`${file}: line ${i + 1}: expected 'Source<TAB>Target' with a Target digit 0–9`);
    const ids = tokenizeListOps(line.slice(0, tab));
    if (typeof ids === 'string') throw new InputError(`${file}: line ${i + 1}: unknown token '${ids}' (ListOps has digits, [MIN [MAX [MED [SM and ])`);
    b.push(ids.subarray(0, maxLength), target);
  }
  if (b.size === 0) throw new InputError(`${file}: no examples. Regenerate it with \`metala data ${LISTOPS_DATASET}\``);
  return b.build();
}

function pack(examples: readonly ListOpsExample[]): PackedExamples {
  const b = new PackedBuilder(8);
  for (const e of examples) b.push(e.ids, e.value);
  return b.build();
}

/** Split sizes of LRA (96k / 2k / 2k), scaled to `total` examples. */
export function listOpsSizes(total = 100_000): { train: number; val: number; test: number } {
  const held = Math.max(1, Math.round(total * 0.02));
  return { train: total - 2 * held, val: held, test: held };
}

/**
 * `metala data lra-listops`: writes basic_{train,val,test}.tsv (official format) into `dir`.
 * The three splits come from one deduplicated stream, as LRA slices one set.
 */
export async function makeListOpsFiles(dir: string, seed: number, total: number | undefined, log: (s: string) => void, p: ListOpsParams = LRA_LISTOPS): Promise<string> {
  const sizes = listOpsSizes(total);
  await mkdir(dir, { recursive: true });
  const seen = new Set<string>();
  let s = seed;
  for (const split of ['train', 'val', 'test'] as const) {
    const t0 = Date.now();
    const ex = generateListOps(sizes[split], s++, p, { withSource: true, seen });
    await writeFile(join(dir, LISTOPS_FILES[split]), listOpsTsv(ex));
    log(`${LISTOPS_FILES[split]}: ${ex.length} examples (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  }
  return `ListOps: ${sizes.train} / ${sizes.val} / ${sizes.test} examples in ${dir}`;
}

const options = z
  .object({
    /** `files`: official TSVs in data_dir; `generated`: LRA's generator in memory, seeded by the run seed. */
    source: z.enum(['files', 'generated']).default('files'),
    ...lraCommonFields,
    /** Generated source: examples per split (LRA: 96000 train, 2000 val/test). */
    train_examples: z.number().int().positive().default(96_000),
    test_examples: z.number().int().positive().default(2_000),
    /** Generator bounds (LRA flags) and the truncation length of files: 500 < length < 2000. */
    min_length: z.number().int().min(0).default(500),
    max_length: z.number().int().positive().default(2000),
    max_depth: z.number().int().positive().default(10),
    max_args: z.number().int().min(2).default(10),
  })
  .strict();

export type ListOpsOptions = z.output<typeof options>;

function problems(o: ListOpsOptions): OptionProblem[] {
  const out: OptionProblem[] = [];
  if (o.source === 'generated' && o.min_length + 2 >= o.max_length) {
    out.push({ path: ['max_length'], message: `must exceed min_length + 2 (${o.min_length + 2}) so some tree fits, got ${o.max_length}` });
  }
  if (o.source === 'generated' && o.min_length + 1 > 2 * o.max_args ** (o.max_depth - 1)) {
    out.push({ path: ['min_length'], message: `no tree of depth ≤ ${o.max_depth} with ≤ ${o.max_args} arguments is that long; lower min_length or raise max_depth` });
  }
  return out;
}

export const lraListops = defineTask({
  name: 'lra_listops',
  description: 'LRA ListOps: 10-way value of a MIN/MAX/MED/SM expression, up to 2K tokens (MetaLA Tab. 7)',
  options,
  metric: 'accuracy',
  check: problems,
  vocabSize: () => LISTOPS_VOCAB.length,
  seqLen: (o) => o.max_length,
  numClasses: () => 10,
  makeData(o, seed) {
    if (o.source === 'generated') {
      const p = { maxDepth: o.max_depth, maxArgs: o.max_args, minLength: o.min_length, maxLength: o.max_length };
      const seeds = generatedSeeds(seed);
      const seen = new Set<string>();
      const train = pack(generateListOps(o.train_examples, seeds.train, p, { seen }));
      const test = pack(generateListOps(o.test_examples, seeds.test, p, { seen }));
      // A validation split of the test split's size, disjoint from both (LRA: 2,000 val, 2,000 test),
      // generated last so train and test are the examples they always were.
      const val = pack(generateListOps(o.test_examples, seeds.val, p, { seen }));
      return lraTaskData({ train, val, test }, o, o.max_length, { train: seeds.train, test: seeds.test });
    }
    const dir = o.data_dir ?? datasetCache(LISTOPS_FOLDER);
    const files = { train: join(dir, LISTOPS_FILES.train), val: join(dir, LISTOPS_FILES.val), test: join(dir, LISTOPS_FILES.test) };
    const need = o.eval_split === 'val' ? [files.train, files.val] : [files.train, files.test];
    requireFiles(need, 'ListOps TSV files', LISTOPS_DATASET, 'generated');
    const read = (f: string) => readListOpsTsv(f, o.max_length);
    const test = existsSync(files.test) ? read(files.test) : undefined;
    const val = existsSync(files.val) ? read(files.val) : undefined;
    return lraTaskData({ train: read(files.train), val: val ?? test!, test: test ?? val! }, o, o.max_length, { train: seed, test: seed });
  },
  score: lraAccuracy,
});
