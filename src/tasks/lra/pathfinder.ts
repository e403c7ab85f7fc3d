// LRA Pathfinder (32×32 = 1024 pixels) and Path-X (128×128 = 16384) tasks (MetaLA Tab. 7 / Tab. A4):
// is there a path between the two circles? Pixels are tokens 0–255 (LRA's image pipeline). Data:
// the official image layout (`<difficulty>/metadata/<batch>.npy` text rows + `imgs/<batch>/*.png`,
// as in the LRA release and written by `metala data lra-pathfinder<res>`), or generated in memory.
// Splits: a seeded random 80/10/10 (S4's PathFinderDataset, seed 42; LRA: 80/10/10).
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { datasetCache, missingData } from '../../data/paths.js';
import { decodePng, encodePngGray } from '../../data/png.js';
import { PackedBuilder, subset } from '../../data/sequences.js';
import type { Examples } from '../../data/sequences.js';
import { InputError } from '../../util/errors.js';
import { Rng } from '../../util/rng.js';
import { defineTask } from '../types.js';
import { generatedSeeds, lraAccuracy, lraCommonFields, lraTaskData, splitIndices } from './common.js';
import { DIFFICULTY_FOLDER, DISTRACTOR_RULES, generatePathfinder, lraSettings } from './pathfinder_gen.js';
import type { Difficulty, Resolution } from './pathfinder_gen.js';

export const PATHFINDER_FOLDER = 'lra_pathfinder';
export const pathfinderDataset = (res: number): string => `lra-pathfinder${res}`;
/** S4 drops this one unreadable image of the release. */
const BLACKLIST = new Set(['pathfinder32/curv_baseline/imgs/0/sample_172.png']);
/** Above this many pixels in total, images are decoded per batch instead of held in memory. */
const EAGER_PIXELS = 1 << 30;

/** Default folder of one resolution + difficulty: datasets/lra_pathfinder/cache/pathfinder32/curv_contour_length_14. */
export function pathfinderDir(res: number, difficulty: Difficulty): string {
  return join(datasetCache(PATHFINDER_FOLDER), `pathfinder${res}`, DIFFICULTY_FOLDER[difficulty]);
}

/** One metadata row (snakes2 accumulate_meta): subpath, file, index, label, then the generator settings. */
export function metadataRow(batch: number, i: number, label: number, s: ReturnType<typeof lraSettings>, margin: number): string {
  return [`imgs/${batch}`, `sample_${i}.png`, i, label, s.continuity, s.contourLength, s.distractorLength, s.paddleLength, s.paddleThickness, margin, s.paddleContrast.length].join(' ');
}

/** Reads every metadata file of a difficulty folder: image paths and labels, in file order. */
export function readPathfinderIndex(dir: string, res: number): { files: string[]; labels: Int32Array } {
  const metaDir = join(dir, 'metadata');
  if (!existsSync(metaDir)) throw missingData(metaDir, `Pathfinder ${res}×${res} metadata`, pathfinderDataset(res), 'generated');
  const metas = readdirSync(metaDir).filter((f) => f.endsWith('.npy')).sort((a, b) => Number.parseInt(a, 10) - Number.parseInt(b, 10));
  const files: string[] = [];
  const labels: number[] = [];
  const tail = dir.split(/[\\/]/).slice(-2).join('/');
  for (const m of metas) {
    const lines = readFileSync(join(metaDir, m), 'utf8').split(/\r?\n/);
    lines.forEach((line, i) => {
      if (line.trim() === '') return;
      const f = line.trim().split(/\s+/);
      const label = Number(f[3]);
      if (f.length < 4 || (label !== 0 && label !== 1)) throw new InputError(`${join(metaDir, m)}: line ${i + 1}: expected 'subpath file index label …' with label 0 or 1`);
      if (BLACKLIST.has(`${tail}/${f[0]}/${f[1]}`)) return;
      files.push(join(dir, f[0]!, f[1]!));
      labels.push(label);
    });
  }
  if (files.length === 0) throw new InputError(`${metaDir}: no metadata rows. Regenerate with \`metala data ${pathfinderDataset(res)}\``);
  return { files, labels: Int32Array.from(labels) };
}

function readImage(file: string, res: number): Uint8Array {
  if (!existsSync(file)) throw new InputError(`${file}: image listed in the metadata is missing. Regenerate or re-fetch the data set`);
  let img;
  try {
    img = decodePng(readFileSync(file));
  } catch (e) {
    throw new InputError(`${file}: ${(e as Error).message}`);
  }
  if (img.width !== res || img.height !== res) throw new InputError(`${file}: ${img.width}×${img.height} image, expected ${res}×${res}. Set task.resolution to match`);
  return img.data;
}

/** All examples of a folder: decoded now when they fit EAGER_PIXELS, else decoded per access. */
export function loadPathfinderFolder(dir: string, res: number): Examples {
  const { files, labels } = readPathfinderIndex(dir, res);
  if (files.length * res * res <= EAGER_PIXELS) {
    const b = new PackedBuilder(8);
    files.forEach((f, i) => b.push(readImage(f, res), labels[i]!));
    return b.build();
  }
  return { size: files.length, label: (i) => labels[i]!, tokens: (i) => readImage(files[i]!, res) };
}

/**
 * `metala data lra-pathfinder<res>`: writes `count` images (LRA: 200 000) of one difficulty into
 * `<dir>/pathfinder<res>/<difficulty folder>/` in the official layout, 1000 per batch folder.
 */
export async function makePathfinderFiles(root: string, res: Resolution, difficulty: Difficulty, seed: number, count: number, log: (s: string) => void): Promise<string> {
  const s = lraSettings(res, difficulty);
  const dir = join(root, `pathfinder${res}`, DIFFICULTY_FOLDER[difficulty]);
  const rng = new Rng(seed);
  const perBatch = 1000;
  const t0 = Date.now();
  for (let batch = 0; batch * perBatch < count; batch++) {
    const n = Math.min(perBatch, count - batch * perBatch);
    await mkdir(join(dir, 'imgs', String(batch)), { recursive: true });
    await mkdir(join(dir, 'metadata'), { recursive: true });
    const rows: string[] = [];
    for (let i = 0; i < n; i++) {
      const ex = generatePathfinder(rng, s);
      await writeFile(join(dir, 'imgs', String(batch), `sample_${i}.png`), encodePngGray({ width: res, height: res, data: ex.image }));
      rows.push(metadataRow(batch, i, ex.label, s, ex.margin));
    }
    await writeFile(join(dir, 'metadata', `${batch}.npy`), `${rows.join('\n')}\n`);
    const done = batch * perBatch + n;
    log(`pathfinder${res}/${DIFFICULTY_FOLDER[difficulty]}: ${done}/${count} images (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
  }
  return `Pathfinder ${res}×${res} ${difficulty}: ${count} images in ${dir}`;
}

const options = z
  .object({
    /** `files`: the official image layout in data_dir; `generated`: images drawn in memory (seeded). */
    source: z.enum(['files', 'generated']).default('files'),
    ...lraCommonFields,
    /** 32 = Pathfinder, 128 = Path-X (LRA); 64 and 256 also exist upstream. */
    resolution: z.union([z.literal(32), z.literal(64), z.literal(128), z.literal(256)]).default(32),
    /** LRA uses `hard` (curv_contour_length_14) for both Pathfinder and Path-X. */
    difficulty: z.enum(['easy', 'intermediate', 'hard']).default('hard'),
    /**
     * Generated source: the distractor-snake count, `docstring` (LRA's docstrings: 5 at 32 px hard) or
     * `wrapper` (snakes2_wrapper.py as published, which never resets it per contour length: 10).
     * Absent = `docstring`.
     */
    // Optional rather than defaulted, so runs from before the option keep their run ids.
    distractors: z.enum(DISTRACTOR_RULES).optional(),
    /** Seed of the 80/10/10 split of files (S4: 42). */
    split_seed: z.number().int().min(0).default(42),
    /** Generated source: images per split. */
    train_examples: z.number().int().positive().default(160_000),
    test_examples: z.number().int().positive().default(20_000),
  })
  .strict();

export type PathfinderOptions = z.output<typeof options>;

function generated(n: number, seed: number, o: PathfinderOptions): Examples {
  const s = lraSettings(o.resolution, o.difficulty, o.distractors);
  const rng = new Rng(seed);
  const b = new PackedBuilder(8);
  for (let i = 0; i < n; i++) {
    const ex = generatePathfinder(rng, s);
    b.push(ex.image, ex.label);
  }
  return b.build();
}

export const lraPathfinder = defineTask({
  name: 'lra_pathfinder',
  description: 'LRA Pathfinder (32×32) / Path-X (resolution 128): are the two circles connected? 1K / 16K pixels (MetaLA Tab. 7)',
  options,
  metric: 'accuracy',
  // task.distractors changes how images are drawn, so it means nothing for files already drawn.
  check: (o) =>
    o.distractors !== undefined && o.source !== 'generated'
      ? [{ path: ['distractors'], message: 'applies only to source: generated (files already fix their distractors). Set task.source: generated, or remove task.distractors' }]
      : [],
  vocabSize: () => 256,
  seqLen: (o) => o.resolution * o.resolution,
  numClasses: () => 2,
  makeData(o, seed) {
    const T = o.resolution * o.resolution;
    if (o.source === 'generated') {
      const seeds = generatedSeeds(seed);
      const test = generated(o.test_examples, seeds.test, o);
      // A validation split of the test split's size, from its own seed (LRA: 80/10/10).
      const val = generated(o.test_examples, seeds.val, o);
      return lraTaskData({ train: generated(o.train_examples, seeds.train, o), val, test }, o, T, { train: seeds.train, test: seeds.test });
    }
    const dir = o.data_dir ?? pathfinderDir(o.resolution, o.difficulty);
    const all = loadPathfinderFolder(dir, o.resolution);
    const sp = splitIndices(all.size, o.split_seed);
    return lraTaskData({ train: subset(all, sp.train), val: subset(all, sp.val), test: subset(all, sp.test) }, o, T, { train: o.split_seed, test: o.split_seed });
  },
  score: lraAccuracy,
});
