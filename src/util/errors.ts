// Two classes of error (style-models.md §8.4): MetalaError is expected and user-facing — the CLI
// prints its one-line message and exits with its code; anything else is a bug and gets a stack.

/** Exit code 2: bad usage, config or input; nothing ran (or nothing was written). */
export const EXIT_USAGE = 2;
/** Exit code 1: a run started and failed (NaN loss, out of memory, …). */
export const EXIT_RUNTIME = 1;

export class MetalaError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = EXIT_USAGE) {
    super(message);
    this.name = 'MetalaError';
    this.exitCode = exitCode;
  }
}

/** `FILE: key.path: what is wrong. what to do` */
export class ConfigError extends MetalaError {
  constructor(file: string, keyPath: string, problem: string) {
    super(`${file}: ${keyPath === '' ? '(top level)' : keyPath}: ${problem}`);
    this.name = 'ConfigError';
  }
}

/** A file the user pointed at is missing or malformed (checkpoint folder, data set, …). */
export class InputError extends MetalaError {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

/** A run failed at run time (divergence, out of memory); the last good checkpoint is kept. */
export class RunError extends MetalaError {
  constructor(message: string) {
    super(message, EXIT_RUNTIME);
    this.name = 'RunError';
  }
}

/**
 * A GPU tensor larger than the device binds in one buffer (WebGPU: maxStorageBufferBindingSize,
 * 2 GiB on the H100), found before the kernel is dispatched. The training loop adds the run and
 * the remedy (train.micro_batch_size).
 */
export class GpuBufferLimitError extends RunError {
  constructor(message: string) {
    super(message);
    this.name = 'GpuBufferLimitError';
  }
}
