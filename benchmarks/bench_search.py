"""Throughput and memory of the streaming top-k search on synthetic vectors of MiniLM's shape.

    .venv/bin/python benchmarks/bench_search.py [--batches 50] [--tokens-per-batch 1000]

Prints corpus tokens searched per second and the size of the search state, which does not
depend on how many batches stream through.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from reportgen.analyses.search import Candidates, TopK


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=50)
    parser.add_argument("--tokens-per-batch", type=int, default=1000)
    parser.add_argument("--probe-tokens", type=int, default=170)
    parser.add_argument("--top-k", type=int, default=50)
    args = parser.parse_args()
    L, H, d, D, P, N = 6, 12, 32, 384, args.probe_tokens, args.tokens_per_batch
    rng = np.random.default_rng(0)
    topk = TopK(rng.standard_normal((L, P, D), dtype=np.float32), rng.standard_normal((L, P, H, d), dtype=np.float32),
                args.top_k)
    state = sum(a.nelement() * a.element_size() for a in (topk.score, topk.sentence_id, topk.token_idx,
                                                           topk.max_attended, topk.order, topk.tied_seen))
    elapsed = 0.0
    for b in range(args.batches):
        cand = Candidates(rng.standard_normal((L, N, D), dtype=np.float32),
                          rng.standard_normal((L, N, H, d), dtype=np.float32),
                          rng.integers(0, 30, (L, H + 1, N)), np.full(N, b), np.arange(N), b * N + np.arange(N))
        start = time.perf_counter()
        topk.add(cand)
        elapsed += time.perf_counter() - start
        if b in (0, args.batches // 2, args.batches - 1):
            print(f"batch {b:4d}: {elapsed:7.2f} s so far, {(b + 1) * N / elapsed:9.0f} corpus tokens/s")
    total = args.batches * N
    print(f"searched {total:,} corpus tokens for {P} probe tokens x {L} layers x {H + 2} spaces, k={args.top_k}: "
          f"{elapsed:.2f} s, {total / elapsed:,.0f} tokens/s; search state {state / 2**20:.1f} MiB "
          f"(independent of corpus size)")


if __name__ == "__main__":
    main()
