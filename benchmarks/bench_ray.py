"""The default build on a local Ray of 2 workers (`--ray`) against the single-process build.

    .venv/bin/python benchmarks/bench_ray.py [--limit 6000] [--workers 2] [--threads T] [--shard-windows 2]

`--workers N` gives the local Ray N CPUs; each shard worker reserves as many as its torch threads (the driver's:
`--threads`, default torch's), so N CPUs run N // threads workers (reportgen.corpus_pass.ray.workers_of).

Prints the wall time of both builds and of their corpus passes, Ray's start-up overhead (ray.init and the
workers' loading of the model and spaCy, before the first shard runs), the per-shard figures (sentences,
tokens, seconds on a worker) and, from them, an estimate of the corpus pass over a 10-million-token corpus on
N workers. Both builds run in this process, one after the other, on the same corpus; the first build warms
the file cache for both.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _build(out: Path, limit: int, ray: str | None, shard_windows: int):
    from reportgen.commands.build import build
    from reportgen.analyses.registry import load_config
    from reportgen.corpus_pass.spec import Tuning
    from reportgen.progress import Progress

    start = time.perf_counter()
    summary = build(load_config(None, limit=limit, out=out, ray=ray), Progress(), Tuning(shard_windows=shard_windows))
    return time.perf_counter() - start, summary


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=6000)
    parser.add_argument("--workers", type=int, default=2, help="the local Ray's CPUs")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch's threads in this process, for both builds (0: torch's default)")
    parser.add_argument("--shard-windows", type=int, default=2,
                        help="windows of 512 sentences per shard (the build's default is 8; smaller shards let "
                             "2 workers share a 6,000-sentence corpus)")
    args = parser.parse_args()

    import ray
    import torch

    from reportgen.corpus_pass.ray import workers_of

    if args.threads:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()
    work = Path(tempfile.mkdtemp(prefix="bench-ray-"))
    single_wall, single = _build(work / "single", args.limit, None, args.shard_windows)
    start = time.perf_counter()
    ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False, configure_logging=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}})
    init = time.perf_counter() - start
    ray_wall, clustered = _build(work / "ray", args.limit, "auto", args.shard_windows)
    ray.shutdown()

    shards = sorted(clustered.shards)  # the build returns each shard's timing on its worker
    workers, _ = workers_of(threads, [args.workers], args.workers, 0, len(shards))
    tokens = sum(t for _, _, t, _ in shards)
    busy = sum(s for *_, s in shards)
    pass_single = single.timings["encode and search corpus"]
    pass_ray = clustered.timings["encode and search corpus"]
    # the workers were busy `busy` seconds in all over a pass of `pass_ray` on `workers`: the rest is start-up
    # (loading the model and spaCy in each worker) and waiting
    startup = max(0.0, pass_ray - busy / workers)
    print(f"corpus: {args.limit:,} sentences, {tokens:,} tokens in {len(shards)} shards of up to "
          f"{args.shard_windows * 512} sentences; {workers} worker{'s' if workers != 1 else ''} of {threads} torch "
          f"thread{'s' if threads != 1 else ''} on a local Ray of {args.workers} CPUs")
    print(f"single process: build {single_wall:.1f} s, corpus pass (annotation included) {pass_single:.1f} s")
    print(f"--ray, local:   build {ray_wall:.1f} s, corpus pass {pass_ray:.1f} s; ray.init {init:.1f} s before it")
    print(f"start-up overhead: ray.init {init:.1f} s + about {startup:.1f} s in the pass (the workers loading the "
          f"model and spaCy, the last shard alone)")
    for index, sentences, n_tokens, seconds in shards:
        print(f"  shard {index}: {sentences:,} sentences, {n_tokens:,} tokens, {seconds:.1f} s on its worker "
              f"({n_tokens / seconds:,.0f} tokens/s)")
    rate = tokens / busy  # tokens per second per worker, annotation included
    print(f"per worker: {rate:,.0f} corpus tokens/s (annotation, encoding, search and statistics)")
    for n in (1, 2, 8, 32):
        hours = 10_000_000 / (rate * n) / 3600
        print(f"estimate, 10 million tokens on {n:>2} workers like these: {hours:5.2f} h "
              f"(+ start-up, + the driver's merge and rendering)")
    print(f"sites: {work}")


if __name__ == "__main__":
    main()
