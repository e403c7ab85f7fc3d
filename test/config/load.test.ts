// Config system: every shipped config validates; every bad input is one ConfigError line naming
// the file and the key path, raised before anything runs.
import assert from 'node:assert';
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { loadExperiment, runIdOf } from '../../src/config/load.js';
import { ConfigError } from '../../src/util/errors.js';
import { REPO } from '../helpers/golden.js';
import type { ModelSpec } from '../../src/config/schema.js';
import type { IclConfig } from '../../src/models/icl_config.js';

/** A run's model block with a mixer (every backbone but icl). */
function mixed(r: { model: ModelSpec }): Exclude<ModelSpec, IclConfig> {
  if (!('mixer' in r.model)) throw new Error(`backbone ${r.model.backbone} has no mixer`);
  return r.model;
}

/** Experiment configs (configs/tasks/ holds zero-shot task definitions, a different format). */
function allConfigs(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return f === 'tasks' && dir.endsWith('configs') ? [] : allConfigs(p);
    return /\.ya?ml$/.test(f) ? [p] : [];
  });
}

const tmp = mkdtempSync(join(tmpdir(), 'metala-config-'));
function write(name: string, text: string): string {
  const p = join(tmp, name);
  writeFileSync(p, text);
  return p;
}

const BASE = `
task: { name: mqar, vocab_size: 128, input_seq_len: 64, num_kv_pairs: 4, train_examples: 100, test_examples: 10 }
model: { d_model: 32, n_layers: 1, mixer: { name: metala, num_heads: 2 } }
train: { batch_size: 8, max_steps: 5, lr: 1.0e-3 }
`;

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('shipped configs', () => {
  const files = allConfigs(resolve(REPO, 'configs'));
  it('exist', () => expect(files.length).toBeGreaterThanOrEqual(3));
  it.each(files)('%s validates and expands', (f) => {
    const exp = loadExperiment(f, [], { variants: true });
    expect(exp.runs.length).toBeGreaterThan(0);
    for (const r of exp.runs) expect(r.run_id).toMatch(/^[0-9a-f]{10}$/);
  });
  it('Fig. 3 expands to its protocol: 2 mixers × 4 widths × (4 LRs at 256 + 8 at 512)', () => {
    const exp = loadExperiment(resolve(REPO, 'configs/mqar.yaml'));
    expect(exp.runs.length).toBe(2 * 4 * (4 + 8));
    const seq512 = exp.runs.filter((r) => r.task['input_seq_len'] === 512);
    expect(new Set(seq512.map((r) => r.task['num_kv_pairs']))).toEqual(new Set([64]));
    expect(new Set(seq512.map((r) => r.train.batch_size))).toEqual(new Set([128]));
  });
});

describe('loading', () => {
  it('fills defaults and derives the vocabulary from the task', () => {
    const r = loadExperiment(write('ok.yaml', BASE)).runs[0]!;
    assert(r.model.backbone === 'lm');
    expect(r.model.vocab_size).toBe(128);
    expect(mixed(r).mixer['tau']).toBe(16);
    expect(r.train.weight_decay).toBe(0.1);
    expect(r.experiment).toBe('ok');
  });
  it('include deep-merges and the including file wins', () => {
    write('base.yaml', BASE);
    const f = write('child.yaml', 'include: base.yaml\nmodel: { d_model: 64 }\n');
    const r = loadExperiment(f).runs[0]!;
    expect(r.model.d_model).toBe(64);
    expect(mixed(r).n_layers).toBe(1);
  });
  it('include: a block naming another plug-in replaces the included one; the same plug-in merges', () => {
    write('base.yaml', BASE);
    // metala's num_heads would be an unknown option of mamba if the blocks merged.
    const other = loadExperiment(write('other.yaml', 'include: base.yaml\nmodel: { mixer: { name: mamba } }\n')).runs[0]!;
    expect(mixed(other).mixer['name']).toBe('mamba');
    expect(mixed(other).mixer['num_heads']).toBeUndefined();
    const same = loadExperiment(write('same.yaml', 'include: base.yaml\nmodel: { mixer: { name: metala, conv_size: 2 } }\n')).runs[0]!;
    expect([mixed(same).mixer['num_heads'], mixed(same).mixer['conv_size']]).toEqual([2, 2]);
  });
  it('the per-mixer image configs include the MetaLA one and resolve to their own full configs', () => {
    for (const [dir, base] of [['imagenet', 'deit-tiny-metala'], ['imagenet', 'deit-small-metala'], ['smoke', 'image-metala']] as const) {
      const b = loadExperiment(resolve(REPO, 'configs', dir, `${base}.yaml`)).runs[0]!;
      for (const m of ['gla', 'hgrn', 'mamba', 'softmax']) {
        const r = loadExperiment(resolve(REPO, 'configs', dir, `${base.replace('metala', m)}.yaml`)).runs[0]!;
        expect(mixed(r).mixer['name']).toBe(m);
        expect([r.model.d_model, mixed(r).n_layers, r.train.lr, r.task]).toEqual([b.model.d_model, mixed(b).n_layers, b.train.lr, b.task]);
      }
    }
  });
  it('--set overrides with YAML-typed values', () => {
    const r = loadExperiment(write('set.yaml', BASE), ['train.lr=0.01', 'model.mixer.self_aug=false']).runs[0]!;
    expect(r.train.lr).toBe(0.01);
    expect(mixed(r).mixer['self_aug']).toBe(false);
  });
  it('sweep is a grid; a list of grids is their union; run ids are stable and distinct', () => {
    const f = write('sweep.yaml', `${BASE}sweep:\n  - { train.lr: [1.0e-3, 1.0e-2], model.d_model: [32, 64] }\n  - { train.lr: [1.0e-4] }\n`);
    const a = loadExperiment(f).runs;
    expect(a.length).toBe(5);
    expect(new Set(a.map((r) => r.run_id)).size).toBe(5);
    expect(loadExperiment(f).runs.map((r) => r.run_id)).toEqual(a.map((r) => r.run_id));
    const { run_id, ...rest } = a[0]!;
    expect(runIdOf(rest)).toBe(run_id);
  });
  it('variants expand only when asked (metala ablate)', () => {
    const f = write('var.yaml', `${BASE}variants:\n  full: {}\n  no_aug: { model.mixer.self_aug: false }\n`);
    expect(loadExperiment(f).runs.length).toBe(1);
    const runs = loadExperiment(f, [], { variants: true }).runs;
    expect(runs.map((r) => r.variant)).toEqual(['full', 'no_aug']);
  });
});

describe('errors: one line, file and key path', () => {
  it('malformed YAML names the line', () => {
    const f = write('bad.yaml', 'task: { name: mqar\nmodel: [\n');
    expect(errorOf(() => loadExperiment(f))).toMatch(/bad\.yaml: \(top level\): malformed YAML at line \d+, column \d+/);
  });
  it('missing file', () => {
    expect(errorOf(() => loadExperiment(join(tmp, 'nope.yaml')))).toMatch(/nope\.yaml: .*not found/);
  });
  it('unknown key with a suggestion', () => {
    const f = write('unk.yaml', BASE.replace('lr: 1.0e-3', 'lr: 1.0e-3, wieght_decay: 0.1'));
    const m = errorOf(() => loadExperiment(f));
    expect(m).toMatch(/unk\.yaml: train\.wieght_decay: unknown key 'wieght_decay'\. Did you mean 'weight_decay'\?/);
  });
  it('unknown mixer option', () => {
    const f = write('unkm.yaml', BASE.replace('num_heads: 2', 'num_heads: 2, conv: 4'));
    expect(errorOf(() => loadExperiment(f))).toMatch(/model\.mixer\.conv: unknown key 'conv'/);
  });
  it('wrong type', () => {
    const f = write('type.yaml', BASE.replace('batch_size: 8', 'batch_size: eight'));
    expect(errorOf(() => loadExperiment(f))).toMatch(/type\.yaml: train\.batch_size: expected number, got string "eight"/);
  });
  it('negative batch size', () => {
    const f = write('neg.yaml', BASE.replace('batch_size: 8', 'batch_size: -4'));
    expect(errorOf(() => loadExperiment(f))).toMatch(/neg\.yaml: train\.batch_size: .*-4/);
  });
  it('unknown mixer name with did you mean', () => {
    const f = write('mix.yaml', BASE.replace('name: metala', 'name: metla'));
    expect(errorOf(() => loadExperiment(f))).toMatch(/mix\.yaml: model\.mixer\.name: unknown mixer 'metla'\. Did you mean: metala\?/);
  });
  it('unknown task name', () => {
    const f = write('task.yaml', BASE.replace('name: mqar', 'name: mqr'));
    expect(errorOf(() => loadExperiment(f))).toMatch(/task\.name: unknown task 'mqr'\. Did you mean: mqar\?/);
  });
  it('task cross-field rules', () => {
    const f = write('kv.yaml', BASE.replace('num_kv_pairs: 4', 'num_kv_pairs: 40'));
    expect(errorOf(() => loadExperiment(f))).toMatch(/kv\.yaml: task\.num_kv_pairs/);
  });
  it('missing required key', () => {
    const f = write('req.yaml', BASE.replace('lr: 1.0e-3', ''));
    expect(errorOf(() => loadExperiment(f))).toMatch(/train\.lr: required key is missing/);
  });
  it('bad --set and bad sweep value name their place', () => {
    const f = write('s.yaml', BASE);
    expect(errorOf(() => loadExperiment(f, ['train.lr']))).toMatch(/--set: 'train\.lr' is not of the form/);
    const g = write('sw.yaml', `${BASE}sweep: { train.lr: [0.1, -1] }\n`);
    expect(errorOf(() => loadExperiment(g))).toMatch(/train\.lr: .*-1.*\(in sweep point \{"train\.lr":-1\}\)/);
  });
  it('every message is a single line', () => {
    const f = write('one.yaml', BASE.replace('name: metala', 'name: nope'));
    expect(errorOf(() => loadExperiment(f))).not.toContain('\n');
  });
});

describe('mixer options are parsed once (#18 B2)', () => {
  it('the loader resolves a mixer block and the model build takes it as parsed', async () => {
    const { vi } = await import('vitest');
    const { MIXERS } = await import('../../src/mixers/registry.js');
    const { BACKBONES } = await import('../../src/models/registry.js');
    const { initBackend } = await import('../../src/backend/index.js');
    await initBackend('cpu');
    const { tinyConfig } = await import('../helpers/tiny.js');
    const schema = MIXERS['metala']!.options;
    const spies = [vi.spyOn(schema, 'safeParse'), vi.spyOn(schema, 'parse')];
    const parses = (): number => spies.reduce((n, s) => n + s.mock.calls.length, 0);
    try {
      const spec = loadExperiment(tinyConfig().file).runs[0]!;
      expect(parses()).toBe(1);
      const model = BACKBONES[spec.model.backbone]!.create(spec.model, spec.seed);
      expect(parses()).toBe(1);
      model.dispose();
    } finally {
      for (const s of spies) s.mockRestore();
    }
  });
});
