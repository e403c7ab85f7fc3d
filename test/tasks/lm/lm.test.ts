// The language-modelling task (src/tasks/lm/): packing and the contiguous train/validation split,
// next-token labels, corpora in txt / JSONL / Parquet (fixtures written here), the token cache
// (built once, keyed by corpus and tokenizer), the offline Moby-Dick default, the shipped configs,
// and a short training run whose validation perplexity falls and whose checkpoint records its
// tokenizer for `metala eval`.
import assert from 'node:assert';
import { beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { initBackend, type BackendInfo } from '../../../src/backend/index.js';
import { loadExperiment } from '../../../src/config/load.js';
import { loadTokenStream } from '../../../src/tasks/lm/cache.js';
import { readDocuments, resolveCorpus } from '../../../src/tasks/lm/corpus.js';
import { lm, lmBatch, packStream } from '../../../src/tasks/lm/lm.js';
import { loadTokenizer } from '../../../src/tokenizers/index.js';
import { runEval } from '../../../src/eval/run.js';
import { runReport } from '../../../src/report/index.js';
import { trainRun } from '../../../src/train/loop.js';
import { InputError } from '../../../src/util/errors.js';
import { Rng } from '../../../src/util/rng.js';
import { writeParquet } from '../../eval/parquet_writer.js';

const tmp = mkdtempSync(join(tmpdir(), 'metala-lm-'));
const DOCS = ['The whale surfaced.', 'Call me Ishmael — a sailor.', 'Third document, short.'];

describe('packing', () => {
  const ids = Uint16Array.from({ length: 103 }, (_, i) => i);
  it('windows of T+1 with stride T, labels shifted by one, validation = the tail', () => {
    const p = packStream(ids, 10, 0.25);
    // n = ⌊102/10⌋ = 10 sequences; ⌈2.5⌉ = 3 validation.
    expect([p.trainSeqs, p.valSeqs]).toEqual([7, 3]);
    const b = lmBatch(p, [0, 9]);
    expect([...b.ids.subarray(0, 10)]).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect([...b.labels.subarray(0, 10)]).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect([...b.labels.subarray(10)]).toEqual([91, 92, 93, 94, 95, 96, 97, 98, 99, 100]);
    expect(packStream(ids, 10, 0.25, 1).valSeqs).toBe(1);
    expect(() => packStream(ids.subarray(0, 15), 10, 0.1)).toThrow(/fewer than 2 sequences/);
  });
});

describe('corpora and the token cache', () => {
  const jsonl = join(tmp, 'docs.jsonl');
  const parquet = join(tmp, 'docs.parquet');
  const txt = join(tmp, 'book.txt');
  beforeAll(() => {
    writeFileSync(jsonl, `${DOCS.map((t, i) => JSON.stringify({ id: i, text: t })).join('\n')}\n`);
    writeFileSync(parquet, writeParquet([{ name: 'id', kind: 'int64', values: [0, 1, 2] }, { name: 'text', kind: 'string', values: DOCS }]));
    writeFileSync(txt, DOCS.join('\n'));
  });

  it('JSONL and Parquet give the same documents; txt is one document', () => {
    expect(readDocuments(resolveCorpus(jsonl), 'text')).toEqual(DOCS);
    expect(readDocuments(resolveCorpus(parquet), 'text')).toEqual(DOCS);
    expect(readDocuments(resolveCorpus(txt), 'text')).toEqual([DOCS.join('\n')]);
  });

  it('bad inputs fail with the file, the key and what to do', () => {
    expect(() => readDocuments(resolveCorpus(jsonl), 'body')).toThrow(/docs\.jsonl:1: no key 'body'\. Set task\.text_field/);
    expect(() => readDocuments(resolveCorpus(parquet), 'body')).toThrow(/no column 'body' \(columns: id,text\)/);
    expect(() => resolveCorpus(join(tmp, 'none.txt'))).toThrow(InputError);
    expect(() => resolveCorpus(join(tmp, 'x.csv'))).toThrow(/not found/);
  });

  it('a corpus that is not UTF-8 is an error naming the byte offset, unless task.encoding says latin1', () => {
    const latin = join(tmp, 'latin1.txt');
    writeFileSync(latin, Buffer.concat([Buffer.from('caf'), Buffer.from([0xe9]), Buffer.from(' au lait')]));
    const src = resolveCorpus(latin);
    expect(() => readDocuments(src, 'text')).toThrow(/latin1\.txt: not valid UTF-8 at byte 3 \(a binary file, or text in another encoding\)\. Convert it to UTF-8, or set task\.encoding: latin1/);
    expect(readDocuments(src, 'text', 'latin1')).toEqual(['café au lait']);
    const bin = join(tmp, 'binary.jsonl');
    writeFileSync(bin, Buffer.concat([Buffer.from('{"text": "ok"}\n'), Buffer.from([0xff, 0xfe, 0x00, 0x01])]));
    expect(() => readDocuments(resolveCorpus(bin), 'text')).toThrow(/binary\.jsonl: not valid UTF-8 at byte 15/);
    // valid multi-byte UTF-8 passes
    const utf = join(tmp, 'utf8.txt');
    writeFileSync(utf, 'Ishmael — 白鯨 🐋');
    expect(readDocuments(resolveCorpus(utf), 'text')).toEqual(['Ishmael — 白鯨 🐋']);
  });

  it('tokenises once: documents joined by EOS (or "\\n\\n" for bytes), cached as uint16', () => {
    const cacheDir = join(tmp, 'cache');
    const byte = loadTokenizer('byte');
    const a = loadTokenStream(resolveCorpus(parquet), 'text', byte, cacheDir);
    expect(a.info.built).toBe(true);
    const expected = byte.encode(DOCS.map((d) => `${d}\n\n`).join(''));
    expect([...a.ids]).toEqual(expected);
    const b = loadTokenStream(resolveCorpus(parquet), 'text', byte, cacheDir);
    expect(b.info.built).toBe(false);
    expect([...b.ids]).toEqual(expected);
    const g = loadTokenStream(resolveCorpus(jsonl), 'text', loadTokenizer('gpt2'), cacheDir);
    const gpt2 = loadTokenizer('gpt2');
    expect([...g.ids]).toEqual(DOCS.flatMap((d) => [...gpt2.encode(d), 50256]));
    expect(readdirSync(cacheDir).filter((f) => f.endsWith('.u16')).length).toBe(2);
    const meta = JSON.parse(readFileSync(g.info.file.replace(/\.u16$/, '.json'), 'utf8')) as { tokens: number; tokenizer: string };
    expect(meta).toMatchObject({ tokens: g.ids.length, tokenizer: 'gpt2' });
  });

  it('the default corpus is Moby-Dick from the installed package, offline', () => {
    const src = resolveCorpus('moby-dick');
    expect(existsSync(src.file)).toBe(true);
    expect(src.size).toBeGreaterThan(1_000_000);
    const o = lm.options.parse({ cache_dir: join(tmp, 'moby'), val_max_sequences: 8 });
    expect(lm.vocabSize(o)).toBe(256);
    const d = lm.makeData(o, 1);
    expect(d.train.size).toBeGreaterThan(8000);
    expect(d.test.size).toBe(8);
    const [b] = [...d.train.batches(4, new Rng(3))];
    expect([b!.batch, b!.seqLen, b!.ids.length]).toEqual([4, 128, 512]);
    expect(new TextDecoder().decode(Uint8Array.from([...d.test.batches(8)][0]!.ids.subarray(0, 128))).length).toBeGreaterThan(100);
  });
});

describe('LM configs and a short training run', () => {
  let backend: BackendInfo;
  beforeAll(async () => {
    backend = await initBackend('cpu');
  });

  it('every configs/lm file validates; the tiny one is byte-level, T = 128', () => {
    for (const f of readdirSync(resolve('configs/lm'))) {
      const runs = loadExperiment(resolve('configs/lm', f), [], { variants: true }).runs;
      expect(runs.length).toBeGreaterThan(0);
      for (const r of runs) expect(r.task.name).toBe('lm');
    }
    const r = loadExperiment(resolve('configs/lm/tiny.yaml')).runs[0]!;
    assert(r.model.backbone === 'lm');
    expect([r.model.vocab_size, r.task['seq_len'], r.model.mixer.name]).toEqual([256, 128, 'metala']);
    expect(loadExperiment(resolve('configs/lm/ablation.yaml'), [], { variants: true }).runs.map((x) => x.variant)).toEqual([
      'full',
      'wo_self_aug',
      'wo_short_conv',
      'w_key',
      'fixed_decay',
    ]);
  });

  it('perplexity falls, and the checkpoint records the tokenizer', async () => {
    const corpus = join(tmp, 'train.txt');
    writeFileSync(corpus, 'the cat sat on the mat. '.repeat(400));
    const cfg = join(tmp, 'lm.yaml');
    writeFileSync(
      cfg,
      `name: lmtest
task: { name: lm, corpus: ${corpus}, seq_len: 16, val_max_sequences: 4, cache_dir: ${join(tmp, 'c2')} }
model: { d_model: 16, n_layers: 1, mixer: { name: metala, num_heads: 2 }, tie_embeddings: true, max_seq_len: 16 }
train: { batch_size: 8, max_steps: 30, lr: 2.0e-2, warmup_steps: 3, eval_every: 10, log_every: 10 }
`,
    );
    const spec = loadExperiment(cfg).runs[0]!;
    const out = await trainRun(spec, { resultsDir: join(tmp, 'res'), backend, progress: false });
    expect(out.status).toBe('finished');
    const runDir = join(tmp, 'res', 'lmtest', spec.run_id);
    const evals = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { eval?: { perplexity: number } })
      .filter((l) => l.eval !== undefined)
      .map((l) => l.eval!.perplexity);
    expect(evals.length).toBe(3);
    expect(evals.at(-1)!).toBeLessThan(evals[0]!);
    expect(evals.at(-1)!).toBeLessThan(8);
    const ck = JSON.parse(readFileSync(join(runDir, 'checkpoint', 'config.json'), 'utf8')) as { metala_task: { tokenizer: string } };
    expect(ck.metala_task.tokenizer).toBe('byte');
    // metala eval on it, then metala report: Tab. 5 shows our row beside the paper's.
    const lines: string[] = [];
    const ev = await runEval({ checkpoint: join(runDir, 'checkpoint'), tasks: ['piqa'], dataDir: resolve('test/fixtures/eval'), results: join(tmp, 'res'), log: (l) => lines.push(l) });
    expect(ev.name).toBe(`lmtest_${spec.run_id}`);
    expect(lines[0]).toMatch(/from config\.json metala_task\.tokenizer/);
    await runReport({ resultsDir: join(tmp, 'res'), outDir: join(tmp, 'tables'), only: ['tab5_commonsense'] });
    const md = readFileSync(join(tmp, 'tables', 'commonsense.md'), 'utf8');
    expect(md).toContain('| MetaLA (0.36B params, 15B tokens) |');
    expect(md).toMatch(new RegExp(`\\| ours: metala \\[lmtest_${spec.run_id}\\] \\(\\d+(\\.\\d+)?K params, 3\\.8K tokens; data fixtures/eval\\) \\| — \\| — \\| — \\| — \\| — \\| — \\| — \\| — \\| — \\| \\d+\\.\\d\\d \\|`));
  });
});
