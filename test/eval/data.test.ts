// Zero-shot data: JSONL and Parquet fixtures load through the same path as downloaded files; the
// committed Parquet fixture is exactly what our writer makes from the rows in piqa_fixture.ts; a
// missing set names `metala data fetch <task>`; every task has a fetch entry matching its YAML;
// and a download from a local HTTP server with a wrong checksum fails cleanly, leaving nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { downloadFile } from '../../src/data/download.js';
import { EVAL_DATASETS, EVAL_SOURCES, hubParquetUrl } from '../../src/eval/datasets.js';
import { loadTaskDocs, readJsonl, readParquet } from '../../src/eval/docs.js';
import { evalSplit, listTaskConfigs, loadTaskConfig } from '../../src/eval/task_config.js';
import { InputError, MetalaError } from '../../src/util/errors.js';
import { PIQA_ROWS, piqaParquet } from './piqa_fixture.js';

const FIX = resolve('test/fixtures/eval');
const DIR = resolve('configs/tasks');

describe('fixture loading', () => {
  it('the committed PIQA Parquet fixture is writeParquet(PIQA_ROWS) and reads back with int64 labels as numbers', async () => {
    const file = join(FIX, 'piqa', 'validation.parquet');
    expect(readFileSync(file).equals(piqaParquet())).toBe(true);
    const rows = await readParquet(file);
    expect(rows.map((r) => r['goal'])).toEqual(PIQA_ROWS.goal);
    expect(rows.map((r) => r['label'])).toEqual(PIQA_ROWS.label);
    expect(typeof rows[0]!['label']).toBe('number');
  });
  it('JSONL fixtures keep nested fields (ARC choices, MultiRC idx)', () => {
    const arc = readJsonl(join(FIX, 'arc_easy', 'test.jsonl'));
    expect(arc[1]!['choices']).toEqual({ text: ['It freezes.', 'It turns into steam.', 'It becomes heavier.', 'It turns into salt.'], label: ['1', '2', '3', '4'] });
    expect(readJsonl(join(FIX, 'multirc', 'validation.jsonl'))[4]!['idx']).toEqual({ paragraph: 0, question: 1, answer: 4 });
  });
  it('every task has a fixture for its evaluation split, and --limit takes the first N', async () => {
    for (const task of listTaskConfigs(DIR)) {
      const cfg = loadTaskConfig(task, DIR);
      const d = await loadTaskDocs(cfg, FIX);
      expect(d.docs.length).toBeGreaterThanOrEqual(3);
      expect(d.split).toBe(evalSplit(cfg));
    }
    const lim = await loadTaskDocs(loadTaskConfig('hellaswag', DIR), FIX, 2);
    expect([lim.docs.length, lim.total]).toEqual([2, 4]);
    // process_docs ran: HellaSwag's query and integer gold exist.
    expect(lim.docs[1]!['gold']).toBe(0);
  });
  it('a missing data set names the command that fetches it', async () => {
    const err = await loadTaskDocs(loadTaskConfig('piqa', DIR), join(tmpdir(), 'metala-nothing-here')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toMatch(/piqa[/\\]validation\.parquet: missing \(baber\/piqa, split validation\)\. Run `metala data fetch piqa`, or point --data-dir/);
  });
});

describe('metala data fetch entries', () => {
  it('one per task, matching the task YAML (dataset, config, evaluation split)', () => {
    expect(Object.keys(EVAL_SOURCES).sort()).toEqual(listTaskConfigs(DIR).sort());
    for (const d of EVAL_DATASETS) {
      const cfg = loadTaskConfig(d.name, DIR);
      const [repo, config, split] = EVAL_SOURCES[d.name]!;
      expect(repo).toBe(cfg.dataset_path);
      expect(config).toBe(cfg.dataset_name ?? 'default');
      expect(split).toBe(evalSplit(cfg));
      expect(d.files).toEqual([{ url: hubParquetUrl(repo, config, split), dest: `${split}.parquet` }]);
    }
    expect(hubParquetUrl('aps/super_glue', 'wsc.fixed', 'validation')).toBe(
      'https://huggingface.co/datasets/aps/super_glue/resolve/refs%2Fconvert%2Fparquet/wsc.fixed/validation/0000.parquet',
    );
  });
});

describe('download from a local server', () => {
  const body = piqaParquet();
  let server: Server;
  let base = '';
  beforeAll(async () => {
    server = createServer((_req, res) => {
      res.writeHead(200, { 'content-length': body.length, 'content-type': 'application/octet-stream' });
      res.end(body);
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((ok) => server.close(() => ok())));

  it('a wrong sha256 fails with one line and leaves neither the file nor a .part', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'metala-dl-'));
    const dest = join(dir, 'validation.parquet');
    const err = await downloadFile({ url: `${base}/piqa.parquet`, dest, sha256: '0'.repeat(64), retry: 'metala data fetch piqa' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MetalaError);
    expect((err as Error).message).toMatch(/sha256 mismatch: expected 0{64}, got [0-9a-f]{64}; the partial file was deleted\. Download again with: metala data fetch piqa/);
    expect(readdirSync(dir)).toEqual([]);
  });
  it('the right sha256 lands a file the harness reads', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'metala-dl-'));
    const dest = join(dir, 'piqa', 'validation.parquet');
    const sha256 = createHash('sha256').update(body).digest('hex');
    const r = await downloadFile({ url: `${base}/piqa.parquet`, dest, sha256 });
    expect(r.status).toBe('downloaded');
    expect(existsSync(dest)).toBe(true);
    const d = await loadTaskDocs(loadTaskConfig('piqa', DIR), dir);
    expect(d.docs.length).toBe(4);
  });
});
