import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
await initBackend('wasm');
const t = (name: string, f: () => tf.Tensor | tf.Tensor[]) => {
  for (let w = 0; w < 2; w++) tf.dispose(f());
  const t0 = performance.now();
  for (let i = 0; i < 10; i++) { const r = f(); const a = Array.isArray(r) ? r : [r]; a[a.length-1]!.dataSync(); tf.dispose(r); }
  console.log(name.padEnd(30), ((performance.now() - t0) / 10).toFixed(2), 'ms');
};
const a0 = tf.randomNormal([32, 8, 32, 64]);
const a1 = tf.randomNormal([8, 32, 32, 64]);
t('unstack axis0', () => tf.unstack(a0, 0));
t('unstack axis1', () => tf.unstack(a1, 1));
const x5 = tf.randomNormal([4, 32, 16, 2, 32]);
t('transpose [0,3,1,2,4]', () => tf.transpose(x5, [0, 3, 1, 2, 4]));
t('transpose [1,0,3,2,4]', () => tf.transpose(x5, [1, 0, 3, 2, 4]));
const e = tf.randomNormal([256, 16, 16, 32]);
t('exp 2M', () => tf.exp(e));
t('mul 2M', () => tf.mul(e, e));
const kk = tf.randomNormal([4096, 16, 32]); const qq = tf.randomNormal([4096, 32, 1]);
t('matvec batched 4096x16x32', () => tf.matMul(kk, qq));
