// downloadFile against a local node:http server on 127.0.0.1 (DESIGN.md §4: downloads are real code
// paths, tested offline): cache hits, checksum failure leaves nothing behind, a truncated transfer
// resumes with an HTTP Range request, a server that ignores Range restarts cleanly, and offline /
// HTTP errors are one-line MetalaErrors naming the retry command.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { downloadFile, provenancePath, redirectTarget } from '../../src/data/download.js';
import { MetalaError } from '../../src/util/errors.js';

const BODY = randomBytes(200_000);
const SHA = createHash('sha256').update(BODY).digest('hex');
let server: http.Server;
let base = '';
const requests: { path: string; range?: string }[] = [];
/** What /changing serves (a source without a published checksum whose bytes can change). */
let changing = Buffer.from('first version of the file');
/** Requests to /flaky are cut after half the body while this is true. */
let cutNext = true;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const path = req.url ?? '/';
    requests.push({ path, range: req.headers.range });
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (path === '/missing') {
      res.writeHead(404).end();
      return;
    }
    if (path === '/changing') {
      res.writeHead(200, { 'content-length': changing.length }).end(changing);
      return;
    }
    if (path === '/redirect') {
      res.writeHead(302, { location: '/file' }).end();
      return;
    }
    const from = range !== null && path !== '/norange' ? Number(range[1]) : 0;
    const body = BODY.subarray(from);
    if (from > 0) res.writeHead(206, { 'content-length': body.length, 'content-range': `bytes ${from}-${BODY.length - 1}/${BODY.length}` });
    else res.writeHead(200, { 'content-length': body.length });
    if (path === '/flaky' && cutNext) {
      cutNext = false;
      res.write(body.subarray(0, Math.floor(body.length / 2)), () => res.destroy());
      return;
    }
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((r) => server.close(() => r())));

const tmp = () => mkdtempSync(join(tmpdir(), 'metala-dl-'));

describe('downloadFile', () => {
  it('downloads, verifies, and then serves the cached file without a request', async () => {
    const dest = join(tmp(), 'sub', 'file.bin');
    const r = await downloadFile({ url: `${base}/redirect`, dest, sha256: SHA, size: BODY.length });
    expect(r.status).toBe('downloaded');
    expect(r.sha256).toBe(SHA);
    expect(readFileSync(dest).equals(BODY)).toBe(true);
    expect(existsSync(`${dest}.part`)).toBe(false);
    const n = requests.length;
    const again = await downloadFile({ url: `${base}/file`, dest, sha256: SHA });
    expect(again.status).toBe('cached');
    expect(requests.length).toBe(n);
  });

  it('fails cleanly on a checksum mismatch: one line with expected and actual, nothing left behind', async () => {
    const dest = join(tmp(), 'file.bin');
    const wrong = '0'.repeat(64);
    const err = await downloadFile({ url: `${base}/file`, dest, sha256: wrong, retry: 'metala data fetch x' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MetalaError);
    const msg = (err as Error).message;
    expect(msg).toContain(`expected ${wrong}, got ${SHA}`);
    expect(msg).toContain('metala data fetch x');
    expect(msg.includes('\n')).toBe(false);
    expect(existsSync(dest)).toBe(false);
    expect(existsSync(`${dest}.part`)).toBe(false);
  });

  it('keeps the part file of a truncated transfer and resumes it with a Range request', async () => {
    const dest = join(tmp(), 'file.bin');
    cutNext = true;
    const err = await downloadFile({ url: `${base}/flaky`, dest, sha256: SHA, retry: 'metala data fetch y' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MetalaError);
    expect((err as Error).message).toMatch(/interrupted|ended early/);
    expect((err as Error).message).toContain('Resume with: metala data fetch y');
    expect(existsSync(dest)).toBe(false);
    const partial = statSync(`${dest}.part`).size;
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(BODY.length);
    const r = await downloadFile({ url: `${base}/flaky`, dest, sha256: SHA });
    expect(r.status).toBe('resumed');
    expect(requests[requests.length - 1]!.range).toBe(`bytes=${partial}-`);
    expect(readFileSync(dest).equals(BODY)).toBe(true);
    expect(existsSync(`${dest}.part`)).toBe(false);
  });

  it('restarts from byte 0 when the server ignores Range', async () => {
    const dest = join(tmp(), 'file.bin');
    writeFileSync(`${dest}.part`, BODY.subarray(0, 1000));
    const r = await downloadFile({ url: `${base}/norange`, dest, sha256: SHA });
    expect(r.status).toBe('downloaded');
    expect(readFileSync(dest).equals(BODY)).toBe(true);
  });

  it('replaces a corrupt cached file', async () => {
    const dest = join(tmp(), 'file.bin');
    writeFileSync(dest, 'not the file');
    const r = await downloadFile({ url: `${base}/file`, dest, sha256: SHA });
    expect(r.status).toBe('downloaded');
    expect(readFileSync(dest).equals(BODY)).toBe(true);
  });

  it('reports HTTP errors and unreachable hosts as one line with the retry command', async () => {
    const dest = join(tmp(), 'file.bin');
    await expect(downloadFile({ url: `${base}/missing`, dest, retry: 'metala data fetch z' })).rejects.toThrow(/HTTP 404.*metala data fetch z/);
    // A port nobody listens on: connection refused, as when offline.
    const probe = http.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const err = await downloadFile({ url: `http://127.0.0.1:${port}/x`, dest, retry: 'metala data fetch z' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MetalaError);
    expect((err as Error).message).toMatch(/cannot be reached \(ECONNREFUSED\); are you offline\? Connect and retry with: metala data fetch z$/);
    expect(existsSync(dest)).toBe(false);
  });
  it('without a published checksum: the first fetch records size and sha256, later checks and re-downloads are verified against it', async () => {
    const dest = join(tmp(), 'plain.txt');
    const first = await downloadFile({ url: `${base}/changing`, dest });
    expect(first.status).toBe('downloaded');
    const rec = JSON.parse(readFileSync(provenancePath(dest), 'utf8')) as { url: string; size: number; sha256: string };
    expect(rec).toMatchObject({ url: `${base}/changing`, size: changing.length, sha256: createHash('sha256').update(changing).digest('hex') });
    const n = requests.length;
    expect((await downloadFile({ url: `${base}/changing`, dest })).status).toBe('cached');
    expect(requests.length).toBe(n);
    // a corrupted cached copy is fetched again and verified against the record
    writeFileSync(dest, 'first version of the filE');
    expect((await downloadFile({ url: `${base}/changing`, dest })).status).toBe('downloaded');
    expect(readFileSync(dest)).toEqual(changing);
    // the source changes upstream: the re-download is refused, nothing replaces the file
    changing = Buffer.from('second version, different bytes');
    writeFileSync(dest, 'corrupt');
    await expect(downloadFile({ url: `${base}/changing`, dest })).rejects.toThrow(/the server sent different bytes than at the first fetch .*delete .*plain\.txt\.provenance\.json and fetch again/);
    expect(existsSync(`${dest}.part`)).toBe(false);
  });
  it('a redirect may not downgrade https to http; relative and https redirects are followed', () => {
    const from = new URL('https://huggingface.co/datasets/x/resolve/main/a.parquet');
    expect(() => redirectTarget(from, 'http://cdn.example.org/a.parquet')).toThrow(/redirected from https to http \(http:\/\/cdn\.example\.org\/a\.parquet\); refusing an unencrypted download/);
    expect(redirectTarget(from, 'https://cdn.example.org/a.parquet').toString()).toBe('https://cdn.example.org/a.parquet');
    expect(redirectTarget(from, '/other/b.parquet').toString()).toBe('https://huggingface.co/other/b.parquet');
    expect(redirectTarget(new URL('http://127.0.0.1:1/x'), 'http://127.0.0.1:1/y').toString()).toBe('http://127.0.0.1:1/y');
  });
});
