// One entry point for tokenizers: a spec string ('byte', a built-in encoding name, or a path to a
// tokenizer.json / *.tiktoken file or a folder holding one) → a loaded Tokenizer. Used by the LM
// task (`task.tokenizer`), by `metala eval --tokenizer`, and to find a checkpoint's tokenizer.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { InputError } from '../util/errors.js';
import { byteTokenizer } from './byte.js';
import { BUILTIN_ENCODINGS, builtinTokenizer, isBuiltinEncoding } from './builtin.js';
import { loadTokenizerJson } from './bpe_json.js';
import { loadTiktokenFile } from './tiktoken_file.js';
import type { Tokenizer } from './types.js';

export type { Tokenizer } from './types.js';
export { byteTokenizer } from './byte.js';
export { loadTokenizerJson } from './bpe_json.js';
export { loadTiktokenFile } from './tiktoken_file.js';

export const TOKENIZER_NAMES = ['byte', ...Object.keys(BUILTIN_ENCODINGS)];

/** The tokenizer file inside a folder: tokenizer.json first, else the one *.tiktoken file. */
export function tokenizerFileIn(dir: string): string | undefined {
  if (existsSync(join(dir, 'tokenizer.json'))) return join(dir, 'tokenizer.json');
  const tk = readdirSync(dir).filter((f) => f.endsWith('.tiktoken')).sort();
  return tk.length > 0 ? join(dir, tk[0]!) : undefined;
}

const cache = new Map<string, Tokenizer>();

/**
 * Load a tokenizer by spec. Relative paths resolve against `baseDir` (default: the working
 * directory). Loaded files are cached per absolute path, so repeated calls are cheap.
 */
export function loadTokenizer(spec: string, baseDir = process.cwd()): Tokenizer {
  if (spec === 'byte') return byteTokenizer();
  if (isBuiltinEncoding(spec)) return builtinTokenizer(spec);
  const path = isAbsolute(spec) ? spec : resolve(baseDir, spec);
  const hit = cache.get(path);
  if (hit !== undefined) return hit;
  if (!existsSync(path)) {
    throw new InputError(`tokenizer '${spec}': not found (looked at ${path}). Use one of ${TOKENIZER_NAMES.join(', ')}, or a path to a tokenizer.json or *.tiktoken file`);
  }
  let file = path;
  if (statSync(path).isDirectory()) {
    const f = tokenizerFileIn(path);
    if (f === undefined) throw new InputError(`${path}: no tokenizer.json or *.tiktoken file in this folder. Pass the tokenizer file itself`);
    file = f;
  }
  let tok: Tokenizer;
  if (file.endsWith('.tiktoken')) tok = loadTiktokenFile(file);
  else if (file.endsWith('.json')) tok = loadTokenizerJson(file);
  else throw new InputError(`tokenizer '${spec}': unknown file type. Pass a tokenizer.json or a *.tiktoken rank file`);
  const out = { ...tok, spec: isAbsolute(spec) ? file : spec };
  cache.set(path, out);
  return out;
}
