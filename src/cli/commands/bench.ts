// `metala bench`: tokens/s (train step and inference) and peak tensor memory for mixers ×
// sequence lengths × backends; one child process per backend (a process holds one backend).
// Results: results/bench/<name>.json, one record per case.
import { Command, InvalidArgumentError } from 'commander';
import { nonNegativeInt, positiveInt, positiveInts } from '../options.js';

const list = (v: string): string[] => v.split(',').map((s) => s.trim()).filter((s) => s !== '');

/** Backends a bench child can initialise (auto is not one: a bench compares named backends). */
const BENCH_BACKENDS = ['wasm', 'cpu', 'webgpu', 'tensorflow'] as const;

function backendList(v: string): string[] {
  const names = list(v);
  const bad = names.find((n) => !(BENCH_BACKENDS as readonly string[]).includes(n));
  if (names.length === 0 || bad !== undefined) throw new InvalidArgumentError(`expected a comma-separated list of ${BENCH_BACKENDS.join(', ')}, e.g. --backends wasm,webgpu`);
  return names;
}

export function benchCommand(): Command {
  return new Command('bench')
    .description('measure training/inference tokens/s and memory per mixer, sequence length and backend')
    .option('--backends <list>', `backends to compare, each in its own process (${BENCH_BACKENDS.join(', ')})`, backendList, ['wasm'])
    .option('--mixers <list>', 'mixer names (registry defaults; metala uses d_k = d/2, conv 4)', 'metala,softmax')
    .option('--seq-lens <list>', 'sequence lengths', positiveInts('--seq-lens 128,512'), [128])
    .option('--batch <n>', 'batch size', positiveInt('--batch 16'), 16)
    .option('--d-model <n>', 'model width', positiveInt('--d-model 256'), 64)
    .option('--layers <n>', 'layers', positiveInt('--layers 4'), 2)
    .option('--vocab <n>', 'vocabulary', positiveInt('--vocab 256'), 256)
    .option('--heads <n>', 'heads of every mixer', positiveInt('--heads 4'), 4)
    .option('--steps <n>', 'measured steps per case', positiveInt('--steps 10'), 5)
    .option('--warmup <n>', 'unmeasured steps first (kernel compilation)', nonNegativeInt('--warmup 12'), 2)
    .option('--out <file>', 'write results here (default results/bench/bench-<time>.json)')
    .option('--profile', 'also time forward+backward vs optimizer, and list the slowest kernels (in the JSON)', false)
    .option('--decode <n>', 'also generate n tokens recurrently and record live memory at powers of two', nonNegativeInt('--decode 256'), 0)
    .option('--fused-off <families>', 'webgpu: also run every case with these fused kernel families left out (gla, conv, norm, rwkv4, scan, embedding, xent, matmul, dropout, gradnorm, silu, or all), for an A/B in one file')
    .option('--matmul <specs>', 'time matrix products instead of models: [batch x] M x N x K [:ta] [:tb], comma-separated (tiled kernel vs tfjs on webgpu)', list)
    .option('--matmul-tiles <tiles>', 'with --matmul: also time the tiled kernel with each of these tiles forced (e.g. large,large_k16,wide,small), for a tile sweep in one file', list)
    .option('--reference <file>', 'JSON lines from a reference run in the same GPU call (torch_reference.py, or src/bench/reference/torch_matmul.py with --matmul), attached per case')
    .option('--note <text>', 'free text kept beside the results (e.g. what this run changes)')
    .option('--stack <list>', 'replica counts: each case also trains as a stack of that many models (train.stack), tokens/s summed over them, e.g. 1,4', positiveInts('--stack 1,4'), [1])
    .option('--recompute', 'train with train.recompute: each block is replayed in the backward pass instead of keeping its activations (memory for time)', false)
    .option('--cpu-prof <dir>', "write a V8 CPU profile of each case's measured steps to DIR/<case>.cpuprofile (host time per step: JS and native calls)")
    .option('--adapter', 'print what Dawn offers on this machine instead (features, subgroup sizes, subgroup-matrix configurations, limits; with and without allow_unsafe_apis) and write it to --out if given', false)
    .option('--child', 'internal: run one backend and print JSON', false)
    .action(async (o: { backends: string[]; mixers: string; seqLens: number[]; batch: number; dModel: number; layers: number; vocab: number; heads: number; steps: number; warmup: number; out?: string; note?: string; fusedOff?: string; matmul?: string[]; matmulTiles?: string[]; reference?: string; child: boolean; profile: boolean; recompute: boolean; cpuProf?: string; decode: number; stack: number[]; adapter: boolean }) => {
      const { runBench } = await import('../../bench/cli.js');
      await runBench({ ...o, mixers: list(o.mixers) });
    });
}
