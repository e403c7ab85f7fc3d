// LRA Image (MetaLA Tab. 7 / Tab. A4 row 4; reference-implementations.md §3.2): sequential CIFAR-10,
// each 32×32 image turned grayscale (tf.image.rgb_to_grayscale, back to uint8) and flattened to 1024
// pixel tokens (vocab 256), 10 classes. Reads the official binary release
// `cifar-10-batches-bin/{data_batch_1..5,test_batch}.bin` (3073-byte records: label, R, G, B planes).
// Splits as LRA: train[:90%] (45 000) / train[90%:] (5 000) / test (10 000).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { datasetCache, missingData } from '../../data/paths.js';
import { PackedBuilder, subset } from '../../data/sequences.js';
import type { PackedExamples } from '../../data/sequences.js';
import { extractTar } from '../../data/tar.js';
import { InputError } from '../../util/errors.js';
import { defineTask } from '../types.js';
import { lraAccuracy, lraCommonFields, lraTaskData } from './common.js';

export const IMAGE_DATASET = 'lra-image';
export const IMAGE_FOLDER = 'lra_image';
export const CIFAR_URL = 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz';
export const CIFAR_ARCHIVE = 'cifar-10-binary.tar.gz';
/** Size as published on the CIFAR page (with MD5 c32a1d4a…); sha256 as third parties record it (datasets/lra_image/README.md). */
export const CIFAR_SIZE = 170_052_171;
export const CIFAR_SHA256 = 'c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd';
export const CIFAR_TRAIN_FILES = [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`);
export const CIFAR_TEST_FILE = 'test_batch.bin';
const RECORD = 1 + 3 * 1024;

/**
 * tf.image.rgb_to_grayscale on uint8: gray = Σ w_c · x_c / 255 with w = (0.2989, 0.5870, 0.1140), then
 * convert_image_dtype back to uint8 = trunc(gray · 255.5).
 */
export function grayscale(r: number, g: number, b: number): number {
  return Math.min(255, Math.trunc(((0.2989 * r + 0.587 * g + 0.114 * b) / 255) * 255.5));
}

/** Reads CIFAR-10 binary batch files into packed 1024-pixel grayscale sequences. */
export function readCifarBatches(files: readonly string[]): PackedExamples {
  const b = new PackedBuilder(8);
  const px = new Uint8Array(1024);
  for (const f of files) {
    if (!existsSync(f)) throw missingData(f, 'CIFAR-10 binary batch', IMAGE_DATASET, 'fetched');
    const buf = readFileSync(f);
    if (buf.length === 0 || buf.length % RECORD !== 0) throw new InputError(`${f}: ${buf.length} bytes is not a whole number of 3073-byte CIFAR-10 records. Re-fetch with \`metala data fetch ${IMAGE_DATASET}\``);
    for (let o = 0; o < buf.length; o += RECORD) {
      const label = buf[o]!;
      if (label > 9) throw new InputError(`${f}: record ${o / RECORD}: label ${label} is not a CIFAR-10 class (0–9)`);
      for (let i = 0; i < 1024; i++) px[i] = grayscale(buf[o + 1 + i]!, buf[o + 1025 + i]!, buf[o + 2049 + i]!);
      b.push(px, label);
    }
  }
  return b.build();
}

/** Unpack the six batch files from the downloaded archive. */
export async function unpackCifar(cache: string, log: (s: string) => void): Promise<string> {
  const keep = new Set([...CIFAR_TRAIN_FILES, CIFAR_TEST_FILE].map((f) => `cifar-10-batches-bin/${f}`));
  const r = await extractTar(join(cache, CIFAR_ARCHIVE), cache, { filter: (e) => (keep.has(e.path) ? e.path : null) });
  if (r.files !== keep.size) throw new InputError(`${join(cache, CIFAR_ARCHIVE)}: found ${r.files} of the ${keep.size} batch files. Delete it and fetch again`);
  log(`unpacked ${r.files} batch files into ${join(cache, 'cifar-10-batches-bin')}`);
  return `CIFAR-10: 6 batch files in ${join(cache, 'cifar-10-batches-bin')}`;
}

const options = z
  .object({
    ...lraCommonFields,
    /** Fraction of the training batches kept for training; the rest is validation (LRA: 0.9). */
    train_fraction: z.number().gt(0).lt(1).default(0.9),
  })
  .strict();

export const lraImage = defineTask({
  name: 'lra_image',
  description: 'LRA Image: sequential grayscale CIFAR-10, 1024 pixel tokens, 10 classes (MetaLA Tab. 7)',
  options,
  metric: 'accuracy',
  check: () => [],
  vocabSize: () => 256,
  seqLen: () => 1024,
  numClasses: () => 10,
  makeData(o, seed) {
    const dir = o.data_dir ?? join(datasetCache(IMAGE_FOLDER), 'cifar-10-batches-bin');
    const all = readCifarBatches(CIFAR_TRAIN_FILES.map((f) => join(dir, f)));
    // Porting note: LRA slices TFDS's train split (train[:90%]); we slice the binary batches in file
    // order, which need not be TFDS's example order, so the 5 000 validation images may differ.
    const nTrain = Math.round(all.size * o.train_fraction);
    const idx = (from: number, to: number) => Int32Array.from({ length: to - from }, (_, i) => from + i);
    const sets = { train: subset(all, idx(0, nTrain)), val: subset(all, idx(nTrain, all.size)), test: readCifarBatches([join(dir, CIFAR_TEST_FILE)]) };
    return lraTaskData(sets, o, 1024, { train: seed, test: seed });
  },
  score: lraAccuracy,
});
