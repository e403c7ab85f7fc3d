// Compare a model with reference logits (e.g. ../shared/golden/metala-tiny/golden.json, made by
// the official MetaLA code): parallel logits, and decode logits after a prefill when present.
import { readFile } from 'node:fs/promises';
import type { CausalLM } from '../models/lm.js';
import { InputError } from '../util/errors.js';

interface GoldenFile {
  input_ids: number[][];
  logits: number[][][];
  prefill?: number;
  decode_logits?: number[][][];
}

function maxAbs(a: number[][][], b: number[][][]): number {
  let m = 0;
  a.forEach((x, i) => x.forEach((y, j) => y.forEach((v, k) => (m = Math.max(m, Math.abs(v - b[i]![j]![k]!))))));
  return m;
}

const isIntRows = (x: unknown): x is number[][] =>
  Array.isArray(x) && x.length > 0 && x.every((r) => Array.isArray(r) && r.length > 0 && r.length === (x[0] as unknown[]).length && r.every((v) => Number.isInteger(v)));

/** logits [B][T][V] of the expected sizes, every value a number. */
function isLogits(x: unknown, B: number, T: number, V: number): boolean {
  return (
    Array.isArray(x) &&
    x.length === B &&
    x.every((b) => Array.isArray(b) && b.length === T && b.every((t) => Array.isArray(t) && t.length === V && t.every((v) => typeof v === 'number')))
  );
}

/** The reference file's shapes against the model: one line naming what does not fit. */
function checkGolden(file: string, g: GoldenFile, vocab: number): void {
  const bad = (what: string): never => {
    throw new InputError(`${file}: ${what}. A reference file is {input_ids: [B][T] token ids, logits: [B][T][V], prefill?, decode_logits?: [B][T − prefill][V]}`);
  };
  if (typeof g !== 'object' || g === null || Array.isArray(g)) bad('not a JSON object');
  if (!isIntRows(g.input_ids)) bad('input_ids is not a non-empty [B][T] list of integer token ids');
  const B = g.input_ids.length;
  const T = g.input_ids[0]!.length;
  if (g.input_ids.some((r) => r.some((v) => v < 0 || v >= vocab))) bad(`input_ids has ids outside the model's vocabulary 0..${vocab - 1}`);
  if (!isLogits(g.logits, B, T, vocab)) bad(`logits is not [${B}][${T}][${vocab}] (input_ids × the model's vocabulary)`);
  if (g.prefill !== undefined || g.decode_logits !== undefined) {
    const P = g.prefill;
    if (typeof P !== 'number' || !Number.isInteger(P) || P < 1 || P >= T) bad(`prefill must be an integer in 1..${T - 1} with decode_logits`);
    if (!isLogits(g.decode_logits, B, T - P!, vocab)) bad(`decode_logits is not [${B}][${T - P!}][${vocab}]`);
  }
}

export async function compareGolden(model: CausalLM, file: string): Promise<string> {
  let g: GoldenFile;
  try {
    g = JSON.parse(await readFile(file, 'utf8')) as GoldenFile;
  } catch (e) {
    throw new InputError(`${file}: cannot read reference logits (${(e as Error).message.split('\n')[0]})`);
  }
  checkGolden(file, g, model.config.vocab_size);
  const par = maxAbs(await model.logits(g.input_ids), g.logits);
  let line = `golden ${file}: parallel logits max abs error ${par.toExponential(2)}`;
  if (g.prefill !== undefined && g.decode_logits !== undefined) {
    const P = g.prefill;
    const dec = model.decoder();
    await dec.prefill(g.input_ids.map((r) => r.slice(0, P)));
    const steps: number[][][] = g.input_ids.map(() => []);
    for (let t = P; t < g.input_ids[0]!.length; t++) (await dec.step(g.input_ids.map((r) => r[t]!))).forEach((row, b) => steps[b]!.push(row));
    dec.dispose();
    line += `; decode logits (prefill ${P}, ${steps[0]!.length} steps) max abs error ${maxAbs(steps, g.decode_logits).toExponential(2)}`;
  }
  return line;
}
