"""Windows and shards of the corpus pass. A window (window_batches batches) is tokenised, batched by length and
searched; a shard (shard_windows windows) has a state of its own. The single-process pass (`run_local`) computes
the shards in turn, as Ray workers compute them elsewhere (`run_shard`), and merges them in shard order."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from ..annotate import words_by_sentence
from ..corpus import Sentence
from ..encode import tokenize
from ..models import device_of
from ..progress import Clock
from .annotator import Annotator
from .batches import chunks, run_batch, token_batches
from .spec import PassSpec, Tuning
from .state import PassState


def windows_of(corpus: Sequence[Sentence], batch_size: int, tuning: Tuning) -> list[Sequence[Sentence]]:
    return list(chunks(corpus, batch_size * tuning.window_batches))


def shards_of(windows: list[Sequence[Sentence]], tuning: Tuning) -> list[list[Sequence[Sentence]]]:
    return [windows[i : i + tuning.shard_windows] for i in range(0, len(windows), tuning.shard_windows)]


def run_window(loaded, state: PassState, spec: PassSpec, window: Sequence[Sentence], word_rows: list[tuple],
               clock: Clock, advance: Callable[[int], None] = lambda n: None,
               tuning: Tuning = Tuning()) -> tuple[list[tuple], list[tuple]]:
    """Tokenise, batch by length and search one window of corpus sentences; its `sentences` and `tokens` rows."""
    words = words_by_sentence(word_rows)
    tokenized = [tokenize(loaded, s.text, words[s.sentence_id], strict=False, where=s.source, sentence_id=s.sentence_id)
                 for s in window]
    by_length = sorted(range(len(window)), key=lambda i: len(tokenized[i].input_ids))
    for picked in token_batches(by_length, [len(t.input_ids) for t in tokenized], spec.batch_size,
                                spec.max_batch_tokens):
        ids = [window[i].sentence_id for i in picked]

        def run(picked=picked, ids=ids) -> None:
            run_batch(loaded, [tokenized[i] for i in picked], ids, words, state.accumulators, clock)

        if tuning.on_batch is None:
            run()
        else:
            tuning.on_batch(run)
        advance(len(picked))
    return ([(s.sentence_id, s.role, s.source, s.text, t.truncated) for s, t in zip(window, tokenized)],
            [t for tok in tokenized for t in tok.tokens])


def run_shard(loaded, nlp, spec: PassSpec, windows: list[Sequence[Sentence]],
              tuning: Tuning = Tuning()) -> tuple[list, list, list, PassState]:
    """One shard on a worker (corpus_pass/ray.py): annotate and search its windows with a fresh state; its
    `words`, `sentences` and `tokens` rows and its state, ready to send back."""
    state = PassState.new(spec.accumulators, spec.inputs, device_of(loaded))
    words, sentences, tokens = [], [], []
    for window in windows:
        rows = tuning.annotate([(s.sentence_id, s.text) for s in window], nlp)
        sentence_rows, token_rows = run_window(loaded, state, spec, window, rows, Clock(), tuning=tuning)
        words += rows
        sentences += sentence_rows
        tokens += token_rows
    return words, sentences, tokens, state.portable()


def run_local(loaded, spec: PassSpec, annotator: Annotator, shards: list[list[Sequence[Sentence]]], clock: Clock,
              advance: Callable[[int], None], tuning: Tuning) -> Iterator[tuple[list, list, list, PassState]]:
    """The shards in turn in this process, each window's rows given as soon as it is searched: (words, sentences,
    tokens rows, None) per window, then (.., .., .., the shard's state) once per shard with empty rows."""
    annotated = iter(annotator)
    for shard in shards:
        state = PassState.new(spec.accumulators, spec.inputs, device_of(loaded))
        for _ in shard:
            window, word_rows = next(annotated)
            sentence_rows, token_rows = run_window(loaded, state, spec, window, word_rows, clock, advance, tuning)
            yield word_rows, sentence_rows, token_rows, None
        yield [], [], [], state
