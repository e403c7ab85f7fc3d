// Decoding off the main thread: the worker entry (src/tasks/image/worker.ts, bundled here with
// esbuild since vitest runs TypeScript sources) must give exactly the batches the main thread
// gives under the same seeds, survive an epoch abandoned mid-way, skip corrupt files, and decode
// nothing for batches the loop passes over when it replays an epoch on resume.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Batch } from '../../../src/tasks/types.js';
import { imageOptions } from '../../../src/tasks/image/options.js';
import { makeImageData } from '../../../src/tasks/image/task.js';
import { Rng } from '../../../src/util/rng.js';
import { CLASSES, imageFolderFixture, writeCorrupt } from './fixtures.js';

let tmp: string;
let root: string;
const prevEnv = process.env['METALA_IMAGE_WORKER'];

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'metala-worker-'));
  const { build } = await import('esbuild');
  const script = join(tmp, 'worker.cjs');
  await build({ entryPoints: ['src/tasks/image/worker.ts'], bundle: true, platform: 'node', format: 'cjs', target: 'node20', outfile: script, logLevel: 'silent' });
  process.env['METALA_IMAGE_WORKER'] = script;
  root = imageFolderFixture(5);
  writeCorrupt(join(root, 'train', CLASSES[0]!, 'zz_bad.JPEG'), 'garbage');
});
afterAll(() => {
  if (prevEnv === undefined) delete process.env['METALA_IMAGE_WORKER'];
  else process.env['METALA_IMAGE_WORKER'] = prevEnv;
  rmSync(tmp, { recursive: true, force: true });
  rmSync(root, { recursive: true, force: true });
});

const snapshot = (bs: Batch[]) => bs.map((b) => ({ labels: [...b.labels], pixels: Array.from(b.pixels!.subarray(0, 64)), n: b.pixels!.length }));

describe('WorkerPool', () => {
  it('gives the same augmented batches as the main thread, with prefetch, and skips the corrupt file', () => {
    const o = (workers: number) => imageOptions.parse({ dataset: 'imagefolder', root, image_size: 16, workers, prefetch: 2 });
    const inline = makeImageData(o(0), 3, () => {});
    const pooled = makeImageData(o(2), 3, () => {});
    expect(pooled.workers).toBe(2);
    for (const epoch of [1, 2]) {
      const a = [...inline.train.batches(4, new Rng(epoch))];
      const b = [...pooled.train.batches(4, new Rng(epoch))];
      expect(b.map((x) => x.batch)).toEqual(a.map((x) => x.batch));
      expect(snapshot(b)).toEqual(snapshot(a));
    }
    expect(snapshot([...pooled.test.batches(4)])).toEqual(snapshot([...inline.test.batches(4)]));
    expect(pooled.stats().skipped).toBe(1);
    expect(pooled.stats().images).toBe(inline.stats().images);
    inline.close();
    pooled.close();
  });

  it('drops the queued results of an abandoned epoch and keeps serving later ones', () => {
    const data = makeImageData(imageOptions.parse({ dataset: 'imagefolder', root, image_size: 16, workers: 2, prefetch: 3 }), 0, () => {});
    const it1 = data.train.batches(2, new Rng(1)) as Generator<unknown>;
    expect(it1.next().done).toBe(false);
    it1.return(undefined);
    const evalRun = [...data.test.batches(2)];
    expect(evalRun.reduce((s, b) => s + b.batch, 0)).toBe(6);
    const full = [...data.train.batches(2, new Rng(2))];
    expect(full.reduce((s, b) => s + b.batch, 0)).toBe(15);
    data.close();
  });

  it('decodes nothing for batches passed over unread (resume replay); the rest match an uninterrupted epoch', () => {
    const o = imageOptions.parse({ dataset: 'imagefolder', root, image_size: 16, workers: 2, prefetch: 2 });
    const full = makeImageData(o, 3, () => {});
    const whole = snapshot([...full.train.batches(2, new Rng(9))]);
    const resumed = makeImageData(o, 3, () => {});
    const gen = resumed.train.batches(2, new Rng(9)) as Generator<Batch>;
    for (let k = 0; k < 3; k++) expect(gen.next().done).toBe(false);
    expect(resumed.stats().images).toBe(0);
    expect(snapshot([...gen])).toEqual(whole.slice(3));
    full.close();
    resumed.close();
  });

  it('runs MNIST from shared memory in workers', () => {
    const data = makeImageData(imageOptions.parse({ train_examples: 64, test_examples: 16, workers: 1 }), 1, () => {});
    const inline = makeImageData(imageOptions.parse({ train_examples: 64, test_examples: 16, workers: 0 }), 1, () => {});
    expect(snapshot([...data.test.batches(8)])).toEqual(snapshot([...inline.test.batches(8)]));
    expect(snapshot([...data.train.batches(32, new Rng(4))])).toEqual(snapshot([...inline.train.batches(32, new Rng(4))]));
    data.close();
    inline.close();
  });
});
