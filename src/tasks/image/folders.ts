// Image folder layouts: ImageFolder (`<split>/<class>/**/*.jpg`, torchvision's convention: class
// index = position in the sorted folder names) and ILSVRC2012 (train synset folders as ImageFolder;
// a flat `val/` folder plus a labels file: Kaggle's LOC_val_solution.csv, or `<file> <synset|index>`
// lines as in Caffe's val.txt). Every problem is one InputError line naming the path.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { InputError } from '../../util/errors.js';

/** Decodable files: JPEG only (jpeg-js); other files are counted and ignored. */
const JPEG = /\.jpe?g$/i;

export interface FileList {
  /** Absolute or root-relative paths of the images, in a fixed (sorted) order. */
  paths: string[];
  /** Class index of each path. */
  labels: Int32Array;
  /** Class names (folder names / synsets), sorted; index = label. */
  classes: string[];
  /** Non-JPEG files that were skipped. */
  ignored: number;
}

function mustBeDir(dir: string, what: string): void {
  if (!existsSync(dir)) throw new InputError(`${dir}: ${what} not found. ${LAYOUT_HINT}`);
  if (!statSync(dir).isDirectory()) throw new InputError(`${dir}: ${what} is not a folder. ${LAYOUT_HINT}`);
}

const LAYOUT_HINT = 'Expected <root>/train/<class>/*.jpg and <root>/val/<class>/*.jpg (or an ILSVRC2012 val/ folder with a labels file); see datasets/imagenet/README.md';

/** JPEG files under dir (recursive), sorted; returns them and the count of other files. */
function walk(dir: string): { files: string[]; ignored: number } {
  const files: string[] = [];
  let ignored = 0;
  const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      const sub = walk(p);
      files.push(...sub.files);
      ignored += sub.ignored;
    } else if (JPEG.test(e.name)) files.push(p);
    else ignored++;
  }
  return { files, ignored };
}

/** Sorted names of the sub-folders of dir. */
export function classFolders(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
}

/**
 * One split in ImageFolder layout.
 * @param classes the training split's classes (for val: labels must index the same list)
 */
export function scanImageFolder(dir: string, classes?: readonly string[]): FileList {
  mustBeDir(dir, 'image folder');
  const found = classFolders(dir);
  if (found.length === 0) throw new InputError(`${dir}: no class sub-folders (found only files). ${LAYOUT_HINT}`);
  const names = classes ?? found;
  const paths: string[] = [];
  const labels: number[] = [];
  let ignored = 0;
  for (const name of found) {
    const y = names.indexOf(name);
    if (y < 0) throw new InputError(`${join(dir, name)}: class '${name}' is not among the ${names.length} training classes. Remove it or add it to train/`);
    const w = walk(join(dir, name));
    if (w.files.length === 0) throw new InputError(`${join(dir, name)}: empty class (no .jpg/.jpeg files). Add images or remove the folder`);
    for (const f of w.files) {
      paths.push(f);
      labels.push(y);
    }
    ignored += w.ignored;
  }
  return { paths, labels: Int32Array.from(labels), classes: [...names], ignored };
}

/** Parse a validation labels file into file stem → class index. */
export function readValLabels(file: string, classes: readonly string[]): Map<string, number> {
  if (!existsSync(file)) throw new InputError(`${file}: validation labels file not found. Set task.val_labels (LOC_val_solution.csv or '<file> <synset>' lines)`);
  const lines = readFileSync(file, 'utf8').split(/\r?\n/);
  const index = new Map(classes.map((c, i) => [c, i]));
  const out = new Map<string, number>();
  const csv = /^ImageId,PredictionString/i.test(lines[0] ?? '');
  for (let i = csv ? 1 : 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    const m = csv ? /^([^,\s]+),\s*(\S+)/.exec(line) : /^(\S+)\s+(\S+)$/.exec(line);
    if (m === null) throw new InputError(`${file}:${i + 1}: malformed line '${line.slice(0, 60)}'. Expected ${csv ? 'ImageId,<synset> ...' : '<file> <synset or class index>'}`);
    const [, name, lab] = m as unknown as [string, string, string];
    let y = index.get(lab);
    if (y === undefined && /^\d+$/.test(lab) && Number(lab) < classes.length) y = Number(lab);
    if (y === undefined) throw new InputError(`${file}:${i + 1}: unknown class '${lab}' (not a training synset folder nor an index < ${classes.length}). Check the labels file`);
    out.set(basename(name).replace(JPEG, ''), y);
  }
  if (out.size === 0) throw new InputError(`${file}: no labels found. Expected one line per validation image`);
  return out;
}

/** ILSVRC2012 flat validation folder + labels file; files without a label are counted as ignored. */
export function scanFlatVal(dir: string, labelsFile: string, classes: readonly string[]): FileList {
  mustBeDir(dir, 'validation folder');
  const labels = readValLabels(labelsFile, classes);
  const w = walk(dir);
  const paths: string[] = [];
  const ys: number[] = [];
  let ignored = w.ignored;
  for (const f of w.files) {
    const y = labels.get(basename(f).replace(JPEG, ''));
    if (y === undefined) {
      ignored++;
      continue;
    }
    paths.push(f);
    ys.push(y);
  }
  if (paths.length === 0) throw new InputError(`${dir}: none of its ${w.files.length} JPEG files is named in ${labelsFile}. Check that the labels file belongs to this folder`);
  if (paths.length < labels.size) {
    throw new InputError(`${dir}: ${labels.size - paths.length} images named in ${labelsFile} are missing from the folder. Restore them or use a labels file for this subset`);
  }
  return { paths, labels: Int32Array.from(ys), classes: [...classes], ignored };
}
