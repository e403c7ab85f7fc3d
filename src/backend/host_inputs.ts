// Host arrays a training step computes from its batch, made replayable (step_replay.ts).
//
// A replayed step re-issues last step's GPU commands without running the step's JavaScript, so every
// host array that the step uploads and that changes from batch to batch must be recomputable without
// it. The step's roots (the batch's arrays, the optimizer's per-step scalars) are given to the replay
// by the training loop; an array computed from them (label positions, the embedding gradient's
// counting sort, …) goes through `derived`, which outside a capture is just a call and inside one
// also records the function and the arrays it read. A replay re-runs those functions on the new roots,
// in the recorded order, and writes their results where the captured step uploaded them. An upload of
// an array that is neither a root nor derived from one is a constant of the step: two captured steps
// must upload the same bytes there, or the step is not replayed (step_replay.ts).
//
// Lengths are part of a step's shapes: a replay whose recomputed arrays differ in length from the
// captured ones does not happen (the step runs normally, and is captured again).

export type HostArray = Int32Array | Float32Array | Uint8Array;

/** Where an uploaded array comes from: output `out` of node `node` (roots are nodes with no function), a byte range of it. */
export interface HostRef {
  node: number;
  out: number;
  byteOffset: number;
  byteLength: number;
}

interface HostNode {
  fn?: (...xs: HostArray[]) => HostArray | HostArray[];
  /** A guard's outputs at capture: the step's control flow depended on them, so a replay needs the same values. */
  guard?: HostArray[];
  /** Each source: (node, out) whole, or a byte range of it. */
  sources: HostRef[];
  /** Lengths of the outputs at capture; a replay needs the same. */
  lengths: number[];
}

/** The derivations recorded in one captured step. */
export interface HostGraph {
  nodes: HostNode[];
  roots: number;
}

interface Capture {
  nodes: HostNode[];
  outputs: HostArray[][];
  /** Set when a `derived` call read an array the capture does not know: the step is not replayable. */
  unknown?: string;
}

let capture: Capture | undefined;

function findRef(c: Capture, a: ArrayBufferView): HostRef | undefined {
  for (let node = c.outputs.length - 1; node >= 0; node--) {
    const outs = c.outputs[node]!;
    for (let out = 0; out < outs.length; out++) {
      const o = outs[out]!;
      if (o === a) return { node, out, byteOffset: 0, byteLength: o.byteLength };
      if (o.buffer === a.buffer && a.byteOffset >= o.byteOffset && a.byteOffset + a.byteLength <= o.byteOffset + o.byteLength) {
        return { node, out, byteOffset: a.byteOffset - o.byteOffset, byteLength: a.byteLength };
      }
    }
  }
  return undefined;
}

function record<T extends HostArray | HostArray[]>(fn: (...xs: HostArray[]) => T, sources: HostArray[], guard: boolean): T {
  const y = fn(...sources);
  const c = capture;
  if (c === undefined) return y;
  const refs: HostRef[] = [];
  for (const s of sources) {
    const r = findRef(c, s);
    if (r === undefined) {
      c.unknown ??= `a host computation read an array of ${s.length} elements that is not a step input`;
      return y;
    }
    refs.push(r);
  }
  const outs: HostArray[] = Array.isArray(y) ? (y as HostArray[]) : [y as HostArray];
  c.nodes.push({ fn: fn as HostNode['fn'], sources: refs, lengths: outs.map((o) => o.length), ...(guard ? { guard: outs.map((o) => o.slice() as HostArray) } : {}) });
  c.outputs.push(outs);
  return y;
}

/**
 * fn(...sources), recorded when a step is being captured. fn must be a pure function of its
 * sources (typed arrays the step's roots are, or that `derived` returned, or views of them) and of
 * constants of the run.
 */
export function derived<T extends HostArray | HostArray[]>(fn: (...xs: HostArray[]) => T, ...sources: HostArray[]): T {
  return record(fn, sources, false);
}

/**
 * As `derived`, for arrays the step's JavaScript branches on or takes shapes from (e.g. each
 * replica's count of labelled positions): a replay needs the values of the captured step.
 */
export function guarded<T extends HostArray | HostArray[]>(fn: (...xs: HostArray[]) => T, ...sources: HostArray[]): T {
  return record(fn, sources, true);
}

/** Starts recording derivations from these roots (one node each). */
export function beginHostCapture(roots: readonly HostArray[]): void {
  capture = { nodes: roots.map((r) => ({ sources: [], lengths: [r.length] })), outputs: roots.map((r) => [r]) };
}

/** Where the capture knows this array from, if it does. */
export function hostRefOf(a: ArrayBufferView): HostRef | undefined {
  return capture === undefined ? undefined : findRef(capture, a);
}

/** Ends the capture: its graph, or why the step cannot be replayed. */
export function endHostCapture(): { graph: HostGraph } | { why: string } {
  const c = capture;
  capture = undefined;
  if (c === undefined) return { why: 'internal: no host capture' };
  if (c.unknown !== undefined) return { why: c.unknown };
  const roots = c.nodes.filter((n) => n.fn === undefined).length;
  return { graph: { nodes: c.nodes, roots } };
}

function sameValues(a: HostArray, b: HostArray): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function slice(a: HostArray, r: HostRef): HostArray {
  if (r.byteOffset === 0 && r.byteLength === a.byteLength) return a;
  const per = a.BYTES_PER_ELEMENT;
  return a.subarray(r.byteOffset / per, (r.byteOffset + r.byteLength) / per) as HostArray;
}

/**
 * Every node's outputs for new roots, or undefined where a length differs from the capture's
 * (the step's shapes changed: it cannot be replayed).
 */
export function evaluateHostGraph(g: HostGraph, roots: readonly HostArray[]): HostArray[][] | undefined {
  if (roots.length !== g.roots) return undefined;
  const outs: HostArray[][] = [];
  for (const [i, n] of g.nodes.entries()) {
    if (n.fn === undefined) {
      const r = roots[i]!;
      if (r.length !== n.lengths[0]) return undefined;
      outs.push([r]);
      continue;
    }
    const xs = n.sources.map((s) => slice(outs[s.node]![s.out]!, s));
    const y = n.fn(...xs);
    const ys = Array.isArray(y) ? y : [y];
    if (ys.length !== n.lengths.length || ys.some((o, k) => o.length !== n.lengths[k])) return undefined;
    if (n.guard !== undefined && ys.some((o, k) => !sameValues(o, n.guard![k]!))) return undefined;
    outs.push(ys);
  }
  return outs;
}

/** The bytes a reference names, from evaluated outputs. */
export function hostBytes(outs: HostArray[][], r: HostRef): HostArray {
  return slice(outs[r.node]![r.out]!, r);
}
