// Pathfinder / Path-X image generator (Linsley et al. 2018; Kim et al. 2020), as used by LRA: a port
// of drewlinsley/pathfinder `snakes2.py::from_wrapper` + `snakes.py` (seed_snake, extend_snake,
// get_coords_cmf, make_many_snakes) with LRA's settings from `lra_benchmarks/data/pathfinder.py`
// (reference-implementations.md §3.2). Two target snakes of dashed paddles start near each other;
// the origin marker sits on the start of one of them and the terminal marker on the far end of the
// same snake (label 1) or of the other (label 0); distractor snakes clutter the image.
import type { Rng } from '../../util/rng.js';
import { drawCircle, drawPaddle, flip, stampLine, stampMask, translate } from './pathfinder_draw.js';
import type { Coord, Patch } from './pathfinder_draw.js';
import { extendSnake, findSeed } from './pathfinder_snake.js';

export interface PathfinderSettings {
  size: number;
  padding: number;
  paddleLength: number;
  paddleThickness: number;
  markerRadius: number;
  contourLength: number;
  distractorLength: number;
  numDistractorSnakes: number;
  continuity: number;
  seedDistance: number;
  antialias: number;
  snakeContrast: number[];
  paddleContrast: number[];
  margins: number[];
  /** snakes2 single-paddle clutter; off in the snakes2_wrapper script LRA ran (INFERRED). */
  useSinglePaddles: boolean;
  maxDistractorRetrial: number;
  maxPaddleRetrial: number;
}

export const DIFFICULTIES = { easy: 6, intermediate: 9, hard: 14 } as const;
export type Difficulty = keyof typeof DIFFICULTIES;
/** Upstream folder of each difficulty (LRA: hard = curv_contour_length_14 for Pathfinder and Path-X). */
export const DIFFICULTY_FOLDER: Record<Difficulty, string> = { easy: 'curv_baseline', intermediate: 'curv_contour_length_9', hard: 'curv_contour_length_14' };
export const RESOLUTIONS = [32, 64, 128, 256] as const;
export type Resolution = (typeof RESOLUTIONS)[number];

/**
 * How many distractor snakes an image gets. Both readings use the docstrings' numerator (20 at 32 px,
 * 22, 35, 30) and Python 2 integer division:
 * - `docstring`: numerator // (contour_length // 3) of the image's own contour length, as
 *   pathfinder.py's docstrings write it (32 px hard: 20 // 4 = 5).
 * - `wrapper`: what snakes2_wrapper.py as published computes. It sets num_distractor_snakes once, in
 *   its top block at the baseline contour length 6 (numerator // 2), and its `for cl in [9, 14]` loop resets
 *   contour_length and distractor_length but not the count, so every difficulty keeps
 *   numerator // 2 (32 px hard: 10, twice the docstring's 5).
 * Porting note: which one LRA's released images used is UNVERIFIED here (the release is not
 * reachable offline); `docstring` is the default, `task.distractors: wrapper` the other reading.
 */
export type DistractorRule = 'docstring' | 'wrapper';
export const DISTRACTOR_RULES = ['docstring', 'wrapper'] as const satisfies readonly DistractorRule[];
/** The wrapper's top-block contour length, from which `wrapper` derives the count. */
const WRAPPER_BASE_CONTOUR = 6;

/**
 * LRA's settings per resolution (pathfinder.py docstrings over snakes2_wrapper.py defaults); the
 * distractor count follows `rule` (see DistractorRule).
 */
export function lraSettings(resolution: Resolution, difficulty: Difficulty = 'hard', rule: DistractorRule = 'docstring'): PathfinderSettings {
  const cl = DIFFICULTIES[difficulty];
  const dl = Math.floor(cl / 3);
  const count = (numerator: number) => Math.floor(numerator / (rule === 'wrapper' ? Math.floor(WRAPPER_BASE_CONTOUR / 3) : dl));
  const base = { padding: 1, antialias: 2, contourLength: cl, distractorLength: dl, useSinglePaddles: false, maxDistractorRetrial: 4, maxPaddleRetrial: 2, paddleLength: 5, paddleContrast: [1] };
  switch (resolution) {
    case 32:
      return { ...base, size: 32, paddleLength: 2, markerRadius: 1.5, paddleThickness: 0.5, seedDistance: 7, continuity: 1.0, numDistractorSnakes: count(20), snakeContrast: [2], paddleContrast: [0.75], margins: [1] };
    case 64:
      return { ...base, size: 64, markerRadius: 2.5, paddleThickness: 1, seedDistance: 12, continuity: 1.8, numDistractorSnakes: count(22), snakeContrast: [0.8], margins: [1] };
    case 128:
      return { ...base, size: 128, markerRadius: 3, paddleThickness: 1.5, seedDistance: 20, continuity: 1.8, numDistractorSnakes: count(35), snakeContrast: [0.9], margins: [2, 3] };
    case 256:
      return { ...base, size: 256, markerRadius: 5, paddleThickness: 2, seedDistance: 27, continuity: 1.8, numDistractorSnakes: count(30), snakeContrast: [1], margins: [3] };
  }
}

/** A drawn paddle of a target snake: `a` is its end nearer the snake's start, `b` the farther one. */
export interface Segment {
  a: Coord;
  b: Coord;
}

export interface PathfinderSample {
  /** size² intensities 0–255 (upstream imsave byte-scales the float image to its maximum). */
  image: Uint8Array;
  label: 0 | 1;
  margin: number;
  /** Geometry of the two target snakes and the markers, for tests and inspection. */
  targets: [Segment[], Segment[]];
  origin: Coord;
  terminal: Coord;
  /** Which target snake the origin marker is on. */
  originSnake: 0 | 1;
}

export interface Canvas {
  size: number;
  image: Float32Array;
  mask: Float32Array;
}

const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[xs.length > 1 ? rng.int(0, xs.length) : 0]!;

/** upstream two_snakes: two seeds `seedDistance` apart, then both grown in turns. Null = retry. */
function twoSnakes(rng: Rng, s: PathfinderSettings, margin: number): { cv: Canvas; snakes: [Segment[], Segment[]]; tips: [Coord, Coord]; ends: [Coord, Coord] } | null {
  const n = s.size;
  const cv: Canvas = { size: n, image: new Float32Array(n * n), mask: new Float32Array(n * n) };
  for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) {
    if (y < s.padding || y >= n - s.padding || x < s.padding || x >= n - s.padding) cv.mask[y * n + x] = 1;
  }
  const mu = [pick(rng, s.snakeContrast), pick(rng, s.snakeContrast)];
  const seed1 = findSeed(rng, cv, s, margin, 2 * s.seedDistance, null);
  if (seed1 === null) return null;
  // Second seed: its tail on a circle of radius seedDistance around the first tail (no overlap test upstream).
  let seed2: { tail: Coord; theta: number; pivot: Coord } | null = null;
  for (let trial = 0; trial <= s.maxPaddleRetrial && seed2 === null; trial++) {
    const theta = (rng.int(-180, 180) * Math.PI) / 180;
    const phi = (rng.int(0, 360) * Math.PI) / 180;
    const tail: Coord = [Math.round(seed1.tail[0] + s.seedDistance * Math.sin(phi)), Math.round(seed1.tail[1] + s.seedDistance * Math.cos(phi))];
    const head = translate(tail, theta, s.paddleLength);
    const pivot = translate(head, flip(theta), s.paddleLength + margin);
    if ([head, pivot].every(([y, x]) => y >= 0 && y < n && x >= 0 && x < n)) seed2 = { tail, theta, pivot };
  }
  if (seed2 === null) return null;
  const seeds = [seed1, seed2];
  const segMasks: Patch[] = [];
  const snakes: [Segment[], Segment[]] = [[], []];
  for (let k = 0; k < 2; k++) {
    const sd = seeds[k]!;
    const p = drawPaddle(sd.tail, sd.theta, s.paddleLength, s.paddleThickness, margin, s.antialias, pick(rng, s.paddleContrast) * mu[k]!);
    stampLine(cv.image, n, p);
    segMasks.push(p);
    snakes[k]!.push({ a: sd.tail, b: translate(sd.tail, sd.theta, s.paddleLength) });
  }
  const state = seeds.map((sd) => ({ pivot: sd.pivot, theta: sd.theta, head: sd.tail }));
  for (let seg = 0; seg < s.contourLength - 1; seg++) {
    const contrast = pick(rng, s.paddleContrast);
    for (let k = 0; k < 2; k++) {
      const st = state[k]!;
      const r = extendSnake(rng, cv, s, margin, st.pivot, st.theta, segMasks[k]!, contrast * mu[k]!, segMasks[1 - k]);
      if (r === null) return null;
      segMasks[k] = r.patch;
      st.pivot = r.pivot;
      st.theta = r.theta;
      st.head = r.head;
      snakes[k]!.push({ a: translate(r.head, flip(r.theta), s.paddleLength), b: r.head });
    }
  }
  // Porting note: upstream adds only the second snake's last paddle to the mask here (the first
  // one's stays out, so a distractor may touch its end); we add both.
  for (const p of segMasks) stampMask(cv.mask, n, p);
  return { cv, snakes, tips: [seeds[0]!.tail, seeds[1]!.tail], ends: [state[0]!.head, state[1]!.head] };
}

/** upstream make_many_snakes with allow_incomplete: each snake gets retries, failures are dropped. */
function manySnakes(rng: Rng, cv: Canvas, s: PathfinderSettings, margin: number, count: number, retries: number, segments: number): void {
  for (let i = 0; i < count; i++) {
    for (let t = 0; t <= retries; t++) if (oneSnake(rng, cv, s, margin, segments)) break;
  }
}

/** upstream make_snake: seed (stop below 1 % free pixels), then extend; a failed snake leaves no trace. */
function oneSnake(rng: Rng, cv: Canvas, s: PathfinderSettings, margin: number, segments: number): boolean {
  const n = cv.size;
  const contrastOf = () => pick(rng, s.snakeContrast);
  const seed = findSeed(rng, cv, s, margin, 1, 0.01);
  if (seed === null) return false;
  const image = cv.image.slice();
  const mask = cv.mask.slice();
  const work: Canvas = { size: n, image, mask };
  let last = drawPaddle(seed.tail, seed.theta, s.paddleLength, s.paddleThickness, margin, s.antialias, contrastOf());
  stampLine(image, n, last);
  let pivot = seed.pivot;
  let theta = seed.theta;
  for (let k = 0; k < segments - 1; k++) {
    const r = extendSnake(rng, work, s, margin, pivot, theta, last, contrastOf());
    if (r === null) return false;
    last = r.patch;
    pivot = r.pivot;
    theta = r.theta;
  }
  stampMask(mask, n, last);
  cv.image.set(image);
  cv.mask.set(mask);
  return true;
}

/** One image with its label, deterministic in the rng state. Throws after 20 000 failed target draws. */
export function generatePathfinder(rng: Rng, s: PathfinderSettings): PathfinderSample {
  const label = rng.int(0, 2) as 0 | 1;
  const margin = pick(rng, s.margins);
  let two = null;
  for (let t = 0; t < 20_000 && two === null; t++) two = twoSnakes(rng, s, margin);
  if (two === null) throw new Error(`pathfinder: no room for two snakes of ${s.contourLength} paddles in ${s.size}×${s.size}`);
  const { cv } = two;
  if (s.numDistractorSnakes > 0) manySnakes(rng, cv, s, margin, s.numDistractorSnakes, s.maxDistractorRetrial, s.distractorLength);
  if (s.useSinglePaddles) {
    const total = Math.floor(150 / ((7.5 + 13 * margin + 4 * margin * margin) / 123.5));
    manySnakes(rng, cv, s, margin, total - 2 * s.contourLength - s.numDistractorSnakes * s.distractorLength, s.maxPaddleRetrial, 1);
  }
  const originSnake = rng.int(0, 2) as 0 | 1;
  const terminalSnake = label === 1 ? originSnake : ((1 - originSnake) as 0 | 1);
  const origin = two.tips[originSnake];
  const terminal = two.ends[terminalSnake];
  const m1 = drawCircle(s.size, origin, s.markerRadius, s.antialias);
  const m2 = drawCircle(s.size, terminal, s.markerRadius, s.antialias);
  let max = 0;
  for (let i = 0; i < cv.image.length; i++) {
    cv.image[i] = Math.max(cv.image[i]!, m1[i]!, m2[i]!);
    max = Math.max(max, cv.image[i]!);
  }
  // upstream scipy imsave → bytescale to [0, 255] by the image's own range.
  const image = new Uint8Array(cv.image.length);
  for (let i = 0; i < image.length; i++) image[i] = Math.min(255, Math.floor((cv.image[i]! * 255) / max + 0.4999));
  return { image, label, margin, targets: two.snakes, origin, terminal, originSnake };
}

