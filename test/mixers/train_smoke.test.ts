// Every registered mixer trains inside the LM backbone through the real training loop on a tiny
// MQAR config (results files written, loss finite, no tensor leaked per step).
import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend, type BackendInfo } from '../../src/backend/index.js';
import { loadExperiment } from '../../src/config/load.js';
import { MIXERS } from '../../src/mixers/registry.js';
import { trainRun } from '../../src/train/loop.js';
import { tinyConfig } from '../helpers/tiny.js';

let backend: BackendInfo;
beforeAll(async () => {
  backend = await initBackend('cpu');
});

describe.each(Object.keys(MIXERS))('mixer %s', (name) => {
  it('trains on a tiny MQAR task through the training loop', async () => {
    const { dir, file } = tinyConfig();
    const spec = loadExperiment(file, [`model.mixer={name: ${name}}`, 'model.d_model=32', 'train.max_steps=4', 'train.eval_every=4']).runs[0]!;
    const out = await trainRun(spec, { resultsDir: dir, backend, progress: false });
    expect(out.status).toBe('finished');
    const summary = JSON.parse(readFileSync(join(dir, 'tiny', spec.run_id, 'summary.json'), 'utf8'));
    expect(summary.steps).toBe(4);
    expect(Number.isFinite(summary.final.loss)).toBe(true);
    expect(summary.final.accuracy).toBeGreaterThanOrEqual(0);
  });
});
