// Progress display: a cli-progress bar on stderr when attached to a terminal (loss, metric,
// tokens/s, ETA); silent otherwise, so CI logs and piped output stay clean.
import cliProgress from 'cli-progress';

export interface Progress {
  start(total: number, startValue: number): void;
  update(value: number, fields: { loss?: number; metric?: number; tps?: number }): void;
  stop(): void;
}

/** `unit` labels the throughput: `tok` (tokens/s) or `img` (images/s). */
export function createProgress(label: string, enabled: boolean, unit = 'tok'): Progress {
  if (!enabled) return { start: () => {}, update: () => {}, stop: () => {} };
  const bar = new cliProgress.SingleBar(
    {
      format: `${label} |{bar}| {value}/{total} loss {loss} acc {metric} {tps} ${unit}/s ETA {eta_formatted}`,
      hideCursor: true,
      etaBuffer: 50,
      fps: 5,
      stream: process.stderr,
    },
    cliProgress.Presets.shades_classic,
  );
  const fmt = (f: { loss?: number; metric?: number; tps?: number }) => ({
    loss: f.loss === undefined ? '-' : f.loss.toFixed(4),
    metric: f.metric === undefined ? '-' : f.metric.toFixed(3),
    tps: f.tps === undefined ? '-' : Math.round(f.tps).toLocaleString('en-US'),
  });
  let last = { loss: undefined as number | undefined, metric: undefined as number | undefined, tps: undefined as number | undefined };
  return {
    start: (total, v) => bar.start(total, v, fmt(last)),
    update: (v, f) => {
      last = { ...last, ...Object.fromEntries(Object.entries(f).filter(([, x]) => x !== undefined)) };
      bar.update(v, fmt(last));
    },
    stop: () => bar.stop(),
  };
}

export function isInteractive(): boolean {
  return process.stdout.isTTY === true && process.stderr.isTTY === true && process.env['CI'] === undefined;
}
