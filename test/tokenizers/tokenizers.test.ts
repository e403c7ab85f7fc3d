// Tokenizers (src/tokenizers/): round trips and known encodings for every kind — bytes, the
// built-in GPT-2 / cl100k encodings, tiktoken rank files (written here from js-tiktoken's bundled
// GPT-2 and cl100k ranks in the real `<base64> <rank>` format) and HF tokenizer.json BPE (a
// hand-made one with hand-derived ids, and GPT-2's, rebuilt from its ranks, cross-checked).
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import gpt2Ranks from 'js-tiktoken/ranks/gpt2';
import cl100kRanks from 'js-tiktoken/ranks/cl100k_base';
import { byteTokenizer, loadTokenizer } from '../../src/tokenizers/index.js';
import { bytesToUnicode } from '../../src/tokenizers/bpe_json.js';
import { pythonRegexToJs } from '../../src/tokenizers/types.js';
import { InputError } from '../../src/util/errors.js';

const TEXT = "Hello world! It's 2024: MetaLA's decay α = σ(xW)^(1/16)…  Don't panic.\n\n  Call me Ishmael.";
const tmp = mkdtempSync(join(tmpdir(), 'metala-tok-'));

/** js-tiktoken's compressed ranks ("! offset tok tok …") → tiktoken file lines "<b64> <rank>". */
function tiktokenLines(compressed: string): { lines: string[]; b64ByRank: Map<number, string> } {
  const lines: string[] = [];
  const b64ByRank = new Map<number, string>();
  for (const row of compressed.split('\n').filter(Boolean)) {
    const [, off, ...toks] = row.split(' ');
    toks.forEach((t, i) => {
      lines.push(`${t} ${Number(off) + i}`);
      b64ByRank.set(Number(off) + i, t);
    });
  }
  return { lines, b64ByRank };
}

describe('byte tokenizer', () => {
  it('is UTF-8 with vocabulary 256 and round-trips', () => {
    const t = byteTokenizer();
    expect(t.vocabSize).toBe(256);
    expect(t.encode('Hi α')).toEqual([72, 105, 32, 0xce, 0xb1]);
    expect(t.decode(t.encode(TEXT))).toBe(TEXT);
    expect(loadTokenizer('byte').spec).toBe('byte');
  });
});

describe('built-in encodings (gpt-tokenizer)', () => {
  it('GPT-2 "Hello world" is [15496, 995] and text round-trips', () => {
    const t = loadTokenizer('gpt2');
    expect(t.encode('Hello world')).toEqual([15496, 995]);
    expect(t.vocabSize).toBe(50257);
    expect(t.eosId).toBe(50256);
    expect(t.decode(t.encode(TEXT))).toBe(TEXT);
    // Special-token text in data is plain text, never the special id.
    expect(t.encode('<|endoftext|>')).not.toContain(50256);
  });
  it('cl100k_base "Hello world" is [9906, 1917]', () => {
    expect(loadTokenizer('cl100k_base').encode('Hello world')).toEqual([9906, 1917]);
  });
  it('unknown specs fail with one line', () => {
    expect(() => loadTokenizer('gpt3')).toThrow(InputError);
    expect(() => loadTokenizer('gpt3')).toThrow(/tokenizer 'gpt3': not found .* Use one of byte, gpt2/);
  });
});

describe('tiktoken rank files (js-tiktoken)', () => {
  it('a GPT-2 rank file with PAT_STR in tokenization_*.py encodes like GPT-2', () => {
    const dir = join(tmp, 'gpt2tk');
    mkdirSync(dir);
    writeFileSync(join(dir, 'gpt2.tiktoken'), `${tiktokenLines(gpt2Ranks.bpe_ranks).lines.join('\n')}\n`);
    writeFileSync(join(dir, 'tokenization_demo.py'), `import tiktoken\nPAT_STR = r"""${gpt2Ranks.pat_str}"""\nENDOFTEXT = "<|endoftext|>"\n`);
    const t = loadTokenizer(dir);
    expect(t.encode('Hello world')).toEqual([15496, 995]);
    // <|endoftext|> defaults to the first id after the ranks.
    expect(t.eosId).toBe(50256);
    expect(t.vocabSize).toBe(50257);
    expect(t.encode(TEXT)).toEqual(loadTokenizer('gpt2').encode(TEXT));
    expect(t.decode(t.encode(TEXT))).toBe(TEXT);
  });
  it("a cl100k rank file with the default pattern (Python (?i:…) translated) encodes like cl100k", () => {
    const file = join(tmp, 'cl100k.tiktoken');
    writeFileSync(file, tiktokenLines(cl100kRanks.bpe_ranks).lines.join('\n'));
    const t = loadTokenizer(file);
    const text = `${TEXT} HE'S THEY'LL we'Re 12345678`;
    expect(t.encode(text)).toEqual(loadTokenizer('cl100k_base').encode(text));
  });
  it('a malformed rank file fails with file and line', () => {
    const file = join(tmp, 'bad.tiktoken');
    writeFileSync(file, 'IQ== 0\nnot a rank line\n');
    expect(() => loadTokenizer(file)).toThrow(/bad\.tiktoken:2: expected '<base64 token> <rank>'/);
  });
  it('translates Python inline case-insensitive groups and possessive quantifiers', () => {
    expect(pythonRegexToJs("(?i:'s|'t)|\\p{L}++")).toBe("(?:'[sS]|'[tT])|\\p{L}+");
  });
});

describe('tokenizer.json byte-level BPE', () => {
  it('a hand-made vocabulary gives the ids derived by hand', () => {
    const u = bytesToUnicode();
    const vocab: Record<string, number> = {};
    u.forEach((ch, b) => (vocab[ch] = b));
    // Merges in rank order: "l l", "h e", "he ll", "hell o", "Ġ w", "Ġw o".
    const merged = ['ll', 'he', 'hell', 'hello', 'Ġw', 'Ġwo'];
    merged.forEach((m, i) => (vocab[m] = 256 + i));
    const file = join(tmp, 'tokenizer.json');
    writeFileSync(
      file,
      JSON.stringify({
        added_tokens: [{ id: 262, content: '<|endoftext|>', special: true }],
        normalizer: null,
        pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
        model: { type: 'BPE', vocab, merges: ['l l', 'h e', 'he ll', 'hell o', 'Ġ w', ['Ġw', 'o']] },
      }),
    );
    const t = loadTokenizer(file);
    // "hello" → h e l l o → (l l) → h e ll o → (h e) → he ll o → (he ll) → hell o → hello = 259.
    // " world" → Ġ w o r l d → (Ġ w) → Ġw o r l d → (Ġw o) → Ġwo r l d = 261, r, l, d.
    expect(t.encode('hello world')).toEqual([259, 261, 114, 108, 100]);
    expect(t.encode('hello<|endoftext|>he')).toEqual([259, 262, 257]);
    expect(t.eosId).toBe(262);
    expect(t.vocabSize).toBe(263);
    expect(t.decode(t.encode('hello world<|endoftext|>ℓ'))).toBe('hello world<|endoftext|>ℓ');
  });
  it("GPT-2's tokenizer.json (rebuilt from its ranks) encodes like gpt-tokenizer", () => {
    const u = bytesToUnicode();
    const { b64ByRank } = tiktokenLines(gpt2Ranks.bpe_ranks);
    const bytesOf = (b64: string): number[] => [...Buffer.from(b64, 'base64')];
    const str = (bytes: number[]): string => bytes.map((b) => u[b]!).join('');
    const rankOf = new Map<string, number>();
    for (const [r, b64] of b64ByRank) rankOf.set(bytesOf(b64).join(','), r);
    const vocab: Record<string, number> = {};
    const merges: string[] = [];
    for (const [r, b64] of [...b64ByRank].sort((a, b) => a[0] - b[0])) {
      const bytes = bytesOf(b64);
      vocab[str(bytes)] = r;
      if (bytes.length < 2) continue;
      // The merge that made token r: BPE over its bytes using only lower ranks leaves two parts.
      let parts = bytes.map((b) => [b]);
      for (;;) {
        let best = -1;
        let bestRank = Infinity;
        for (let i = 0; i < parts.length - 1; i++) {
          const k = rankOf.get([...parts[i]!, ...parts[i + 1]!].join(','));
          if (k !== undefined && k < r && k < bestRank) [best, bestRank] = [i, k];
        }
        if (best < 0) break;
        parts = [...parts.slice(0, best), [...parts[best]!, ...parts[best + 1]!], ...parts.slice(best + 2)];
      }
      expect(parts.length).toBe(2);
      merges.push(`${str(parts[0]!)} ${str(parts[1]!)}`);
    }
    const file = join(tmp, 'gpt2-tokenizer.json');
    writeFileSync(
      file,
      JSON.stringify({
        added_tokens: [{ id: 50256, content: '<|endoftext|>', special: true }],
        pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, use_regex: true },
        model: { type: 'BPE', vocab, merges },
      }),
    );
    const t = loadTokenizer(file);
    const ref = loadTokenizer('gpt2');
    expect(t.encode('Hello world')).toEqual([15496, 995]);
    expect(t.encode(TEXT)).toEqual(ref.encode(TEXT));
    expect(t.decode(t.encode(TEXT))).toBe(TEXT);
  });
});
