"""Whether the heads' importance keeps its meaning on fewer sentences: the ablation's figures over the first n
sentences of a report's sample against the same figures over all of them (and over the sentences after the first
n, an independent sample), from the per-sentence ablations the database stores (`head_importance_sentences`).

    PYTHONPATH=. .venv/bin/python benchmarks/importance_subsets.py [--db REPORT.duckdb] [--sizes 16 32 50 64 100 128]

Without --db it builds the default report's first 200 corpus sentences with `--importance-sentences 200` into a
temporary folder (about 2 minutes on 2 cores) and reads that. Printed for each n: Spearman's rho between the first
n sentences' mean ablation of each head and the mean over every sentence of the sample, and over the sentences
after the first n; the same for the layers removed whole; how many of the whole sample's 10 most (least)
important heads are among the first n's 10 most (least); and the ranking's resolution on the first n (its rank
groups and its largest tie, importance_stats.ranks). Last, rho between the sample's two halves.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
TOP = 10


def per_sentence(db: Path) -> tuple[np.ndarray, list[tuple[int, int | None]]]:
    """[sentences, keys] each corpus sentence's ablation of each head and whole layer, in sentence order, and the
    (layer, head | None) of each column (heads first, then the layers)."""
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("SELECT layer, head, sentence_id, value FROM head_importance_sentences "
                           "WHERE method = 'ablation' ORDER BY sentence_id, layer, head").fetchall()
    if not rows:
        sys.exit(f"{db}: no per-sentence ablations (build it with --importance-sentences 200)")
    sentences = sorted({r[2] for r in rows})
    keys = sorted({(r[0], r[1]) for r in rows}, key=lambda k: (k[1] is None, k[0], -1 if k[1] is None else k[1]))
    row, col = {s: i for i, s in enumerate(sentences)}, {k: i for i, k in enumerate(keys)}
    values = np.full((len(sentences), len(keys)), np.nan)
    for layer, head, sid, value in rows:
        values[row[sid], col[(layer, head)]] = value
    return values, keys


def subset_figures(values: np.ndarray, keys: list, n: int) -> dict[str, float]:
    """The figures printed for the first n sentences of `values` [S, K] (see the module's docstring)."""
    from scipy.stats import spearmanr

    from reportgen.analyses.importance_stats import ranks

    heads = [i for i, (_, h) in enumerate(keys) if h is not None]
    layers = [i for i, (_, h) in enumerate(keys) if h is None]
    first, every = values[:n].mean(0), values.mean(0)
    rest = values[n:].mean(0) if n < len(values) else None

    def rho(a, b, cols):
        return float("nan") if b is None else float(spearmanr(a[cols], b[cols]).statistic)

    def overlap(a, b, sign):
        order = lambda v: set(np.argsort(sign * v[heads], kind="stable")[:TOP].tolist())  # noqa: E731
        return len(order(a) & order(b))

    found = ranks(values[:n][:, heads])
    return {"heads_all": rho(first, every, heads), "heads_rest": rho(first, rest, heads),
            "layers_all": rho(first, every, layers), "top": overlap(first, every, -1),
            "bottom": overlap(first, every, 1), "groups": len(set(found)),
            "largest_tie": int(np.bincount(found).max())}


def build_sample(folder: Path) -> Path:
    out = folder / "site"
    subprocess.run([sys.executable, "-m", "reportgen", "build", "--limit", "200", "--importance-sentences", "200",
                    "--out", str(out), "--quiet"], check=True, cwd=ROOT)
    return out / "report.duckdb"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=None)
    parser.add_argument("--sizes", type=int, nargs="+", default=[16, 32, 50, 64, 100, 128])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or build_sample(Path(tmp))
        values, keys = per_sentence(db)
    s = len(values)
    print(f"{db if args.db else 'the default report, first 200 sentences'}: {s} sentences, "
          f"{sum(h is not None for _, h in keys)} heads, {sum(h is None for _, h in keys)} layers")
    print("first n | heads: rho with all, with the rest | layers: rho with all | top 10 | bottom 10 | "
          "rank groups | largest tie")
    for n in sorted(args.sizes) + [s]:
        if n > s:
            continue
        f = subset_figures(values, keys, n)
        rest = f"{f['heads_rest']:.3f}" if n < s else "-"
        print(f"{n:7d} | {f['heads_all']:.3f}, {rest} | {f['layers_all']:.3f} | {f['top']} | {f['bottom']} | "
              f"{f['groups']} | {f['largest_tie']}")
    half = s // 2
    from scipy.stats import spearmanr

    heads = [i for i, (_, h) in enumerate(keys) if h is not None]
    a, b = values[:half].mean(0), values[half:].mean(0)
    print(f"the two halves ({half} and {s - half} sentences): heads rho {spearmanr(a[heads], b[heads]).statistic:.3f}")


if __name__ == "__main__":
    main()
