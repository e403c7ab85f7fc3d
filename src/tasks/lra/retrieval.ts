// LRA Retrieval (MetaLA Tab. 7 / Tab. A4 row 3; reference-implementations.md §3.2): do two ACL
// Anthology Network papers cite each other? Byte-level, up to 4000 bytes per document, two towers
// with shared weights (the classifier's dual_tower). Reads the release's TSVs
// `tsv_data/new_aan_pairs.{train,eval,test}.tsv`: no header, columns label, id1, id2, text1, text2.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { datasetCache, missingData } from '../../data/paths.js';
import { PackedBuilder } from '../../data/sequences.js';
import type { PackedExamples } from '../../data/sequences.js';
import { InputError } from '../../util/errors.js';
import { defineTask } from '../types.js';
import { BYTE_VOCAB, byteIds, lraAccuracy, lraCommonFields, lraTaskData } from './common.js';
import { RELEASE_DATASET, RELEASE_FOLDER } from './release.js';

export const AAN_FILES = { train: 'new_aan_pairs.train.tsv', val: 'new_aan_pairs.eval.tsv', test: 'new_aan_pairs.test.tsv' } as const;

/** One TSV field: surrounding double quotes removed and "" unescaped (CSV quoting), else verbatim. */
function field(s: string): string {
  return s.length >= 2 && s.startsWith('"') && s.endsWith('"') ? s.slice(1, -1).replace(/""/g, '"') : s;
}

/** Reads one AAN pairs TSV: label (0/1, written as 0, 1, 0.0 or 1.0), ids, and the two texts. */
export function readAanTsv(file: string, maxLen: number): PackedExamples {
  if (!existsSync(file)) throw missingData(file, 'AAN pairs TSV of the LRA release', RELEASE_DATASET, 'fetched');
  const b = new PackedBuilder(16, true);
  const lines = readFileSync(file, 'utf8').split(/\r?\n/);
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const f = line.split('\t');
    const label = Number(f[0]);
    if (f.length < 5 || (label !== 0 && label !== 1)) {
      throw new InputError(`${file}: line ${i + 1}: expected 5 tab-separated columns 'label id1 id2 text1 text2' with label 0 or 1, got ${f.length} column(s)`);
    }
    b.push(byteIds(field(f[3]!), maxLen), label, byteIds(field(f.slice(4).join('\t')), maxLen));
  });
  if (b.size === 0) throw new InputError(`${file}: no examples`);
  return b.build();
}

const options = z
  .object({
    ...lraCommonFields,
    /** Bytes kept per document (LRA: 4000). */
    max_length: z.number().int().positive().default(4000),
  })
  .strict();

export const lraRetrieval = defineTask({
  name: 'lra_retrieval',
  description: 'LRA Retrieval: byte-level AAN citation pairs, 4K bytes per document, two towers (MetaLA Tab. 7)',
  options,
  metric: 'accuracy',
  check: () => [],
  vocabSize: () => BYTE_VOCAB,
  seqLen: (o) => o.max_length,
  numClasses: () => 2,
  makeData(o, seed) {
    const dir = o.data_dir ?? join(datasetCache(RELEASE_FOLDER), 'tsv_data');
    const read = (f: string) => readAanTsv(join(dir, f), o.max_length);
    const held = read(o.eval_split === 'val' ? AAN_FILES.val : AAN_FILES.test);
    return lraTaskData({ train: read(AAN_FILES.train), val: held, test: held }, o, o.max_length, { train: seed, test: seed });
  },
  score: lraAccuracy,
});
