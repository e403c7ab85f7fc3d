// ListOps (Nangia & Bowman 2018) as LRA generates it: google-research/long-range-arena
// `lra_benchmarks/data/listops.py` (reference-implementations.md §3.2). Random trees of MIN / MAX /
// MED / SM (sum mod 10) over digits, kept when 500 < length < 2000, deduplicated; the official TSV
// format (`Source\tTarget`, every nested pair wrapped in parentheses) is written and read here.
import { Rng } from '../../util/rng.js';

/** LRA's enabled operators (FIRST and LAST exist upstream but are disabled). */
export const OPERATORS = ['[MIN', '[MAX', '[MED', '[SM'] as const;
export type Operator = (typeof OPERATORS)[number];
/** Probability that a node above max depth is an operator (LRA VALUE_P). */
export const VALUE_P = 0.25;

/** Token ids: 0 padding, digits 0–9 → 1–10, operators 11–14, the closer `]` → 15 (LRA's 'X'). */
export const LISTOPS_VOCAB = ['<pad>', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ...OPERATORS, ']'] as const;
export const CLOSE_ID = 15;
const ID_OF = new Map<string, number>(LISTOPS_VOCAB.map((t, i) => [t, i]));
ID_OF.set('X', CLOSE_ID);

export interface ListOpsParams {
  maxDepth: number;
  maxArgs: number;
  /** Kept when minLength < length < maxLength (length = values + 2 per operator = token count). */
  minLength: number;
  maxLength: number;
}

export const LRA_LISTOPS: ListOpsParams = { maxDepth: 10, maxArgs: 10, minLength: 500, maxLength: 2000 };

/** One generated tree, flattened: token ids (parentheses dropped), its answer, and (optionally) its source text. */
export interface ListOpsExample {
  ids: Uint8Array;
  value: number;
  source?: string;
}

/** Operator semantics (LRA `to_value`): MED = int(np.median(.)), SM = sum % 10. */
export function applyOp(op: Operator, xs: number[]): number {
  switch (op) {
    case '[MIN':
      return Math.min(...xs);
    case '[MAX':
      return Math.max(...xs);
    case '[SM':
      return xs.reduce((a, b) => a + b, 0) % 10;
    case '[MED': {
      const s = [...xs].sort((a, b) => a - b);
      const m = s.length >> 1;
      return s.length % 2 === 1 ? s[m]! : Math.trunc((s[m - 1]! + s[m]!) / 2);
    }
  }
}

/**
 * One tree, depth-first (LRA `generate_tree`): below max depth a node is a leaf with probability
 * 1 − VALUE_P; an operator takes randint(2, max_args) arguments. Tokens go to `out`, the source text
 * (when `text` is given) to `text`. Returns the node's value.
 */
function genNode(rng: Rng, depth: number, p: ListOpsParams, out: number[], text: string[] | undefined): number {
  const r = depth < p.maxDepth ? rng.next() : 1;
  if (r > VALUE_P) {
    const v = rng.int(0, 10);
    out.push(v + 1);
    text?.push(String(v));
    return v;
  }
  const nArgs = rng.int(2, p.maxArgs + 1);
  // The operator token comes first in the sequence; its identity is drawn after the children (as upstream).
  const opPos = out.length;
  out.push(0);
  const textPos = text?.length ?? 0;
  text?.push('');
  const vals: number[] = [];
  for (let i = 0; i < nArgs; i++) {
    vals.push(genNode(rng, depth + 1, p, out, text));
    // LRA nests pairs: (((op a0) a1) a2) …, so every argument closes one "( … )".
    text?.push(')');
  }
  const op = OPERATORS[rng.int(0, OPERATORS.length)]!;
  out[opPos] = ID_OF.get(op)!;
  out.push(CLOSE_ID);
  if (text !== undefined) {
    // "( " × (nArgs + 1) op a0 ) a1 ) … a_{n−1} ) ] )": the last pair is (t, END).
    text[textPos] = `${'( '.repeat(nArgs + 1)}${op}`;
    text.push(']', ')');
  }
  return applyOp(op, vals);
}

/** 64-bit FNV-1a of the ids (as two 32-bit halves): the dedup key (LRA dedups trees with a set). */
function hashIds(ids: ArrayLike<number>): string {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  for (let i = 0; i < ids.length; i++) {
    h1 = Math.imul(h1 ^ ids[i]!, 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ (ids[i]! + 31 * i), 0x5bd1e995) >>> 0;
  }
  return `${ids.length}:${h1.toString(36)}:${h2.toString(36)}`;
}

/**
 * Generates `n` distinct examples, deterministic in (params, seed). `seen` carries dedup keys across
 * calls so train/val/test never share a tree (LRA draws all splits from one set).
 * Porting note: LRA uses Python's `random`; we use our seeded xoshiro stream (same distributions).
 */
export function generateListOps(n: number, seed: number, p: ListOpsParams = LRA_LISTOPS, opts: { withSource?: boolean; seen?: Set<string> } = {}): ListOpsExample[] {
  const rng = new Rng(seed);
  const seen = opts.seen ?? new Set<string>();
  const out: ListOpsExample[] = [];
  const ids: number[] = [];
  while (out.length < n) {
    ids.length = 0;
    const text = opts.withSource === true ? [] : undefined;
    const value = genNode(rng, 1, p, ids, text);
    if (!(ids.length > p.minLength && ids.length < p.maxLength)) continue;
    const key = hashIds(ids);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ ids: Uint8Array.from(ids), value, ...(text !== undefined ? { source: text.join(' ') } : {}) });
  }
  return out;
}

/** LRA tokenisation of a Source field: drop `(` `)`, `]` → X (our id 15), split on whitespace. */
export function tokenizeListOps(source: string): Uint8Array | string {
  const toks = source.split(/\s+/).filter((t) => t !== '' && t !== '(' && t !== ')');
  const ids = new Uint8Array(toks.length);
  for (let i = 0; i < toks.length; i++) {
    const id = ID_OF.get(toks[i]!);
    if (id === undefined || id === 0) return toks[i]!;
    ids[i] = id;
  }
  return ids;
}

/** The official file body: header `Source\tTarget`, one example per line. */
export function listOpsTsv(examples: readonly ListOpsExample[]): string {
  const lines = ['Source\tTarget'];
  for (const e of examples) {
    if (e.source === undefined) throw new RangeError('listOpsTsv: generate with { withSource: true }');
    lines.push(`${e.source}\t${e.value}`);
  }
  return `${lines.join('\n')}\n`;
}
