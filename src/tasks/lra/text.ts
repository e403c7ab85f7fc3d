// LRA Text (MetaLA Tab. 7 / Tab. A4 row 2; reference-implementations.md §3.2): byte-level IMDB
// sentiment, 2 classes, sequences up to 4K bytes (the paper's setting; S4 l_max 4096; the LRA repo's
// default config truncates at 1000). Reads the official Stanford release layout
// `aclImdb/{train,test}/{pos,neg}/*.txt` (what TFDS `imdb_reviews` builds from). As in LRA, the test
// split is also the validation split.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { datasetCache, missingData } from '../../data/paths.js';
import { PackedBuilder } from '../../data/sequences.js';
import type { PackedExamples } from '../../data/sequences.js';
import { extractTar } from '../../data/tar.js';
import { InputError } from '../../util/errors.js';
import { defineTask } from '../types.js';
import { BYTE_VOCAB, byteIds, lraAccuracy, lraCommonFields, lraTaskData } from './common.js';

export const TEXT_DATASET = 'lra-text';
export const TEXT_FOLDER = 'lra_text';
export const IMDB_URL = 'https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz';
/** Published and widely recorded checksums of aclImdb_v1.tar.gz (datasets/lra_text/README.md cites them). */
export const IMDB_SHA256 = 'c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe';
export const IMDB_ARCHIVE = 'aclImdb_v1.tar.gz';

/** TFDS imdb_reviews label order: neg = 0, pos = 1. */
const CLASSES = ['neg', 'pos'] as const;

/**
 * One split of the official layout: `<root>/<split>/{neg,pos}/*.txt`, files sorted by name within
 * each class (deterministic order), bytes → ids (byte + 1), truncated to maxLen.
 */
export function readImdbSplit(root: string, split: 'train' | 'test', maxLen: number): PackedExamples {
  const b = new PackedBuilder(16);
  for (const [label, cls] of CLASSES.entries()) {
    const dir = join(root, split, cls);
    if (!existsSync(dir)) throw missingData(dir, `IMDB ${split}/${cls} reviews`, TEXT_DATASET, 'fetched');
    const files = readdirSync(dir).filter((f) => f.endsWith('.txt')).sort();
    if (files.length === 0) throw new InputError(`${dir}: no .txt reviews. Re-fetch with \`metala data fetch ${TEXT_DATASET}\``);
    for (const f of files) b.push(byteIds(readFileSync(join(dir, f), 'utf8'), maxLen), label);
  }
  return b.build();
}

/** Unpack only the labelled reviews (train/test × pos/neg) from the downloaded archive. */
export async function unpackImdb(cache: string, log: (s: string) => void): Promise<string> {
  const keep = /^aclImdb\/(train|test)\/(pos|neg)\/[^/]+\.txt$/;
  const r = await extractTar(join(cache, IMDB_ARCHIVE), cache, { filter: (e) => (keep.test(e.path) ? e.path : null) });
  log(`unpacked ${r.files} reviews into ${join(cache, 'aclImdb')}`);
  return `IMDB: ${r.files} reviews in ${join(cache, 'aclImdb')}`;
}

const options = z
  .object({
    ...lraCommonFields,
    /** Bytes kept per review (paper: 4K). */
    max_length: z.number().int().positive().default(4096),
  })
  .strict();

export const lraText = defineTask({
  name: 'lra_text',
  description: 'LRA Text: byte-level IMDB sentiment, up to 4K bytes (MetaLA Tab. 7)',
  options,
  metric: 'accuracy',
  check: () => [],
  vocabSize: () => BYTE_VOCAB,
  seqLen: (o) => o.max_length,
  numClasses: () => 2,
  makeData(o, seed) {
    const root = o.data_dir ?? join(datasetCache(TEXT_FOLDER), 'aclImdb');
    const test = readImdbSplit(root, 'test', o.max_length);
    return lraTaskData({ train: readImdbSplit(root, 'train', o.max_length), val: test, test }, o, o.max_length, { train: seed, test: seed });
  },
  score: lraAccuracy,
});
