"""Batches of the corpus pass: sentences grouped by length, what the accumulators need to know of a batch besides
the model's output (BatchInfo), and one batch's forward pass feeding every accumulator layer by layer."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from ..align import containing
from ..analyses.base import BatchInfo, LayerBatch
from ..annotate import Word
from ..encode import Tokenized, encode_layers
from ..progress import Clock
from ..vocab import FACETS, NO_ENTITY


def chunks(items: Sequence, size: int) -> Iterator[Sequence]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def token_batches(order: Sequence[int], lengths: Sequence[int], batch_size: int,
                  max_tokens: int | None) -> Iterator[list[int]]:
    """Consecutive runs of `order` (sentences sorted by length) as batches of at most `batch_size` sentences
    and, with `max_tokens`, at most that many padded tokens (sentences x the longest): what the memory of a
    batch grows with. A sentence longer than the budget is a batch of its own."""
    batch: list[int] = []
    longest = 0
    for i in order:
        grown = max(longest, lengths[i])
        if batch and (len(batch) >= batch_size or (max_tokens is not None and (len(batch) + 1) * grown > max_tokens)):
            yield batch
            batch, grown = [], lengths[i]
        batch.append(i)
        longest = grown
    if batch:
        yield batch


def batch_info(batch: Sequence[Tokenized], words: dict[int, tuple[Word, ...]], ids: Sequence[int],
               causal: bool) -> BatchInfo:
    """What the accumulators need besides the model's output: which tokens are real, special or punctuation, the
    word of each token, each word's syntactic head and relation, and its annotations (the base rates' facets)."""
    length = max(len(t.input_ids) for t in batch)
    mask = np.arange(length)[None, :] < np.array([len(t.input_ids) for t in batch])[:, None]
    n_words = max(len(words[sid]) for sid in ids)
    special = np.zeros((len(batch), length), dtype=bool)
    punct = np.zeros((len(batch), length), dtype=bool)
    comma_period = np.zeros((len(batch), length), dtype=bool)  # Kobayashi et al.'s punctuation
    word_of = np.full((len(batch), length), -1, dtype=np.int64)
    heads = np.full((len(batch), n_words), -1, dtype=np.int64)
    deps = np.full((len(batch), n_words), "", dtype=object)
    annotations = np.full((len(FACETS), len(batch), n_words), None, dtype=object)
    shared: list[tuple[int, int, int]] = []  # (row, token, word): words with no token of their own
    for row, (tok, sid) in enumerate(zip(batch, ids)):
        for t in tok.tokens:
            special[row, t.token_idx] = t.is_special
            if t.word_idx is not None and not t.is_special:
                punct[row, t.token_idx] = words[sid][t.word_idx].is_punct
                comma_period[row, t.token_idx] = words[sid][t.word_idx].text in (",", ".")
                word_of[row, t.token_idx] = t.word_idx
        shared += [(row, token, word) for token, word in containing(tok.tokens, words[sid])]
        for w in words[sid]:
            heads[row, w.word_idx] = w.head_word_idx
            deps[row, w.word_idx] = w.dep
            annotations[:, row, w.word_idx] = (w.pos, w.tag, w.dep, w.ent_type or NO_ENTITY)
    return BatchInfo(np.asarray(ids, dtype=np.int64), mask, special, punct, word_of, heads, deps, causal,
                     annotations, comma_period, np.array(shared, dtype=np.int64).reshape(-1, 3))


def run_batch(loaded, batch: Sequence[Tokenized], ids: list[int], words: dict[int, tuple[Word, ...]],
              accumulators: list, clock: Clock) -> None:
    """Encode one batch of corpus sentences. Each layer, as the model computes it (its attention and heads'
    contexts, then its output hidden state), goes to every accumulator on the model's device; each accumulator's
    updates are timed under its `timing` stage. What goes to the device is the batch's description (masks,
    positions, categories), and nothing comes back."""
    info = batch_info(batch, words, ids, loaded.info.causal)
    pending: dict[int, tuple] = {}

    def on_attention(layer: int, attention, context, norms) -> None:
        pending[layer] = (attention, context, norms)

    def on_hidden(layer: int, hidden) -> None:
        attention, context, norms = pending.pop(layer)
        layer_batch = LayerBatch(layer, attention, info, context=context, hidden=hidden, value_norms=norms)
        for accumulator in accumulators:
            if accumulator.timing:
                with clock(accumulator.timing):
                    accumulator.update(layer_batch)
            else:
                accumulator.update(layer_batch)

    encode_layers(loaded, batch, on_attention, on_hidden)
