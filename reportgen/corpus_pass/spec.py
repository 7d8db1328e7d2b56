"""What a corpus pass is run with: the model and batching (PassSpec, sent to every worker) and the pass's own
tuning (window and shard sizes, when spaCy runs beside the model, hooks), which tests pass as a parameter."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..analyses.base import PassInputs
from ..annotate import annotate_rows


@dataclass(frozen=True)
class PassSpec:
    """What every worker needs besides the shards: the model, the batching, and the accumulators to make (each
    class with its options) and what they are made with."""

    model: str
    max_length: int | None
    device: str
    dtype: str
    batch_size: int
    max_batch_tokens: int | None
    inputs: PassInputs
    accumulators: tuple[tuple[type, Any], ...]
    threads: int = 0  # torch's threads on the CPU: the driver's, so that sums and products are done alike (0: torch's)


@dataclass(frozen=True)
class Tuning:
    """How the pass cuts and schedules its work; none of it changes the report.

    annotate_beside: from this many corpus sentences on (and with more than one core), spaCy runs in processes of
    its own beside the model; annotators: how many (0: as the device allows, `annotator_processes`);
    window_batches: batches per window (the unit of annotation); shard_windows: windows
    per shard (the unit of merging, and of work on Ray); annotate: what annotates a window ((sentence_id, text)
    pairs, a spaCy pipeline -> `words` rows), a module-level function so that the spaCy process can run it;
    on_batch: called around each corpus batch's forward pass as `on_batch(run)` (it must call `run()`)."""

    annotate_beside: int = 2000
    annotators: int = 0
    window_batches: int = 16
    shard_windows: int = 8
    annotate: Callable = annotate_rows
    on_batch: Callable[[Callable[[], None]], None] | None = field(default=None, compare=False)


MAX_ANNOTATORS = 8  # spaCy processes beside a model on a GPU: 8 annotate the default corpus in a third of one's time


def annotator_processes(device: str, cores: int) -> int:
    """How many spaCy processes run beside the model by default: on a CPU one, as the model's own threads keep the
    other cores busy (the split between them: two cores give one to each, the model's threads sharing them); on a
    GPU, where the model needs one core to feed it, every other core, at most MAX_ANNOTATORS."""
    if device == "cpu" or device.startswith("cpu:"):
        return 1
    return max(1, min(MAX_ANNOTATORS, cores - 1))
