"""The head distances' cost in a build: every call of similarity.js_distances timed, against the same sums written
with torch's `xlogy` (the formula the build used until 2026-12-06), on the same inputs in the same thread.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_head_distances.py [--limit 1000] [--model NAME]

Builds the report of the first `--limit` corpus sentences (the default model; no importance, no control model,
2 attribution steps: only the corpus pass matters here) into a temporary folder and prints the seconds each way,
their ratio, the largest difference of a pair's summed distance, and the corpus pass's clocked time.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def xlogy_distances(attention, mask):
    """similarity.js_distances as it was: sum s ln s by `xlogy`, a new tensor for every pair's block."""
    import numpy as np
    import torch

    from reportgen.analyses.base import accumulation_dtype

    weights = torch.as_tensor(attention).float()
    n, keys = weights.shape[1], weights.shape[3]
    real = torch.as_tensor(np.asarray(mask).reshape(-1), device=weights.device)
    rows = weights.permute(1, 0, 2, 3).reshape(n, -1, keys)[:, real]
    ln2 = float(np.log(2))
    out = torch.zeros((n, n), dtype=accumulation_dtype(weights.device), device=weights.device)
    with torch.inference_mode():
        own = torch.xlogy(rows, rows).sum(-1)
        for a in range(n - 1):
            mixed = torch.add(rows[a + 1:], rows[a:a + 1])
            mixed = torch.xlogy(mixed, mixed, out=mixed).sum(-1)
            jsd = (own[a + 1:] + own[a:a + 1]).sub_(mixed).mul_(0.5).add_(ln2).clamp_(min=0).div_(ln2)
            out[a, a + 1:] = jsd.sqrt_().sum(-1, dtype=out.dtype)
    return out + out.T, int(np.asarray(mask).sum())


def main() -> None:
    from reportgen.analyses import similarity
    from reportgen.analyses.registry import load_config
    from reportgen.commands.build import build
    from reportgen.progress import Progress

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=1000)
    parser.add_argument("--model", default=None)
    args = parser.parse_args()

    current = similarity.js_distances
    seconds, largest, calls = [0.0, 0.0], 0.0, 0

    def both(attention, mask):
        nonlocal largest, calls
        t = time.perf_counter()
        got = current(attention, mask)
        seconds[0] += time.perf_counter() - t
        t = time.perf_counter()
        before = xlogy_distances(attention, mask)
        seconds[1] += time.perf_counter() - t
        largest = max(largest, float((got[0] - before[0]).abs().max()))
        calls += 1
        return got

    similarity.js_distances = both
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "quick.toml"
        config.write_text("attribution_steps = 2\ncontrol_sentences = 0\n", encoding="utf-8")
        options = {"limit": args.limit, "out": Path(tmp) / "site", "importance_sentences": 0}
        if args.model:
            options["model"] = args.model
        summary = build(load_config(config, **options), Progress())
    print(f"{calls} batches of sample sentences; head distances: {seconds[0]:.2f} s (vectorised log), "
          f"{seconds[1]:.2f} s (xlogy), ratio {seconds[1] / max(seconds[0], 1e-9):.2f}; largest difference of a "
          f"pair's summed distance {largest:.3g}")
    print("corpus pass (its clock, with the reference computation inside it): "
          + ", ".join(f"{k} {v:.1f} s" for k, v in summary.timings.items() if "corpus" in k or "statistics" in k))


if __name__ == "__main__":
    main()
