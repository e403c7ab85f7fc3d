// Loaders of the fetched LRA sets on fixtures we wrote in the official formats: IMDB (aclImdb folder
// layout, byte-level ids), AAN pairs (5-column TSV, two sequences per example), CIFAR-10 binary
// batches (grayscale as tf.image.rgb_to_grayscale, 45k/5k/10k style split), and the "missing data"
// errors that name `metala data fetch <name>`; the data-set registry lists every LRA set.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DATASETS, getDataset } from '../../../src/cli/datasets.js';
import { TASKS } from '../../../src/tasks/registry.js';
import { CIFAR_TEST_FILE, CIFAR_TRAIN_FILES, grayscale, readCifarBatches } from '../../../src/tasks/lra/image.js';
import { releaseMember } from '../../../src/tasks/lra/release.js';
import { readAanTsv } from '../../../src/tasks/lra/retrieval.js';
import { readImdbSplit } from '../../../src/tasks/lra/text.js';
import { Rng } from '../../../src/util/rng.js';

const FIX = join(import.meta.dirname, 'fixtures');
const bytes = (s: string) => [...Buffer.from(s, 'utf8')].map((b) => b + 1);

describe('LRA Text (IMDB)', () => {
  it('reads the aclImdb layout: neg = 0, pos = 1, UTF-8 bytes + 1, truncated to max_length', () => {
    const train = readImdbSplit(join(FIX, 'aclImdb'), 'train', 4096);
    expect(train.size).toBe(4);
    expect([0, 1, 2, 3].map((i) => train.label(i))).toEqual([0, 0, 1, 1]);
    expect([...train.tokens(0)]).toEqual(bytes('The plot goes nowhere and the dialogue is wooden. Two hours I will not get back.'));
    const test = readImdbSplit(join(FIX, 'aclImdb'), 'test', 10);
    expect(test.tokens(1).length).toBe(10);
    const def = TASKS.lra_text;
    const data = def.makeData(def.options.parse({ data_dir: join(FIX, 'aclImdb') }), 0);
    const b = [...data.test.batches(8)][0]!;
    expect(b.batch).toBe(2);
    expect(Math.max(...b.ids)).toBeLessThan(def.vocabSize(def.options.parse({})));
    expect(b.lengths![1]).toBe(Buffer.byteLength('Gorgeous photography and a score that lingers — café scenes included.'));
  });

  it('says how to fetch IMDB when it is missing', () => {
    const def = TASKS.lra_text;
    expect(() => def.makeData(def.options.parse({ data_dir: join(FIX, 'nothing') }), 0)).toThrow(/test\/neg: missing \(IMDB test\/neg reviews\)\. Run `metala data fetch lra-text`, or point task\.data_dir/);
  });
});

describe('LRA Retrieval (AAN)', () => {
  it('reads label/id/text pairs, unquoting CSV-quoted fields, into two towers', () => {
    const ex = readAanTsv(join(FIX, 'tsv_data', 'new_aan_pairs.train.tsv'), 4000);
    expect(ex.size).toBe(3);
    expect([0, 1, 2].map((i) => ex.label(i))).toEqual([1, 0, 1]);
    expect([...ex.tokens(2)]).toEqual(bytes('Lexical "semantic" features'));
    expect([...ex.tokens2!(0)]).toEqual(bytes('Parsing long sentences with a new chart method.'));
    const def = TASKS.lra_retrieval;
    const data = def.makeData(def.options.parse({ data_dir: join(FIX, 'tsv_data'), pad_multiple: 8 }), 0);
    const b = [...data.train.batches(3, new Rng(1))][0]!;
    expect(b.ids2!.length).toBe(b.ids.length);
    expect(b.seqLen % 8).toBe(0);
    expect(def.makeData(def.options.parse({ data_dir: join(FIX, 'tsv_data'), eval_split: 'val' }), 0).test.size).toBe(1);
  });

  it('rejects malformed rows with the line number and names the release when missing', () => {
    expect(() => readAanTsv(join(FIX, 'listops', 'basic_test.tsv'), 10)).toThrow(/line 1: expected 5 tab-separated columns/);
    const def = TASKS.lra_retrieval;
    expect(() => def.makeData(def.options.parse({ data_dir: join(FIX, 'nothing') }), 0)).toThrow(/Run `metala data fetch lra-release`/);
  });

  it('keeps only the release members the tasks read', () => {
    expect(releaseMember('lra_release/tsv_data/new_aan_pairs.train.tsv')).toBe('tsv_data/new_aan_pairs.train.tsv');
    expect(releaseMember('lra_release/listops-1000/basic_val.tsv')).toBe('listops-1000/basic_val.tsv');
    expect(releaseMember('lra_release/pathfinder128/curv_contour_length_14/imgs/3/sample_9.png')).toBe('pathfinder128/curv_contour_length_14/imgs/3/sample_9.png');
    expect(releaseMember('lra_release/pathfinder32/curv_baseline/imgs/0/sample_1.png')).toBeNull();
    expect(releaseMember('lra_release/tsv_data/other.tsv')).toBeNull();
  });
});

describe('LRA Image (CIFAR-10)', () => {
  /** Synthetic CIFAR binary batches: label byte + R, G, B planes of 1024 bytes. */
  function writeCifar(dir: string, perFile: number): Uint8Array[] {
    const rng = new Rng(4);
    const recs: Uint8Array[] = [];
    for (const f of [...CIFAR_TRAIN_FILES, CIFAR_TEST_FILE]) {
      const buf = new Uint8Array(perFile * 3073);
      for (let r = 0; r < perFile; r++) {
        const rec = buf.subarray(r * 3073, (r + 1) * 3073);
        rec[0] = rng.int(0, 10);
        for (let i = 1; i < 3073; i++) rec[i] = rng.int(0, 256);
        recs.push(rec);
      }
      writeFileSync(join(dir, f), buf);
    }
    return recs;
  }

  it('turns each record into 1024 grayscale tokens and splits train 90/10', () => {
    const dir = mkdtempSync(join(tmpdir(), 'metala-cifar-'));
    const recs = writeCifar(dir, 4);
    const train = readCifarBatches(CIFAR_TRAIN_FILES.map((f) => join(dir, f)));
    expect(train.size).toBe(20);
    const r0 = recs[0]!;
    expect(train.label(0)).toBe(r0[0]);
    // tf.image.rgb_to_grayscale then convert_image_dtype to uint8, written out independently here.
    const want = (i: number) => Math.trunc(((0.2989 * r0[1 + i]! + 0.587 * r0[1025 + i]! + 0.114 * r0[2049 + i]!) / 255) * 255.5);
    expect([...train.tokens(0).subarray(0, 64)]).toEqual(Array.from({ length: 64 }, (_, i) => want(i)));
    expect([grayscale(255, 255, 255), grayscale(0, 0, 0)]).toEqual([255, 0]);
    const def = TASKS.lra_image;
    const data = def.makeData(def.options.parse({ data_dir: dir }), 0);
    expect([data.train.size, data.test.size]).toEqual([18, 4]);
    expect(def.makeData(def.options.parse({ data_dir: dir, eval_split: 'val' }), 0).test.size).toBe(2);
    writeFileSync(join(dir, CIFAR_TEST_FILE), new Uint8Array(100));
    expect(() => readCifarBatches([join(dir, CIFAR_TEST_FILE)])).toThrow(/not a whole number of 3073-byte/);
    mkdirSync(join(dir, 'empty'));
    expect(() => def.makeData(def.options.parse({ data_dir: join(dir, 'empty') }), 0)).toThrow(/Run `metala data fetch lra-image`/);
  });
});

describe('data-set registry', () => {
  it('lists every LRA set with a way to make it', () => {
    for (const name of ['lra-listops', 'lra-pathfinder32', 'lra-pathfinder128', 'lra-release', 'lra-text', 'lra-image']) {
      const d = getDataset(name);
      expect(d.name).toBe(name);
      expect(d.make).toBeTypeOf('function');
      expect(d.check).toBeTypeOf('function');
      if (d.kind === 'fetched') expect(d.files!.length).toBeGreaterThan(0);
      for (const f of d.files ?? []) if (f.sha256 !== undefined) expect(f.sha256).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(Object.keys(DATASETS).length).toBeGreaterThanOrEqual(6);
    expect(() => getDataset('lra-listop')).toThrow(/Did you mean: lra-listops/);
  });
});
