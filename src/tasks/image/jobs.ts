// One unit of data-loading work: decode and transform the images of one batch. Pure and
// self-contained, so a decode worker (worker.ts) and the main thread (workers: 0) run the same code.
// Unreadable images are skipped and reported back, never thrown.
import { readFileSync } from 'node:fs';
import { transformImage, type ImageSpec } from './augment.js';
import { CorruptImageError, decodeJpeg, toChannels, type RawImage } from './decode.js';

/** Images held in memory: [n, height, width, channels] uint8 (MNIST, Fashion-MNIST). */
export interface RawSource {
  kind: 'raw';
  data: Uint8Array;
  n: number;
  height: number;
  width: number;
  channels: number;
}

/** JPEG files on disk; a job names them by path. */
export interface FileSource {
  kind: 'files';
  paths: string[];
}

export type ImageSource = RawSource | FileSource;

export interface Job {
  id: number;
  training: boolean;
  /** Which in-memory source integer refs index (the pipeline's list of raw sources). */
  source: number;
  /** Per image: index into the source (raw) or file path (files), and its augmentation seed. */
  items: { ref: number | string; seed: number }[];
}

export interface JobResult {
  id: number;
  /** [k, S, S, C] for the k images that decoded, in item order. */
  pixels: Float32Array;
  /** 1 where the item decoded, 0 where it was skipped. */
  ok: Uint8Array;
  /** Reasons for the skipped items (same order as the zeros of `ok`). */
  errors: string[];
  /** Seconds spent decoding + transforming. */
  seconds: number;
  /** A bug (not a bad image) that stopped the job: the message with its stack. */
  fatal?: string;
}

function rawImage(src: RawSource, i: number): RawImage {
  const n = src.height * src.width * src.channels;
  return { data: src.data.subarray(i * n, (i + 1) * n), width: src.width, height: src.height, channels: src.channels };
}

/** Decode + transform every item of a job. `raws` are the in-memory sources integer refs index. */
export function runJob(job: Job, spec: ImageSpec, raws: readonly RawSource[]): JobResult {
  const t0 = performance.now();
  const per = spec.size * spec.size * spec.channels;
  const buf = new Float32Array(job.items.length * per);
  const ok = new Uint8Array(job.items.length);
  const errors: string[] = [];
  let k = 0;
  for (const [j, item] of job.items.entries()) {
    let img: RawImage;
    if (typeof item.ref === 'number') {
      const raw = raws[job.source];
      if (raw === undefined) throw new Error(`internal: image job names raw source ${job.source} of ${raws.length}`);
      img = rawImage(raw, item.ref);
    } else {
      try {
        img = decodeJpeg(readFileSync(item.ref));
      } catch (e) {
        // Bad bytes or a file that vanished/became unreadable: skip and count, never fatal.
        const code = (e as NodeJS.ErrnoException).code;
        if (!(e instanceof CorruptImageError) && code === undefined) throw e;
        errors.push(`${item.ref}: ${(e as Error).message}`);
        continue;
      }
    }
    buf.set(transformImage(toChannels(img, spec.channels), spec, job.training, item.seed), k * per);
    ok[j] = 1;
    k++;
  }
  // Hand back only the decoded part (transferred, not copied, from a worker).
  const pixels = k === job.items.length ? buf : buf.slice(0, k * per);
  return { id: job.id, pixels, ok, errors, seconds: (performance.now() - t0) / 1000 };
}
