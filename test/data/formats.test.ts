// The file formats under the fetched data sets: tar(.gz) extraction (filtering, long names, path
// safety, truncation), the PNG codec (every row filter, colour to gray), and the padded sequence
// batches every sequence-level task uses.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, deflateSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodePng, encodePngGray } from '../../src/data/png.js';
import { PackedBuilder, evalSplit, padBatch, trainSplit } from '../../src/data/sequences.js';
import { extractTar } from '../../src/data/tar.js';
import { InputError } from '../../src/util/errors.js';
import { Rng } from '../../src/util/rng.js';

/** A ustar header + body (padded to 512), written independently of the reader. */
function tarEntry(name: string, body: Buffer, type = '0'): Buffer {
  const h = Buffer.alloc(512);
  h.write(name.slice(0, 100), 0, 'utf8');
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(`${body.length.toString(8).padStart(11, '0')}\0`, 124);
  h.write('00000000000\0', 136);
  h.write('        ', 148);
  h.write(type, 156);
  h.write('ustar\u000000', 257);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return Buffer.concat([h, body, Buffer.alloc((512 - (body.length % 512)) % 512)]);
}

function tarOf(entries: Buffer[]): Buffer {
  return Buffer.concat([...entries, Buffer.alloc(1024)]);
}

describe('extractTar', () => {
  it('extracts the kept members of a .tar.gz, including GNU long names', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'metala-tar-'));
    const long = `top/${'d'.repeat(120)}/review.txt`;
    const archive = join(dir, 'a.tar.gz');
    writeFileSync(
      archive,
      gzipSync(tarOf([tarEntry('top/', Buffer.alloc(0), '5'), tarEntry('top/keep.txt', Buffer.from('hello')), tarEntry('top/skip.txt', Buffer.from('no')), tarEntry('././@LongLink', Buffer.from(`${long}\0`), 'L'), tarEntry(long.slice(0, 99), Buffer.from('x'.repeat(1500)))])),
    );
    const out = join(dir, 'out');
    const r = await extractTar(archive, out, { filter: (e) => (e.path.endsWith('skip.txt') ? null : e.path) });
    expect(r.files).toBe(2);
    expect(readFileSync(join(out, 'top/keep.txt'), 'utf8')).toBe('hello');
    expect(readFileSync(join(out, long), 'utf8')).toBe('x'.repeat(1500));
    expect(existsSync(join(out, 'top/skip.txt'))).toBe(false);
  });

  it('refuses members that escape the target folder and truncated archives', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'metala-tar-'));
    writeFileSync(join(dir, 'evil.tar'), tarOf([tarEntry('../evil.txt', Buffer.from('x'))]));
    await expect(extractTar(join(dir, 'evil.tar'), join(dir, 'out'))).rejects.toThrow(/escapes the target folder/);
    const whole = tarEntry('a.txt', Buffer.from('y'.repeat(3000)));
    writeFileSync(join(dir, 'cut.tar'), whole.subarray(0, 1500));
    await expect(extractTar(join(dir, 'cut.tar'), join(dir, 'out2'))).rejects.toBeInstanceOf(InputError);
  });

  it('bounds what an archive may write in all, and the size of a name record held in memory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'metala-tar-'));
    writeFileSync(join(dir, 'big.tar'), tarOf([tarEntry('a.txt', Buffer.alloc(3000, 1)), tarEntry('b.txt', Buffer.alloc(3000, 2))]));
    await expect(extractTar(join(dir, 'big.tar'), join(dir, 'o1'), { maxBytes: 5000 })).rejects.toThrow(/big\.tar: extracting 'b\.txt' would write more than 5000 bytes in all/);
    expect((await extractTar(join(dir, 'big.tar'), join(dir, 'o2'), { maxBytes: 6000 })).bytes).toBe(6000);
    writeFileSync(join(dir, 'name.tar'), tarOf([tarEntry('././@LongLink', Buffer.alloc(2 ** 20 + 1, 0x61), 'L'), tarEntry('x', Buffer.from('y'))]));
    await expect(extractTar(join(dir, 'name.tar'), join(dir, 'o3'))).rejects.toThrow(/a 1048577-byte name record .* not trusted/);
  });
});

/** An RGB PNG whose rows use filters 0–4 in turn (the encoder under test only writes filter 0). */
function rgbPngAllFilters(w: number, h: number, px: Uint8Array): Buffer {
  const bpp = 3;
  const stride = w * bpp;
  const raw = Buffer.alloc(h * (stride + 1));
  const at = (y: number, i: number) => (y < 0 || i < 0 ? 0 : px[y * stride + i]!);
  for (let y = 0; y < h; y++) {
    const f = y % 5;
    raw[y * (stride + 1)] = f;
    for (let i = 0; i < stride; i++) {
      const x = at(y, i);
      const a = at(y, i - bpp);
      const b = at(y - 1, i);
      const c = at(y - 1, i - bpp);
      const p = a + b - c;
      const pr = Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c) ? a : Math.abs(p - b) <= Math.abs(p - c) ? b : c;
      const pred = [0, a, b, (a + b) >> 1, pr][f]!;
      raw[y * (stride + 1) + 1 + i] = (x - pred) & 255;
    }
  }
  const chunk = (type: string, body: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(body.length);
    const tb = Buffer.concat([Buffer.from(type, 'latin1'), body]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(tb) >>> 0);
    return Buffer.concat([len, tb, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

describe('PNG', () => {
  it('round-trips 8-bit grayscale', () => {
    const rng = new Rng(1);
    const data = Uint8Array.from({ length: 32 * 32 }, () => rng.int(0, 256));
    const img = decodePng(encodePngGray({ width: 32, height: 32, data }));
    expect([img.width, img.height]).toEqual([32, 32]);
    expect(Buffer.from(img.data).equals(Buffer.from(data))).toBe(true);
  });

  it('undoes every row filter and converts RGB with ITU-R 601 luma', () => {
    const rng = new Rng(2);
    const w = 7;
    const h = 10;
    const px = Uint8Array.from({ length: w * h * 3 }, () => rng.int(0, 256));
    const img = decodePng(rgbPngAllFilters(w, h, px));
    for (let i = 0; i < w * h; i++) expect(img.data[i]).toBe(Math.round(0.299 * px[3 * i]! + 0.587 * px[3 * i + 1]! + 0.114 * px[3 * i + 2]!));
    expect(() => decodePng(Buffer.from('not a png at all'))).toThrow(/not a PNG/);
  });
});

describe('padded sequence batches', () => {
  const b = new PackedBuilder(8, true);
  b.push([5, 6, 7], 1, [9]);
  b.push([1], 0, [2, 3, 4, 5, 6]);
  b.push([8, 8, 8, 8, 8, 8, 8, 8, 8, 8], 1, [7, 7]);
  const ex = b.build();

  it('right-pads with 0 to a multiple, truncates to maxLen, keeps lengths, labels and pairs', () => {
    const batch = padBatch(ex, [0, 1], { maxLen: 8, padMultiple: 4 });
    expect(batch.seqLen).toBe(8);
    expect([...batch.ids]).toEqual([5, 6, 7, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
    expect([...batch.lengths!]).toEqual([3, 1]);
    expect([...batch.labels]).toEqual([1, 0]);
    expect([...batch.ids2!]).toEqual([9, 0, 0, 0, 0, 0, 0, 0, 2, 3, 4, 5, 6, 0, 0, 0]);
    expect([...batch.lengths2!]).toEqual([1, 5]);
    const cut = padBatch(ex, [2], { maxLen: 8, padMultiple: 4 });
    expect([...cut.lengths!]).toEqual([8]);
    expect(cut.ids.length).toBe(8);
  });

  it('shuffles per epoch deterministically and evaluates in order', () => {
    const split = trainSplit(ex, { maxLen: 16, padMultiple: 1 });
    const labelsOf = (seed: number) => [...split.batches(2, new Rng(seed))].map((x) => [...x.labels, ...x.lengths!]);
    expect(labelsOf(3)).toEqual(labelsOf(3));
    const ev = [...evalSplit(ex, { maxLen: 16, padMultiple: 1 }).batches(2)];
    expect(ev.map((x) => x.batch)).toEqual([2, 1]);
    expect([...ev[0]!.labels, ...ev[1]!.labels]).toEqual([1, 0, 1]);
  });
});
