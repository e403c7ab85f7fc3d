// `npm run bundle`: one CommonJS file (bundle/metala.cjs) plus the .wasm files it loads, runnable
// with plain `node` and no node_modules (the GPU host has no Node.js install; ../shared/gpu/pack.sh
// adds a Node binary, dawn.node and the Vulkan loader around it). ESM cannot be used: the wasm
// backend's emscripten glue needs __dirname (tfjs-in-node.md §2.1).
import { copyFileSync, mkdirSync, rmSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { checkoutCommit } from '../util/git.js';

const require = createRequire(import.meta.url);

/** vega-canvas → vega_canvas_none.js (see there: a top-level await probe for node-canvas). */
const noCanvas = {
  name: 'vega-canvas-none',
  setup(build: { onResolve(o: { filter: RegExp }, f: () => { path: string }): void }): void {
    build.onResolve({ filter: /^vega-canvas$/ }, () => ({ path: resolve('dist/src/tools/vega_canvas_none.js') }));
  },
};

async function main(): Promise<void> {
  const out = resolve(process.argv[2] ?? 'bundle');
  const entry = resolve('dist/src/cli/main.js');
  if (!existsSync(entry)) throw new Error(`${entry} not found: run npm run build first`);
  const esbuild = await import('esbuild');
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  await esbuild.build({
    entryPoints: [entry],
    outfile: join(out, 'metala.cjs'),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    // METALA_BUNDLE_MINIFY=0 keeps function names readable in `node --cpu-prof` profiles.
    minify: process.env['METALA_BUNDLE_MINIFY'] !== '0',
    // Class and function names survive minifying: errors name kernels by their program's class
    // (webgpu_patches.ts: an H200 run printed "GPU kernel e" without this).
    keepNames: true,
    sourcemap: false,
    // Optional at run time, located through METALA_DAWN_NODE / installed packages.
    external: ['webgpu', '@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', 'esbuild'],
    logLevel: 'warning',
    banner: { js: '#!/usr/bin/env node' },
    // summary.json's git_commit: this checkout's, not that of the tree the bundle later runs in.
    define: { __METALA_BUNDLE_COMMIT__: JSON.stringify(checkoutCommit() ?? 'unknown') },
    plugins: [noCanvas],
  });
  // The image decoder runs in worker_threads: its entry is a second file beside metala.cjs.
  const worker = resolve('dist/src/tasks/image/worker.js');
  if (existsSync(worker)) {
    await esbuild.build({
      entryPoints: [worker],
      outfile: join(out, 'image_worker.cjs'),
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      minify: true,
      external: ['webgpu', '@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu'],
      logLevel: 'warning',
    });
  }
  const wasmDir = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
  for (const f of ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm']) copyFileSync(join(wasmDir, f), join(out, f));
  process.stdout.write(`bundle written to ${out}/metala.cjs (+ image_worker.cjs, 3 .wasm files)\n`);
}

void main();
