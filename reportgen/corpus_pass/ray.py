"""The corpus pass over a Ray cluster (`--ray`): shards of contiguous sentences run on actors that each load
the model and spaCy once; the driver merges their partial results exactly, in shard order.

A shard's result is what one process would have computed for those sentences (state.PassState): its `words`,
`sentences` and `tokens` rows, its top-k lists with their tie keys and tie counts, its head statistics, dependency
counts, head-distance sums and base counts. The single-process build computes the same shards in turn and merges
them the same way, so the database and the pages do not depend on where the shards ran. Ray is imported only here,
and only with `--ray`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from ..annotate import load_pipeline
from ..errors import ConfigError, ModelError
from ..models import load_model, resolve_device, resolve_dtype
from .shards import run_shard
from .spec import PassSpec

WORKER_NAME = "reportgen-shard-worker-{}"  # named actors: one per worker, killed at the end of the pass
MAX_RESTARTS = 1  # a worker whose process dies is started again once ...
MAX_TASK_RETRIES = 2  # ... and a shard whose task was lost (or raised) is run again up to this many times

def connect(address: str):
    """ray.init for `--ray auto` (a running cluster if there is one, else a local one on this machine's cores) or
    `--ray ADDRESS`; a Ray already started in this process is used as it is."""
    try:
        import ray
    except ImportError:
        raise ConfigError("--ray needs Ray, which is not installed: pip install 'reportgen[ray]'") from None
    if not ray.is_initialized():
        try:
            ray.init(address=None if address == "auto" else address, log_to_driver=False,
                     include_dashboard=False, configure_logging=False)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            raise ConfigError(f"--ray {address}: cannot reach the Ray cluster ({str(exc).splitlines()[0]}); start "
                              f"one with `ray start --head` or give its address") from None
    return ray


def _worker_class(ray, num_cpus: float, num_gpus: float):
    @ray.remote(num_cpus=num_cpus, num_gpus=num_gpus, max_restarts=MAX_RESTARTS, max_task_retries=MAX_TASK_RETRIES)
    class ShardWorker:
        """Loads the model and spaCy once, then runs whole shards. Its constructor takes only small arguments (a
        restarted worker is built from them again); the probes' vectors come with each shard, through the object
        store."""

        def __init__(self, model: str, max_length: int | None, device: str, dtype: str, threads: int):
            import torch

            if threads:  # the driver's: the same blocking of products and sums, the same last bits
                torch.set_num_threads(threads)
            where = resolve_device(device)
            self.loaded = load_model(model, max_length, where, resolve_dtype(dtype, where))
            self.nlp = load_pipeline()

        @ray.method(retry_exceptions=True)
        def run(self, spec: PassSpec, index: int, windows: list[list]):
            import time

            start = time.perf_counter()
            result = run_shard(self.loaded, self.nlp, spec, windows)
            return index, result, time.perf_counter() - start

    return ShardWorker


def run_shards(spec: PassSpec, shards: Sequence[list[list]], address: str, advance: Callable[[int], None],
               timings: list[tuple[int, int, int, float]]) -> Iterator[tuple]:
    """Each shard's (words, sentences, tokens rows, PassState), in shard order, computed on the cluster's workers;
    `advance` moves the progress bar by a shard's sentences as each finishes, in any order, and `timings` gets each
    shard's (index, sentences, tokens, seconds on its worker). A shard that still fails after Ray's retries stops
    the pass with an error naming its sentences."""
    ray = connect(address)
    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0))
    nodes = [node.get("Resources", {}).get("CPU", 0) for node in ray.nodes() if node.get("Alive", True)]
    n_workers, cpus = workers_of(spec.threads, nodes, int(resources.get("CPU", 1)), gpus, len(shards))
    cls = _worker_class(ray, num_cpus=cpus, num_gpus=1 if gpus else 0)
    workers = [cls.options(name=WORKER_NAME.format(i)).remote(spec.model, spec.max_length, spec.device, spec.dtype,
                                                               spec.threads) for i in range(n_workers)]
    shared = ray.put(spec)  # once into the object store, read by every shard's task
    try:
        pending: dict = {}  # task -> (worker, shard)
        queue = list(range(len(shards)))

        def give(worker) -> None:  # one shard in flight per worker, the next one given as each finishes
            if queue:
                i = queue.pop(0)
                pending[worker.run.remote(shared, i, shards[i])] = (worker, i)

        for w in workers:
            give(w)
        done: dict[int, tuple] = {}
        emitted = 0
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            worker, index = pending.pop(ready[0])
            try:
                _, result, seconds = ray.get(ready[0])
            except ray.exceptions.RayError as exc:
                raise ModelError(_failure(shards, index, exc)) from None
            done[index] = result
            timings.append((index, len(result[1]), len(result[2]), seconds))
            advance(sum(len(w) for w in shards[index]))
            give(worker)
            while emitted in done:
                yield done.pop(emitted)
                emitted += 1
    finally:
        for w in workers:
            ray.kill(w, no_restart=True)


def worker_cpus(threads: int, node_cpus: Sequence[float], gpu: bool) -> int:
    """The CPUs a shard worker reserves: on a GPU one (the model runs there); on CPUs as many as its torch threads
    (the driver's, `threads`, so that every sum is blocked alike), so that Ray starts no more workers than the
    cores can run: two workers of two threads each on two cores made the corpus pass 2.4 times slower than one
    (docs/performance.md#ray). No more than the largest node has, or no worker could be placed."""
    if gpu:
        return 1
    largest = int(max(node_cpus, default=1))
    return max(1, min(max(threads, 1), largest))


def workers_of(threads: int, node_cpus: Sequence[float], cpus: int, gpus: int, shards: int) -> tuple[int, int]:
    """(how many shard workers a cluster of `cpus` CPUs on nodes of `node_cpus` and of `gpus` GPUs runs for
    `shards` shards, the CPUs each reserves): one per GPU, else as many as the CPUs hold (`worker_cpus`), never
    more than the shards, at least one."""
    each = worker_cpus(threads, node_cpus, gpus > 0)
    return max(1, min(shards, gpus if gpus else cpus // each)), each


def _failure(shards: Sequence[list[list]], index: int, exc) -> str:
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    reason = lines[-1].strip() if lines else type(exc).__name__
    first, last = shards[index][0][0].sentence_id, shards[index][-1][-1].sentence_id
    return (f"--ray: shard {index} (corpus sentences {first} to {last}) failed on the cluster after "
            f"{MAX_TASK_RETRIES} retries ({reason}); nothing was changed")
