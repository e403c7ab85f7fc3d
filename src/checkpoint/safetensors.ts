// Minimal safetensors reader/writer (format: u64 LE header length, JSON header
// {name: {dtype, shape, data_offsets: [begin, end]}}, raw little-endian data). Float32, bfloat16
// and float16 are decoded to Float32Array once, at load time.
import { open, type FileHandle } from 'node:fs/promises';
import { InputError } from '../util/errors.js';

export interface StTensor {
  dtype: string;
  shape: number[];
  /** Decoded values. */
  data: Float32Array;
}

const BYTES: Record<string, number> = { F32: 4, BF16: 2, F16: 2, F64: 8, I64: 8, I32: 4 };

function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m === 0 ? s * Infinity : NaN;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

function decode(dtype: string, buf: Buffer, begin: number, end: number, n: number, where: string): Float32Array {
  const out = new Float32Array(n);
  const view = new DataView(buf.buffer, buf.byteOffset + begin, end - begin);
  switch (dtype) {
    case 'F32':
      for (let i = 0; i < n; i++) out[i] = view.getFloat32(4 * i, true);
      return out;
    case 'BF16': {
      // bfloat16 = the top 16 bits of a float32.
      const u = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) u[i] = view.getUint16(2 * i, true) << 16;
      return out;
    }
    case 'F16':
      for (let i = 0; i < n; i++) out[i] = f16ToF32(view.getUint16(2 * i, true));
      return out;
    case 'F64':
      for (let i = 0; i < n; i++) out[i] = view.getFloat64(8 * i, true);
      return out;
    case 'I32':
      for (let i = 0; i < n; i++) out[i] = view.getInt32(4 * i, true);
      return out;
    case 'I64':
      for (let i = 0; i < n; i++) out[i] = Number(view.getBigInt64(8 * i, true));
      return out;
    default:
      throw new InputError(`${where}: unsupported dtype ${dtype}. Convert the checkpoint to float32, bfloat16 or float16`);
  }
}

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

/** The header's tensor entries, each checked: dtype, shape, offsets in range, no two overlapping. */
function checkHeader(file: string, header: unknown, base: number, size: number): Map<string, HeaderEntry> {
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new InputError(`${file}: not a safetensors file (header is not a JSON object)`);
  const entries = new Map<string, HeaderEntry>();
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') continue;
    const bad = (what: string): never => {
      throw new InputError(`${file}: tensor ${name}: ${what}. The file is damaged or not written by a safetensors writer; re-export the checkpoint`);
    };
    if (typeof raw !== 'object' || raw === null) bad('entry is not an object');
    const e = raw as Partial<HeaderEntry>;
    if (typeof e.dtype !== 'string') bad('no dtype');
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) bad('shape is not a list of sizes ≥ 0');
    const o = e.data_offsets;
    if (!Array.isArray(o) || o.length !== 2 || !o.every((x) => Number.isSafeInteger(x) && x >= 0) || o[0]! > o[1]!) bad('data_offsets is not [begin, end] with 0 ≤ begin ≤ end');
    const width = BYTES[e.dtype!];
    if (width === undefined) throw new InputError(`${file}: tensor ${name}: unsupported dtype ${e.dtype}. Convert the checkpoint to float32, bfloat16 or float16`);
    const count = e.shape!.reduce((a, b) => a * b, 1);
    if (o![1]! - o![0]! !== count * width) bad(`data_offsets [${o![0]}, ${o![1]}] do not hold shape [${e.shape}] of ${e.dtype}`);
    if (base + o![1]! > size) bad(`data ends at byte ${base + o![1]!} past the end of the file (${size} bytes): the file is truncated`);
    entries.set(name, e as HeaderEntry);
  }
  const byBegin = [...entries].sort((a, b) => a[1].data_offsets[0] - b[1].data_offsets[0]);
  for (let i = 1; i < byBegin.length; i++) {
    const [pn, p] = byBegin[i - 1]!;
    const [cn, c] = byBegin[i]!;
    if (c.data_offsets[0] < p.data_offsets[1]) throw new InputError(`${file}: tensors ${pn} and ${cn} overlap in the data section. The file is damaged; re-export the checkpoint`);
  }
  return entries;
}

/**
 * Reads a safetensors file by byte ranges (header, then each tensor), never the whole file at
 * once: Node's readFile stops at 2 GiB, and a checkpoint may be larger. `only` limits which tensors
 * are read (e.g. one shard's names).
 */
export async function readSafetensors(file: string, only?: ReadonlySet<string>): Promise<{ tensors: Map<string, StTensor>; metadata: Record<string, string> }> {
  let fh: FileHandle;
  try {
    fh = await open(file, 'r');
  } catch (e) {
    throw new InputError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}). Check the checkpoint folder path`);
  }
  try {
    const size = (await fh.stat()).size;
    if (size < 8) throw new InputError(`${file}: not a safetensors file (too short)`);
    const lenBuf = Buffer.alloc(8);
    await fh.read(lenBuf, 0, 8, 0);
    const n = Number(lenBuf.readBigUInt64LE(0));
    // The reference writer caps headers at 100 MB.
    if (n <= 0 || n > 100_000_000 || 8 + n > size) throw new InputError(`${file}: not a safetensors file (bad header length ${n})`);
    const hbuf = Buffer.alloc(n);
    await fh.read(hbuf, 0, n, 8);
    let header: unknown;
    try {
      header = JSON.parse(hbuf.toString('utf8'));
    } catch {
      throw new InputError(`${file}: not a safetensors file (header is not JSON)`);
    }
    const base = 8 + n;
    const entries = checkHeader(file, header, base, size);
    const meta = (header as Record<string, unknown>)['__metadata__'];
    const metadata = typeof meta === 'object' && meta !== null && !Array.isArray(meta) ? (meta as Record<string, string>) : {};
    const tensors = new Map<string, StTensor>();
    for (const [name, e] of entries) {
      if (only !== undefined && !only.has(name)) continue;
      const [b0, b1] = e.data_offsets;
      const buf = Buffer.alloc(b1 - b0);
      const { bytesRead } = await fh.read(buf, 0, b1 - b0, base + b0);
      if (bytesRead !== b1 - b0) throw new InputError(`${file}: tensor ${name}: file ended while reading its data (truncated)`);
      const count = e.shape.reduce((a, b) => a * b, 1);
      tensors.set(name, { dtype: e.dtype, shape: e.shape, data: decode(e.dtype, buf, 0, b1 - b0, count, `${file}: ${name}`) });
    }
    return { tensors, metadata };
  } finally {
    await fh.close();
  }
}

/** Serialise float32 tensors (sorted by name, 8-byte aligned header as the reference writer does). */
export function encodeSafetensors(tensors: Map<string, { shape: number[]; data: Float32Array }>, metadata: Record<string, string> = {}): Buffer {
  const names = [...tensors.keys()].sort();
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const name of names) {
    const t = tensors.get(name)!;
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + 4 * t.data.length] };
    offset += 4 * t.data.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const hbytes = Buffer.from(json, 'utf8');
  const out = Buffer.alloc(8 + hbytes.length + offset);
  out.writeBigUInt64LE(BigInt(hbytes.length), 0);
  hbytes.copy(out, 8);
  let pos = 8 + hbytes.length;
  for (const name of names) {
    const d = tensors.get(name)!.data;
    Buffer.from(d.buffer, d.byteOffset, d.byteLength).copy(out, pos);
    pos += d.byteLength;
  }
  return out;
}
