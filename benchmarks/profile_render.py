"""What a page of the site costs to write: a report's pages written again from its database in this one process,
timed per page type, then once more under cProfile, its time split among the parts a page is made of.

    .venv/bin/reportgen build --limit 300 --out /tmp/s300      # any report will do
    PYTHONPATH=. .venv/bin/python benchmarks/profile_render.py /tmp/s300/report.duckdb [--top 25]

Prints, for each page type, its pages, their total and mean wall time (no profiler); then, under the profiler
(which slows everything it counts, so its shares matter more than its seconds): the time in DuckDB's queries
(`Reads._rows`), in making their rows into named rows, in the match histograms, in Altair (building and
validating the chart specs), in Jinja (the templates), and the functions with the largest cumulative time.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import tempfile
import time
from collections import defaultdict
from pathlib import Path


def main() -> None:
    from reportgen.analyses.registry import UNITS
    from reportgen.site.render import Renderer
    from reportgen.store import open_report

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()

    with open_report(args.db) as store, tempfile.TemporaryDirectory() as tmp:
        renderer = Renderer(store, Path(tmp), UNITS, None)
        tasks = renderer.tasks()
        per_kind: dict[str, list[float]] = defaultdict(list)
        for task in tasks:
            start = time.perf_counter()
            renderer(task)
            per_kind[task[0]].append(time.perf_counter() - start)
        total = sum(sum(v) for v in per_kind.values())
        print(f"{len(tasks)} pages in {total:.1f} s, {1000 * total / len(tasks):.0f} ms a page (one process, no "
              f"profiler)")
        for kind, times in sorted(per_kind.items(), key=lambda kv: -sum(kv[1])):
            print(f"  {kind:<10} {len(times):4d} pages {sum(times):7.2f} s, {1000 * sum(times) / len(times):6.0f} ms "
                  f"each")

        renderer = Renderer(store, Path(tmp), UNITS, None)  # nothing cached from the first round
        profile = cProfile.Profile()
        profile.enable()
        for task in tasks:
            renderer(task)
        profile.disable()

    stats = pstats.Stats(profile)
    entries = stats.stats  # (file, line, name) -> (calls, primitive calls, tottime, cumtime, callers)
    whole = sum(tt for _, _, tt, _, _ in entries.values())

    def cumulative(match) -> float:
        return max((ct for (file, _, name), (_, _, _, ct, _) in entries.items() if match(file, name)), default=0.0)

    def own(match) -> float:
        return sum(tt for (file, _, name), (_, _, tt, _, _) in entries.items() if match(file, name))

    parts = {
        "DuckDB queries (Reads._rows)": cumulative(lambda f, n: f.endswith("store/reads.py") and n == "_rows"),
        "named rows (Reads._named, queries apart)":
            cumulative(lambda f, n: f.endswith("store/reads.py") and n == "_named")
            - cumulative(lambda f, n: f.endswith("store/reads.py") and n == "_rows"),
        "match histograms (views/matches._histograms)":
            cumulative(lambda f, n: f.endswith("views/matches.py") and n == "_histograms"),
        "Altair (every function of the package)": own(lambda f, n: "/altair/" in f or "/jsonschema/" in f),
        "Jinja (every function of the package and the templates)":
            own(lambda f, n: "/jinja2/" in f or f.endswith(".html")),
    }
    print(f"under cProfile: {whole:.1f} s")
    for name, seconds in parts.items():
        print(f"  {name:<58} {seconds:6.2f} s  {100 * seconds / whole:5.1f}%")
    print(f"the {args.top} functions of the largest cumulative time:")
    stats.sort_stats("cumulative").print_stats(args.top)


if __name__ == "__main__":
    main()
