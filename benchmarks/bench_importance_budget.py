"""Whether the budgeted importance of a large model keeps its meaning: the build's importance of SmolLM2-135M (270
heads, more than importance.EXACT_LIMIT) against the full ablation of every head.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_importance_budget.py [--model FILE.gguf] [--sentences 200]
                                                                        [--full 24]

The budgeted importance is the build's own (analyses/importance.py, HeadImportance on the first --sentences corpus
sentences, no probes): the gradient proxy of every head over every sentence, and the exact ablation of the proxy's
EXTREMES highest and lowest heads and of every layer over the first `ablation_sentences` of them. The reference is
the full ablation: every head and every layer removed in turn over the first --full sentences (at least as many as
the budget ablates). Printed: the budget's sentences and its seconds (wall and CPU); Spearman's rho between the
budgeted ablation and the full one over the heads (and the layers) ablated exactly; Spearman's rho between each
variant of the proxy and the full ablation over every head; and how many of the full ablation's EXTREMES highest
(lowest) heads the proxy picked for the exact ablation.
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
    from reportgen.analyses.importance import EXTREMES, HeadImportance, ablation_sentences, proxy_sentences
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
    p = proxy_sentences(len(corpus), info.n_layers, info.n_heads)
    if args.full < m:
        sys.exit(f"--full {args.full}: at least the budget's {m} sentences")

    analysis = HeadImportance(loaded, [], config)
    wall, cpu = time.perf_counter(), cpu_seconds()
    tables = analysis.run(SimpleNamespace(sentences=[], tokenized=[]), Lines(), [], corpus)
    wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    print(f"budgeted importance: proxy on {p} sentences, exact ablation on {m}: {wall:.1f} s wall, "
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

    exact = [k for k in heads if ("ablation", *k) in value]
    layers = [(l, None) for l in range(info.n_layers)]
    print(f"Spearman's rho, budgeted ablation ({m} sentences) against the full ablation ({args.full} sentences): "
          f"{rho([(value[('ablation', *k)], reference[k]) for k in exact]):.3f} over the {len(exact)} heads ablated "
          f"exactly, {rho([(value[('ablation', *k)], reference[k]) for k in layers]):.3f} over the "
          f"{len(layers)} layers")
    for method in ("gradient", "gradient_normalised", "gradient_token", "gradient_token_normalised"):
        print(f"Spearman's rho, proxy {method} ({p} sentences) against the full ablation "
              f"({args.full} sentences), every head: {rho([(value[(method, *k)], reference[k]) for k in heads]):.3f}")
    by_full = sorted(heads, key=lambda k: (-reference[k], k))
    by_proxy = sorted(heads, key=lambda k: (-value[("gradient", *k)], k))
    top = len(set(by_full[:EXTREMES]) & set(by_proxy[:EXTREMES]))
    bottom = len(set(by_full[-EXTREMES:]) & set(by_proxy[-EXTREMES:]))
    print(f"of the full ablation's {EXTREMES} highest heads, {top} are among the {EXTREMES} the proxy picked; of its "
          f"{EXTREMES} lowest, {bottom}")
    in_top = [by_full.index(k) + 1 for k in by_proxy[:EXTREMES]]
    print(f"the full ablation's ranks of the proxy's {EXTREMES} highest heads: {sorted(in_top)}")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
