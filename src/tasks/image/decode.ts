// JPEG decoding with jpeg-js (pure JS, baseline + progressive, grey/RGB/CMYK) into an 8-bit HWC
// image, and channel conversion to what the model reads (1 = luma, 3 = RGB). A file that does not
// decode raises CorruptImageError, which the data pipeline counts and skips (never fatal).
import jpeg from 'jpeg-js';

/** An 8-bit image, row-major [height, width, channels]. */
export interface RawImage {
  data: Uint8Array;
  width: number;
  height: number;
  channels: number;
}

export class CorruptImageError extends Error {
  override readonly name = 'CorruptImageError';
}

/** Largest image we accept (ILSVRC2012's largest train image is ~16 MP). */
const MAX_MP = 64;

/** Decode JPEG bytes to RGB; CorruptImageError when they are not a decodable JPEG. */
export function decodeJpeg(bytes: Uint8Array): RawImage {
  // SOI marker FF D8: rejects PNGs renamed .JPEG (ImageNet has one) before the decoder sees them.
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) throw new CorruptImageError('not a JPEG (no FF D8 start marker)');
  let out: { width: number; height: number; data: Uint8Array };
  try {
    out = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false, tolerantDecoding: true, maxResolutionInMP: MAX_MP, maxMemoryUsageInMB: 1024 });
  } catch (e) {
    throw new CorruptImageError((e as Error).message ?? String(e));
  }
  if (out.width < 1 || out.height < 1 || out.data.length !== out.width * out.height * 3) {
    throw new CorruptImageError(`decoded to ${out.width}×${out.height} with ${out.data.length} bytes`);
  }
  return { data: out.data, width: out.width, height: out.height, channels: 3 };
}

/**
 * Convert to `channels` (1 or 3): grey → RGB repeats the plane; RGB → grey uses ITU-R 601 luma
 * (PIL's convert('L')). Returns the input when it already matches.
 */
export function toChannels(img: RawImage, channels: number): RawImage {
  if (img.channels === channels) return img;
  const n = img.width * img.height;
  const data = new Uint8Array(n * channels);
  const s = img.data;
  if (img.channels === 1 && channels === 3) {
    for (let i = 0; i < n; i++) data[3 * i] = data[3 * i + 1] = data[3 * i + 2] = s[i]!;
  } else if (img.channels === 3 && channels === 1) {
    for (let i = 0; i < n; i++) data[i] = Math.round((299 * s[3 * i]! + 587 * s[3 * i + 1]! + 114 * s[3 * i + 2]!) / 1000);
  } else {
    throw new CorruptImageError(`cannot convert ${img.channels} channels to ${channels}`);
  }
  return { data, width: img.width, height: img.height, channels };
}
