// Byte-level BPE from a Hugging Face `tokenizer.json` (GPT-2, GPT-NeoX-20B / Pythia, Llama-3
// style): added tokens split first, then the pre-tokenizer regex, GPT-2's byte→unicode map, and
// rank-ordered merges. Follows the semantics of huggingface/tokenizers' `BPE` model with the
// `ByteLevel` pre-tokenizer and decoder (written from the format, no code copied).
import { readFileSync } from 'node:fs';
import { InputError } from '../util/errors.js';
import { UTF8_DECODER, UTF8_ENCODER, pythonRegexToJs, type Tokenizer } from './types.js';

/** GPT-2's regex (openai/gpt-2 encoder.py), the ByteLevel pre-tokenizer's default. */
export const GPT2_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

/** GPT-2's reversible byte → printable unicode map (bytes that are not printable move to 256+). */
export function bytesToUnicode(): string[] {
  const table: string[] = new Array<string>(256);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    table[b] = String.fromCharCode(printable ? b : 256 + n++);
  }
  return table;
}

interface PreTokenizerJson {
  type: string;
  add_prefix_space?: boolean;
  use_regex?: boolean;
  pattern?: { Regex?: string; String?: string };
  pretokenizers?: PreTokenizerJson[];
}

interface TokenizerJson {
  normalizer?: { type: string } | null;
  pre_tokenizer?: PreTokenizerJson | null;
  added_tokens?: { id: number; content: string; special?: boolean }[];
  model?: { type?: string; vocab?: Record<string, number>; merges?: (string | [string, string])[]; ignore_merges?: boolean };
}

/** The pre-tokenizer as (regex or none, add a leading space?). */
function preTokenizerOf(pt: PreTokenizerJson | null | undefined, file: string): { regex: RegExp | undefined; prefixSpace: boolean } {
  if (pt === null || pt === undefined) return { regex: undefined, prefixSpace: false };
  if (pt.type === 'ByteLevel') {
    return { regex: pt.use_regex === false ? undefined : new RegExp(GPT2_PATTERN, 'gu'), prefixSpace: pt.add_prefix_space === true };
  }
  if (pt.type === 'Sequence' && pt.pretokenizers !== undefined) {
    let regex: RegExp | undefined;
    let prefixSpace = false;
    for (const p of pt.pretokenizers) {
      if (p.type === 'Split' && p.pattern?.Regex !== undefined) regex = new RegExp(pythonRegexToJs(p.pattern.Regex), 'gu');
      else if (p.type === 'ByteLevel') {
        if (p.use_regex !== false) regex = new RegExp(GPT2_PATTERN, 'gu');
        prefixSpace = p.add_prefix_space === true;
      } else throw new InputError(`${file}: pre_tokenizer: '${p.type}' is not supported. metala reads byte-level BPE tokenizers (GPT-2, GPT-NeoX, Llama-3 style)`);
    }
    return { regex, prefixSpace };
  }
  throw new InputError(`${file}: pre_tokenizer: '${pt.type}' is not supported. metala reads byte-level BPE tokenizers (GPT-2, GPT-NeoX, Llama-3 style)`);
}

/** Load a byte-level BPE tokenizer.json. */
export function loadTokenizerJson(file: string): Tokenizer {
  let j: TokenizerJson;
  try {
    j = JSON.parse(readFileSync(file, 'utf8')) as TokenizerJson;
  } catch (e) {
    throw new InputError(`${file}: cannot read a tokenizer.json (${(e as Error).message}). Pass a Hugging Face tokenizer.json`);
  }
  const m = j.model;
  if (m?.type !== 'BPE' || m.vocab === undefined || m.merges === undefined) {
    throw new InputError(`${file}: model.type: expected a BPE model with vocab and merges, got '${m?.type ?? '(none)'}'. Pass a byte-level BPE tokenizer.json`);
  }
  const norm = j.normalizer?.type;
  if (norm !== undefined && norm !== 'NFC' && norm !== 'NFKC') {
    throw new InputError(`${file}: normalizer: '${norm}' is not supported (only none, NFC, NFKC). Use a byte-level BPE tokenizer.json`);
  }
  const { regex, prefixSpace } = preTokenizerOf(j.pre_tokenizer, file);
  const vocab = new Map(Object.entries(m.vocab));
  const idToToken: string[] = [];
  for (const [tok, id] of vocab) idToToken[id] = tok;
  // Merge ranks keyed "left right" (a space never occurs inside byte-level symbols).
  const ranks = new Map<string, number>();
  m.merges.forEach((mg, i) => ranks.set(typeof mg === 'string' ? mg : `${mg[0]} ${mg[1]}`, i));
  const added = (j.added_tokens ?? []).slice().sort((a, b) => b.content.length - a.content.length);
  for (const a of added) idToToken[a.id] = a.content;
  const addedIds = new Set(added.map((a) => a.id));
  const byteMap = bytesToUnicode();
  const unicodeToByte = new Map(byteMap.map((c, b) => [c, b]));
  const cache = new Map<string, number[]>();

  const bpe = (word: string): number[] => {
    const hit = cache.get(word);
    if (hit !== undefined) return hit;
    let ids: number[];
    const whole = vocab.get(word);
    if (m.ignore_merges === true && whole !== undefined) ids = [whole];
    else {
      let parts = Array.from(word);
      // Repeatedly merge the adjacent pair with the lowest rank (all its occurrences, left to right).
      while (parts.length > 1) {
        let best = -1;
        let bestRank = Infinity;
        for (let i = 0; i < parts.length - 1; i++) {
          const r = ranks.get(`${parts[i]} ${parts[i + 1]}`);
          if (r !== undefined && r < bestRank) {
            bestRank = r;
            best = i;
          }
        }
        if (best < 0) break;
        const [l, r] = [parts[best]!, parts[best + 1]!];
        const next: string[] = [];
        for (let i = 0; i < parts.length; i++) {
          if (i < parts.length - 1 && parts[i] === l && parts[i + 1] === r) {
            next.push(l + r);
            i++;
          } else next.push(parts[i]!);
        }
        parts = next;
      }
      ids = parts.map((p) => {
        const id = vocab.get(p);
        if (id === undefined) throw new InputError(`${file}: symbol '${p}' is not in model.vocab. The tokenizer.json is inconsistent`);
        return id;
      });
    }
    if (cache.size < 100_000) cache.set(word, ids);
    return ids;
  };

  const encodePlain = (text: string, out: number[]): void => {
    if (text === '') return;
    let t = norm === 'NFC' ? text.normalize('NFC') : norm === 'NFKC' ? text.normalize('NFKC') : text;
    if (prefixSpace && !t.startsWith(' ')) t = ` ${t}`;
    const pieces = regex === undefined ? [t] : Array.from(t.matchAll(regex), (mm) => mm[0]);
    for (const piece of pieces) {
      let mapped = '';
      for (const b of UTF8_ENCODER.encode(piece)) mapped += byteMap[b]!;
      out.push(...bpe(mapped));
    }
  };

  let maxId = 0;
  for (const id of vocab.values()) maxId = Math.max(maxId, id);
  for (const a of added) maxId = Math.max(maxId, a.id);
  const eos = added.find((a) => a.content === '<|endoftext|>' || a.content === '</s>' || a.content === '<|end_of_text|>');
  return {
    spec: file,
    kind: 'tokenizer.json byte-level BPE',
    vocabSize: maxId + 1,
    eosId: eos?.id,
    encode(text) {
      const out: number[] = [];
      // Added tokens are matched verbatim in the raw text, longest first, before pre-tokenizing.
      let rest = text;
      while (rest.length > 0 && added.length > 0) {
        let at = -1;
        let tok: (typeof added)[number] | undefined;
        for (const a of added) {
          const k = rest.indexOf(a.content);
          if (k >= 0 && (at < 0 || k < at)) {
            at = k;
            tok = a;
          }
        }
        if (tok === undefined) break;
        encodePlain(rest.slice(0, at), out);
        out.push(tok.id);
        rest = rest.slice(at + tok.content.length);
      }
      encodePlain(rest, out);
      return out;
    },
    decode(ids) {
      const bytes: number[] = [];
      let text = '';
      const flush = () => {
        text += UTF8_DECODER.decode(Uint8Array.from(bytes));
        bytes.length = 0;
      };
      for (const id of ids) {
        const tok = idToToken[id];
        if (tok === undefined) continue;
        if (addedIds.has(id)) {
          flush();
          text += tok;
          continue;
        }
        for (const ch of tok) bytes.push(unicodeToByte.get(ch) ?? 63);
      }
      flush();
      return text;
    },
  };
}
