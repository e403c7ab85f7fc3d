// Rasterisation for the Pathfinder generator (pathfinder_gen.ts): the paddle ("segment") with its
// occupancy mask, the circular markers, and the dilations the snake search uses. Follows
// drewlinsley/pathfinder `snakes.py::draw_line_n_mask`, `binary_dilate_custom`, `translate_coord`
// and `snakes2.py::draw_circle`: draw at `aa` times the resolution, then reduce.
// Porting note: upstream reduces with scipy's Lanczos `imresize`; we use exact area averaging (no
// ringing, values stay in [0, 1]); shapes are the same, edge intensities differ slightly.

export type Coord = [number, number]; // [y, x]

/** upstream translate_coord: ceil of the moved point. */
export function translate(c: Coord, theta: number, dist: number): Coord {
  return [Math.ceil(c[0] + dist * Math.sin(theta)), Math.ceil(c[1] + dist * Math.cos(theta))];
}

/** upstream flip_by_pi. */
export function flip(theta: number): number {
  return theta < 0 ? theta + Math.PI : theta - Math.PI;
}

/** Offsets [dy, dx] of a disk of radius r (upstream generate_dilation_struct: x² + y² ≤ r²). */
export function diskOffsets(r: number): Coord[] {
  const out: Coord[] = [];
  const R = Math.floor(r);
  for (let dy = -R; dy <= R; dy++) for (let dx = -R; dx <= R; dx++) if (dx * dx + dy * dy <= r * r) out.push([dy, dx]);
  return out;
}

/** Area-average an n×n image down to m×m (each output pixel averages the n/m × n/m square it covers). */
export function reduceArea(src: Float32Array, n: number, m: number): Float32Array {
  const ratio = n / m;
  // Separable: weights of source index j in output index i = overlap of [j, j+1) with [i·ratio, (i+1)·ratio).
  const w: { j: number; w: number }[][] = [];
  for (let i = 0; i < m; i++) {
    const a = i * ratio;
    const b = (i + 1) * ratio;
    const row: { j: number; w: number }[] = [];
    for (let j = Math.floor(a); j < Math.min(n, Math.ceil(b)); j++) row.push({ j, w: (Math.min(b, j + 1) - Math.max(a, j)) / ratio });
    w.push(row);
  }
  const tmp = new Float32Array(n * m); // rows reduced: [n, m]
  for (let y = 0; y < n; y++) for (let i = 0; i < m; i++) {
    let s = 0;
    for (const { j, w: wt } of w[i]!) s += src[y * n + j]! * wt;
    tmp[y * m + i] = s;
  }
  const out = new Float32Array(m * m);
  for (let i = 0; i < m; i++) for (let x = 0; x < m; x++) {
    let s = 0;
    for (const { j, w: wt } of w[i]!) s += tmp[j * m + x]! * wt;
    out[i * m + x] = s;
  }
  return out;
}

/** A square patch placed with its centre at `center`; parts outside an image are clipped when applied. */
export interface Patch {
  /** Top-left corner in image coordinates (may be negative). */
  y0: number;
  x0: number;
  size: number;
  /** Paddle intensity × contrast, [size²]. */
  line: Float32Array;
  /** Occupancy: the paddle dilated by the margin, in [0, 1], [size²]. */
  mask: Float32Array;
}

/**
 * upstream draw_line_n_mask: a paddle of `length` px from `start` along `theta`, `thickness` px wide,
 * drawn at `aa`× resolution (width round(thickness·aa)), plus its mask dilated by `margin` px.
 * Starts are integer pixels and translate() rounds up, so the shape relative to `start` depends only
 * on (theta, length, thickness, margin, aa): it is computed once and cached.
 */
export function drawPaddle(start: Coord, theta: number, length: number, thickness: number, margin: number, aa: number, contrast = 1): Patch {
  const key = `${theta}|${length}|${thickness}|${margin}|${aa}`;
  let shape = SHAPES.get(key);
  if (shape === undefined) {
    shape = paddleShape(theta, length, thickness, margin, aa);
    if (SHAPES.size > 50_000) SHAPES.clear();
    SHAPES.set(key, shape);
  }
  const R = (shape.size - 1) / 2;
  let line = shape.line;
  if (contrast !== 1) {
    line = line.slice();
    for (let i = 0; i < line.length; i++) line[i]! *= contrast;
  }
  return { y0: start[0] - R, x0: start[1] - R, size: shape.size, line, mask: shape.mask };
}

const SHAPES = new Map<string, { size: number; line: Float32Array; mask: Float32Array }>();

function paddleShape(theta: number, length: number, thickness: number, margin: number, aa: number): { size: number; line: Float32Array; mask: Float32Array } {
  const R = length + Math.ceil(thickness) + margin;
  const S = 2 * R * aa + 1;
  const c = R * aa;
  const [hy, hx] = translate([c, c], theta, length * aa);
  const width = Math.round(thickness * aa);
  const blown = new Float32Array(S * S);
  // Bresenham from the centre to the head (a 1-px PIL line), widened to `width` by a distance test.
  const dy = hy - c;
  const dx = hx - c;
  const steps = Math.max(Math.abs(dy), Math.abs(dx), 1);
  for (let k = 0; k <= steps; k++) {
    const y = Math.round(c + (dy * k) / steps);
    const x = Math.round(c + (dx * k) / steps);
    if (y >= 0 && y < S && x >= 0 && x < S) blown[y * S + x] = 1;
  }
  if (width > 1) {
    const L = Math.hypot(dy, dx) || 1;
    for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) {
      const py = y - c;
      const px = x - c;
      const along = (py * dy + px * dx) / L;
      const across = Math.abs(py * dx - px * dy) / L;
      if (along >= 0 && along <= L && across <= width / 2) blown[y * S + x] = 1;
    }
  }
  // Mask: the blown line dilated by a disk of margin·aa (stamped around each line pixel).
  const dil = new Float32Array(S * S);
  const disk = diskOffsets(margin * aa);
  for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) {
    if (blown[y * S + x] === 0) continue;
    for (const [oy, ox] of disk) {
      const yy = y + oy;
      const xx = x + ox;
      if (yy >= 0 && yy < S && xx >= 0 && xx < S) dil[yy * S + xx] = 1;
    }
  }
  const s = 2 * R + 1;
  return { size: s, line: reduceArea(blown, S, s), mask: reduceArea(dil, S, s) };
}

/**
 * Max dilation: out[p] = max_{d ∈ offsets} src[p + d] (outside the image ignored, as cv2.dilate).
 * `upTo`: stop reading a pixel once it reaches this value (callers that only compare against a
 * threshold pass it; the result is then a lower bound that is still ≥ upTo where it matters).
 */
export function dilate(src: Float32Array, h: number, w: number, offsets: readonly Coord[], upTo = Number.POSITIVE_INFINITY): Float32Array {
  const oy = Int32Array.from(offsets, (o) => o[0]);
  const ox = Int32Array.from(offsets, (o) => o[1]);
  const K = oy.length;
  const out = new Float32Array(h * w);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    let m = 0;
    for (let k = 0; k < K && m < upTo; k++) {
      const yy = y + oy[k]!;
      const xx = x + ox[k]!;
      if (yy >= 0 && yy < h && xx >= 0 && xx < w) {
        const v = src[yy * w + xx]!;
        if (v > m) m = v;
      }
    }
    out[y * w + x] = m;
  }
  return out;
}

/** image = max(image, patch.line) over the overlap (upstream np.maximum(image, l_im)). */
export function stampLine(img: Float32Array, size: number, p: Patch): void {
  forOverlap(size, p, (i, k) => {
    if (p.line[k]! > img[i]!) img[i] = p.line[k]!;
  });
}

/** mask = max(mask, patch.mask). */
export function stampMask(mask: Float32Array, size: number, p: Patch): void {
  forOverlap(size, p, (i, k) => {
    if (p.mask[k]! > mask[i]!) mask[i] = p.mask[k]!;
  });
}

/** max over the overlap of mask + patch.mask (upstream np.max(mask + m_im), the self-crossing test). */
export function maxSum(mask: Float32Array, size: number, p: Patch): number {
  let m = 0;
  forOverlap(size, p, (i, k) => {
    m = Math.max(m, mask[i]! + p.mask[k]!);
  });
  return m;
}

function forOverlap(size: number, p: Patch, f: (imageIndex: number, patchIndex: number) => void): void {
  for (let py = 0; py < p.size; py++) {
    const y = p.y0 + py;
    if (y < 0 || y >= size) continue;
    for (let px = 0; px < p.size; px++) {
      const x = p.x0 + px;
      if (x >= 0 && x < size) f(y * size + x, py * p.size + px);
    }
  }
}

/** upstream draw_circle: a disk of `radius` at `center` drawn at aa× and reduced, values in [0, 1]. */
export function drawCircle(size: number, center: Coord, radius: number, aa: number): Float32Array {
  const S = size * aa;
  const blown = new Float32Array(S * S);
  const r2 = (radius * aa) ** 2;
  for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) {
    const yy = y - center[0] * aa;
    const xx = x - center[1] * aa;
    if (xx * xx + yy * yy <= r2) blown[y * S + x] = 1;
  }
  return reduceArea(blown, S, size);
}
