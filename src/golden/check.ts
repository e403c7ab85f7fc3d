// `metala golden`: runs one golden fixture through our port of the layer it comes from. Builds the
// mixer the fixture's class and hyperparameters describe (the mixer's ReferenceAdapter), loads the
// authors' parameters into ours, runs the forward pass on the fixture's input and the backward pass
// of Σ output · dout, and compares output, input gradient and every parameter gradient.
import * as tf from '@tensorflow/tfjs';
import { toFileLayout, toOurLayout } from '../checkpoint/io.js';
import { Params } from '../layers/params.js';
import { MIXERS } from '../mixers/registry.js';
import type { MixerDef } from '../mixers/types.js';
import { InputError } from '../util/errors.js';
import { readFixture, type Fixture, type GoldenArray } from './fixture.js';

export interface Comparison {
  /** `output`, `grad input`, or `grad <authors' parameter name>`. */
  what: string;
  /** max |ours − reference| / max |reference|: relative to the tensor's scale, not element by element. */
  maxRel: number;
  maxAbs: number;
}

export interface FixtureReport {
  file: string;
  name: string;
  mixer: string;
  causal: boolean;
  /** Our formula's parameter count and the fixture's. */
  paramCount: { ours: number; reference: number };
  rows: Comparison[];
  pass: boolean;
}

/** A fixture of a class no mixer here ports: a failed check (reported, the others still run). */
export class NoPortError extends InputError {}

/** The mixer whose ReferenceAdapter names `cls`. */
export function mixerForClass(cls: string): MixerDef | undefined {
  return Object.values(MIXERS).find((m) => m.reference?.classes.includes(cls) === true);
}

function compare(what: string, ours: Float32Array, ref: number[]): Comparison {
  let maxAbs = 0;
  let scale = 0;
  for (let i = 0; i < ref.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(ours[i]! - ref[i]!));
    scale = Math.max(scale, Math.abs(ref[i]!));
  }
  // NaN in ours must fail, so compare through a test that NaN cannot pass.
  const bad = ours.some((v) => !Number.isFinite(v));
  const maxRel = bad ? Number.POSITIVE_INFINITY : scale === 0 ? maxAbs : maxAbs / scale;
  return { what, maxRel, maxAbs: bad ? Number.POSITIVE_INFINITY : maxAbs };
}

const sameShape = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((n, i) => n === b[i]);

/** Builds the mixer, loads the fixture's parameters; every mismatch is an InputError naming the key. */
function build(file: string, fx: Fixture) {
  const def = mixerForClass(fx.class);
  if (def === undefined) {
    const known = Object.values(MIXERS).flatMap((m) => m.reference?.classes ?? []);
    throw new NoPortError(`${file}: class: '${fx.class}' has no port here. Fixtures of ${known.join(', ')} can be checked`);
  }
  const ref = def.reference!;
  let spec: ReturnType<typeof ref.fromFixture>;
  try {
    spec = ref.fromFixture(fx.hyperparameters);
  } catch (e) {
    throw new InputError(`${file}: hyperparameters: ${(e as Error).message}`);
  }
  const parsed = def.options.safeParse(spec.options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InputError(`${file}: hyperparameters: give ${def.name} option ${issue?.path.join('.') ?? ''} that it rejects (${issue?.message ?? 'invalid'}). Check the fixture's hyperparameters`);
  }
  const opts = parsed.data;
  if (!sameShape(fx.input.shape, [fx.input.shape[0]!, fx.input.shape[1]!, spec.dModel]) || fx.input.shape.length !== 3) {
    throw new InputError(`${file}: input.shape: [${fx.input.shape}] is not [B, T, ${spec.dModel}]. Check the fixture`);
  }
  const [, T] = fx.input.shape as [number, number, number];
  const params = new Params(0);
  const ctx = { dModel: spec.dModel, layer: 0, nLayers: 1, params: params.scope(''), maxSeqLen: T };
  if (!spec.causal && def.createNonCausal === undefined) throw new InputError(`${file}: hyperparameters: ${def.name} has no non-causal form`);
  const mixer = spec.causal ? def.create(opts, ctx) : def.createNonCausal!(opts, ctx);
  // Authors' name → ours, and back.
  const ourName = (n: string): string => ref.names?.[n] ?? n;
  const theirName = new Map(Object.keys(fx.params).map((n) => [ourName(n), n]));
  for (const [name, s] of params.specs) {
    const theirs = theirName.get(name);
    if (theirs === undefined) {
      params.dispose();
      throw new InputError(`${file}: params: '${[...Object.entries(ref.names ?? {})].find(([, o]) => o === name)?.[0] ?? name}' is missing (${def.name} needs it, shape [${s.fileShape}]). Regenerate the fixture with every parameter`);
    }
    const a = fx.params[theirs]!;
    if (!sameShape(a.shape, s.fileShape)) {
      params.dispose();
      throw new InputError(`${file}: params.${theirs}.shape: [${a.shape}], expected [${s.fileShape}] for these hyperparameters. Check the fixture`);
    }
  }
  for (const [ours, theirs] of theirName) {
    if (!params.specs.has(ours) && !fx.unused_params.includes(theirs)) {
      params.dispose();
      throw new InputError(`${file}: params.${theirs}: not a parameter of ${def.name} with these hyperparameters (and not in unused_params). Check the fixture`);
    }
  }
  for (const [name, s] of params.specs) {
    const t = tf.tensor(toOurLayout(s, Float32Array.from(fx.params[theirName.get(name)!]!.data)), s.shape, 'float32');
    params.vars.get(name)!.assign(t);
    t.dispose();
  }
  return { def, opts, params, mixer, causal: spec.causal, theirName, dModel: spec.dModel };
}

const tensorOf = (a: GoldenArray): tf.Tensor => tf.tensor(Float32Array.from(a.data), a.shape, 'float32');

/** Checks one fixture file; `tol` bounds every row's maxRel. */
export async function checkFixture(file: string, tol: number): Promise<FixtureReport> {
  const fx = await readFixture(file);
  const b = build(file, fx);
  try {
    for (const [k, a] of [['output', fx.output], ['dout', fx.dout], ['grads.input', fx.grads.input]] as const) {
      if (!sameShape(a.shape, fx.input.shape)) throw new InputError(`${file}: ${k}.shape: [${a.shape}] differs from input.shape [${fx.input.shape}]. Check the fixture`);
    }
    const x = tf.variable(tensorOf(fx.input), true, `golden-input-${Date.now()}`);
    const dout = tensorOf(fx.dout);
    const names = [...b.params.vars.keys()];
    const vars = [x, ...names.map((n) => b.params.vars.get(n)!)];
    let y: tf.Tensor | undefined;
    const { value, grads } = tf.variableGrads(() => {
      const out = b.mixer.forward(x as unknown as tf.Tensor3D).y;
      y = tf.keep(out);
      return tf.sum(tf.mul(out, dout)) as tf.Scalar;
    }, vars);
    const rows: Comparison[] = [compare('output', (await y!.data()) as Float32Array, fx.output.data)];
    rows.push(compare('grad input', (await grads[x.name]!.data()) as Float32Array, fx.grads.input.data));
    for (const n of names) {
      const theirs = b.theirName.get(n)!;
      const refGrad = fx.grads.params[theirs];
      if (refGrad === undefined) throw new InputError(`${file}: grads.params.${theirs}: missing. Regenerate the fixture with every gradient`);
      const s = b.params.specs.get(n)!;
      const ours = toFileLayout(s, (await grads[b.params.vars.get(n)!.name]!.data()) as Float32Array);
      rows.push(compare(`grad ${theirs}`, ours, refGrad.data));
    }
    tf.dispose([value, y!, dout, x, ...Object.values(grads)]);
    const paramCount = { ours: b.def.paramCount(b.opts, b.dModel), reference: fx.param_count };
    const pass = rows.every((r) => r.maxRel <= tol) && paramCount.ours === paramCount.reference && b.params.count() === paramCount.ours;
    return { file, name: fx.name, mixer: b.def.name, causal: b.causal, paramCount, rows, pass };
  } finally {
    b.params.dispose();
  }
}
