"""Time and peak memory of whole builds of the default report at several corpus sizes.

    .venv/bin/python benchmarks/bench_build.py [--limits 500 2000 6000]

Each build runs in its own process; the script prints the per-stage times that the build
reports, the wall time and the peak resident memory (peak memory should not grow with the
corpus: nothing the size of the corpus' vectors is kept), and the cost of the corpus statistics
(head statistics, dependency accuracy, head distances: the stage "of which statistics") as a share of
the corpus pass ("encode and search corpus"; target: under 10%).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limits", type=int, nargs="+", default=[500, 2000, 6000])
    args = parser.parse_args()
    for limit in args.limits:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "site"
            cmd = [sys.executable, "-c",
                   "import resource, sys; from reportgen.cli import main\n"
                   "try:\n    main()\nexcept SystemExit as e:\n"
                   "    print('peak_rss_kb', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
                   "    raise",
                   "build", "--limit", str(limit), "--out", str(out), "--quiet"]
            start = time.perf_counter()
            done = subprocess.run(cmd, capture_output=True, text=True)
            wall = time.perf_counter() - start
            if done.returncode != 0:
                print(done.stderr, file=sys.stderr)
                sys.exit(done.returncode)
            peak = int(re.search(r"peak_rss_kb (\d+)", done.stderr).group(1)) / 1024
            stages = done.stdout.strip().split("Time: ")[-1]
            print(f"--limit {limit:6d}: wall {wall:6.1f} s, peak RSS {peak:6.0f} MiB; {stages}")
            times = {name: float(sec) for name, sec in re.findall(r"([a-z ]+?) ([0-9.]+)s", stages)}
            corpus_pass = times.get("encode and search corpus", 0.0)
            statistics = times.get("of which statistics", 0.0)
            if corpus_pass:
                print(f"    statistics: {statistics:.1f} s of the corpus pass's {corpus_pass:.1f} s = "
                      f"{100 * statistics / corpus_pass:.1f}% (target: under 10%)")


if __name__ == "__main__":
    main()
