// Checkpoint files a user brings: every malformed safetensors header is a one-line error (through
// the CLI: exit 2, no stack trace), files over 2 GiB are read by ranges, a sharded Hugging Face
// folder loads like the single file, and NaN weights are refused.
import { spawnSync } from 'node:child_process';
import { closeSync, copyFileSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { loadCheckpoint } from '../../src/checkpoint/io.js';
import { encodeSafetensors, readSafetensors } from '../../src/checkpoint/safetensors.js';
import { GOLDEN, REPO } from '../helpers/golden.js';

const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'metala-st-'));
  dirs.push(d);
  return d;
};
beforeAll(async () => {
  await initBackend('cpu');
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A safetensors file with this header (JSON value) and this many data bytes. */
function stFile(path: string, header: unknown, dataBytes = 0): void {
  const h = Buffer.from(JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  writeFileSync(path, Buffer.concat([len, h, Buffer.alloc(dataBytes)]));
}

const CLI = resolve(REPO, 'bin/metala.js');

describe('safetensors input', () => {
  const cases: [string, unknown, number, RegExp][] = [
    ['header is a list', [1, 2], 0, /header is not a JSON object/],
    ['entry is not an object', { w: 3 }, 0, /tensor w: entry is not an object/],
    ['no dtype', { w: { shape: [2], data_offsets: [0, 8] } }, 8, /tensor w: no dtype/],
    ['bad shape', { w: { dtype: 'F32', shape: [-1], data_offsets: [0, 8] } }, 8, /tensor w: shape is not a list of sizes/],
    ['no offsets', { w: { dtype: 'F32', shape: [2] } }, 8, /tensor w: data_offsets is not \[begin, end\]/],
    ['offsets reversed', { w: { dtype: 'F32', shape: [2], data_offsets: [8, 0] } }, 8, /data_offsets is not/],
    ['offsets do not hold the shape', { w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, 8, /data_offsets \[0, 8\] do not hold shape \[3\] of F32/],
    ['past the end (truncated)', { w: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, 8, /past the end of the file .*truncated/],
    ['overlapping tensors', { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, 12, /tensors a and b overlap/],
    ['unknown dtype', { w: { dtype: 'Q4', shape: [2], data_offsets: [0, 2] } }, 2, /unsupported dtype Q4/],
  ];
  for (const [name, header, bytes, pattern] of cases) {
    it(`${name}: one error line`, async () => {
      const d = tmp();
      stFile(join(d, 'model.safetensors'), header, bytes);
      await expect(readSafetensors(join(d, 'model.safetensors'))).rejects.toThrow(pattern);
    });
  }

  it('through the CLI: a damaged checkpoint is one line on stderr, exit 2', () => {
    const d = tmp();
    copyFileSync(join(GOLDEN, 'metala-tiny', 'config.json'), join(d, 'config.json'));
    stFile(join(d, 'model.safetensors'), { w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, v: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, 12);
    const r = spawnSync(process.execPath, [CLI, 'inspect', d, '--backend', 'cpu'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^error: .*model\.safetensors: tensors w and v overlap/)]);
  });

  it('reads a tensor that lies past 2 GiB in a sparse file (by ranges; readFile stops at 2 GiB)', async () => {
    const d = tmp();
    const file = join(d, 'big.safetensors');
    const pad = 2 ** 31 + 64; // bytes of a tensor that is never read
    const header = { pad: { dtype: 'F32', shape: [pad / 4], data_offsets: [0, pad] }, w: { dtype: 'F32', shape: [3], data_offsets: [pad, pad + 12] } };
    stFile(file, header);
    const h = Buffer.byteLength(JSON.stringify(header));
    truncateSync(file, 8 + h + pad + 12); // sparse: the padding takes no disk
    const fd = openSync(file, 'r+');
    writeSync(fd, Buffer.from(new Float32Array([1.5, -2, 3]).buffer), 0, 12, 8 + h + pad);
    closeSync(fd);
    const { tensors } = await readSafetensors(file, new Set(['w']));
    expect([...tensors.keys()]).toEqual(['w']);
    expect(Array.from(tensors.get('w')!.data)).toEqual([1.5, -2, 3]);
  });

  it('a 3-shard Hugging Face folder loads as the single file does; NaN weights are refused', async () => {
    const src = join(GOLDEN, 'metala-tiny');
    const { tensors } = await readSafetensors(join(src, 'model.safetensors'));
    const names = [...tensors.keys()].sort();
    const d = tmp();
    copyFileSync(join(src, 'config.json'), join(d, 'config.json'));
    const weightMap: Record<string, string> = {};
    for (let s = 0; s < 3; s++) {
      const shard = `model-0000${s + 1}-of-00003.safetensors`;
      const part = new Map(names.filter((_, i) => i % 3 === s).map((n) => [n, tensors.get(n)!]));
      writeFileSync(join(d, shard), encodeSafetensors(part));
      for (const n of part.keys()) weightMap[n] = shard;
    }
    writeFileSync(join(d, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
    const ids = [[1, 5, 9, 2, 7]];
    const a = await loadCheckpoint(src);
    const b = await loadCheckpoint(d);
    expect(await b.logits(ids)).toEqual(await a.logits(ids));
    a.dispose();
    b.dispose();

    // a shard path out of the folder, a missing shard, NaN values
    writeFileSync(join(d, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { [names[0]!]: '../x.safetensors' } }));
    await expect(loadCheckpoint(d)).rejects.toThrow(/'\.\.\/x\.safetensors' is not a shard file name in this folder/);
    writeFileSync(join(d, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { ...weightMap, [names[0]!]: 'model-00009-of-00009.safetensors' } }));
    await expect(loadCheckpoint(d)).rejects.toThrow(/model-00009-of-00009\.safetensors: shard listed in model\.safetensors\.index\.json is missing/);
    const nan = new Map(tensors);
    const first = nan.get(names[0]!)!;
    const data = Float32Array.from(first.data);
    data[3] = Number.NaN;
    nan.set(names[0]!, { ...first, data });
    const e = join(tmp(), 'nan');
    mkdirSync(e);
    copyFileSync(join(src, 'config.json'), join(e, 'config.json'));
    writeFileSync(join(e, 'model.safetensors'), encodeSafetensors(nan));
    await expect(loadCheckpoint(e)).rejects.toThrow(new RegExp(`tensor '${names[0]!.replace(/\./g, '\\.')}' has 1 non-finite value\\(s\\) \\(NaN or Inf\\)`));
    expect(readFileSync(join(e, 'config.json'), 'utf8').length).toBeGreaterThan(0);
  });
});

describe('checkpoint config.json values', () => {
  const cases: [string, unknown, RegExp][] = [
    ['decoder_embed_dim', -64, /config\.json: decoder_embed_dim: -64 is not a positive integer\. Fix config\.json$/],
    ['decoder_layers', 2.5, /decoder_layers: 2\.5 is not a positive integer/],
    ['vocab_size', null, /vocab_size: missing or not a number/],
    ['decoder_attention_heads', 3, /config\.json: metala: d_model 64 with key_dim_ratio 0\.5 does not split into 3 heads\. Fix config\.json$/],
    ['glu_act', 'tanhx', /glu_act: 'tanhx' is not supported \(silu or gelu\)/],
  ];
  for (const [key, value, pattern] of cases) {
    it(`${key} = ${JSON.stringify(value)}: inspect prints one line, exit 2`, () => {
      const d = tmp();
      for (const f of ['config.json', 'model.safetensors']) copyFileSync(join(GOLDEN, 'metala-tiny', f), join(d, f));
      const cfg = JSON.parse(readFileSync(join(d, 'config.json'), 'utf8')) as Record<string, unknown>;
      cfg[key] = value;
      writeFileSync(join(d, 'config.json'), JSON.stringify(cfg));
      const r = spawnSync(process.execPath, [CLI, 'inspect', d, '--backend', 'cpu'], { encoding: 'utf8' });
      expect(r.status).toBe(2);
      expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(new RegExp(`^error: .*${pattern.source}`))]);
    });
  }
});

describe('inspect --golden reference files', () => {
  const cases: [string, unknown, RegExp][] = [
    ['not an object', [1, 2], /not a JSON object/],
    ['logits of the wrong shape', { input_ids: [[1, 2, 3]], logits: [[[1, 2]]] }, /logits is not \[1\]\[3\]\[256\]/],
    ['ids outside the vocabulary', { input_ids: [[1, 999]], logits: [] }, /input_ids has ids outside the model's vocabulary 0\.\.255/],
    ['prefill without room', { input_ids: [[1, 2]], logits: [[Array(256).fill(0), Array(256).fill(0)]], prefill: 2, decode_logits: [] }, /prefill must be an integer in 1\.\.1/],
  ];
  for (const [name, content, pattern] of cases) {
    it(`${name}: one line, exit 2`, () => {
      const f = join(tmp(), 'golden.json');
      writeFileSync(f, JSON.stringify(content));
      const r = spawnSync(process.execPath, [CLI, 'inspect', join(GOLDEN, 'metala-tiny'), '--golden', f, '--backend', 'cpu'], { encoding: 'utf8' });
      expect(r.status).toBe(2);
      const errs = r.stderr.trim().split('\n');
      expect(errs).toEqual([expect.stringMatching(new RegExp(`^error: .*golden\\.json: ${pattern.source}`))]);
    });
  }
});
