"""Whether the budgeted importance of a large model keeps its meaning: the build's importance of SmolLM2-135M (270
heads, more than importance.EXACT_LIMIT) against the ablation of every head over more sentences.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_importance_budget.py [--model FILE.gguf] [--sentences 200]
                                                                        [--full 24]

The budgeted importance is the build's own (analyses/importance.py, HeadImportance asked for the first --sentences
corpus sentences, no probes): every head and layer ablated exactly, and the gradient proxy, over the first
`ablation_sentences` of them. The reference is the same ablation over the first --full sentences (more than the
budget's). Printed: the budget's sentences and its seconds (wall and CPU); Spearman's rho between the budgeted
ablation and the reference over the heads and over the layers; how many of the reference's 16 highest (lowest) heads
are among the budget's 16 highest (lowest); Spearman's rho between each variant of the proxy and the reference.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_llm_build import ROOT, cpu_seconds, smollm2  # noqa: E402


def main() -> None:
    from scipy.stats import spearmanr

    from reportgen.analyses.ablation import ablate, masks_for
    from reportgen.analyses.importance import HeadImportance, ablation_sentences
    from reportgen.analyses.registry import load_config
    from reportgen.corpus import read_sentences
    from reportgen.models import load_model
    from reportgen.progress import Lines

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--sentences", type=int, default=200)
    parser.add_argument("--full", type=int, default=24)
    args = parser.parse_args()

    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    model = str(args.model or smollm2())
    loaded = load_model(model)
    info = loaded.info
    corpus, _ = read_sentences((ROOT / "corpora" / "wikipedia.txt",), "corpus", limit=args.sentences)
    config = load_config(None, model=model, importance_sentences=args.sentences)
    m = ablation_sentences(len(corpus), info.n_layers, info.n_heads)
    if args.full <= m:
        sys.exit(f"--full {args.full}: more than the budget's {m} sentences")

    analysis = HeadImportance(loaded, [], config)
    wall, cpu = time.perf_counter(), cpu_seconds()
    tables = analysis.run(SimpleNamespace(sentences=[], tokenized=[]), Lines(), [], corpus)
    wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    print(f"budgeted importance: every head ablated, and the proxy, on {m} sentences: {wall:.1f} s wall, "
          f"{cpu:.1f} s CPU", flush=True)
    rows = tables["head_importance"]
    value = {(method, l, h): v for l, h, scope, _, method, v, *_ in rows if scope == "corpus"}

    heads = [(l, h) for l in range(info.n_layers) for h in range(info.n_heads)]
    masks, keys = masks_for(info.n_layers, info.n_heads, heads)
    wall, cpu = time.perf_counter(), cpu_seconds()
    full = []
    for s in corpus[:args.full]:
        ids = list(loaded.tokenizer(s.text, split_special_tokens=True)["input_ids"])[:info.max_length]
        full.append(ablate(loaded, ids, masks)[0])
    wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    print(f"full ablation: {len(keys)} masks on {args.full} sentences: {wall:.1f} s wall, {cpu:.1f} s CPU")
    reference = dict(zip(keys, np.mean(full, 0)))

    def rho(pairs):
        a, b = zip(*pairs)
        return float(spearmanr(a, b).statistic)

    layers = [(l, None) for l in range(info.n_layers)]
    budget = {k: value[("ablation", *k)] for k in heads + layers}
    print(f"Spearman's rho, budgeted ablation ({m} sentences) against the ablation over {args.full} sentences: "
          f"{rho([(budget[k], reference[k]) for k in heads]):.3f} over the {len(heads)} heads, "
          f"{rho([(budget[k], reference[k]) for k in layers]):.3f} over the {len(layers)} layers")
    by_full = sorted(heads, key=lambda k: (-reference[k], k))
    by_budget = sorted(heads, key=lambda k: (-budget[k], k))
    top = len(set(by_full[:16]) & set(by_budget[:16]))
    bottom = len(set(by_full[-16:]) & set(by_budget[-16:]))
    print(f"of the reference's 16 highest heads, {top} are among the budget's 16 highest; of its 16 lowest, {bottom}")
    for method in ("gradient", "gradient_normalised", "gradient_token", "gradient_token_normalised"):
        print(f"Spearman's rho, proxy {method} ({m} sentences) against the ablation over {args.full} sentences, "
              f"every head: {rho([(value[(method, *k)], reference[k]) for k in heads]):.3f}")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
