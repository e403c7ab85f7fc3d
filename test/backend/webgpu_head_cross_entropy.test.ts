// The chunked head cross-entropy on a real WebGPU device (CI: lavapipe), where it runs the fused
// cross-entropy kernels (MetalaCrossEntropyFwd/Bwd) on each chunk's [R·c, V] logits: same losses and
// gradients as the plain path, padded replicas and a tied head included; its chunked argmax
// (evaluation) is tf.argMax of the whole logits.
import { afterAll, describe, it } from 'vitest';
import { shutdownBackend } from '../../src/backend/index.js';
import { expectHeadMatchesPlain, expectPredictionsMatchPlain, randomHead } from '../helpers/head_rows.js';
import { webgpuOrWhy } from '../helpers/webgpu.js';

const why = await webgpuOrWhy('webgpu head cross-entropy tests');

describe.skipIf(why !== undefined)('webgpu chunked head cross-entropy', () => {
  afterAll(async () => {
    await shutdownBackend();
  });

  it('equals the plain path (fused kernels per chunk)', async () => {
    await expectHeadMatchesPlain(randomHead(11, [37], 16, 300, false), 10, 'R 1');
    await expectHeadMatchesPlain(randomHead(12, [20, 33, 7], 8, 130, false), 16, 'R 3 padded');
    await expectHeadMatchesPlain(randomHead(13, [12, 12], 8, 70, true), 5, 'R 2 tied');
  });

  it('gives the argmax of the whole logits (padded replicas)', async () => {
    await expectPredictionsMatchPlain(randomHead(12, [20, 33, 7], 8, 130, false), 16, 'R 3 padded');
  });
});
