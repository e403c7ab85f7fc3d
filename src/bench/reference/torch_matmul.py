"""PyTorch reference for `metala bench --matmul`: the same products in fp32 (TF32 off) on CUDA.

usage: python3 torch_matmul.py SPEC [SPEC ...] > torch_matmul.jsonl
SPEC is metala's: [batch x] M x N x K [:ta] [:tb] (ta: A stored [K, M]; tb: B stored [N, K]).
Prints one JSON line per spec: {spec, framework, dtype, ms, tflops}; ms is the median of CUDA-event
timed repetitions after a warm-up, on random normal inputs (never zeros).
"""
import json
import sys

import torch


def parse(spec):
    dims, *flags = spec.split(":")
    sizes = [int(s) for s in dims.split("x")]
    if len(sizes) == 3:
        sizes = [1] + sizes
    b, m, n, k = sizes
    return b, m, n, k, "ta" in flags, "tb" in flags


def time_spec(spec, reps=20):
    b, m, n, k, ta, tb = parse(spec)
    a = torch.randn((b, k, m) if ta else (b, m, k), device="cuda")
    w = torch.randn((b, n, k) if tb else (b, k, n), device="cuda")
    # metala's transposed operands are stored transposed; the same views here.
    op_a = a.transpose(1, 2) if ta else a
    op_b = w.transpose(1, 2) if tb else w
    for _ in range(3):
        torch.bmm(op_a, op_b)
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        torch.bmm(op_a, op_b)
        e.record()
        torch.cuda.synchronize()
        times.append(s.elapsed_time(e))
    times.sort()
    ms = times[len(times) // 2]
    flop = 2.0 * b * m * n * k
    return {"spec": spec, "framework": "pytorch " + torch.__version__, "dtype": "fp32",
            "ms": round(ms, 4), "tflops": round(flop / (ms * 1e-3) / 1e12, 2)}


def main():
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    for spec in sys.argv[1:]:
        print(json.dumps(time_spec(spec)), flush=True)


if __name__ == "__main__":
    main()
