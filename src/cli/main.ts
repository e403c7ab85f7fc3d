// Entry point of the `metala` executable (bin/metala.js imports this file). No top-level await:
// the same file is the entry of the single-file CommonJS bundle (tools/bundle.ts).
import { main } from './program.js';
import { shutdownIfInitialised } from '../backend/types.js';

// `metala status … | head`: a reader that closes the pipe early is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}

void main(process.argv).then(async (code) => {
  await shutdownIfInitialised();
  process.exitCode = code;
});
