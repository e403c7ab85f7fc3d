// The tokenizer contract shared by language modelling (src/tasks/lm/) and zero-shot scoring
// (src/eval/): text ↔ ids, a vocabulary size, and a spec string that loads the same tokenizer
// again (written into run configs and checkpoints so `metala eval` finds it).

/**
 * A loaded tokenizer. `encode` never adds BOS/EOS (lm-eval encodes continuations with
 * `add_special_tokens=False`); special-token text in the input is encoded as plain text.
 */
export interface Tokenizer {
  /** Loads this tokenizer again via `loadTokenizer(spec)`: 'byte', 'gpt2', or a file path. */
  readonly spec: string;
  /** Human-readable kind, e.g. 'byte', 'gpt-tokenizer r50k_base', 'tokenizer.json BPE'. */
  readonly kind: string;
  /** Largest id + 1, special tokens included (the embedding needs at least this many rows). */
  readonly vocabSize: number;
  /** End-of-text id, if the vocabulary has one (document separator; lm-eval's prefix token). */
  readonly eosId: number | undefined;
  encode(text: string): number[];
  decode(ids: readonly number[]): string;
}

/** Shared UTF-8 codecs (decoding is lenient: invalid sequences become U+FFFD, as HF decoders). */
export const UTF8_ENCODER = new TextEncoder();
export const UTF8_DECODER = new TextDecoder('utf-8');

/**
 * Translates a Python `regex` pre-tokenizer pattern (tiktoken's pat_str, tokenizer.json Split
 * patterns) to a JS RegExp source: JS (Node 20) lacks inline `(?i:...)` groups and possessive
 * quantifiers. `(?i:'s|'t)` becomes `(?:'[sS]|'[tT])`; `x++`/`x*+`/`x?+` drop the possessive `+`.
 * Porting note: dropping possessiveness can change a match only when backtracking into the run
 * finds another split; for the GPT-2/cl100k/o200k patterns the alternatives are disjoint, so the
 * pre-tokens agree (checked against gpt-tokenizer in test/tokenizers/).
 */
export function pythonRegexToJs(pattern: string): string {
  let out = pattern.replace(/\(\?i:((?:[^()\\]|\\.)*)\)/g, (_m, body: string) => {
    let s = '';
    for (let i = 0; i < body.length; i++) {
      const c = body[i]!;
      if (c === '\\') {
        s += c + (body[i + 1] ?? '');
        i++;
      } else if (/[a-z]/i.test(c)) {
        s += `[${c.toLowerCase()}${c.toUpperCase()}]`;
      } else {
        s += c;
      }
    }
    return `(?:${s})`;
  });
  return dropPossessive(out);
}

/** Removes the '+' of possessive quantifiers (`x++`, `x*+`, `x?+`, `x{2,3}+`), skipping escapes and classes. */
function dropPossessive(p: string): string {
  let out = '';
  let inClass = false;
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === '\\') {
      // An escape, with its {…} argument for \p{L} / \P{L} / \u{…}.
      let j = i + 2;
      if ((p[i + 1] === 'p' || p[i + 1] === 'P' || p[i + 1] === 'u') && p[j] === '{') j = p.indexOf('}', j) + 1;
      out += p.slice(i, j);
      i = j - 1;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      out += c;
      continue;
    }
    if (c === '[') inClass = true;
    out += c;
    const quant = /^\{\d+(,\d*)?\}/.exec(p.slice(i));
    const end = c === '+' || c === '*' || c === '?' ? i : quant !== null ? i + quant[0].length - 1 : -1;
    if (end < 0) continue;
    if (end > i) {
      out += p.slice(i + 1, end + 1);
      i = end;
    }
    if (p[i + 1] === '+') i++;
  }
  return out;
}
