// Cell aggregation beyond the paper tables' max over an LR sweep: 'mean' over seeds, with a
// reference computed per run (the ICL study's PGD optimum on each run's own test set) averaged over
// the same runs, so that Δ compares like with like.
import { describe, expect, it } from 'vitest';
import { buildTable } from '../../src/report/aggregate.js';
import { renderMarkdown } from '../../src/report/render.js';
import { defineTable } from '../../src/report/types.js';
import type { RunRecord } from '../../src/results/store.js';

const run = (seed: number, value: number, ref: number): RunRecord =>
  ({
    dir: `/r/${seed}`,
    config: { experiment: 'x', run_id: `r${seed}`, seed, task: { name: 't', ref }, model: { form: 'a' } },
    summary: { status: 'finished', best: { excess_risk: value } },
  }) as unknown as RunRecord;

const spec = (aggregate: 'mean' | 'max') =>
  defineTable({
    id: 'agg',
    title: 'agg',
    paperRef: 'test',
    files: ['agg.csv', 'agg.md'],
    select: () => true,
    row: { name: 'row', of: () => 'r' },
    columns: [{ name: 'col', of: () => 'c' }],
    columnLabel: (k) => String(k[0]),
    valueName: 'v',
    value: (r) => (r.summary.best as { excess_risk: number }).excess_risk,
    aggregate,
    format: (v) => v.toFixed(3),
    deltaDigits: 3,
    reference: { label: 'ref', of: (r) => r.config.task['ref'] as number },
    notes: [],
  });

describe('table cells', () => {
  const runs = [run(0, 1.0, 0.9), run(1, 2.0, 2.1), run(2, 3.0, 3.3)];
  it("'mean' averages the values and the per-run references over the same runs", () => {
    const m = buildTable(spec('mean'), runs);
    const c = m.cell('r', 'c');
    expect([c.value, c.paper?.value, c.nRuns]).toEqual([2, 2.1, 3]);
    expect(renderMarkdown(m)).toContain('| r | 2.000 | 2.100 | -0.100 |');
  });
  it("'max' takes the best run and its own reference", () => {
    const c = buildTable(spec('max'), runs).cell('r', 'c');
    expect([c.value, c.paper?.value, c.best?.config.run_id]).toEqual([3, 3.3, 'r2']);
  });
});
