"""spaCy for the corpus pass: each window's `words` rows, annotated in this process when the window is reached, or
for a large corpus in a spawned process that runs ahead of the encoding."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from ..annotate import load_pipeline
from ..corpus import Sentence

_NLP = None  # the spaCy process's own pipeline


def _in_spacy_process(annotate: Callable, window: list[tuple[int, str]]) -> list[tuple]:
    """What the spaCy process runs: `annotate` with the process's pipeline (loaded once)."""
    global _NLP
    _NLP = _NLP or load_pipeline()
    return annotate(window, _NLP)


class Annotator:
    """The `words` rows of each window of corpus sentences, in order. With `beside`, a spawned process runs
    spaCy from the moment the annotator is entered (while the probes are encoded and attributed) and then at
    most two windows ahead of the window being encoded, so that annotation overlaps the forward passes and
    memory holds three windows' words at most; otherwise each window is annotated when it is reached.
    `annotate((sentence_id, text) pairs, nlp) -> rows` is a module-level function (the spawned process imports
    it by name)."""

    AHEAD = 2

    def __init__(self, windows: list[Sequence[Sentence]], nlp, beside: bool, annotate: Callable):
        self.windows = windows
        self.nlp, self.beside, self.annotate = nlp, beside, annotate
        self.pool = None
        self.pending: list = []

    def _submit(self, i: int) -> None:
        if i < len(self.windows):
            self.pending.append(self.pool.submit(_in_spacy_process, self.annotate,
                                                 [(s.sentence_id, s.text) for s in self.windows[i]]))

    def __enter__(self) -> Annotator:
        if self.beside:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            self.pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
            for i in range(self.AHEAD + 1):
                self._submit(i)
        return self

    def __exit__(self, *exc) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool, self.pending = None, []

    def __iter__(self) -> Iterator[tuple[Sequence[Sentence], list[tuple]]]:
        """(window, its words rows) in order."""
        for i, window in enumerate(self.windows):
            if self.pool is None:
                yield window, self.annotate([(s.sentence_id, s.text) for s in window], self.nlp)
                continue
            rows = self.pending.pop(0).result()
            self._submit(i + self.AHEAD + 1)
            yield window, rows
