// Image classification (MetaLA Tab. 6, paper-metala.md §5.5): ImageNet-1k in ImageFolder or
// ILSVRC2012 layout, or the built-in MNIST / Fashion-MNIST, through one pipeline (decode →
// DeiT transform → normalised [B, S, S, C] pixels, one label per image). Metric: top-1 accuracy.
// The loop counts `seqLen` = 1 unit per image, so its throughput (progress bar, eval line, the
// summary's tokens_per_s) is images/s, labelled img/s (throughputUnit).
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../../util/errors.js';
import { Rng } from '../../util/rng.js';
import { defineTask, type MetricResult, type TaskData } from '../types.js';
import { classFolders, scanFlatVal, scanImageFolder, type FileList } from './folders.js';
import { loadSmallDataset, type SmallDataset } from './idx.js';
import type { ImageSource, RawSource } from './jobs.js';
import { imageOptions, imageProblems, imageSpec, isFolderDataset, workerCount, type ImageOptions } from './options.js';
import { InlineLoader, WorkerPool, defaultWorkerScript, type Loader } from './pool.js';
import { ImageSplit, type PipelineContext, type PipelineStats } from './split.js';

export interface ImageTaskData extends TaskData {
  classes: string[];
  /** Decode threads actually running (0 = main thread). */
  workers: number;
  stats(): PipelineStats;
  /** Stop the decode workers (they never keep the process alive, but tests tidy up). */
  close(): void;
}

const VAL_LABEL_FILES = ['LOC_val_solution.csv', 'val.txt', 'val_labels.txt'];

/** Seeded subset of n indices out of total, kept in their original order. */
function subset(total: number, n: number | undefined, seed: number): number[] {
  const all = Array.from({ length: total }, (_, i) => i);
  if (n === undefined || n >= total) return all;
  return new Rng(seed).shuffle(all).slice(0, n).sort((a, b) => a - b);
}

/** In-memory split on a SharedArrayBuffer (workers read it without copies). */
function rawSplit(name: SmallDataset, split: 'train' | 't10k', o: ImageOptions, n: number | undefined, seed: number): { src: RawSource; labels: Int32Array } {
  const d = loadSmallDataset(name, split, o.root);
  const keep = subset(d.n, n, seed);
  const per = d.height * d.width;
  const data = new Uint8Array(new SharedArrayBuffer(keep.length * per));
  keep.forEach((i, j) => data.set(d.images.subarray(i * per, (i + 1) * per), j * per));
  return { src: { kind: 'raw', data, n: keep.length, height: d.height, width: d.width, channels: 1 }, labels: Int32Array.from(keep, (i) => d.labels[i]!) };
}

function fileSplit(list: FileList, n: number | undefined, seed: number): { src: ImageSource; labels: Int32Array } {
  const keep = subset(list.paths.length, n, seed);
  return { src: { kind: 'files', paths: keep.map((i) => list.paths[i]!) }, labels: Int32Array.from(keep, (i) => list.labels[i]!) };
}

/** Train and val file lists of a folder data set. */
export function scanFolders(o: ImageOptions): { train: FileList; val: FileList } {
  const root = o.root!;
  if (!existsSync(root)) throw new InputError(`${root}: data set folder not found (task.root). See datasets/imagenet/README.md for the expected layout`);
  const train = scanImageFolder(join(root, o.train_dir));
  const valDir = join(root, o.val_dir);
  let val: FileList;
  if (o.dataset === 'ilsvrc2012' && existsSync(valDir) && classFolders(valDir).length === 0) {
    const labels = o.val_labels ?? VAL_LABEL_FILES.map((f) => join(root, f)).find((f) => existsSync(f));
    if (labels === undefined) throw new InputError(`${valDir}: flat ILSVRC2012 val folder but no labels file (looked for ${VAL_LABEL_FILES.join(', ')} in ${root}). Set task.val_labels`);
    val = scanFlatVal(valDir, labels, train.classes);
  } else val = scanImageFolder(valDir, train.classes);
  if (o.num_classes !== undefined && o.num_classes !== train.classes.length) {
    throw new InputError(`${join(root, o.train_dir)}: ${train.classes.length} class folders but task.num_classes is ${o.num_classes}. Fix num_classes or the folder`);
  }
  return { train, val };
}

function classCount(o: ImageOptions): number {
  if (!isFolderDataset(o)) return 10;
  if (o.num_classes !== undefined) return o.num_classes;
  const dir = join(o.root!, o.train_dir);
  if (!existsSync(dir)) throw new InputError(`${dir}: training folder not found, so the class count is unknown. Fix task.root or set task.num_classes`);
  return readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).length;
}

function makeLoader(o: ImageOptions, ctxSpec: ReturnType<typeof imageSpec>, raws: RawSource[], notice: (s: string) => void): Loader {
  const want = workerCount(o);
  if (want === 0) return new InlineLoader(ctxSpec, raws);
  const script = defaultWorkerScript();
  if (script === undefined) {
    notice(`image: no compiled decode worker beside this module (source or single-file build); decoding on the main thread`);
    return new InlineLoader(ctxSpec, raws);
  }
  try {
    return new WorkerPool(script, want, ctxSpec, raws);
  } catch (e) {
    notice(`image: ${(e as Error).message}; decoding on the main thread`);
    return new InlineLoader(ctxSpec, raws);
  }
}

/** Load both splits and start the decode workers. `notice` gets one-line warnings (default: stderr). */
export function makeImageData(o: ImageOptions, seed: number, notice: (s: string) => void = (s) => process.stderr.write(`metala: ${s}\n`)): ImageTaskData {
  const spec = imageSpec(o);
  let train: { src: ImageSource; labels: Int32Array };
  let test: { src: ImageSource; labels: Int32Array };
  let classes: string[];
  if (isFolderDataset(o)) {
    const lists = scanFolders(o);
    const ignored = lists.train.ignored + lists.val.ignored;
    if (ignored > 0) notice(`image: ${ignored} non-JPEG or unlabelled files in ${o.root} ignored`);
    train = fileSplit(lists.train, o.train_examples, seed);
    test = fileSplit(lists.val, o.test_examples, seed + 1);
    classes = lists.train.classes;
  } else {
    const name = o.dataset as SmallDataset;
    train = rawSplit(name, 'train', o, o.train_examples, seed);
    test = rawSplit(name, 't10k', o, o.test_examples, seed + 1);
    classes = Array.from({ length: 10 }, (_, i) => String(i));
  }
  // One loader for both splits; in-memory sources are shared with the workers as [train, test].
  const raws = [train.src, test.src].filter((s): s is RawSource => s.kind === 'raw');
  const stats: PipelineStats = { images: 0, skipped: 0, skippedFiles: [], decodeSeconds: 0, waitSeconds: 0 };
  const ctx: PipelineContext = {
    loader: makeLoader(o, spec, raws, notice),
    spec,
    prefetch: o.prefetch,
    stats,
    nextJobId: 0,
    onSkip: (reason, total) => {
      if (total <= 10 || Number.isInteger(Math.log10(total))) notice(`image: skipped unreadable image ${reason} (${total} skipped so far)`);
    },
  };
  return {
    train: new ImageSplit(ctx, train.src, train.labels, true, 0),
    test: new ImageSplit(ctx, test.src, test.labels, false, 1),
    seeds: { train: seed, test: seed + 1 },
    classes,
    workers: ctx.loader.workers,
    stats: () => ({ ...stats, skippedFiles: [...stats.skippedFiles] }),
    close: () => ctx.loader.close(),
  };
}

export const imageClassification = defineTask({
  name: 'image_classification',
  description: 'image classification (MetaLA Tab. 6): ImageNet folders (ImageFolder / ILSVRC2012) with the DeiT recipe, or MNIST / Fashion-MNIST offline',
  options: imageOptions,
  metric: 'accuracy',
  check: imageProblems,
  vocabSize: (o) => classCount(o),
  seqLen: () => 1,
  throughputUnit: 'img',
  numClasses: (o) => classCount(o),
  makeData: (o, seed) => makeImageData(o, seed),
  score(preds: Int32Array, labels: Int32Array): MetricResult {
    let correct = 0;
    for (let i = 0; i < labels.length; i++) if (preds[i] === labels[i]) correct++;
    return { correct, total: labels.length, accuracy: labels.length === 0 ? Number.NaN : correct / labels.length };
  },
});
