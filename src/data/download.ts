// Downloads for `metala data fetch` (DESIGN.md §4): streamed to disk (node:http/https, no buffering
// of the body), resumable (HTTP Range on a `.part` file next to the destination), checksum-verified
// (sha256 when known), atomically renamed into place, and skipped when the destination is already
// there and matches. Every failure is one MetalaError line that names the command to retry.
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, existsSync, openSync, statSync, writeSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { dirname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { MetalaError } from '../util/errors.js';

export interface DownloadSpec {
  url: string;
  /** Final path; the transfer goes to `${dest}.part` first. */
  dest: string;
  /** Hex sha256 of the whole file; verified when given (never guessed: unknown ones stay undefined). */
  sha256?: string;
  /** Size in bytes; verified when given. */
  size?: number;
  /** The command a user runs to retry, printed in every error (default: the URL). */
  retry?: string;
  /** Called as bytes arrive: (bytes on disk, total or undefined). */
  onProgress?: (done: number, total: number | undefined) => void;
  /** Socket inactivity timeout in ms (default 60 s). */
  timeoutMs?: number;
}

export interface DownloadResult {
  path: string;
  /** cached: nothing transferred; downloaded: from byte 0; resumed: continued a `.part` file. */
  status: 'cached' | 'downloaded' | 'resumed';
  bytes: number;
  /** sha256 of the file on disk: always after a transfer (so a README can record it); when cached, only if one was expected. */
  sha256?: string;
}

const OFFLINE_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'ECONNREFUSED', 'ENETUNREACH', 'EHOSTUNREACH', 'ETIMEDOUT', 'ENETDOWN']);

/** sha256 of a file, streamed. */
export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  await pipeline(createReadStream(path), h);
  return h.digest('hex');
}

function sizeOf(path: string): number {
  return existsSync(path) ? statSync(path).size : 0;
}

/**
 * Where a redirect leads. A download that started encrypted stays encrypted: an https → http hop
 * could be read and altered on the way, so it is refused.
 */
export function redirectTarget(from: URL, location: string): URL {
  const next = new URL(location, from);
  if (from.protocol === 'https:' && next.protocol !== 'https:') {
    throw new MetalaError(`${from.toString()}: redirected from https to ${next.protocol.replace(':', '')} (${next.toString()}); refusing an unencrypted download. Fetch it by hand over https, or report the broken source`);
  }
  return next;
}

/** GET with an optional start offset; follows up to 5 redirects. Resolves with the open response. */
function request(url: string, from: number, spec: DownloadSpec, hops = 0): Promise<http.IncomingMessage> {
  const retry = spec.retry ?? url;
  return new Promise((resolve, reject) => {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      reject(new MetalaError(`${url}: not a valid URL. Fix the data-set registry entry`));
      return;
    }
    const lib = u.protocol === 'https:' ? https : u.protocol === 'http:' ? http : undefined;
    if (lib === undefined) {
      reject(new MetalaError(`${url}: unsupported protocol ${u.protocol}. Use http or https`));
      return;
    }
    const headers: Record<string, string> = { 'user-agent': 'metala-data/0.1' };
    if (from > 0) headers['range'] = `bytes=${from}-`;
    const req = lib.get(u, { headers }, (res) => {
      const code = res.statusCode ?? 0;
      if (code >= 300 && code < 400 && res.headers.location !== undefined) {
        res.resume();
        if (hops >= 5) {
          reject(new MetalaError(`${url}: too many redirects. Retry later with: ${retry}`));
          return;
        }
        let next: URL;
        try {
          next = redirectTarget(u, res.headers.location);
        } catch (e) {
          reject(e);
          return;
        }
        resolve(request(next.toString(), from, spec, hops + 1));
        return;
      }
      resolve(res);
    });
    req.setTimeout(spec.timeoutMs ?? 60_000, () => req.destroy(Object.assign(new Error('socket timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== undefined && OFFLINE_CODES.has(e.code)) {
        reject(new MetalaError(`${u.host}: cannot be reached (${e.code}); are you offline? Connect and retry with: ${retry}`));
      } else reject(new MetalaError(`${url}: request failed (${e.message}). Retry with: ${retry}`));
    });
  });
}

/**
 * Download `spec.url` to `spec.dest`.
 * - dest exists and matches (sha256, else size, else mere presence) → `cached`, no request;
 * - a `.part` file exists → continue it with `Range: bytes=N-` (a server answering 200 restarts it);
 * - the finished part is checked (size, sha256); a mismatch deletes it and throws (expected/actual);
 * - then it is renamed onto dest, so dest is never a partial file.
 */
/**
 * What the first fetch of a file without a published checksum received (`<dest>.provenance.json`:
 * url, size, sha256, when): later cache checks and re-downloads are verified against it, so a
 * corrupted cache or an upstream file that silently changed is noticed.
 */
interface Provenance {
  url: string;
  size: number;
  sha256: string;
  fetched: string;
}

export const provenancePath = (dest: string): string => `${dest}.provenance.json`;

async function readProvenance(dest: string): Promise<Provenance | undefined> {
  try {
    const p = JSON.parse(await readFile(provenancePath(dest), 'utf8')) as Provenance;
    return typeof p.sha256 === 'string' && typeof p.size === 'number' ? p : undefined;
  } catch {
    return undefined;
  }
}

export async function downloadFile(spec: DownloadSpec): Promise<DownloadResult> {
  const { url, dest } = spec;
  const retry = spec.retry ?? url;
  // Without a published checksum, the one recorded at the first fetch is the reference.
  const recorded = spec.sha256 === undefined ? await readProvenance(dest) : undefined;
  const want = spec.sha256?.toLowerCase() ?? recorded?.sha256;
  if (existsSync(dest)) {
    const size = sizeOf(dest);
    const digest = want !== undefined ? await sha256File(dest) : undefined;
    const ok = want !== undefined ? digest === want && (recorded === undefined || size === recorded.size) : spec.size === undefined || size === spec.size;
    if (ok) return { path: dest, status: 'cached', bytes: size, ...(digest !== undefined ? { sha256: digest } : {}) };
    // A stale or corrupt cached file: fetch it again.
    await rm(dest, { force: true });
  }
  await mkdir(dirname(dest), { recursive: true });
  const part = `${dest}.part`;
  let from = sizeOf(part);
  if (spec.size !== undefined && from > spec.size) {
    await rm(part, { force: true });
    from = 0;
  }
  const res = await request(url, from, spec);
  const code = res.statusCode ?? 0;
  const resumed = (code === 206 || code === 416) && from > 0;
  let total: number | undefined;
  if (code === 416 && from > 0) {
    // Nothing left to send: the part file is already complete.
    res.resume();
    total = from;
  } else if (code === 200 || code === 206) {
    if (code === 200) from = 0; // the server ignored Range: restart
    // 206 must continue exactly where the part file ends: `Content-Range: bytes <from>-<end>/<total>`.
    const range = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(res.headers['content-range'] ?? '');
    if (code === 206 && (range === null || Number(range[1]) !== from)) {
      res.resume();
      await rm(part, { force: true });
      throw new MetalaError(`${url}: the server resumed at the wrong offset (${res.headers['content-range'] ?? 'no Content-Range'}); ${part} was deleted. Download again with: ${retry}`);
    }
    const len = Number(res.headers['content-length']);
    total = Number.isFinite(len) ? from + len : spec.size;
    let done = from;
    // Every chunk is written synchronously as it arrives, so whatever was received survives a
    // dropped connection and the next run resumes exactly after it.
    const fd = openSync(part, code === 206 ? 'a' : 'w');
    try {
      await new Promise<void>((resolve, reject) => {
        res.on('data', (c: Buffer) => {
          writeSync(fd, c);
          done += c.length;
          spec.onProgress?.(done, total);
        });
        res.on('end', () => resolve());
        res.on('error', reject);
        res.on('close', () => (res.complete ? resolve() : reject(new Error('connection closed'))));
      });
    } catch (e) {
      throw new MetalaError(`${url}: transfer interrupted after ${sizeOf(part)} bytes (${(e as Error).message}); ${part} is kept. Resume with: ${retry}`);
    } finally {
      closeSync(fd);
    }
    const got = sizeOf(part);
    if (total !== undefined && got < total) {
      throw new MetalaError(`${url}: transfer ended early at ${got} of ${total} bytes; ${part} is kept. Resume with: ${retry}`);
    }
  } else {
    res.resume();
    throw new MetalaError(`${url}: HTTP ${code}${res.statusMessage !== undefined ? ` ${res.statusMessage}` : ''}. Check the URL or retry later with: ${retry}`);
  }
  const bytes = sizeOf(part);
  if (spec.size !== undefined && bytes !== spec.size) {
    await rm(part, { force: true });
    throw new MetalaError(`${url}: size mismatch: expected ${spec.size} bytes, got ${bytes}; the partial file was deleted. Download again with: ${retry}`);
  }
  const digest = await sha256File(part);
  if (want !== undefined && digest !== want) {
    await rm(part, { force: true });
    if (recorded !== undefined) {
      throw new MetalaError(
        `${url}: the server sent different bytes than at the first fetch (${recorded.fetched}: sha256 ${recorded.sha256}, now ${digest}); nothing was kept. If the upstream file changed on purpose, delete ${provenancePath(dest)} and fetch again`,
      );
    }
    throw new MetalaError(`${url}: sha256 mismatch: expected ${want}, got ${digest}; the partial file was deleted. Download again with: ${retry}`);
  }
  await rename(part, dest);
  if (spec.sha256 === undefined && recorded === undefined) {
    await writeFile(provenancePath(dest), `${JSON.stringify({ url, size: bytes, sha256: digest, fetched: new Date().toISOString() } satisfies Provenance, null, 1)}\n`);
  }
  return { path: dest, status: resumed ? 'resumed' : 'downloaded', bytes, sha256: digest };
}
