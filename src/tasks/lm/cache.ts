// Tokenise a corpus once into a binary token file under datasets/<name>/cache/ (nanoGPT's
// prepare.py → train.bin idea): raw little-endian uint16 (vocab ≤ 65,536) or uint32 ids, plus a
// JSON sidecar saying what was tokenised with what. The file name is a hash of (corpus path, size,
// mtime, text field, tokenizer), so a changed corpus or tokenizer gets a new cache.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { datasetCache } from '../../data/paths.js';
import type { Tokenizer } from '../../tokenizers/types.js';
import { readDocuments, type CorpusEncoding, type CorpusSource } from './corpus.js';

export interface TokenCacheInfo {
  /** The binary token file. */
  file: string;
  tokens: number;
  documents: number;
  /** True when this call tokenised (the cache was missing). */
  built: boolean;
}

/** Write `data` to `path` atomically (temp file + rename), creating the folder. */
function atomicWriteSync(path: string, data: Uint8Array | string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

/**
 * The corpus as one token stream: each document's ids followed by EOS (or by "\n\n" encoded, for
 * tokenizers without one, e.g. bytes). Reads the cache when present, else tokenises and writes it.
 * @param cacheDir default datasets/<corpus name>/cache ($METALA_DATASETS moves datasets/)
 */
export function loadTokenStream(
  src: CorpusSource,
  textField: string,
  tok: Tokenizer,
  cacheDir?: string,
  encoding?: CorpusEncoding,
): { ids: Uint16Array | Uint32Array; info: TokenCacheInfo } {
  const dir = cacheDir !== undefined ? resolve(cacheDir) : datasetCache(src.name);
  const wide = tok.vocabSize > 65536;
  const key = createHash('sha256')
    .update(JSON.stringify({ v: 1, file: src.file, size: src.size, mtime: src.mtimeMs, textField, tokenizer: tok.spec, kind: tok.kind, vocab: tok.vocabSize, ...(encoding !== undefined ? { encoding } : {}) }))
    .digest('hex')
    .slice(0, 16);
  const file = join(dir, `${key}.${wide ? 'u32' : 'u16'}`);
  const metaFile = join(dir, `${key}.json`);
  if (existsSync(file) && existsSync(metaFile)) {
    const meta = JSON.parse(readFileSync(metaFile, 'utf8')) as { tokens: number; documents: number };
    const buf = readFileSync(file);
    // Copy into an aligned buffer: a Buffer's byteOffset inside Node's pool may be unaligned.
    const bytes = new Uint8Array(buf.byteLength);
    bytes.set(buf);
    const ids = wide ? new Uint32Array(bytes.buffer) : new Uint16Array(bytes.buffer);
    if (ids.length === meta.tokens) return { ids, info: { file, tokens: ids.length, documents: meta.documents, built: false } };
  }
  const docs = readDocuments(src, textField, encoding);
  const sep = tok.eosId !== undefined ? [tok.eosId] : tok.encode('\n\n');
  const parts: number[][] = [];
  let n = 0;
  for (const d of docs) {
    const ids = tok.encode(d);
    parts.push(ids, sep);
    n += ids.length + sep.length;
  }
  const ids = wide ? new Uint32Array(n) : new Uint16Array(n);
  let o = 0;
  for (const p of parts) {
    ids.set(p, o);
    o += p.length;
  }
  mkdirSync(dir, { recursive: true });
  atomicWriteSync(file, new Uint8Array(ids.buffer, ids.byteOffset, ids.byteLength));
  atomicWriteSync(
    metaFile,
    `${JSON.stringify({ source: src.file, format: src.format, text_field: textField, tokenizer: tok.spec, tokenizer_kind: tok.kind, vocab_size: tok.vocabSize, documents: docs.length, tokens: n, dtype: wide ? 'uint32' : 'uint16', created: new Date().toISOString() }, null, 2)}\n`,
  );
  return { ids, info: { file, tokens: n, documents: docs.length, built: true } };
}
