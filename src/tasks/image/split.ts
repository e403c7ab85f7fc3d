// A split of an image data set as the training loop sees it: shuffled (train) or fixed (eval)
// batches of normalised pixels [B, S, S, C] with one label per image. Batches are lazy: reading
// `pixels`/`labels`/`batch` decodes them, and queues the next `prefetch` batches on the loader so
// decoding overlaps training. A batch skipped unread (the loop replaying an epoch on resume) costs
// nothing, and per-image seeds depend only on the epoch and the position, so a resumed run sees the
// same pixels. Unreadable images shrink their batch and are counted; batches per epoch never change.
import { RunError } from '../../util/errors.js';
import type { Rng } from '../../util/rng.js';
import type { Batch } from '../types.js';
import type { ImageSpec } from './augment.js';
import type { ImageSource, Job } from './jobs.js';
import type { Loader } from './pool.js';

export interface PipelineStats {
  /** Images decoded and transformed. */
  images: number;
  /** Images skipped because they could not be read or decoded. */
  skipped: number;
  /** The first skipped files with their reasons. */
  skippedFiles: string[];
  /** Seconds of decode work (summed over workers). */
  decodeSeconds: number;
  /** Seconds the main thread waited for data (≈0 when the prefetch keeps up). */
  waitSeconds: number;
}

/** One loader and one set of counters shared by the splits of a data set. */
export interface PipelineContext {
  loader: Loader;
  spec: ImageSpec;
  /** Batches in flight ahead of the one being consumed. */
  prefetch: number;
  stats: PipelineStats;
  nextJobId: number;
  /** Called once per newly skipped file. */
  onSkip(reason: string, total: number): void;
}

/** Seed of the image at `position` of an epoch (splitmix32 of the epoch seed and the position). */
export function imageSeed(epochSeed: number, position: number): number {
  let z = (epochSeed + Math.imul(position + 1, 0x9e3779b9)) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

export class ImageSplit {
  /** Files known to be unreadable: not sent again in later epochs. */
  private readonly bad = new Set<number>();

  constructor(
    private readonly ctx: PipelineContext,
    private readonly source: ImageSource,
    private readonly labels: Int32Array,
    private readonly training: boolean,
    /** Index of `source` among the loader's in-memory sources (raw sources only). */
    private readonly rawIndex = 0,
  ) {}

  get size(): number {
    return this.labels.length;
  }

  /**
   * One epoch of batches. Train: order and augmentation seeds from `rng`; eval: fixed order.
   * The batch's `seqLen` is 1 (one supervised unit per image), so the loop's tokens/s is images/s.
   */
  *batches(batchSize: number, rng?: Rng): Generator<Batch> {
    const { ctx } = this;
    const train = this.training && rng !== undefined;
    const order = Array.from({ length: this.size }, (_, i) => i);
    if (train) rng.shuffle(order);
    const epochSeed = train ? rng.u32() : 0;
    const nb = Math.ceil(this.size / batchSize);
    const S = ctx.spec.size;
    const C = ctx.spec.channels;
    /** Submitted, not yet taken: batch index → job id and the images it holds. */
    const pending = new Map<number, { id: number; members: number[] }>();
    const submit = (b: number) => {
      if (pending.has(b)) return;
      const members: number[] = [];
      const items: Job['items'] = [];
      for (let p = b * batchSize; p < Math.min(this.size, (b + 1) * batchSize); p++) {
        const i = order[p]!;
        if (this.bad.has(i)) continue;
        members.push(i);
        items.push({ ref: this.source.kind === 'raw' ? i : this.source.paths[i]!, seed: train ? imageSeed(epochSeed, p) : 0 });
      }
      const job: Job = { id: ctx.nextJobId++, training: this.training, source: this.rawIndex, items };
      ctx.loader.submit(job);
      pending.set(b, { id: job.id, members });
    };
    const resolve = (b: number): { pixels: Float32Array; labels: Int32Array } => {
      for (let k = b; k < Math.min(nb, b + 1 + ctx.prefetch); k++) submit(k);
      const { id, members } = pending.get(b)!;
      pending.delete(b);
      const t0 = performance.now();
      const r = ctx.loader.take(id);
      ctx.stats.waitSeconds += (performance.now() - t0) / 1000;
      ctx.stats.decodeSeconds += r.seconds;
      const labels: number[] = [];
      members.forEach((i, j) => (r.ok[j] === 1 ? labels.push(this.labels[i]!) : this.bad.add(i)));
      for (const e of r.errors) {
        ctx.stats.skipped++;
        if (ctx.stats.skippedFiles.length < 100) ctx.stats.skippedFiles.push(e);
        ctx.onSkip(e, ctx.stats.skipped);
      }
      if (labels.length === 0) throw new RunError(`image data: every image of batch ${b + 1} is unreadable (e.g. ${r.errors[0] ?? 'none'}). Check the data set folder`);
      ctx.stats.images += labels.length;
      return { pixels: r.pixels, labels: Int32Array.from(labels) };
    };
    try {
      for (let b = 0; b < nb; b++) {
        let data: { pixels: Float32Array; labels: Int32Array } | undefined;
        const get = () => (data ??= resolve(b));
        yield {
          ids: new Int32Array(0),
          seqLen: 1,
          imageShape: [S, S, C],
          get pixels() {
            return get().pixels;
          },
          get labels() {
            return get().labels;
          },
          get batch() {
            return get().labels.length;
          },
        };
        // Passed over unread (resume replay): drop its queued job, if any.
        const skipped = pending.get(b);
        if (skipped !== undefined) {
          ctx.loader.cancel([skipped.id]);
          pending.delete(b);
        }
      }
    } finally {
      // An epoch left early (end of training): its queued results are dropped on arrival.
      ctx.loader.cancel([...pending.values()].map((p) => p.id));
    }
  }
}
