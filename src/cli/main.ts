// Entry point of the `metala` executable (bin/metala.js imports this file). No top-level await:
// the same file is the entry of the single-file CommonJS bundle (tools/bundle.ts).
import { main } from './program.js';
import { shutdownBackend } from '../backend/index.js';

void main(process.argv).then(async (code) => {
  await shutdownBackend();
  process.exitCode = code;
});
