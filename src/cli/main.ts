// Entry point of the `metala` executable (bin/metala.js imports this file).
import { main } from './program.js';

const code = await main(process.argv);
const { shutdownBackend } = await import('../backend/index.js');
await shutdownBackend();
process.exitCode = code;
