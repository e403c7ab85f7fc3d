// The two search steps of the Pathfinder generator, ported from drewlinsley/pathfinder `snakes.py`:
// `seed_snake` (where a new snake may start: the occupancy mask dilated by the paddle's own shape)
// and `extend_snake` + `get_coords_cmf` (where the next paddle goes: a point on a circle ahead of the
// last one, weighted by the continuity prior cos²(min(continuity·Δθ, π/2)) and by free space).
import type { Rng } from '../../util/rng.js';
import { diskOffsets, dilate, drawPaddle, flip, maxSum, stampLine, stampMask, translate } from './pathfinder_draw.js';
import type { Coord, Patch } from './pathfinder_draw.js';
import type { Canvas, PathfinderSettings } from './pathfinder_gen.js';

const inside = (n: number, [y, x]: Coord): boolean => y >= 0 && y < n && x >= 0 && x < n;

/**
 * upstream seed_snake / the first seed of initialize_two_seeds: a tail where a paddle along a random
 * orientation fits. `border` px along the edges count as occupied; `stopBelow` gives up when less
 * than that fraction of pixels is free (checked before the dilation; same outcome as upstream).
 */
export function findSeed(rng: Rng, cv: Canvas, s: PathfinderSettings, margin: number, border: number, stopBelow: number | null): { tail: Coord; theta: number; pivot: Coord } | null {
  const n = cv.size;
  if (stopBelow !== null) {
    let free = 0;
    for (let i = 0; i < cv.mask.length; i++) if (cv.mask[i]! <= 0.3) free++;
    if (free / (n * n) < stopBelow) return null;
  }
  const R0 = s.paddleLength + margin;
  const lined = cv.mask.slice();
  for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) {
    if (y < border || y >= n - border || x < border || x >= n - border) lined[y * n + x] = 1;
  }
  for (let trial = 0; trial <= s.maxPaddleRetrial; trial++) {
    const theta = (rng.int(-180, 180) * Math.PI) / 180;
    // The dilation kernel: the paddle's mask drawn from [R0+1, R0+1] in a (2·R0+1)² window, kept
    // where it is exactly 1 (upstream casts the soft mask to uint8), anchored at the window centre.
    const k = drawPaddle([R0 + 1, R0 + 1], theta, s.paddleLength, s.paddleThickness, margin, s.antialias);
    const offsets: Coord[] = [];
    for (let py = 0; py < k.size; py++) for (let px = 0; px < k.size; px++) {
      const y = k.y0 + py;
      const x = k.x0 + px;
      if (y >= 0 && y <= 2 * R0 && x >= 0 && x <= 2 * R0 && k.mask[py * k.size + px]! >= 1 - 1e-6) offsets.push([y - R0, x - R0]);
    }
    // Only "≤ 0.3 or not" matters downstream, so each pixel stops at the first blocking neighbour.
    const dil = dilate(lined, n, n, offsets, 0.3 + 1e-6);
    const avail: number[] = [];
    for (let i = 0; i < dil.length; i++) if (dil[i]! <= 0.3) avail.push(i);
    if (avail.length === 0) return null;
    const p = avail[rng.int(0, avail.length)]!;
    const tail: Coord = [Math.floor(p / n), p % n];
    const head = translate(tail, theta, s.paddleLength);
    const pivot = translate(head, flip(theta), s.paddleLength + margin);
    if (inside(n, head) && inside(n, pivot)) return { tail, theta, pivot };
  }
  return null;
}

/**
 * upstream extend_snake: the next paddle of a snake. Candidates are the distinct pixels on a circle
 * of radius paddle+margin around the new pivot; p ∝ (1 − dilated mask) · cos²(min(continuity·Δθ, π/2)).
 * A sampled paddle that overlaps the mask (max(mask + m) ≥ 1.8) is redrawn up to maxPaddleRetrial
 * times. On success the image gets the paddle and the mask gets the PREVIOUS paddle (so a paddle never
 * collides with its predecessor). Null = dead end.
 */
export function extendSnake(rng: Rng, cv: Canvas, s: PathfinderSettings, margin: number, lastPivot: Coord, lastTheta: number, lastPatch: Patch, contrast: number, pending?: Patch): { patch: Patch; pivot: Coord; theta: number; head: Coord } | null {
  const n = cv.size;
  // Porting note: upstream tests a new paddle only against the mask, which does not yet hold the
  // other target snake's newest paddle, so the two targets can touch (an ambiguous label); `pending`
  // adds that paddle to the overlap test.
  let occupied = cv.mask;
  if (pending !== undefined) {
    occupied = cv.mask.slice();
    stampMask(occupied, n, pending);
  }
  const pivot = translate(lastPivot, lastTheta, s.paddleLength + 2 * margin);
  const r = s.paddleLength + margin;
  const step = 360 / (2 * r * Math.PI);
  const seen = new Set<number>();
  for (let k = 0; k * step < 360; k++) {
    const a = (k * step * Math.PI) / 180;
    const yf = pivot[0] + r * Math.sin(a);
    const xf = pivot[1] + r * Math.cos(a);
    if (yf >= n || yf < 0 || xf >= n || xf < 0) continue;
    seen.add(Math.trunc(yf) * n + Math.trunc(xf));
  }
  if (seen.size === 0) return null;
  // np.unique(axis=0) order: by y, then x = by flat index.
  const coords = [...seen].sort((a, b) => a - b);
  const disk = diskOffsets(margin);
  const orient = new Float64Array(coords.length);
  const cmf = new Float64Array(coords.length);
  let total = 0;
  for (let i = 0; i < coords.length; i++) {
    const y = Math.floor(coords[i]! / n);
    const x = coords[i]! % n;
    orient[i] = Math.atan2(y - pivot[0], x - pivot[1]);
    let d = Math.abs(orient[i]! - lastTheta);
    d = Math.min(Math.min(d, 2 * Math.PI - d) * s.continuity, Math.PI / 2);
    // The mask dilated by a disk of radius margin, read only where it is needed.
    let dil = 0;
    for (const [oy, ox] of disk) if (inside(n, [y + oy, x + ox])) dil = Math.max(dil, cv.mask[(y + oy) * n + x + ox]!);
    total += (1 - dil) * Math.max(Math.cos(d), 0) ** 2;
    cmf[i] = total;
  }
  if (total < 1e-4) return null;
  for (let trial = 0; trial <= s.maxPaddleRetrial; trial++) {
    const u = rng.next() * total;
    let idx = cmf.findIndex((c) => c > u);
    if (idx < 0) idx = 0; // np.argmax of all-false
    const head: Coord = [Math.floor(coords[idx]! / n), coords[idx]! % n];
    const patch = drawPaddle(head, flip(orient[idx]!), s.paddleLength, s.paddleThickness, margin, s.antialias, contrast);
    if (maxSum(occupied, n, patch) < 1.8) {
      stampLine(cv.image, n, patch);
      stampMask(cv.mask, n, lastPatch);
      return { patch, pivot, theta: orient[idx]!, head };
    }
  }
  return null;
}
