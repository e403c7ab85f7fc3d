// Backend names and what an initialised backend reports: importable without loading TF.js, so
// commands can declare their options (and `metala --help` can answer) before any backend exists.
export const BACKENDS = ['auto', 'wasm', 'cpu', 'webgpu', 'tensorflow'] as const;
export type BackendName = (typeof BACKENDS)[number];

export interface BackendInfo {
  /** The tf backend actually in use: 'wasm' | 'cpu' | 'webgpu' | 'tensorflow'. */
  backend: string;
  /** Human-readable device (GPU adapter name, or the CPU model). */
  device: string;
}

/** Set by backend/index.ts once a backend is up: what the CLI calls before the process exits. */
let shutdown: (() => Promise<void>) | undefined;

export function setBackendShutdown(f: () => Promise<void>): void {
  shutdown = f;
}

/** Releases the backend (Dawn keeps Node alive otherwise); nothing when none was initialised. */
export async function shutdownIfInitialised(): Promise<void> {
  await shutdown?.();
}
