// A split of an image data set as the training loop sees it: shuffled (train) or fixed (eval)
// batches of normalised pixels [B, S, S, C] with one label per image. Jobs for the next
// `prefetch` batches are queued ahead on the loader, so decoding overlaps training. Skipped
// (corrupt) images shrink their batch and are counted; the batch count per epoch never changes.
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
   * One epoch of batches. Train: order and per-image augmentation seeds from `rng`; eval: fixed order.
   * The batch's `seqLen` is 1 (one supervised unit per image), so the loop's tokens/s is images/s.
   */
  *batches(batchSize: number, rng?: Rng): Generator<Batch> {
    const { ctx } = this;
    const n = this.size;
    const order = Array.from({ length: n }, (_, i) => i);
    if (this.training && rng !== undefined) rng.shuffle(order);
    const nb = Math.ceil(n / batchSize);
    const S = ctx.spec.size;
    const C = ctx.spec.channels;
    const inFlight: { id: number; members: number[] }[] = [];
    let submitted = 0;
    const submit = () => {
      const members = order.slice(submitted * batchSize, (submitted + 1) * batchSize).filter((i) => !this.bad.has(i));
      const src = this.source;
      const items = members.map((i) => ({ ref: src.kind === 'raw' ? i : src.paths[i]!, seed: rng !== undefined && this.training ? rng.u32() : 0 }));
      const job: Job = { id: ctx.nextJobId++, training: this.training, source: this.rawIndex, items };
      ctx.loader.submit(job);
      inFlight.push({ id: job.id, members });
      submitted++;
    };
    try {
      for (let b = 0; b < nb; b++) {
        while (submitted < nb && submitted < b + 1 + ctx.prefetch) submit();
        const { id, members } = inFlight.shift()!;
        const t0 = performance.now();
        const r = ctx.loader.take(id);
        ctx.stats.waitSeconds += (performance.now() - t0) / 1000;
        ctx.stats.decodeSeconds += r.seconds;
        const labels: number[] = [];
        for (let j = 0; j < members.length; j++) {
          if (r.ok[j] === 1) labels.push(this.labels[members[j]!]!);
          else this.bad.add(members[j]!);
        }
        for (const e of r.errors) {
          ctx.stats.skipped++;
          if (ctx.stats.skippedFiles.length < 100) ctx.stats.skippedFiles.push(e);
          ctx.onSkip(e, ctx.stats.skipped);
        }
        ctx.stats.images += labels.length;
        if (labels.length === 0) continue;
        yield { ids: new Int32Array(0), labels: Int32Array.from(labels), batch: labels.length, seqLen: 1, pixels: r.pixels, imageShape: [S, S, C] };
      }
    } finally {
      // An epoch left early (end of training): its queued results are dropped on arrival.
      ctx.loader.cancel(inFlight.map((f) => f.id));
    }
  }
}
