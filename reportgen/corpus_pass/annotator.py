"""spaCy for the corpus pass: each window's `words` rows, annotated in this process when the window is reached, or
for a large corpus in spawned processes that run ahead of the encoding."""

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
    """The `words` rows of each window of corpus sentences, in order. With `processes` above 0, that many spawned
    processes run spaCy from the moment the annotator is entered (while the probes are encoded and attributed),
    window i in process i % processes, and the annotation keeps at most AHEAD + processes windows ahead of the window
    being encoded, so that it overlaps the forward passes and memory holds a few windows' words at most; with 0,
    each window is annotated in this process when it is reached. A window's rows do not depend on the process that
    made them. `annotate((sentence_id, text) pairs, nlp) -> rows` is a module-level function (the spawned processes
    import it by name)."""

    AHEAD = 2
    POLL = 1.0  # seconds between checks that the spaCy process is still alive while waiting for it

    def __init__(self, windows: list[Sequence[Sentence]], nlp, processes: int, annotate: Callable):
        self.windows = windows
        self.nlp, self.processes, self.annotate = nlp, processes, annotate
        self.workers: list = []  # (process, requests, replies) while entered with processes

    def _submit(self, i: int) -> None:
        if i < len(self.windows):
            self.workers[i % len(self.workers)][1].put([(s.sentence_id, s.text) for s in self.windows[i]])

    def _receive(self, i: int) -> list[tuple]:
        process, _, replies = self.workers[i % len(self.workers)]
        while True:
            try:
                kind, found = replies.get(timeout=self.POLL)
            except queue.Empty:
                if not process.is_alive():
                    raise ModelError(f"the spaCy process stopped (exit code {process.exitcode}) before "
                                     f"annotating the corpus; nothing was changed") from None
                continue
            if kind == "error":
                raise found
            return found

    def __enter__(self) -> Annotator:
        if self.processes:
            import multiprocessing

            context = multiprocessing.get_context("spawn")  # the parent may hold torch's and BLAS's threads
            for _ in range(self.processes):
                requests, replies = context.Queue(), context.Queue()
                process = context.Process(target=serve, args=(self.annotate, requests, replies),
                                          name="reportgen-spacy", daemon=True)
                process.start()
                self.workers.append((process, requests, replies))
            for i in range(self.AHEAD + len(self.workers)):
                self._submit(i)
        return self

    def __exit__(self, *exc) -> None:
        for process, requests, _ in self.workers:
            if process.is_alive():
                requests.put(None)
        for process, _, _ in self.workers:
            process.join(timeout=5)
            if process.is_alive():  # still annotating windows nobody will read: stop it
                process.terminate()
                process.join()
        self.workers = []

    def __iter__(self) -> Iterator[tuple[Sequence[Sentence], list[tuple]]]:
        """(window, its words rows) in order."""
        for i, window in enumerate(self.windows):
            if not self.workers:
                yield window, self.annotate([(s.sentence_id, s.text) for s in window], self.nlp)
                continue
            rows = self._receive(i)
            self._submit(i + self.AHEAD + len(self.workers))
            yield window, rows
