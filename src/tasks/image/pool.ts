// Decoding off the main thread with prefetch. The training loop pulls batches synchronously, so
// the main thread blocks in Atomics.wait (allowed in Node) until a worker bumps its signal slot,
// then reads the result with receiveMessageOnPort: no event loop turn is needed, and jobs queued
// ahead keep every worker busy while the model trains. `InlineLoader` runs the same jobs in-thread.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { RunError } from '../../util/errors.js';
import type { ImageSpec } from './augment.js';
import { runJob, type Job, type JobResult, type RawSource } from './jobs.js';
import type { WorkerInit } from './worker.js';

/** Runs jobs; `take` returns a submitted job's result, blocking until it is there. */
export interface Loader {
  readonly workers: number;
  submit(job: Job): void;
  take(id: number): JobResult;
  /** Results of these jobs will not be taken (an abandoned epoch): drop them on arrival. */
  cancel(ids: Iterable<number>): void;
  close(): void;
}

export class InlineLoader implements Loader {
  readonly workers = 0;
  private readonly queued = new Map<number, Job>();
  constructor(
    private readonly spec: ImageSpec,
    private readonly raws: readonly RawSource[],
  ) {}
  submit(job: Job): void {
    this.queued.set(job.id, job);
  }
  take(id: number): JobResult {
    const job = this.queued.get(id);
    if (job === undefined) throw new Error(`internal: image job ${id} was never submitted`);
    this.queued.delete(id);
    return runJob(job, this.spec, this.raws);
  }
  cancel(ids: Iterable<number>): void {
    for (const id of ids) this.queued.delete(id);
  }
  close(): void {
    this.queued.clear();
  }
}

/**
 * The worker script: METALA_IMAGE_WORKER, else the compiled worker.js beside this module (dist/),
 * else `image_worker.cjs` beside a single-file CJS bundle; undefined when there is none.
 */
export function defaultWorkerScript(): string | undefined {
  const env = process.env['METALA_IMAGE_WORKER'];
  if (env !== undefined && env !== '') return env;
  const url = import.meta.url as string | undefined;
  const candidate =
    url !== undefined && url.startsWith('file:')
      ? join(dirname(fileURLToPath(url)), 'worker.js')
      : typeof __filename === 'string'
        ? join(dirname(__filename), 'image_worker.cjs')
        : undefined;
  return candidate !== undefined && existsSync(candidate) ? candidate : undefined;
}

/** No result for this long means a worker died (OOM, native crash); the message says what to try. */
const STALL_MS = 300_000;

export class WorkerPool implements Loader {
  private readonly threads: { worker: Worker; port: MessagePort }[] = [];
  private readonly signal: Int32Array;
  private readonly owner = new Map<number, number>();
  private readonly ready = new Map<number, JobResult>();
  private readonly cancelled = new Set<number>();
  private readonly outstanding: number[];
  private failure: Error | undefined;

  /** Throws when the workers do not start within startMs (the caller falls back to InlineLoader). */
  constructor(script: string, readonly workers: number, spec: ImageSpec, raws: RawSource[], startMs = 30_000) {
    this.signal = new Int32Array(new SharedArrayBuffer(4 * workers));
    this.outstanding = new Array<number>(workers).fill(0);
    for (let i = 0; i < workers; i++) {
      const { port1, port2 } = new MessageChannel();
      const init: WorkerInit = { port: port2, signal: this.signal, index: i, spec, raws };
      const worker = new Worker(script, { workerData: init, transferList: [port2] });
      worker.on('error', (e) => (this.failure = e));
      // Idle workers must not keep the process alive after the last run.
      worker.unref();
      port1.unref();
      this.threads.push({ worker, port: port1 });
    }
    const deadline = Date.now() + startMs;
    for (let i = 0; i < workers; i++) {
      while (Atomics.load(this.signal, i) === 0) {
        if (Date.now() > deadline) {
          this.close();
          throw new Error(`image decode worker ${i} did not start within ${startMs / 1000} s`);
        }
        Atomics.wait(this.signal, i, 0, 200);
      }
    }
  }

  submit(job: Job): void {
    // Least-loaded worker; each processes its queue in order.
    let w = 0;
    for (let i = 1; i < this.workers; i++) if (this.outstanding[i]! < this.outstanding[w]!) w = i;
    this.outstanding[w]!++;
    this.owner.set(job.id, w);
    this.threads[w]!.port.postMessage(job);
  }

  private receive(r: JobResult): void {
    const w = this.owner.get(r.id);
    if (w !== undefined) this.outstanding[w]!--;
    this.owner.delete(r.id);
    if (r.fatal !== undefined) throw new Error(`image decode worker failed: ${r.fatal}`);
    if (this.cancelled.delete(r.id)) return;
    this.ready.set(r.id, r);
  }

  take(id: number): JobResult {
    const w = this.owner.get(id);
    let lastProgress = Date.now();
    while (!this.ready.has(id)) {
      if (w === undefined) throw new Error(`internal: image job ${id} was never submitted`);
      if (this.failure !== undefined) throw new RunError(`image decode worker crashed: ${this.failure.message}. Re-run with task.workers: 0 to decode on the main thread`);
      const seen = Atomics.load(this.signal, w);
      const m = receiveMessageOnPort(this.threads[w]!.port);
      if (m !== undefined) {
        this.receive(m.message as JobResult);
        lastProgress = Date.now();
        continue;
      }
      if (Date.now() - lastProgress > STALL_MS) {
        throw new RunError(`image decode worker ${w} gave no result for ${STALL_MS / 1000} s (crashed or out of memory?). Lower task.workers or set task.workers: 0`);
      }
      Atomics.wait(this.signal, w, seen, 1000);
    }
    const r = this.ready.get(id)!;
    this.ready.delete(id);
    return r;
  }

  cancel(ids: Iterable<number>): void {
    for (const id of ids) {
      if (!this.ready.delete(id) && this.owner.has(id)) this.cancelled.add(id);
    }
  }

  close(): void {
    for (const t of this.threads) {
      t.port.close();
      void t.worker.terminate();
    }
    this.threads.length = 0;
    this.ready.clear();
  }
}
