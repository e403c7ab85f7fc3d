// Minimal PNG codec (node:zlib only) for the LRA Pathfinder / Path-X image layout: the official
// images are 8-bit grayscale PNGs (scipy.misc.imsave of the rendered float image). Decodes 8-bit
// gray / gray+alpha / RGB / RGBA, non-interlaced (PNG spec §7–§9 filters); encodes 8-bit gray.
import { crc32, deflateSync, inflateSync } from 'node:zlib';

export interface GrayImage {
  width: number;
  height: number;
  /** Row-major intensities 0–255, [height * width]. */
  data: Uint8Array;
}

const SIGNATURE = Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]);
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 4: 2, 6: 4 };

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/**
 * Decode a PNG to 8-bit grayscale. Colour images are converted with ITU-R 601 luma
 * (0.299 R + 0.587 G + 0.114 B, as PIL's `convert('L')`); alpha is dropped.
 * Throws an Error with the reason on anything unsupported or malformed (callers add the file name).
 */
export function decodePng(buf: Uint8Array): GrayImage {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < 8 || !b.subarray(0, 8).equals(SIGNATURE)) throw new Error('not a PNG file');
  let off = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  while (off + 8 <= b.length) {
    const len = b.readUInt32BE(off);
    const type = b.toString('latin1', off + 4, off + 8);
    const body = b.subarray(off + 8, off + 8 + len);
    if (body.length < len) throw new Error(`truncated ${type} chunk`);
    if (type === 'IHDR') {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      const depth = body[8]!;
      const colour = body[9]!;
      if (depth !== 8) throw new Error(`bit depth ${depth} is not supported (8 only)`);
      if (CHANNELS[colour] === undefined) throw new Error(`colour type ${colour} is not supported (gray, RGB, with or without alpha)`);
      if (body[12] !== 0) throw new Error('interlaced PNGs are not supported');
      channels = CHANNELS[colour]!;
    } else if (type === 'IDAT') idat.push(body);
    else if (type === 'IEND') break;
    off += 12 + len;
  }
  if (channels === 0 || idat.length === 0) throw new Error('missing IHDR or IDAT');
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  if (raw.length < height * (stride + 1)) throw new Error('image data shorter than its header says');
  const cur = new Uint8Array(stride);
  const prev = new Uint8Array(stride);
  const data = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    const row = y * (stride + 1);
    const filter = raw[row]!;
    for (let i = 0; i < stride; i++) {
      const x = raw[row + 1 + i]!;
      const a = i >= channels ? cur[i - channels]! : 0;
      const up = prev[i]!;
      const c = i >= channels ? prev[i - channels]! : 0;
      let v: number;
      switch (filter) {
        case 0: v = x; break;
        case 1: v = x + a; break;
        case 2: v = x + up; break;
        case 3: v = x + ((a + up) >> 1); break;
        case 4: v = x + paeth(a, up, c); break;
        default: throw new Error(`bad filter type ${filter} in row ${y}`);
      }
      cur[i] = v & 255;
    }
    for (let px = 0; px < width; px++) {
      const o = px * channels;
      data[y * width + px] = channels >= 3 ? Math.round(0.299 * cur[o]! + 0.587 * cur[o + 1]! + 0.114 * cur[o + 2]!) : cur[o]!;
    }
    prev.set(cur);
  }
  return { width, height, data };
}

function chunk(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(body.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), body])) >>> 0, 0);
  return Buffer.concat([head, body, crc]);
}

/** Encode an 8-bit grayscale image (filter 0 on every row). */
export function encodePngGray(img: GrayImage): Buffer {
  const { width, height, data } = img;
  if (data.length !== width * height) throw new RangeError(`encodePngGray: ${data.length} pixels for ${width}×${height}`);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // grayscale
  const raw = Buffer.alloc(height * (width + 1));
  for (let y = 0; y < height; y++) raw.set(data.subarray(y * width, (y + 1) * width), y * (width + 1) + 1);
  return Buffer.concat([SIGNATURE, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}
