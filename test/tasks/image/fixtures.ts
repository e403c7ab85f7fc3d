// Tiny image data sets written at test time: JPEGs encoded with jpeg-js (our own synthetic
// pictures, no benchmark data), in ImageFolder and ILSVRC2012 layouts, plus a corrupt file.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jpeg from 'jpeg-js';

/** A w×h JPEG whose colour depends on the class (so classes are separable) and the index. */
export function makeJpeg(cls: number, i: number, w = 40, h = 30): Buffer {
  const data = Buffer.alloc(w * h * 4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = 4 * (y * w + x);
      data[o] = (cls * 90 + x * 3) % 256;
      data[o + 1] = (i * 17 + y * 5) % 256;
      data[o + 2] = (cls * 40 + ((x + y) % 2) * 60) % 256;
      data[o + 3] = 255;
    }
  }
  return jpeg.encode({ width: w, height: h, data }, 90).data;
}

export const CLASSES = ['n01000001', 'n01000002', 'n01000003'];

/** root/{train,val}/<class>/img_<i>.jpg: `perClass` train images, 2 val images per class. */
export function imageFolderFixture(perClass = 4): string {
  const root = mkdtempSync(join(tmpdir(), 'metala-imgfolder-'));
  CLASSES.forEach((c, k) => {
    for (const [split, n] of [['train', perClass], ['val', 2]] as const) {
      mkdirSync(join(root, split, c), { recursive: true });
      for (let i = 0; i < n; i++) writeFileSync(join(root, split, c, `img_${i}.JPEG`), makeJpeg(k, i));
    }
  });
  return root;
}

/**
 * ILSVRC2012 layout: train synset folders, a flat val/ with ILSVRC2012_val_<n>.JPEG and a labels file
 * in the chosen format (`csv` = Kaggle LOC_val_solution.csv, `txt` = '<file> <index>' lines).
 */
export function ilsvrcFixture(format: 'csv' | 'txt'): { root: string; labels: number[] } {
  const root = imageFolderFixture(3);
  const flat = join(root, 'val_flat');
  mkdirSync(flat);
  const labels = [2, 0, 1, 1, 0];
  const lines = format === 'csv' ? ['ImageId,PredictionString'] : [];
  labels.forEach((y, i) => {
    const stem = `ILSVRC2012_val_${String(i + 1).padStart(8, '0')}`;
    writeFileSync(join(flat, `${stem}.JPEG`), makeJpeg(y, i));
    lines.push(format === 'csv' ? `${stem},${CLASSES[y]} 10 10 30 30` : `${stem}.JPEG ${y}`);
  });
  writeFileSync(join(root, format === 'csv' ? 'LOC_val_solution.csv' : 'val.txt'), `${lines.join('\n')}\n`);
  return { root, labels };
}

/** A file named .JPEG that is not a decodable JPEG. */
export function writeCorrupt(path: string, kind: 'garbage' | 'truncated'): void {
  writeFileSync(path, kind === 'garbage' ? Buffer.from('this is not a jpeg at all') : makeJpeg(0, 0).subarray(0, 300));
}
