"""The corpus pass: the corpus streamed once through the model in windows and batches, each layer handed to every
accumulator while the forward pass runs; in shards of contiguous windows whose states merge exactly, computed in
turn in this process or on a Ray cluster. Its one entry is `start`: the windows, the shards, spaCy (in a process of
its own beside the model for a large corpus) and Ray stay inside."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..corpus import Sentence
from ..machine import usable_cores
from ..models import device_of
from ..progress import Clock, Progress
from .annotator import Annotator
from .shards import run_local, shards_of, windows_of
from .spec import PassSpec, Tuning, annotator_processes
from .state import PassState

__all__ = ["CorpusPass", "PassResult", "PassSpec", "Tuning", "connect_ray", "start"]


@dataclass
class PassResult:
    """What a corpus pass returns: the merged state of its accumulators, how many spaCy processes ran beside the
    model (0: none, spaCy ran in this process), and with Ray each shard's (index, sentences, tokens, seconds on its
    worker)."""

    state: PassState
    annotators: int
    shard_seconds: list[tuple[int, int, int, float]] = field(default_factory=list)


class CorpusPass:
    """A corpus pass to come. Entered, it starts annotating (spaCy in processes beside the model for a large corpus,
    so that it runs while the probes are encoded and attributed); `run` then streams the corpus once."""

    def __init__(self, corpus: Sequence[Sentence], nlp, batch_size: int, ray: str | None, tuning: Tuning,
                 device: str = "cpu"):
        self.ray, self.tuning = ray, tuning
        self.size = len(corpus)
        self.windows = windows_of(corpus, batch_size, tuning)
        cores = usable_cores()
        beside = len(corpus) >= tuning.annotate_beside and cores > 1 and not ray
        self.annotators = (tuning.annotators or annotator_processes(device, cores)) if beside else 0
        self.annotator = Annotator(self.windows, nlp, self.annotators, tuning.annotate)

    def __enter__(self) -> CorpusPass:
        self.annotator.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.annotator.__exit__(*exc)

    def run(self, loaded, spec: PassSpec, write: Callable[[str, list], None], clock: Clock,
            progress: Progress) -> PassResult:
        """Annotate, encode and search the corpus; `write(table, rows)` takes each window's `words`, `sentences`
        and `tokens` rows as soon as they are known. Returns the merged state."""
        total = PassState.new(spec.accumulators, spec.inputs, device_of(loaded))
        shards = shards_of(self.windows, self.tuning)
        result = PassResult(total, self.annotators)
        with progress.stage("encode", self.size) as advance:
            if self.ray:
                from .ray import run_shards  # Ray is imported only with --ray

                results = run_shards(spec, shards, self.ray, advance, result.shard_seconds)
            else:  # the same shards in turn, each window stored as soon as it is searched
                results = run_local(loaded, spec, self.annotator, shards, clock, advance, self.tuning)
            for word_rows, sentence_rows, token_rows, state in results:
                write("words", word_rows)
                write("sentences", sentence_rows)
                write("tokens", token_rows)
                if state is not None:
                    total.merge(state)
        return result


def start(corpus: Sequence[Sentence], nlp, batch_size: int, ray: str | None = None,
          tuning: Tuning = Tuning(), device: str = "cpu") -> CorpusPass:
    """The corpus pass over `corpus`, to be entered (`with start(...) as corpus_pass:`) and then run; `device`: the
    model's, which sets how many spaCy processes run beside it (`annotator_processes`)."""
    return CorpusPass(corpus, nlp, batch_size, ray, tuning, device)


def connect_ray(address: str) -> None:
    """`--ray`: Ray imported and its cluster reached (or a local one started) now, so that a missing Ray or an
    unreachable address stops the build with its one line before any weight is read, not after the attributions
    and the importance; the corpus pass later finds Ray started."""
    from .ray import connect  # Ray is imported only with --ray

    connect(address)
