// tiktoken rank files (`<base64 token> <rank>` per line), e.g. the `transnormer_100k.tiktoken`
// shipped with the released MetaLA checkpoints (paper-metala.md §3.6), encoded with js-tiktoken.
// js-tiktoken only reads its own compressed rank format ("! <offset> <tok> <tok> …"), so the file
// is converted line by line; the BPE itself is js-tiktoken's.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Tiktoken } from 'js-tiktoken/lite';
import { InputError } from '../util/errors.js';
import { pythonRegexToJs, type Tokenizer } from './types.js';

/**
 * cl100k_base's pre-tokenizer pattern (tiktoken openai_public.py), the default when the folder
 * gives none. Porting note: `tokenization_tnf.py` was not available to us; the released
 * checkpoints' Python tokenizer follows Qwen's `tokenization_qwen.py` layout (a tiktoken file plus
 * PAT_STR and special tokens in the .py), whose PAT_STR is this pattern. When a
 * `tokenization_*.py` sits beside the rank file, its PAT_STR is read instead (UNVERIFIED which).
 */
export const CL100K_PATTERN =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

export interface TiktokenFileOptions {
  /** Python-regex pre-tokenizer; default: PAT_STR from a tokenization_*.py beside the file, else cl100k's. */
  patStr?: string;
  /** Special tokens → ids; default: tokenizer_config.json's added_tokens_decoder, else <|endoftext|> = #ranks. */
  specialTokens?: Record<string, number>;
}

/** PAT_STR = r"""…""" (or '…', "…") from a Python tokenizer file, if there is exactly one. */
export function patStrFromPython(source: string): string | undefined {
  const m = /PAT_STR\s*=\s*r?("""|'''|"|')([\s\S]*?)\1/.exec(source);
  return m?.[2];
}

/** Special tokens from the folder: tokenizer_config.json added_tokens_decoder, or one after the ranks. */
function specialsFromFolder(dir: string, nRanks: number): Record<string, number> {
  const cfgFile = join(dir, 'tokenizer_config.json');
  if (existsSync(cfgFile)) {
    try {
      const cfg = JSON.parse(readFileSync(cfgFile, 'utf8')) as { added_tokens_decoder?: Record<string, { content?: string }> };
      const out: Record<string, number> = {};
      for (const [id, t] of Object.entries(cfg.added_tokens_decoder ?? {})) if (typeof t.content === 'string') out[t.content] = Number(id);
      if (Object.keys(out).length > 0) return out;
    } catch {
      throw new InputError(`${cfgFile}: not valid JSON. Fix or remove it`);
    }
  }
  return { '<|endoftext|>': nRanks };
}

/** Load a tiktoken rank file. */
export function loadTiktokenFile(file: string, opts: TiktokenFileOptions = {}): Tokenizer {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new InputError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)}). Pass a tiktoken rank file`);
  }
  const lines: string[] = [];
  let maxRank = -1;
  let n = 0;
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '') continue;
    const sp = line.indexOf(' ');
    const rank = Number(line.slice(sp + 1));
    if (sp <= 0 || !Number.isInteger(rank) || rank < 0 || !/^[A-Za-z0-9+/=]+$/.test(line.slice(0, sp))) {
      throw new InputError(`${file}:${i + 1}: expected '<base64 token> <rank>', got '${line.slice(0, 60)}'. Is this a tiktoken rank file?`);
    }
    lines.push(`! ${rank} ${line.slice(0, sp)}`);
    maxRank = Math.max(maxRank, rank);
    n++;
  }
  if (n === 0) throw new InputError(`${file}: no ranks found. Is this a tiktoken rank file?`);
  const dir = dirname(file);
  let patStr = opts.patStr;
  if (patStr === undefined) {
    const py = readdirSync(dir).filter((f) => /^tokenization_.*\.py$/.test(f));
    for (const f of py) patStr ??= patStrFromPython(readFileSync(join(dir, f), 'utf8'));
  }
  const specials = opts.specialTokens ?? specialsFromFolder(dir, maxRank + 1);
  const enc = new Tiktoken({ pat_str: pythonRegexToJs(patStr ?? CL100K_PATTERN), special_tokens: specials, bpe_ranks: lines.join('\n') });
  let vocab = maxRank + 1;
  for (const id of Object.values(specials)) vocab = Math.max(vocab, id + 1);
  const eos = specials['<|endoftext|>'] ?? specials['<|end_of_text|>'];
  return {
    spec: file,
    kind: 'tiktoken rank file (js-tiktoken)',
    vocabSize: vocab,
    eosId: eos,
    // Special-token text in data is plain text: allowed none, disallowed none.
    encode: (t) => enc.encode(t, [], []),
    decode: (ids) => enc.decode([...ids]),
  };
}
