// The official MetaLA model end to end: our port loads its HF checkpoint and reproduces its
// parallel logits and its recurrent decode logits (golden/README.md: tolerance 2e-3 max abs).
import { beforeAll, describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { initBackend } from '../../src/backend/index.js';
import { loadCheckpoint } from '../../src/index.js';
import { GOLDEN, maxAbsDiff, readGolden } from '../helpers/golden.js';

interface Golden {
  input_ids: number[][];
  logits: number[][][];
  prefill: number;
  decode_logits: number[][][];
}

describe('official MetaLA checkpoint (golden/metala-tiny)', () => {
  const g = readGolden<Golden>('metala-tiny/golden.json');
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('parallel logits match within 2e-3', async () => {
    const model = await loadCheckpoint(resolve(GOLDEN, 'metala-tiny'));
    const logits = await model.logits(g.input_ids);
    model.dispose();
    const err = maxAbsDiff(logits, g.logits);
    console.log(`golden parallel max abs err ${err}`);
    expect(err).toBeLessThan(2e-3);
  });

  it('recurrent decode (prefill 40, then 8 single steps) matches within 2e-3', async () => {
    const model = await loadCheckpoint(resolve(GOLDEN, 'metala-tiny'));
    const dec = model.decoder();
    const P = g.prefill;
    await dec.prefill(g.input_ids.map((r) => r.slice(0, P)));
    const steps: number[][][] = g.input_ids.map(() => []);
    for (let t = P; t < g.input_ids[0]!.length; t++) {
      const out = await dec.step(g.input_ids.map((r) => r[t]!));
      out.forEach((row, b) => steps[b]!.push(row));
    }
    const stateFloats = dec.stateFloats();
    dec.dispose();
    model.dispose();
    expect(maxAbsDiff(steps, g.decode_logits)).toBeLessThan(2e-3);
    // 2 layers × (S: 2 heads × 16 × 32, conv cache: 3 × 64) per sequence, 2 sequences.
    expect(stateFloats).toBe(2 * 2 * (2 * 16 * 32 + 3 * 64));
  });
});
