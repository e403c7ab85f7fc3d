// YAML → include/extends merge → --set overrides → sweep/variants expansion → zod validation
// → fully resolved RunSpecs. Every problem is one ConfigError line naming file and key path.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, relative, resolve, sep } from 'node:path';
import { createHash } from 'node:crypto';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { z } from 'zod';
import { ConfigError, MetalaError } from '../util/errors.js';
import { entryOf, suggest, unknownNameMessage } from '../util/registry.js';
import { MIXERS, parseMixer } from '../mixers/registry.js';
import { TASKS } from '../tasks/registry.js';
import { BACKBONES } from '../models/registry.js';
import { executorSchema, experimentSchema, type ExecutorConfig, type RunSpec } from './schema.js';

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A plug-in block (mixer, channel mixer, task, …) that names a different plug-in than `b`. */
const otherPlugin = (b: Obj, v: Obj): boolean => typeof b['name'] === 'string' && typeof v['name'] === 'string' && b['name'] !== v['name'];

/**
 * Deep merge: objects merge key by key, everything else (arrays included) is replaced. A block that
 * names another plug-in (`mixer: { name: gla, … }` over `mixer: { name: metala, … }`) replaces the
 * included one whole: the other plug-in's options mean nothing to it.
 */
export function deepMerge(base: Obj, over: Obj): Obj {
  const out: Obj = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isObj(b) && isObj(v) && !otherPlugin(b, v) ? deepMerge(b, v) : v;
  }
  return out;
}

function readYaml(file: string, from?: string): Obj {
  if (!existsSync(file)) {
    throw new ConfigError(from ?? file, from === undefined ? '' : 'include', `file ${from === undefined ? '' : `'${file}' `}not found. Check the path${from === undefined ? ' (see configs/ for the shipped experiments)' : ' (relative to the including file)'}`);
  }
  if (statSync(file).isDirectory()) {
    throw new ConfigError(from ?? file, from === undefined ? '' : 'include', `${from === undefined ? 'this' : `'${file}'`} is a folder, not a YAML file. Give a file, e.g. configs/mqar.yaml (a shell glob such as configs/*.yaml names several)`);
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(from ?? file, from === undefined ? '' : 'include', `cannot read ${from === undefined ? 'the file' : `'${file}'`} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}). Check its permissions`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    if (e instanceof YAMLParseError) {
      const pos = e.linePos?.[0];
      const where = pos !== undefined ? `line ${pos.line}, column ${pos.col}` : 'yaml';
      throw new ConfigError(file, '', `malformed YAML at ${where}: ${e.message.split('\n')[0]}. Fix the syntax`);
    }
    throw e;
  }
  if (doc === null || doc === undefined) return {};
  if (!isObj(doc)) throw new ConfigError(file, '', 'expected a mapping of keys at the top level. See configs/smoke/mqar.yaml for the shape');
  return doc;
}

/** Resolve `include:` / `extends:` (a path or a list; later ones and the file itself win). */
function loadWithIncludes(file: string, seen: string[] = []): Obj {
  const abs = resolve(file);
  if (seen.includes(abs)) throw new ConfigError(file, 'include', `include cycle: ${[...seen, abs].join(' → ')}. Remove one include`);
  const doc = readYaml(abs, seen.length > 0 ? seen[seen.length - 1] : undefined);
  const inc = [doc['include'], doc['extends']].flatMap((v) => (v === undefined ? [] : Array.isArray(v) ? v : [v]));
  const { include: _i, extends: _e, ...rest } = doc;
  let merged: Obj = {};
  for (const p of inc) {
    if (typeof p !== 'string') throw new ConfigError(file, 'include', 'expected a path or a list of paths');
    merged = deepMerge(merged, loadWithIncludes(resolve(dirname(abs), p), [...seen, abs]));
  }
  return deepMerge(merged, rest);
}

/**
 * Whether a YAML file is an lm-eval-style task config (configs/tasks/*.yaml: `task: <name>` with an
 * `output_type`) rather than an experiment; false for anything unreadable (loadExperiment reports it).
 */
export function isEvalTaskConfig(file: string): boolean {
  try {
    if (!existsSync(file) || statSync(file).isDirectory()) return false;
    const doc = parseYaml(readFileSync(file, 'utf8')) as unknown;
    return isObj(doc) && typeof doc['task'] === 'string' && 'output_type' in doc;
  } catch {
    return false;
  }
}

/** Path segments that would reach Object.prototype instead of a config key. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** Set a dotted path, creating objects on the way. */
export function setPath(obj: Obj, path: string, value: unknown): void {
  const keys = path.split('.');
  // Callers validate user paths first (parseSet); this keeps any other caller from polluting prototypes.
  if (keys.some((k) => FORBIDDEN_KEYS.has(k))) throw new Error(`internal: config path '${path}' names an object prototype`);
  let cur: Obj = obj;
  for (const k of keys.slice(0, -1)) {
    if (!isObj(cur[k])) cur[k] = {};
    cur = cur[k] as Obj;
  }
  cur[keys[keys.length - 1]!] = value;
}

/** `a.b=c` with c parsed as a YAML scalar/flow value (numbers, booleans, lists). */
export function parseSet(file: string, expr: string): [string, unknown] {
  const eq = expr.indexOf('=');
  if (eq <= 0) throw new ConfigError(file, '--set', `'${expr}' is not of the form key.path=value. Example: --set train.lr=1e-3`);
  const path = expr.slice(0, eq).trim();
  const bad = path.split('.').find((k) => k === '' || FORBIDDEN_KEYS.has(k));
  if (bad !== undefined) throw new ConfigError(file, '--set', `'${path}' ${bad === '' ? 'has an empty segment' : `names '${bad}', which is not a config key`}. Give a dotted config path, e.g. --set train.lr=1e-3`);
  const raw = expr.slice(eq + 1);
  let value: unknown;
  try {
    value = parseYaml(raw);
  } catch {
    value = raw;
  }
  return [path, value ?? raw];
}

function cartesian(sweep: Record<string, unknown[]>): Record<string, unknown>[] {
  let points: Record<string, unknown>[] = [{}];
  for (const [path, values] of Object.entries(sweep)) points = points.flatMap((p) => values.map((v) => ({ ...p, [path]: v })));
  return points;
}

function typeName(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'a mapping' : `${typeof v} ${JSON.stringify(v)}`;
}

function getPath(obj: unknown, path: (string | number | symbol)[]): unknown {
  let cur = obj;
  for (const k of path) cur = isObj(cur) || Array.isArray(cur) ? (cur as Record<string | number, unknown>)[k as string] : undefined;
  return cur;
}

/** Turn the first zod issue into one actionable line. */
function zodToConfigError(file: string, prefix: string, error: z.ZodError, input: unknown, knownKeys?: (path: string) => string[]): ConfigError {
  const issue = error.issues[0]!;
  const path = [prefix, ...issue.path.map(String)].filter((s) => s !== '').join('.');
  switch (issue.code) {
    case 'unrecognized_keys': {
      const key = issue.keys[0]!;
      const known = knownKeys?.(path) ?? [];
      const close = suggest(key, known);
      const hint = close.length > 0 ? ` Did you mean '${close[0]}'?` : '';
      return new ConfigError(file, path === '' ? key : `${path}.${key}`, `unknown key '${key}'.${hint} Remove it or fix the spelling${known.length > 0 ? ` (allowed: ${known.join(', ')})` : ''}`);
    }
    case 'invalid_type': {
      const got = getPath(input, issue.path);
      if (got === undefined) return new ConfigError(file, path, `required key is missing: expected ${issue.expected}. Add it`);
      return new ConfigError(file, path, `expected ${issue.expected}, got ${typeName(got)}. Fix the value`);
    }
    case 'too_small':
    case 'too_big':
      return new ConfigError(file, path, `${issue.message.replace(/^Too (small|big): expected \w+ to (have|be) /i, 'must $2 ')}, got ${JSON.stringify(getPath(input, issue.path))}. Fix the value`);
    case 'invalid_value':
      return new ConfigError(file, path, `${issue.message}, got ${JSON.stringify(getPath(input, issue.path))}. Use one of the listed values`);
    default:
      return new ConfigError(file, path, `${issue.message}. Fix the value`);
  }
}

function shapeKeys(schema: z.ZodType, path: string[]): string[] {
  let s: unknown = schema;
  for (const k of path) {
    s = unwrap(s);
    const shape = (s as { shape?: Record<string, unknown> }).shape;
    s = shape?.[k];
  }
  s = unwrap(s);
  const shape = (s as { shape?: Record<string, unknown> } | undefined)?.shape;
  return shape !== undefined ? Object.keys(shape) : [];
}

function unwrap(s: unknown): unknown {
  let cur = s as { def?: { innerType?: unknown; in?: unknown; schema?: unknown; type?: string } } | undefined;
  for (let i = 0; i < 8 && cur?.def !== undefined; i++) {
    const next = cur.def.innerType ?? cur.def.in ?? cur.def.schema;
    if (next === undefined) break;
    cur = next as typeof cur;
  }
  return cur;
}

/** Validate one merged experiment object (no sweep/variants) and fill every default. */
function validateRun(file: string, doc: Obj): Omit<RunSpec, 'run_id' | 'experiment' | 'point' | 'variant'> & { name?: string } {
  const known = (p: string): string[] => shapeKeys(experimentSchema, p === '' ? [] : p.split('.'));
  const top = experimentSchema.safeParse(doc);
  if (!top.success) throw zodToConfigError(file, '', top.error, doc, known);
  const exp = top.data;
  // Task options, against the task registry.
  const taskDef = entryOf(TASKS as Readonly<Record<string, (typeof TASKS)[keyof typeof TASKS]>>, exp.task.name);
  if (taskDef === undefined) throw new ConfigError(file, 'task.name', `${unknownNameMessage('task', exp.task.name, Object.keys(TASKS))}. Fix the name`);
  const { name: taskName, ...taskRest } = exp.task;
  const taskOpts = (taskDef.options as z.ZodType).safeParse(taskRest);
  if (!taskOpts.success) throw zodToConfigError(file, 'task', taskOpts.error, taskRest, () => Object.keys((unwrap(taskDef.options) as { shape: Obj }).shape));
  const problem = taskDef.check(taskOpts.data as never)[0];
  if (problem !== undefined) throw new ConfigError(file, ['task', ...problem.path].join('.'), problem.message);
  // Model, against its backbone's schema; then mixer options, against the mixer registry.
  const backboneName = (exp.model['backbone'] as string | undefined) ?? 'lm';
  const backbone = entryOf(BACKBONES, backboneName);
  if (backbone === undefined) throw new ConfigError(file, 'model.backbone', `${unknownNameMessage('backbone', backboneName, Object.keys(BACKBONES))}. Fix the name`);
  const modelParsed = backbone.schema.safeParse({ ...exp.model, backbone: backboneName });
  if (!modelParsed.success) throw zodToConfigError(file, 'model', modelParsed.error, exp.model, (p) => shapeKeys(backbone.schema, p.split('.').slice(1)));
  const model = modelParsed.data as RunSpec['model'];
  const task = { name: taskName, ...(taskOpts.data as Obj) };
  const td = taskOpts.data as never;
  const shape = { vocabSize: taskDef.vocabSize(td), seqLen: taskDef.seqLen(td), numClasses: taskDef.numClasses?.(td), featureDim: taskDef.featureDim?.(td) };
  if (shape.featureDim !== undefined && backbone.readsFeatures !== true) {
    const which = Object.values(BACKBONES).filter((b) => b.readsFeatures === true).map((b) => b.name);
    throw new ConfigError(file, 'model.backbone', `'${backboneName}' reads token ids, but task ${taskName} has real-valued prompts; use backbone: ${which.join(' or ')}`);
  }
  let withMixer: Obj = model;
  // Every backbone but icl (a bare one-layer model) takes a mixer from the registry.
  if ('mixer' in model) {
    const mixerDef = entryOf(MIXERS, model.mixer.name);
    if (mixerDef === undefined) throw new ConfigError(file, 'model.mixer.name', `${unknownNameMessage('mixer', model.mixer.name, Object.keys(MIXERS))}. Fix the name`);
    const parsed = parseMixer(model.mixer);
    if (!parsed.ok) throw zodToConfigError(file, 'model.mixer', parsed.error, parsed.rest, () => Object.keys(mixerDef.options.shape));
    withMixer = { ...model, mixer: parsed.mixer };
  }
  let resolved: RunSpec['model'];
  try {
    resolved = backbone.resolve(withMixer, shape) as RunSpec['model'];
  } catch (e) {
    // A backbone refuses a task it cannot model: one line, located at model.
    if (e instanceof MetalaError && /^model\.[\w.]+: /.test(e.message)) throw new ConfigError(file, e.message.slice(0, e.message.indexOf(':')), e.message.slice(e.message.indexOf(':') + 2));
    throw e;
  }
  checkTensorSizes(file, { seqLen: taskDef.seqLen(td), batch: exp.train.micro_batch_size ?? exp.train.batch_size, dModel: resolved.d_model });
  return { name: exp.name, seed: exp.seed, task, model: resolved, train: exp.train };
}

/** 4 GiB: all of wasm32's address space, and over every WebGPU device's per-buffer limit here. */
const MAX_TENSOR_BYTES = 2 ** 32;

/**
 * Sizes no backend can hold, caught before anything is allocated: a step's largest activation
 * ([B, T, 4·d], the channel mixer's hidden) over 4 GiB of float32, per micro-batch when one is set.
 * (Without this, batch_size 1e12 fails deep in wasm with an out-of-bounds trace after gigabytes of
 * allocation.) Logits are not checked here: how many positions a task supervises (all for language
 * modelling, the queries for MQAR) decides their size.
 */
function checkTensorSizes(file: string, s: { seqLen: number; batch: number; dModel: number }): void {
  const bytes = 4 * s.batch * s.seqLen * 4 * s.dModel;
  if (bytes > MAX_TENSOR_BYTES) {
    const gib = bytes / 2 ** 30;
    throw new ConfigError(
      file,
      'train.batch_size',
      `a training step's activations [${s.batch}, ${s.seqLen}, ${4 * s.dModel}] would take ${gib >= 1e6 ? gib.toExponential(1) : gib.toFixed(1)} GiB, more than any backend holds in one tensor (4 GiB). Lower train.batch_size or the sequence length, or set train.micro_batch_size`,
    );
  }
}

/** Stable short hash of the resolved run (what makes two runs the same experiment). */
export function runIdOf(spec: Omit<RunSpec, 'run_id'>): string {
  const canon = (v: unknown): unknown =>
    isObj(v) ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, canon(v[k])])) : Array.isArray(v) ? v.map(canon) : v;
  const { experiment, seed, task, model, variant } = spec;
  // train.stack says how runs execute (stacked or alone), not what they are: same run either way.
  const { stack: _stack, ...train } = spec.train;
  return createHash('sha256').update(JSON.stringify(canon({ experiment, seed, task, model, train, variant: variant ?? null }))).digest('hex').slice(0, 10);
}

/** Experiment name: `name:` or the config path under configs/ without extension. */
function experimentName(file: string, given: string | undefined): string {
  if (given !== undefined) return given;
  const abs = resolve(file);
  const rel = relative(resolve('configs'), abs);
  const base = rel.startsWith('..') ? abs.split(sep).pop()! : rel;
  return base.replace(/\.ya?ml$/, '').split(sep).join('/');
}

export interface LoadedExperiment {
  file: string;
  experiment: string;
  backend?: string;
  /** The `executor:` block (how the runs execute; validated with the runs, not part of run ids). */
  executor?: ExecutorConfig;
  runs: RunSpec[];
}

/**
 * Load, merge, override, expand and validate. Nothing runs before this returns, so a bad config
 * never leaves partial results behind.
 * @param sets `--set a.b=c` overrides, applied after includes and before expansion
 * @param opts.variants expand `variants:` (metala ablate) instead of ignoring them
 */
export function loadExperiment(file: string, sets: string[] = [], opts: { variants?: boolean } = {}): LoadedExperiment {
  const doc = loadWithIncludes(file);
  for (const s of sets) {
    const [path, value] = parseSet(file, s);
    setPath(doc, path, value);
  }
  const sweepRaw = doc['sweep'];
  const variantsRaw = doc['variants'];
  const { sweep: _s, variants: _v, ...base } = doc;
  const grids = sweepRaw === undefined ? [{}] : Array.isArray(sweepRaw) ? sweepRaw : [sweepRaw];
  if (grids.length === 0 || grids.some((g) => !isObj(g) || Object.values(g).some((v) => !Array.isArray(v) || v.length === 0))) {
    throw new ConfigError(file, 'sweep', 'expected a mapping of dotted paths to non-empty lists (a grid), or a list of such grids, e.g. { train.lr: [1.0e-4, 1.0e-3] }');
  }
  if (variantsRaw !== undefined && (!isObj(variantsRaw) || Object.values(variantsRaw).some((v) => !isObj(v)))) {
    throw new ConfigError(file, 'variants', 'expected a mapping of names to { dotted.path: value } mappings');
  }
  const variants: [string | undefined, Obj][] =
    opts.variants === true && variantsRaw !== undefined ? Object.entries(variantsRaw as Record<string, Obj>) : [[undefined, {}]];
  // A list of grids is their union (e.g. Fig. 3 sweeps different LRs at each sequence length).
  const points = (grids as Record<string, unknown[]>[]).flatMap((g) => cartesian(g));
  const runs: RunSpec[] = [];
  const seen = new Set<string>();
  for (const [variant, vset] of variants) {
    for (const point of points) {
      const d = structuredClone(base);
      for (const [p, v] of Object.entries(vset)) setPath(d, p, v);
      for (const [p, v] of Object.entries(point)) setPath(d, p, v);
      const where = [variant !== undefined ? `variants.${variant}` : '', Object.keys(point).length > 0 ? `sweep point ${JSON.stringify(point)}` : ''].filter((s) => s !== '').join(', ');
      let r;
      try {
        r = validateRun(file, d);
      } catch (e) {
        if (e instanceof ConfigError && where !== '') throw new ConfigError(file, '', `${e.message.slice(file.length + 2)} (in ${where})`);
        throw e;
      }
      const experiment = experimentName(file, r.name);
      const spec = { experiment, variant, point: { ...vset, ...point }, seed: r.seed, task: r.task, model: r.model, train: r.train } as Omit<RunSpec, 'run_id'>;
      const run_id = runIdOf(spec);
      if (seen.has(run_id)) continue;
      seen.add(run_id);
      runs.push({ ...spec, run_id } as RunSpec);
    }
  }
  const backend = typeof base['backend'] === 'string' ? base['backend'] : undefined;
  // Every run validated the whole document, executor block included: parse it once more for its defaults.
  const executor = base['executor'] === undefined ? undefined : executorSchema.parse(base['executor']);
  return { file, experiment: runs[0]?.experiment ?? experimentName(file, undefined), backend, ...(executor !== undefined ? { executor } : {}), runs };
}
