// Reference rows from another framework measured in the same GPU call (../shared/bench/torch_reference.py:
// PyTorch + fla, one JSON line per case), attached to the `metala bench` results of the same shape so
// the efficiency table can show the ratio. Only the fp32, non-compiled rows are the reference (metala
// trains in fp32). A stacked result (bench --stack) gets the row of its one-model shape: PyTorch
// sweeps train one run at a time (as Zoology does), so its ratio is a sweep's throughput against that.
import { MetalaError } from '../util/errors.js';
import type { BenchResult } from './run.js';

interface TorchLine {
  kind?: string;
  B?: number;
  T?: number;
  d?: number;
  L?: number;
  V?: number;
  dtype?: string;
  compiled?: boolean;
  tok_s?: number;
  mem_gb?: number;
  error?: string;
}

/** torch_reference.py names softmax attention 'attn'. */
const MIXER_OF_KIND: Record<string, string> = { metala: 'metala', attn: 'softmax' };

export function attachModelReference(results: BenchResult[], text: string, file: string): BenchResult[] {
  const lines: TorchLine[] = [];
  text.split('\n').forEach((l, i) => {
    if (!l.trim().startsWith('{')) return;
    try {
      lines.push(JSON.parse(l) as TorchLine);
    } catch {
      throw new MetalaError(`${file}: line ${i + 1}: not JSON. Give the output of ../shared/bench/torch_reference.py`, 2);
    }
  });
  return results.map((r) => {
    const hit = lines.find(
      (t) =>
        t.error === undefined &&
        t.dtype === 'fp32' &&
        t.compiled !== true &&
        MIXER_OF_KIND[t.kind ?? ''] === r.mixer.name &&
        t.B === r.batch &&
        t.T === r.seq_len &&
        t.d === r.d_model &&
        t.L === r.n_layers &&
        t.V === r.vocab_size,
    );
    if (hit === undefined || typeof hit.tok_s !== 'number') return r;
    return { ...r, reference: { framework: 'pytorch+fla', dtype: 'fp32', tokens_per_s: hit.tok_s, ...(typeof hit.mem_gb === 'number' ? { peak_gb: hit.mem_gb } : {}) } };
  });
}
