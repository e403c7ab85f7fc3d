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

export async function compareGolden(model: CausalLM, file: string): Promise<string> {
  let g: GoldenFile;
  try {
    g = JSON.parse(await readFile(file, 'utf8')) as GoldenFile;
  } catch (e) {
    throw new InputError(`${file}: cannot read reference logits (${(e as Error).message.split('\n')[0]})`);
  }
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
