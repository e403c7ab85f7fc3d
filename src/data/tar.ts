// Streaming tar(.gz) extraction for fetched archives (LRA release, IMDB, CIFAR-10), with node:zlib
// and no dependency: reads 512-byte ustar headers (plus GNU long names `L` and pax `path=` records)
// and writes only the members a filter keeps, so a multi-GB archive never sits in memory.
import { createReadStream, closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname, isAbsolute, join, normalize, sep } from 'node:path';
import { createGunzip } from 'node:zlib';
import { InputError } from '../util/errors.js';

export interface TarEntry {
  /** Path inside the archive ('/'-separated, as stored). */
  path: string;
  size: number;
  /** '0' file, '5' directory, others (links, devices) are skipped. */
  type: string;
}

export interface ExtractOptions {
  /** gunzip first (default: when the archive name ends in .gz or .tgz). */
  gzip?: boolean;
  /** Map an entry to its output path relative to destDir, or null to skip it (default: keep as is). */
  filter?: (e: TarEntry) => string | null;
  /** Most bytes the extraction may write (default 64 GiB: past every data set metala fetches). */
  maxBytes?: number;
}

/** Long-name and pax records are held in memory: a real one is a path, never megabytes. */
const MAX_META_BYTES = 1 << 20;

const BLOCK = 512;

function str(b: Buffer, from: number, len: number): string {
  const s = b.subarray(from, from + len);
  const z = s.indexOf(0);
  return s.subarray(0, z < 0 ? s.length : z).toString('utf8');
}

/** Size field: octal text, or GNU base-256 when the top bit is set (files ≥ 8 GiB). */
function sizeField(b: Buffer): number {
  if ((b[124]! & 0x80) !== 0) {
    let n = 0;
    for (let i = 125; i < 136; i++) n = n * 256 + b[i]!;
    return n;
  }
  const t = str(b, 124, 12).trim();
  return t === '' ? 0 : Number.parseInt(t, 8);
}

/** Reject absolute paths and `..` so an archive cannot write outside destDir. */
function safeJoin(root: string, rel: string, archive: string): string {
  const n = normalize(rel);
  if (isAbsolute(n) || n === '..' || n.startsWith(`..${sep}`)) throw new InputError(`${archive}: member '${rel}' escapes the target folder. The archive is not trusted; delete it`);
  return join(root, n);
}

/**
 * Extract `archive` into `destDir`. Returns the number of files written and their total bytes.
 * Malformed archives (truncated, bad header checksum) fail with an InputError naming the file.
 */
export async function extractTar(archive: string, destDir: string, opts: ExtractOptions = {}): Promise<{ files: number; bytes: number }> {
  const gzip = opts.gzip ?? /\.(t?gz)$/.test(archive);
  const src = createReadStream(archive);
  const stream = gzip ? src.pipe(createGunzip()) : src;
  let buf: Buffer = Buffer.alloc(0);
  let files = 0;
  let bytes = 0;
  // Current member body: remaining bytes to consume, padding after it, and where it goes.
  let remaining = 0;
  let pad = 0;
  let fd: number | undefined;
  let meta: 'L' | 'x' | undefined;
  let metaBuf: Buffer[] = [];
  let longName: string | undefined;
  let ended = false;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      let off = 0;
      for (;;) {
        if (remaining > 0) {
          const n = Math.min(remaining, buf.length - off);
          if (n === 0) break;
          const piece = buf.subarray(off, off + n);
          if (fd !== undefined) writeSync(fd, piece);
          else if (meta !== undefined) metaBuf.push(Buffer.from(piece));
          remaining -= n;
          off += n;
          if (remaining > 0) break;
          if (fd !== undefined) {
            closeSync(fd);
            fd = undefined;
          }
          if (meta === 'L') longName = str(Buffer.concat(metaBuf), 0, Number.MAX_SAFE_INTEGER);
          if (meta === 'x') {
            const m = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(Buffer.concat(metaBuf).toString('utf8'));
            if (m !== null) longName = m[1];
          }
          meta = undefined;
          metaBuf = [];
        }
        if (pad > 0) {
          const n = Math.min(pad, buf.length - off);
          pad -= n;
          off += n;
          if (pad > 0) break;
        }
        if (ended || buf.length - off < BLOCK) break;
        const h = buf.subarray(off, off + BLOCK);
        off += BLOCK;
        if (h.every((x) => x === 0)) {
          ended = true; // end-of-archive marker
          break;
        }
        let sum = 0;
        for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
        if (sum !== Number.parseInt(str(h, 148, 8).trim(), 8)) throw new InputError(`${archive}: corrupt tar header at byte ${bytes}. Delete the file and fetch it again`);
        const type = String.fromCharCode(h[156]! === 0 ? 48 : h[156]!);
        const size = sizeField(h);
        const prefix = str(h, 345, 155);
        let path = longName ?? (prefix !== '' ? `${prefix}/${str(h, 0, 100)}` : str(h, 0, 100));
        longName = undefined;
        remaining = size;
        pad = (BLOCK - (size % BLOCK)) % BLOCK;
        if (type === 'L' || type === 'x') {
          if (size > MAX_META_BYTES) throw new InputError(`${archive}: a ${size}-byte name record (more than ${MAX_META_BYTES}); the archive is not trusted. Delete it`);
          meta = type;
          continue;
        }
        if (type !== '0' && type !== '5') continue; // links, pax globals, devices: skipped
        path = path.replace(/^\.\//, '');
        const out = (opts.filter ?? ((e: TarEntry) => e.path))({ path, size, type });
        if (out === null) continue;
        const target = safeJoin(destDir, out, archive);
        if (type === '5') {
          mkdirSync(target, { recursive: true });
          continue;
        }
        const maxBytes = opts.maxBytes ?? 64 * 2 ** 30;
        if (bytes + size > maxBytes) {
          throw new InputError(`${archive}: extracting '${path}' would write more than ${maxBytes} bytes in all; the archive is not what this data set expects. Delete it and fetch it again`);
        }
        mkdirSync(dirname(target), { recursive: true });
        fd = openSync(target, 'w');
        files++;
        bytes += size;
        if (size === 0) {
          closeSync(fd);
          fd = undefined;
        }
      }
      buf = buf.subarray(off);
    }
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`${archive}: cannot be read as a tar${gzip ? '.gz' : ''} archive (${(e as Error).message}). Delete it and fetch it again`);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  if (remaining > 0 || (!ended && files === 0)) throw new InputError(`${archive}: truncated archive. Delete it and fetch it again`);
  return { files, bytes };
}
