// Minimal safetensors reader/writer (format: u64 LE header length, JSON header
// {name: {dtype, shape, data_offsets: [begin, end]}}, raw little-endian data). Float32, bfloat16
// and float16 are decoded to Float32Array once, at load time.
import { readFile } from 'node:fs/promises';
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

export async function readSafetensors(file: string): Promise<{ tensors: Map<string, StTensor>; metadata: Record<string, string> }> {
  let buf: Buffer;
  try {
    buf = await readFile(file);
  } catch (e) {
    throw new InputError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}). Check the checkpoint folder path`);
  }
  if (buf.length < 8) throw new InputError(`${file}: not a safetensors file (too short)`);
  const n = Number(buf.readBigUInt64LE(0));
  if (n <= 0 || 8 + n > buf.length) throw new InputError(`${file}: not a safetensors file (bad header length ${n})`);
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] } | Record<string, string>>;
  try {
    header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  } catch {
    throw new InputError(`${file}: not a safetensors file (header is not JSON)`);
  }
  const base = 8 + n;
  const tensors = new Map<string, StTensor>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = entry as Record<string, string>;
      continue;
    }
    const e = entry as { dtype: string; shape: number[]; data_offsets: [number, number] };
    const count = e.shape.reduce((a, b) => a * b, 1);
    const [b0, b1] = e.data_offsets;
    const width = BYTES[e.dtype];
    if (width === undefined) throw new InputError(`${file}: tensor ${name}: unsupported dtype ${e.dtype}. Convert the checkpoint to float32, bfloat16 or float16`);
    if (b1 - b0 !== count * width || base + b1 > buf.length) throw new InputError(`${file}: tensor ${name}: data offsets do not match shape [${e.shape}] (file truncated?)`);
    tensors.set(name, { dtype: e.dtype, shape: e.shape, data: decode(e.dtype, buf, base + b0, base + b1, count, `${file}: ${name}`) });
  }
  return { tensors, metadata };
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
