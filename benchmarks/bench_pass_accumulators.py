"""Where the corpus pass's own work goes: each corpus-pass accumulator's updates timed inside a build.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_pass_accumulators.py [--limit 3000]

Builds the default report of the first `--limit` corpus sentences into a temporary folder (no importance, no
control model, 2 attribution steps: only the corpus pass matters here), with every accumulator's `update` (the
search, the head statistics, the dependency accuracy, the base rates, the head distances' collection of their rows)
wrapped in a wall clock, and the head distances' own computation (similarity.js_distances, in its background
thread) in that thread's CPU clock. Prints the seconds of each, and the build's clocked corpus pass and
statistics.
"""

from __future__ import annotations

import argparse
import collections
import tempfile
import time
from pathlib import Path


def main() -> None:
    from reportgen.analyses import registry, similarity
    from reportgen.analyses.registry import load_config
    from reportgen.commands.build import build
    from reportgen.progress import Progress

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=3000)
    args = parser.parse_args()

    seconds: collections.Counter = collections.Counter()
    classes = {unit.accumulator for unit in registry.UNITS if unit.accumulator is not None}
    for cls in classes:
        def timed(self, batch, _update=cls.update, _name=cls.__name__):
            start = time.perf_counter()
            _update(self, batch)
            seconds[_name] += time.perf_counter() - start
        cls.update = timed
    distances = similarity.js_distances

    def js_distances(*a, **k):
        start = time.thread_time()
        try:
            return distances(*a, **k)
        finally:
            seconds["js_distances (its thread's CPU)"] += time.thread_time() - start

    similarity.js_distances = js_distances
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "quick.toml"
        config.write_text("attribution_steps = 2\ncontrol_sentences = 0\n", encoding="utf-8")
        summary = build(load_config(config, limit=args.limit, out=Path(tmp) / "site", importance_sentences=0),
                        Progress())
    print(f"{args.limit} corpus sentences; each accumulator's updates (wall seconds, in the pass's thread):")
    for name, value in seconds.most_common():
        print(f"    {name}: {value:.1f} s")
    print("the build's clock: " + ", ".join(f"{k} {v:.1f} s" for k, v in summary.timings.items()
                                            if "corpus" in k or "statistics" in k))


if __name__ == "__main__":
    main()
