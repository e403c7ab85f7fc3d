// ListOps: the generator is deterministic, keeps LRA's length window and never repeats a tree, and
// its answers agree with an independent stack evaluator of the written Source text; the official TSV
// format round-trips and our hand-written fixture files load through the registered task.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TASKS } from '../../../src/tasks/registry.js';
import { LISTOPS_FILES, listOpsSizes, makeListOpsFiles, readListOpsTsv } from '../../../src/tasks/lra/listops.js';
import { CLOSE_ID, LISTOPS_VOCAB, generateListOps, listOpsTsv, tokenizeListOps } from '../../../src/tasks/lra/listops_gen.js';
import { InputError } from '../../../src/util/errors.js';

const FIXTURES = join(import.meta.dirname, 'fixtures', 'listops');

/** Evaluates a Source string with an explicit stack, ignoring the parentheses (written for this test). */
function evalSource(src: string): number {
  const stack: { op: string; args: number[] }[] = [];
  let result: number | undefined;
  for (const tok of src.split(/\s+/)) {
    if (tok === '' || tok === '(' || tok === ')') continue;
    if (tok.startsWith('[')) {
      stack.push({ op: tok, args: [] });
      continue;
    }
    let value: number;
    if (tok === ']') {
      const { op, args } = stack.pop()!;
      const sorted = [...args].sort((a, b) => a - b);
      const mid = sorted.length / 2;
      value =
        op === '[MIN' ? sorted[0]! : op === '[MAX' ? sorted[sorted.length - 1]! : op === '[SM' ? args.reduce((a, b) => a + b) % 10
          : Number.isInteger(mid) ? Math.floor((sorted[mid - 1]! + sorted[mid]!) / 2) : sorted[Math.floor(mid)]!;
    } else value = Number(tok);
    if (stack.length === 0) result = value;
    else stack[stack.length - 1]!.args.push(value);
  }
  return result!;
}

describe('ListOps generator', () => {
  const small = { maxDepth: 5, maxArgs: 5, minLength: 20, maxLength: 120 };

  it('is deterministic in the seed and respects length bounds and dedup', () => {
    const a = generateListOps(200, 7, small, { withSource: true });
    const b = generateListOps(200, 7, small, { withSource: true });
    expect(a.map((e) => e.source)).toEqual(b.map((e) => e.source));
    expect(generateListOps(5, 8, small, { withSource: true }).map((e) => e.source)).not.toEqual(a.slice(0, 5).map((e) => e.source));
    for (const e of a) {
      expect(e.ids.length).toBeGreaterThan(20);
      expect(e.ids.length).toBeLessThan(120);
      expect(e.ids[e.ids.length - 1]).toBe(CLOSE_ID);
    }
    expect(new Set(a.map((e) => e.source)).size).toBe(200);
  });

  it('answers agree with an independent evaluator; tokens are the source without parentheses', () => {
    const ex = generateListOps(300, 11, small, { withSource: true });
    for (const e of ex) {
      expect(evalSource(e.source!)).toBe(e.value);
      const ids = tokenizeListOps(e.source!);
      expect(ids).toBeInstanceOf(Uint8Array);
      expect([...(ids as Uint8Array)]).toEqual([...e.ids]);
      // LRA's nesting: one "(" per ")" and every operator opens nArgs + 1 of them.
      expect(e.source!.split('(').length).toBe(e.source!.split(')').length);
    }
    // All ten answers occur (MED, SM and MIN/MAX all exercised).
    expect(new Set(ex.map((e) => e.value)).size).toBe(10);
  });

  it('LRA sizes: 500 < length < 2000 by default', () => {
    const ex = generateListOps(20, 3);
    for (const e of ex) expect(e.ids.length > 500 && e.ids.length < 2000).toBe(true);
    expect(listOpsSizes()).toEqual({ train: 96_000, val: 2_000, test: 2_000 });
  });
});

describe('ListOps files', () => {
  it('reads our hand-written fixture in the official format, answers checked independently', () => {
    for (const f of Object.values(LISTOPS_FILES)) {
      const lines = readFileSync(join(FIXTURES, f), 'utf8').trim().split('\n').slice(1);
      const ex = readListOpsTsv(join(FIXTURES, f), 2000);
      expect(ex.size).toBe(lines.length);
      lines.forEach((line, i) => {
        const [src, target] = line.split('\t');
        expect(evalSource(src!)).toBe(Number(target));
        expect(ex.label(i)).toBe(Number(target));
      });
    }
    expect(LISTOPS_VOCAB.length).toBe(16);
  });

  it('writes the official layout (`metala data lra-listops`) and reads it back', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'metala-listops-'));
    const p = { maxDepth: 4, maxArgs: 4, minLength: 5, maxLength: 60 };
    await makeListOpsFiles(dir, 1, 100, () => {}, p);
    const train = readListOpsTsv(join(dir, LISTOPS_FILES.train), 2000);
    expect(train.size).toBe(96);
    expect(readFileSync(join(dir, LISTOPS_FILES.test), 'utf8').startsWith('Source\tTarget\n')).toBe(true);
    const ex = generateListOps(3, 5, p, { withSource: true });
    expect(listOpsTsv(ex).split('\n')[1]).toBe(`${ex[0]!.source}\t${ex[0]!.value}`);
  });

  it('names the bad line of a malformed file and the command for missing files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'metala-listops-'));
    const def = TASKS.lra_listops;
    expect(() => def.makeData(def.options.parse({ data_dir: dir }), 0)).toThrow(/basic_train\.tsv: missing \(ListOps TSV files\)\. Run `metala data lra-listops`/);
    expect(() => readListOpsTsv(join(FIXTURES, '..', 'tsv_data', 'new_aan_pairs.eval.tsv'), 10)).toThrow(InputError);
  });

  it('the registered task trains on files or on generated data', () => {
    const def = TASKS.lra_listops;
    const files = def.makeData(def.options.parse({ data_dir: FIXTURES, eval_split: 'val' }), 0);
    expect(files.train.size).toBe(4);
    expect(files.test.size).toBe(2);
    const gen = def.makeData(def.options.parse({ source: 'generated', train_examples: 30, test_examples: 10, min_length: 10, max_length: 100, max_depth: 4 }), 3);
    const batch = [...gen.test.batches(4)][0]!;
    expect(batch.labels.length).toBe(4);
    expect(batch.lengths!.length).toBe(4);
    expect(def.numClasses!(def.options.parse({}))).toBe(10);
    expect(def.check(def.options.parse({ source: 'generated', min_length: 100, max_length: 101 }))[0]!.path).toEqual(['max_length']);
  });
});
