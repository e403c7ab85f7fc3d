// Log-likelihood of continuations under a causal LM, lm-eval style (lm_eval/api/model.py
// _encode_pair, models/huggingface.py _loglikelihood_tokens; reference-implementations.md §4.1):
// trailing context spaces move into the continuation, the continuation's tokens are
// whole[len(ctx):], inputs are left-truncated to max_length, and the answer is (Σ log p, greedy?).
// Batches are bounded by a token budget and only [B, T] numbers leave the device.
import * as tf from '@tensorflow/tfjs';
import type { CausalLM } from '../models/lm.js';
import type { Tokenizer } from '../tokenizers/types.js';

export interface TokenRequest {
  context: number[];
  continuation: number[];
}

export interface LoglikelihoodResult {
  /** Σ log p(continuation token | prefix). */
  ll: number;
  /** Every continuation token was the argmax of its distribution. */
  greedy: boolean;
}

/** What the harness needs from a model: (context, continuation) token pairs → log-likelihoods. */
export interface LoglikelihoodModel {
  /** Longest input fed to the model; longer requests are left-truncated. */
  readonly maxLength: number;
  loglikelihood(requests: readonly TokenRequest[]): Promise<LoglikelihoodResult[]>;
}

/**
 * lm-eval's `_encode_pair` (plus its empty-context rule): the tokens of context and continuation.
 * @param prefixId token standing in for an empty context (lm-eval: BOS or EOS)
 */
export function encodePair(tok: Tokenizer, context: string, continuation: string, prefixId: number): TokenRequest {
  if (context === '') return { context: [prefixId], continuation: tok.encode(continuation) };
  const stripped = context.trimEnd();
  const n = context.length - stripped.length;
  const ctx = n > 0 ? stripped : context;
  const cont = n > 0 ? context.slice(-n) + continuation : continuation;
  const whole = tok.encode(ctx + cont);
  const ctxEnc = tok.encode(ctx);
  return { context: ctxEnc, continuation: whole.slice(ctxEnc.length) };
}

export interface CausalLmScorerOptions {
  /** Default: the model's max_seq_len (2048 for released checkpoints, lm-eval's HF default). */
  maxLength?: number;
  /** Upper bound on B·T per forward pass; default min(4096, 2^25 / vocab) so logits stay ≤ 128 MB (WebGPU buffer limits). */
  batchTokens?: number;
  /** Called after each batch with (requests done, total). */
  onProgress?: (done: number, total: number) => void;
}

/** Scores requests with a CausalLM, longest first (lm-eval's order), in token-bounded batches. */
export function causalLmScorer(model: CausalLM, opts: CausalLmScorerOptions = {}): LoglikelihoodModel {
  const V = model.config.vocab_size;
  const maxLength = opts.maxLength ?? model.config.max_seq_len;
  const budget = opts.batchTokens ?? Math.max(1, Math.min(4096, Math.floor(2 ** 25 / V)));
  return {
    maxLength,
    async loglikelihood(requests) {
      // Input = (ctx + cont)[-(max_length + 1):][:-1]; the continuation is predicted at its last positions.
      const rows = requests.map((r, i) => {
        const all = [...r.context, ...r.continuation].slice(-(maxLength + 1));
        return { i, input: all.slice(0, -1), targets: all.slice(1), contLen: Math.min(r.continuation.length, all.length - 1) };
      });
      const order = rows.slice().sort((a, b) => b.input.length - a.input.length || a.i - b.i);
      const out: LoglikelihoodResult[] = new Array<LoglikelihoodResult>(rows.length);
      let done = 0;
      for (let from = 0; from < order.length; ) {
        const L = Math.max(1, order[from]!.input.length);
        const B = Math.max(1, Math.min(order.length - from, Math.floor(budget / L)));
        const batch = order.slice(from, from + B);
        const ids = new Int32Array(B * L);
        const tgt = new Int32Array(B * L);
        batch.forEach((r, b) => {
          ids.set(r.input, b * L);
          tgt.set(r.targets, b * L);
        });
        const [lpT, amT] = tf.tidy(() => {
          const logits = tf.reshape(model.forward(tf.tensor2d(ids, [B, L], 'int32')).logits, [B * L, V]) as tf.Tensor2D;
          // log p(target) = logit[target] − logsumexp(logits): no [B, T, V] log-softmax copy.
          const flatIdx = tf.add(tf.mul(tf.range(0, B * L, 1, 'int32'), tf.scalar(V, 'int32')), tf.tensor1d(tgt, 'int32'));
          const picked = tf.gather(tf.reshape(logits, [-1]), flatIdx);
          return [tf.sub(picked, tf.logSumExp(logits, 1)), tf.argMax(logits, 1)];
        });
        const lp = (await lpT.data()) as Float32Array;
        const am = (await amT.data()) as Int32Array;
        lpT.dispose();
        amT.dispose();
        batch.forEach((r, b) => {
          let ll = 0;
          let greedy = true;
          const T = r.input.length;
          for (let t = T - r.contLen; t < T; t++) {
            ll += lp[b * L + t]!;
            if (am[b * L + t] !== r.targets[t]) greedy = false;
          }
          out[r.i] = { ll, greedy };
        });
        from += B;
        done += B;
        opts.onProgress?.(done, order.length);
      }
      return out;
    },
  };
}
