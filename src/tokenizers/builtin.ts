// Built-in BPE encodings from the `gpt-tokenizer` package (OpenAI tiktoken ranks, bundled, so
// they work offline): gpt2 / r50k_base (GPT-2, 50,257 ids), p50k_base, cl100k_base, o200k_base.
// Loaded lazily and synchronously (the LM task's makeData is synchronous) from the package's
// CommonJS build, so importing this file costs nothing until an encoding is asked for.
import { createRequire } from 'node:module';
import { type Tokenizer } from './types.js';

interface GptEncodingModule {
  encode(text: string, opts?: { disallowedSpecial?: Set<string>; allowedSpecial?: Set<string> }): number[];
  decode(ids: Iterable<number>): string;
  vocabularySize: number;
}

/** Spec name → gpt-tokenizer encoding file, and its end-of-text id. */
export const BUILTIN_ENCODINGS = {
  gpt2: { file: 'r50k_base', eos: 50256 },
  r50k_base: { file: 'r50k_base', eos: 50256 },
  p50k_base: { file: 'p50k_base', eos: 50256 },
  cl100k_base: { file: 'cl100k_base', eos: 100257 },
  o200k_base: { file: 'o200k_base', eos: 199999 },
} as const;

export type BuiltinEncoding = keyof typeof BUILTIN_ENCODINGS;

export function isBuiltinEncoding(name: string): name is BuiltinEncoding {
  return Object.prototype.hasOwnProperty.call(BUILTIN_ENCODINGS, name);
}

const loaded = new Map<string, Tokenizer>();

export function builtinTokenizer(name: BuiltinEncoding): Tokenizer {
  const hit = loaded.get(name);
  if (hit !== undefined) return hit;
  const { file, eos } = BUILTIN_ENCODINGS[name];
  // `import.meta.url` is undefined inside the CommonJS bundle (src/tools/bundle.ts).
  const req = createRequire(import.meta.url ?? __filename);
  const mod = req(`gpt-tokenizer/cjs/encoding/${file}`) as GptEncodingModule;
  const noSpecial = { disallowedSpecial: new Set<string>(), allowedSpecial: new Set<string>() };
  const tok: Tokenizer = {
    spec: name,
    kind: `gpt-tokenizer ${file}`,
    vocabSize: mod.vocabularySize,
    eosId: eos,
    encode: (text) => mod.encode(text, noSpecial),
    decode: (ids) => mod.decode(ids),
  };
  loaded.set(name, tok);
  return tok;
}
