// Entry of an image-decode worker thread (started by pool.ts). It runs batch jobs in arrival
// order and posts each result on its port, transferring the pixel buffer, then bumps its slot of
// the shared signal array so the main thread, blocked in Atomics.wait, wakes without an event loop.
import { workerData, type MessagePort } from 'node:worker_threads';
import type { ImageSpec } from './augment.js';
import { runJob, type Job, type JobResult, type RawSource } from './jobs.js';

export interface WorkerInit {
  port: MessagePort;
  signal: Int32Array;
  index: number;
  spec: ImageSpec;
  /** In-memory sources on SharedArrayBuffers (no copy per worker). */
  raws: RawSource[];
}

const init = workerData as WorkerInit;

init.port.on('message', (job: Job) => {
  let res: JobResult;
  try {
    res = runJob(job, init.spec, init.raws);
  } catch (e) {
    res = { id: job.id, pixels: new Float32Array(0), ok: new Uint8Array(0), errors: [], seconds: 0, fatal: (e as Error).stack ?? String(e) };
  }
  init.port.postMessage(res, [res.pixels.buffer as ArrayBuffer]);
  Atomics.add(init.signal, init.index, 1);
  Atomics.notify(init.signal, init.index);
});
// Ready: the first bump tells the pool this worker loaded (a failed import never gets here).
Atomics.add(init.signal, init.index, 1);
Atomics.notify(init.signal, init.index);
