// Library entry: `import { loadCheckpoint, ops, initBackend } from 'metala'`.
export { loadCheckpoint, saveCheckpoint } from './checkpoint/io.js';
export { CausalLM, Decoder } from './models/lm.js';
export { initBackend, currentBackend, type BackendName, type BackendInfo } from './backend/index.js';
export { ops } from './ops/index.js';
export { MIXERS } from './mixers/registry.js';
export { TASKS } from './tasks/registry.js';
export { loadExperiment } from './config/load.js';
export { MetalaError, ConfigError, InputError, RunError } from './util/errors.js';
