"""spaCy for the corpus pass: each window's `words` rows, annotated in this process when the window is reached, or
for a large corpus in a spawned process that runs ahead of the encoding."""

from __future__ import annotations

import queue
from collections.abc import Callable, Iterator, Sequence

from ..annotate import load_pipeline
from ..corpus import Sentence
from ..errors import ModelError


def serve(annotate: Callable, requests, replies) -> None:
    """The spaCy process: load the pipeline once, then annotate each window it is sent, in order, until it is sent
    None. An error goes back to the build as the reply to its window (the build raises it)."""
    nlp = load_pipeline()
    for window in iter(requests.get, None):
        try:
            replies.put(("rows", annotate(window, nlp)))
        except Exception as exc:  # noqa: BLE001 (the build raises it: nothing is swallowed)
            replies.put(("error", exc))


class Annotator:
    """The `words` rows of each window of corpus sentences, in order. With `beside`, a spawned process runs
    spaCy from the moment the annotator is entered (while the probes are encoded and attributed) and then at
    most two windows ahead of the window being encoded, so that annotation overlaps the forward passes and
    memory holds three windows' words at most; otherwise each window is annotated when it is reached.
    `annotate((sentence_id, text) pairs, nlp) -> rows` is a module-level function (the spawned process imports
    it by name)."""

    AHEAD = 2
    POLL = 1.0  # seconds between checks that the spaCy process is still alive while waiting for it

    def __init__(self, windows: list[Sequence[Sentence]], nlp, beside: bool, annotate: Callable):
        self.windows = windows
        self.nlp, self.beside, self.annotate = nlp, beside, annotate
        self.process = self.requests = self.replies = None

    def _submit(self, i: int) -> None:
        if i < len(self.windows):
            self.requests.put([(s.sentence_id, s.text) for s in self.windows[i]])

    def _receive(self) -> list[tuple]:
        while True:
            try:
                kind, found = self.replies.get(timeout=self.POLL)
            except queue.Empty:
                if not self.process.is_alive():
                    raise ModelError(f"the spaCy process stopped (exit code {self.process.exitcode}) before "
                                     f"annotating the corpus; nothing was changed") from None
                continue
            if kind == "error":
                raise found
            return found

    def __enter__(self) -> Annotator:
        if self.beside:
            import multiprocessing

            context = multiprocessing.get_context("spawn")  # the parent may hold torch's and BLAS's threads
            self.requests, self.replies = context.Queue(), context.Queue()
            self.process = context.Process(target=serve, args=(self.annotate, self.requests, self.replies),
                                           name="reportgen-spacy", daemon=True)
            self.process.start()
            for i in range(self.AHEAD + 1):
                self._submit(i)
        return self

    def __exit__(self, *exc) -> None:
        if self.process is not None:
            if self.process.is_alive():
                self.requests.put(None)
                self.process.join(timeout=5)
            if self.process.is_alive():  # still annotating windows nobody will read: stop it
                self.process.terminate()
                self.process.join()
            self.process = None

    def __iter__(self) -> Iterator[tuple[Sequence[Sentence], list[tuple]]]:
        """(window, its words rows) in order."""
        for i, window in enumerate(self.windows):
            if self.process is None:
                yield window, self.annotate([(s.sentence_id, s.text) for s in window], self.nlp)
                continue
            rows = self._receive()
            self._submit(i + self.AHEAD + 1)
            yield window, rows
