// Pathfinder: the generator is deterministic; every label agrees with the drawn target snakes (the
// markers sit on the two ends of one connected chain of paddles for label 1, on two different chains
// for label 0, and every paddle and marker is visible in the rendered image); labels are balanced;
// the official image layout round-trips through `metala data lra-pathfinder32` and the task.
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodePng } from '../../../src/data/png.js';
import { TASKS } from '../../../src/tasks/registry.js';
import { loadPathfinderFolder, makePathfinderFiles, readPathfinderIndex } from '../../../src/tasks/lra/pathfinder.js';
import { generatePathfinder, lraSettings } from '../../../src/tasks/lra/pathfinder_gen.js';
import type { PathfinderSample, Segment } from '../../../src/tasks/lra/pathfinder_gen.js';
import { Rng } from '../../../src/util/rng.js';

const S32 = lraSettings(32, 'hard');
const dist = (p: [number, number], q: [number, number]) => Math.hypot(p[0] - q[0], p[1] - q[1]);
const same = (p: [number, number], q: [number, number]) => p[0] === q[0] && p[1] === q[1];

/** Max intensity in the 3×3 neighbourhood of a (possibly fractional) point. */
function near(img: Uint8Array, n: number, y: number, x: number): number {
  let m = 0;
  for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) {
    const yy = Math.round(y) + dy;
    const xx = Math.round(x) + dx;
    if (yy >= 0 && yy < n && xx >= 0 && xx < n) m = Math.max(m, img[yy * n + xx]!);
  }
  return m;
}

/**
 * Consecutive paddles of a chain are separated by the inter-paddle gap only (no jumps): about 2·margin
 * (pivot margin ahead of a paddle's end, next paddle margin past the pivot), plus up to √2 of
 * rounding (upstream ceil) at each of the two moves.
 */
function isChain(segs: Segment[], margin: number): boolean {
  return segs.every((s, i) => i === 0 || dist(segs[i - 1]!.b, s.a) <= 2 * margin + 2 * Math.SQRT2 + 1e-9);
}

function consistent(ex: PathfinderSample, size: number): void {
  const [A, B] = ex.targets;
  for (const chain of [A, B]) {
    expect(chain.length).toBe(S32.contourLength);
    expect(isChain(chain, ex.margin)).toBe(true);
    // Every paddle of both targets is drawn.
    for (const s of chain) expect(near(ex.image, size, (s.a[0] + s.b[0]) / 2, (s.a[1] + s.b[1]) / 2)).toBeGreaterThan(0);
  }
  const chains = [A, B];
  const o = chains[ex.originSnake]!;
  expect(same(ex.origin, o[0]!.a)).toBe(true);
  // label 1 ⇔ the terminal marker is the far end of the origin's own chain.
  const onOwn = same(ex.terminal, o[o.length - 1]!.b);
  const other = chains[1 - ex.originSnake]!;
  const onOther = same(ex.terminal, other[other.length - 1]!.b);
  expect(onOwn).toBe(ex.label === 1);
  expect(onOther).toBe(ex.label === 0);
  for (const m of [ex.origin, ex.terminal]) expect(near(ex.image, size, m[0], m[1])).toBeGreaterThan(0);
}

describe('Pathfinder generator', () => {
  it('is deterministic in the seed', () => {
    const a = Array.from({ length: 3 }, ((r) => () => generatePathfinder(r, S32))(new Rng(5)));
    const b = Array.from({ length: 3 }, ((r) => () => generatePathfinder(r, S32))(new Rng(5)));
    expect(a.map((x) => [x.label, ...x.image])).toEqual(b.map((x) => [x.label, ...x.image]));
    const c = generatePathfinder(new Rng(6), S32);
    expect([...c.image]).not.toEqual([...a[0]!.image]);
  });

  it('labels agree with the drawn paths, for both labels, and are balanced', () => {
    const rng = new Rng(1);
    const xs = Array.from({ length: 120 }, () => generatePathfinder(rng, S32));
    for (const ex of xs) consistent(ex, 32);
    const pos = xs.filter((x) => x.label === 1).length;
    expect(pos).toBeGreaterThan(40);
    expect(pos).toBeLessThan(80);
    // Byte-scaled to the full range, with clutter beyond the two targets (distractor snakes).
    for (const ex of xs.slice(0, 10)) {
      expect(Math.max(...ex.image)).toBe(255);
      expect(ex.image.filter((v) => v > 0).length).toBeGreaterThan(60);
    }
  });

  it('follows the LRA settings per resolution and difficulty', () => {
    expect(lraSettings(32, 'hard')).toMatchObject({ contourLength: 14, distractorLength: 4, numDistractorSnakes: 5, paddleLength: 2, seedDistance: 7, margins: [1] });
    expect(lraSettings(128, 'hard')).toMatchObject({ contourLength: 14, numDistractorSnakes: 8, paddleLength: 5, seedDistance: 20, margins: [2, 3] });
    expect(lraSettings(32, 'easy')).toMatchObject({ contourLength: 6, distractorLength: 2, numDistractorSnakes: 10 });
  });

  it('distractor count: the docstrings\' per-length formula, or the published wrapper\'s count fixed at the baseline length', () => {
    // snakes2_wrapper.py computes num_distractor_snakes once at contour length 6 (numerator // 2) and its
    // length loop does not reset it: the hard sets get twice the docstrings' count at 32 px.
    const n = (res: 32 | 64 | 128 | 256, d: 'easy' | 'intermediate' | 'hard', r: 'docstring' | 'wrapper') => lraSettings(res, d, r).numDistractorSnakes;
    expect([n(32, 'hard', 'docstring'), n(32, 'hard', 'wrapper')]).toEqual([5, 10]);
    expect([n(32, 'intermediate', 'docstring'), n(32, 'intermediate', 'wrapper')]).toEqual([6, 10]);
    expect([n(128, 'hard', 'docstring'), n(128, 'hard', 'wrapper')]).toEqual([8, 17]);
    expect([n(64, 'hard', 'wrapper'), n(256, 'hard', 'wrapper')]).toEqual([11, 15]);
    // The baseline (easy) set is where both readings agree; distractor length is unchanged by the rule.
    for (const res of [32, 64, 128, 256] as const) expect(n(res, 'easy', 'wrapper')).toBe(n(res, 'easy', 'docstring'));
    expect(lraSettings(32, 'hard', 'wrapper').distractorLength).toBe(4);
    // The rule reaches the images: the wrapper's count draws more ink (same seeds, 24 images each).
    const ink = (r: 'docstring' | 'wrapper') => {
      const rng = new Rng(11);
      let lit = 0;
      for (let i = 0; i < 24; i++) lit += generatePathfinder(rng, lraSettings(32, 'hard', r)).image.filter((v) => v > 0).length;
      return lit / 24;
    };
    expect(ink('wrapper')).toBeGreaterThan(1.2 * ink('docstring'));
  });

  it('task.distractors reaches generated data and is left out of the run id when absent', () => {
    const def = TASKS.lra_pathfinder;
    const parse = (extra: object) => def.options.parse({ source: 'generated', train_examples: 8, test_examples: 8, ...extra });
    expect('distractors' in parse({})).toBe(false);
    expect(parse({ distractors: 'wrapper' }).distractors).toBe('wrapper');
    expect(() => parse({ distractors: 'twice' })).toThrow();
    expect(def.check(def.options.parse({ distractors: 'wrapper' }))[0]?.message).toMatch(/applies only to source: generated/);
    expect(def.check(parse({ distractors: 'wrapper' }))).toEqual([]);
    const lit = (o: object) => {
      const d = def.makeData(parse(o) as never, 3);
      let sum = 0;
      for (const b of d.test.batches(8)) sum += b.ids.reduce((a, v) => a + (v > 0 ? 1 : 0), 0);
      return sum;
    };
    expect(lit({ distractors: 'wrapper' })).toBeGreaterThan(lit({}));
  });
});

describe('Pathfinder files', () => {
  it('writes the official layout and the task reads it back with a seeded 80/10/10 split', async () => {
    const root = mkdtempSync(join(tmpdir(), 'metala-pf-'));
    await makePathfinderFiles(root, 32, 'hard', 9, 40, () => {});
    const dir = join(root, 'pathfinder32', 'curv_contour_length_14');
    expect(readdirSync(join(dir, 'metadata'))).toEqual(['0.npy']);
    const row = readFileSync(join(dir, 'metadata', '0.npy'), 'utf8').split('\n')[0]!.split(' ');
    expect(row.slice(0, 3)).toEqual(['imgs/0', 'sample_0.png', '0']);
    const idx = readPathfinderIndex(dir, 32);
    expect(idx.files.length).toBe(40);
    // Files hold exactly what the generator drew from the same seed.
    const rng = new Rng(9);
    const first = generatePathfinder(rng, S32);
    expect(idx.labels[0]).toBe(first.label);
    expect([...decodePng(readFileSync(idx.files[0]!)).data]).toEqual([...first.image]);
    const ex = loadPathfinderFolder(dir, 32);
    expect([...ex.tokens(0)]).toEqual([...first.image]);
    const def = TASKS.lra_pathfinder;
    const data = def.makeData(def.options.parse({ data_dir: dir }), 0);
    expect([data.train.size, data.test.size]).toEqual([32, 4]);
    const b = [...data.test.batches(4)][0]!;
    expect(b.seqLen).toBe(1024);
    expect([...b.lengths!]).toEqual([1024, 1024, 1024, 1024]);
    expect(() => def.makeData(def.options.parse({ data_dir: join(root, 'nope') }), 0)).toThrow(/missing .*Run `metala data lra-pathfinder32`/);
  });

  it('generates in memory for quick runs (source: generated)', () => {
    const def = TASKS.lra_pathfinder;
    const o = def.options.parse({ source: 'generated', difficulty: 'easy', train_examples: 12, test_examples: 6 });
    const d = def.makeData(o, 1);
    expect([d.train.size, d.test.size]).toEqual([12, 6]);
    expect(def.seqLen(o)).toBe(1024);
    expect(def.seqLen(def.options.parse({ resolution: 128 }))).toBe(16384);
  });
});
