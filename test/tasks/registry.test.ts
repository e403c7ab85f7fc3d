// Task registry contract (src/tasks/registry.ts): schema defaults and strictness, cross-field
// checks surfacing as located zod issues, and makeData for every registered task.
import { describe, expect, it } from 'vitest';
import { TASKS, getTask, taskConfigSchema } from '../../src/tasks/registry.js';
import { IGNORE_INDEX } from '../../src/tasks/types.js';
import { MetalaError } from '../../src/util/errors.js';
import { Rng } from '../../src/util/rng.js';

describe('TASKS', () => {
  it('keys equal task names and every task has a metric', () => {
    for (const [key, def] of Object.entries(TASKS)) {
      expect(def.name).toBe(key);
      expect(['accuracy', 'perplexity', 'excess_risk']).toContain(def.metric);
      expect(def.description.length).toBeGreaterThan(0);
    }
  });

  it('looks tasks up with suggestions', () => {
    expect(getTask('mqar')).toBe(TASKS.mqar);
    expect(() => getTask('mqr')).toThrow(MetalaError);
    expect(() => getTask('mqr')).toThrow(/unknown task 'mqr'\. Did you mean: mqar\?/);
  });
});

describe('mqar task', () => {
  const def = TASKS.mqar;

  it("fills Zoology's defaults and rejects unknown keys", () => {
    const o = def.options.parse({ input_seq_len: 256, num_kv_pairs: 16 });
    expect(o).toEqual({
      vocab_size: 8192,
      input_seq_len: 256,
      num_kv_pairs: 16,
      train_examples: 100000,
      test_examples: 3000,
      power_a: 0.01,
      random_non_queries: false,
    });
    expect(def.options.safeParse({ input_seq_len: 256, num_kv_pairs: 16, num_kv: 3 }).success).toBe(false);
    expect(def.vocabSize(o)).toBe(8192);
    expect(def.seqLen(o)).toBe(256);
    expect(def.check(o)).toEqual([]);
  });

  it('reports cross-field problems with key paths through the config schema', () => {
    const schema = taskConfigSchema(def);
    expect(schema.safeParse({ name: 'mqar', input_seq_len: 256, num_kv_pairs: 16 }).success).toBe(true);
    const bad = schema.safeParse({ name: 'mqar', input_seq_len: 64, num_kv_pairs: 17, vocab_size: 64 });
    expect(bad.success).toBe(false);
    const paths = bad.error!.issues.map((i) => i.path.join('.'));
    expect(paths).toEqual(['vocab_size', 'num_kv_pairs']);
    expect(schema.safeParse({ name: 'mqar', input_seq_len: 64, num_kv_pairs: 4, extra: 1 }).success).toBe(false);
  });

  it('makes deterministic train/test splits from different seeds', () => {
    const o = def.options.parse({ vocab_size: 256, input_seq_len: 64, num_kv_pairs: 4, train_examples: 50, test_examples: 20 });
    const d1 = def.makeData(o, 123);
    const d2 = def.makeData(o, 123);
    expect(d1.seeds).toEqual(d2.seeds);
    expect(d1.seeds.train).not.toBe(d1.seeds.test);
    expect(d1.train.size).toBe(50);
    expect(d1.test.size).toBe(20);
    const t1 = [...d1.test.batches(8)];
    const t2 = [...d2.test.batches(8)];
    expect(t1.map((b) => [...b.ids])).toEqual(t2.map((b) => [...b.ids]));
    const e1 = [...d1.train.batches(16, new Rng(5))];
    const e2 = [...d2.train.batches(16, new Rng(5))];
    expect(e1.map((b) => [...b.labels])).toEqual(e2.map((b) => [...b.labels]));
    expect(e1.map((b) => b.batch)).toEqual([16, 16, 16, 2]);
    // Train and test are different data.
    expect([...e1[0]!.ids.subarray(0, 8)]).not.toEqual([...t1[0]!.ids.subarray(0, 8)]);
    const labelled = t1.reduce((s, b) => s + b.labels.filter((y) => y !== IGNORE_INDEX).length, 0);
    expect(labelled).toBe(20 * 4);
    expect(def.score(t1[0]!.labels, t1[0]!.labels).accuracy).toBe(1);
  });
});
