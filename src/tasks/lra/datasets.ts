// The LRA entries of the data-set registry (src/cli/datasets.ts): what `metala data <name>` generates
// (ListOps, Pathfinder / Path-X with LRA's algorithms, seeded) and what `metala data fetch <name>`
// downloads from the official sources (IMDB, CIFAR-10, the LRA release for AAN and the released
// ListOps / Pathfinder files), with the check that `metala data <name>` runs on fetched sets.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { defineDataset } from '../../data/types.js';
import type { DatasetDef } from '../../data/types.js';
import { InputError } from '../../util/errors.js';
import { CIFAR_ARCHIVE, CIFAR_SHA256, CIFAR_SIZE, CIFAR_TEST_FILE, CIFAR_TRAIN_FILES, CIFAR_URL, IMAGE_DATASET, IMAGE_FOLDER, unpackCifar } from './image.js';
import { LISTOPS_DATASET, LISTOPS_FILES, LISTOPS_FOLDER, makeListOpsFiles, readListOpsTsv } from './listops.js';
import { PATHFINDER_FOLDER, makePathfinderFiles, pathfinderDataset, readPathfinderIndex } from './pathfinder.js';
import { DIFFICULTY_FOLDER } from './pathfinder_gen.js';
import type { Resolution } from './pathfinder_gen.js';
import { RELEASE_ARCHIVE, RELEASE_DATASET, RELEASE_FOLDER, RELEASE_URL, unpackRelease } from './release.js';
import { AAN_FILES } from './retrieval.js';
import { IMDB_ARCHIVE, IMDB_SHA256, IMDB_URL, TEXT_DATASET, TEXT_FOLDER, unpackImdb } from './text.js';

function need(path: string, what: string, cmd: string): void {
  if (!existsSync(path)) throw new InputError(`${path}: missing (${what}). Run \`${cmd}\``);
}

const listops = defineDataset({
  name: LISTOPS_DATASET,
  description: "LRA ListOps, generated with LRA's algorithm: basic_{train,val,test}.tsv (96k/2k/2k)",
  kind: 'generated',
  folder: LISTOPS_FOLDER,
  make: (o) => makeListOpsFiles(o.dir, o.seed, o.count, o.log),
  async check(dir) {
    const n = Object.values(LISTOPS_FILES).map((f) => {
      need(join(dir, f), 'ListOps TSV', `metala data ${LISTOPS_DATASET}`);
      return readListOpsTsv(join(dir, f), 2000).size;
    });
    return `ListOps: ${n.join(' / ')} examples (train / val / test) in ${dir}`;
  },
});

function pathfinder(res: Resolution, images: string): DatasetDef {
  return defineDataset({
    name: pathfinderDataset(res),
    description: `LRA ${res === 128 ? 'Path-X' : 'Pathfinder'} ${res}×${res}, hard (curv_contour_length_14), generated in the official image layout (LRA: 200k images; ${images})`,
    kind: 'generated',
    folder: PATHFINDER_FOLDER,
    make: (o) => makePathfinderFiles(o.dir, res, 'hard', o.seed, o.count ?? 200_000, o.log),
    async check(dir) {
      const d = join(dir, `pathfinder${res}`, DIFFICULTY_FOLDER.hard);
      const { labels } = readPathfinderIndex(d, res);
      const pos = labels.reduce((a, b) => a + b, 0);
      return `Pathfinder ${res}: ${labels.length} images (${pos} connected) in ${d}`;
    },
  });
}

const release = defineDataset({
  name: RELEASE_DATASET,
  description: 'the LRA release archive (≈7.7 GB): AAN pairs for Retrieval, plus the released ListOps and Pathfinder/Path-X files',
  kind: 'fetched',
  folder: RELEASE_FOLDER,
  files: [{ url: RELEASE_URL, dest: RELEASE_ARCHIVE }],
  make: (o) => unpackRelease(o.dir, o.log),
  async check(dir) {
    const cmd = `metala data fetch ${RELEASE_DATASET}`;
    for (const f of Object.values(AAN_FILES)) need(join(dir, 'tsv_data', f), 'AAN pairs', cmd);
    need(join(dir, 'listops-1000'), 'released ListOps', cmd);
    const pf = join(dir, 'pathfinder32', DIFFICULTY_FOLDER.hard, 'metadata');
    need(pf, 'released Pathfinder 32', cmd);
    return `LRA release: tsv_data/ (${Object.values(AAN_FILES).join(', ')}), listops-1000/, pathfinder32 metadata files: ${readdirSync(pf).length}, in ${dir}`;
  },
});

const text = defineDataset({
  name: TEXT_DATASET,
  description: 'IMDB reviews (Stanford aclImdb v1) for byte-level LRA Text',
  kind: 'fetched',
  folder: TEXT_FOLDER,
  files: [{ url: IMDB_URL, dest: IMDB_ARCHIVE, sha256: IMDB_SHA256 }],
  make: (o) => unpackImdb(o.dir, o.log),
  async check(dir) {
    const counts = ['train/neg', 'train/pos', 'test/neg', 'test/pos'].map((s) => {
      const d = join(dir, 'aclImdb', s);
      need(d, `IMDB ${s}`, `metala data fetch ${TEXT_DATASET}`);
      return `${s} ${readdirSync(d).length}`;
    });
    return `IMDB: ${counts.join(', ')} reviews in ${join(dir, 'aclImdb')}`;
  },
});

const image = defineDataset({
  name: IMAGE_DATASET,
  description: 'CIFAR-10 binary release for LRA Image (grayscale, 1024 pixels)',
  kind: 'fetched',
  folder: IMAGE_FOLDER,
  files: [{ url: CIFAR_URL, dest: CIFAR_ARCHIVE, sha256: CIFAR_SHA256, size: CIFAR_SIZE }],
  make: (o) => unpackCifar(o.dir, o.log),
  async check(dir) {
    const files = [...CIFAR_TRAIN_FILES, CIFAR_TEST_FILE].map((f) => join(dir, 'cifar-10-batches-bin', f));
    let records = 0;
    for (const f of files) {
      need(f, 'CIFAR-10 batch', `metala data fetch ${IMAGE_DATASET}`);
      records += statSync(f).size / 3073;
    }
    return `CIFAR-10: ${records} images in ${files.length} batch files`;
  },
});

export const LRA_DATASETS: readonly DatasetDef[] = [listops, pathfinder(32, '≈20 ms per image on one core'), pathfinder(64, '≈1 s per image'), pathfinder(128, '≈1.4 s per image; fetching lra-release is faster'), release, text, image];
