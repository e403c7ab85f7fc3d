// Folder data sets end to end on generated JPEGs: ImageFolder and ILSVRC2012 layouts (both
// labels-file formats), the one-line errors (missing / malformed folder, empty class, bad labels
// line) and a corrupt JPEG that is skipped and counted while training batches keep coming.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { scanFlatVal, scanImageFolder } from '../../../src/tasks/image/folders.js';
import { imageOptions } from '../../../src/tasks/image/options.js';
import { makeImageData, scanFolders } from '../../../src/tasks/image/task.js';
import { imageClassification } from '../../../src/tasks/image/task.js';
import { InputError } from '../../../src/util/errors.js';
import { Rng } from '../../../src/util/rng.js';
import { CLASSES, ilsvrcFixture, imageFolderFixture, writeCorrupt } from './fixtures.js';

const roots: string[] = [];
const fixture = (r: string) => (roots.push(r), r);
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

const opts = (o: Record<string, unknown>) => imageOptions.parse({ image_size: 16, workers: 0, ...o });
const errorOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    expect((e as Error).message).not.toContain('\n');
    return (e as Error).message;
  }
  throw new Error('expected an InputError');
};

describe('ImageFolder layout', () => {
  it('lists classes sorted, labels by folder, and loads normalised batches', () => {
    const root = fixture(imageFolderFixture(4));
    const list = scanImageFolder(join(root, 'train'));
    expect(list.classes).toEqual(CLASSES);
    expect(list.paths).toHaveLength(12);
    expect([...list.labels]).toEqual([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]);
    const o = opts({ dataset: 'imagefolder', root });
    expect(imageClassification.numClasses!(o)).toBe(3);
    const data = makeImageData(o, 0, () => {});
    const batches = [...data.train.batches(5, new Rng(1))];
    expect(batches.map((b) => b.batch)).toEqual([5, 5, 2]);
    const b = batches[0]!;
    expect(b.imageShape).toEqual([16, 16, 3]);
    expect(b.pixels).toHaveLength(5 * 16 * 16 * 3);
    expect(b.labels).toHaveLength(5);
    expect(b.seqLen).toBe(1);
    expect(new Set(batches.flatMap((x) => [...x.labels]))).toEqual(new Set([0, 1, 2]));
    const test = [...data.test.batches(4)];
    expect(test.reduce((s, x) => s + x.batch, 0)).toBe(6);
    expect(data.stats().skipped).toBe(0);
    data.close();
  });
});

describe('ILSVRC2012 layout', () => {
  it.each(['csv', 'txt'] as const)('reads a flat val folder with a %s labels file', (format) => {
    const { root, labels } = ilsvrcFixture(format);
    fixture(root);
    const { train, val } = scanFolders(opts({ dataset: 'ilsvrc2012', root, val_dir: 'val_flat' }));
    expect(train.classes).toEqual(CLASSES);
    expect(val.paths.map((p) => p.split('/').pop())).toEqual(labels.map((_, i) => `ILSVRC2012_val_${String(i + 1).padStart(8, '0')}.JPEG`));
    expect([...val.labels]).toEqual(labels);
  });
  it('also accepts a val folder already sorted into synset folders', () => {
    const root = fixture(imageFolderFixture(2));
    const { val } = scanFolders(opts({ dataset: 'ilsvrc2012', root }));
    expect(val.paths).toHaveLength(6);
  });
});

describe('clear one-line errors', () => {
  it('missing root, missing split, files instead of class folders, empty class', () => {
    expect(errorOf(() => scanFolders(opts({ dataset: 'imagefolder', root: '/nonexistent/imagenet' })))).toMatch(/^\/nonexistent\/imagenet: data set folder not found/);
    const root = fixture(mkdtempSync(join(tmpdir(), 'metala-bad-')));
    expect(errorOf(() => scanImageFolder(join(root, 'train')))).toMatch(/train: image folder not found\. Expected <root>\/train\/<class>/);
    mkdirSync(join(root, 'train'));
    writeFileSync(join(root, 'train', 'loose.jpg'), 'x');
    expect(errorOf(() => scanImageFolder(join(root, 'train')))).toMatch(/no class sub-folders/);
    mkdirSync(join(root, 'train', 'cat'));
    writeFileSync(join(root, 'train', 'cat', 'notes.txt'), 'no images here');
    expect(errorOf(() => scanImageFolder(join(root, 'train')))).toMatch(/train\/cat: empty class \(no \.jpg\/\.jpeg files\)/);
  });
  it('a val class unknown to train, a malformed labels line, a missing labelled image, a class-count mismatch', () => {
    const root = fixture(imageFolderFixture(1));
    mkdirSync(join(root, 'val', 'n09999999'));
    expect(errorOf(() => scanImageFolder(join(root, 'val'), CLASSES))).toMatch(/class 'n09999999' is not among the 3 training classes/);
    const labels = join(root, 'labels.txt');
    writeFileSync(labels, 'a.JPEG 0\nthis line is wrong\n');
    expect(errorOf(() => scanFlatVal(join(root, 'train', CLASSES[0]!), labels, CLASSES))).toMatch(/labels\.txt:2: malformed line/);
    writeFileSync(labels, 'img_0.JPEG n07777777\n');
    expect(errorOf(() => scanFlatVal(join(root, 'train', CLASSES[0]!), labels, CLASSES))).toMatch(/labels\.txt:1: unknown class 'n07777777'/);
    writeFileSync(labels, 'img_0.JPEG 1\nimg_9.JPEG 2\n');
    expect(errorOf(() => scanFlatVal(join(root, 'train', CLASSES[0]!), labels, CLASSES))).toMatch(/1 images named in .*labels\.txt are missing/);
    rmSync(join(root, 'val', 'n09999999'), { recursive: true });
    expect(errorOf(() => scanFolders(opts({ dataset: 'imagefolder', root, num_classes: 1000 })))).toMatch(/3 class folders but task\.num_classes is 1000/);
  });
  it('requires task.root for folder data sets (a config-time problem with its key)', () => {
    expect(imageClassification.check(opts({ dataset: 'ilsvrc2012' }))).toEqual([expect.objectContaining({ path: ['root'] })]);
  });
});

describe('corrupt JPEGs', () => {
  it('are skipped and counted, not fatal; later epochs do not retry them', () => {
    const root = fixture(imageFolderFixture(3));
    writeCorrupt(join(root, 'train', CLASSES[1]!, 'broken.JPEG'), 'garbage');
    writeCorrupt(join(root, 'train', CLASSES[2]!, 'cut.JPEG'), 'truncated');
    const notices: string[] = [];
    const data = makeImageData(opts({ dataset: 'imagefolder', root }), 0, (s) => notices.push(s));
    expect(data.train.size).toBe(11);
    const epoch1 = [...data.train.batches(4, new Rng(5))];
    expect(epoch1).toHaveLength(3);
    expect(epoch1.reduce((s, b) => s + b.batch, 0)).toBe(9);
    expect(data.stats().skipped).toBe(2);
    expect(data.stats().skippedFiles.join(' ')).toMatch(/broken\.JPEG: not a JPEG/);
    expect(notices.filter((n) => n.includes('skipped unreadable image'))).toHaveLength(2);
    const epoch2 = [...data.train.batches(4, new Rng(6))];
    expect(epoch2.reduce((s, b) => s + b.batch, 0)).toBe(9);
    expect(data.stats().skipped).toBe(2);
    data.close();
  });
});
