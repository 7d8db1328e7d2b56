"""The same small report built on a GPU in bfloat16 and on the CPU in float32, compared.

    .venv/bin/python benchmarks/gpu_check.py [--limit 500] [--importance-sentences 200] [--device cuda]
                                             [--dtype bfloat16]

Builds the default model's report over the first --limit sentences of the shipped corpus and the shipped probes,
with the heads' importance, twice in this process: on --device with --dtype, then on the CPU in float32. Prints
both builds' stage times and the GPU's peak memory against the memory preflight's estimate of it (the estimate
should be at least the peak), then compares, within these tolerances (bfloat16 keeps 8 bits
of mantissa, so numbers near a tie may swap):

- neighbours: for every probe token and search space, the top-k match sets overlap (Jaccard) by at least
  MIN_OVERLAP on average;
- head statistics (head_stats): every value within STAT_TOL;
- dependency accuracy (dep_accuracy): every accuracy within DEP_TOL;
- importance (head_importance, corpus ablation): Spearman's rho between the two builds' values at least MIN_RHO.

Exits 0 when everything agrees, 1 (printing what differs) otherwise. Meant for a machine with a GPU; with
`--device cpu --dtype float32` it checks itself (both builds alike).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

MIN_OVERLAP = 0.8
STAT_TOL = 0.02
DEP_TOL = 0.03
MIN_RHO = 0.9


def build_once(out: Path, limit: int, importance: int, device: str,
               dtype: str) -> tuple[dict, float, float | None, float]:
    import torch

    from reportgen.commands.build import build
    from reportgen.analyses.registry import load_config

    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    summary = build(load_config(None, out=out, limit=limit, importance_sentences=importance, device=device,
                                dtype=dtype))
    wall = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated() / 2**20 if device.startswith("cuda") else None
    return summary.timings, wall, peak, summary.estimate.total / 2**20


def rows(db: Path, sql: str) -> list[tuple]:
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def compare(gpu: Path, cpu: Path) -> list[str]:
    from scipy.stats import spearmanr

    problems = []
    matches = defaultdict(lambda: (set(), set()))
    sql = "SELECT sentence_id, token_idx, space, layer, head, match_sentence_id, match_token_idx FROM neighbours"
    for i, db in enumerate((gpu, cpu)):
        for sid, tok, space, layer, head, ms, mt in rows(db, sql):
            matches[(sid, tok, space, layer, head)][i].add((ms, mt))
    overlaps = [len(a & b) / max(len(a | b), 1) for a, b in matches.values()]
    overlap = sum(overlaps) / max(len(overlaps), 1)
    print(f"neighbours: mean Jaccard overlap of the top-k sets {overlap:.3f} over {len(overlaps):,} lists "
          f"(at least {MIN_OVERLAP})")
    if overlap < MIN_OVERLAP:
        problems.append(f"neighbours overlap {overlap:.3f} < {MIN_OVERLAP}")
    for table, key, value, tol in (("head_stats", "layer, head, stat", "value", STAT_TOL),
                                   ("dep_accuracy", "layer, head, relation, direction", "accuracy", DEP_TOL)):
        a = {r[:-1]: r[-1] for r in rows(gpu, f"SELECT {key}, {value} FROM {table}")}
        b = {r[:-1]: r[-1] for r in rows(cpu, f"SELECT {key}, {value} FROM {table}")}
        if set(a) != set(b):
            problems.append(f"{table}: {len(set(a) ^ set(b))} rows in one build only")
        worst = max(((abs(a[k] - b[k]), k) for k in set(a) & set(b)), default=(0.0, None))
        print(f"{table}: largest difference {worst[0]:.4f} at {worst[1]} (at most {tol})")
        if worst[0] > tol:
            problems.append(f"{table}: {worst[0]:.4f} > {tol} at {worst[1]}")
    sql = ("SELECT layer, head, value FROM head_importance WHERE scope = 'corpus' AND method = 'ablation' AND head "
           "IS NOT NULL ORDER BY layer, head")
    a, b = rows(gpu, sql), rows(cpu, sql)
    if [r[:2] for r in a] != [r[:2] for r in b] or len(a) < 3:
        problems.append("head_importance: the builds ablated different heads")
    else:
        rho = float(spearmanr([r[2] for r in a], [r[2] for r in b]).statistic)
        print(f"head_importance: Spearman's rho between the builds {rho:.3f} over {len(a)} heads (at least {MIN_RHO})")
        if rho < MIN_RHO:
            problems.append(f"head_importance: rho {rho:.3f} < {MIN_RHO}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=500)
    parser.add_argument("--importance-sentences", type=int, default=200)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--dtype", default="bfloat16")
    args = parser.parse_args()
    import torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("gpu_check: no CUDA device here; run it on a machine with a GPU (or pass --device cpu --dtype "
              "float32 to check the script itself)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        outs = {}
        for label, device, dtype in (("device", args.device, args.dtype), ("cpu", "cpu", "float32")):
            out = Path(tmp) / label / "site"
            timings, wall, peak, estimate = build_once(out, args.limit, args.importance_sentences, device, dtype)
            stages = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in timings.items())
            memory = (f", peak GPU memory {peak:.0f} MiB against the preflight's estimate {estimate:.0f} MiB "
                      f"(estimate / measured {estimate / peak:.2f})" if peak else
                      f", preflight estimate {estimate:.0f} MiB")
            print(f"{device} {dtype}: {wall:.1f} s{memory}: {stages}")
            outs[label] = out / "report.duckdb"
        problems = compare(outs["device"], outs["cpu"])
    for problem in problems:
        print(f"differs: {problem}")
    print("gpu_check: " + ("the builds agree" if not problems else f"{len(problems)} differences"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
