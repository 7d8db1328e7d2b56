"""Corpus base rates, so that pages can say whether a share of matches is a finding or just the corpus.

A histogram of the matches of a probe token ("64% NOUN") means something only against how common that
category is anyway. Two populations, the same ones the matches are drawn from:
  matched    every non-special corpus token (the search's candidates): counted in SQL from the stored
             tokens and words (`Store.fill_matched_base_counts`);
  attended   the token that each of those attends to most, per head and for the mean of a layer's heads
             (as the matches record it): accumulated here while the corpus streams through the model.
Facets: pos, tag, dep, ent ('none' outside entities; 'special' for special tokens) and, for 'attended',
the offset bucket of the attended token ('-3'..'+3', 'further', 'special'), as `Store.offset_counts`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

FACETS = ("pos", "tag", "dep", "ent")
OFFSETS = ("-3", "-2", "-1", "0", "+1", "+2", "+3", "further", "special")
SPECIAL = "special"
NO_ENTITY = "none"


def token_categories(batch, words: dict, ids: Sequence[int], length: int,
                     vocab: dict[str, dict[str, int]]) -> np.ndarray:
    """[facets, B, T] category ids of every token of a batch (padding: id of 'special', never counted).
    `vocab` maps each facet's category names to ids and grows as new categories appear."""
    out = np.zeros((len(FACETS), len(batch), length), dtype=np.int64)
    special = [vocab[f].setdefault(SPECIAL, len(vocab[f])) for f in FACETS]
    out[:] = np.asarray(special)[:, None, None]
    for row, (tok, sid) in enumerate(zip(batch, ids)):
        for t in tok.tokens:
            if t.is_special or t.word_idx is None:
                continue
            w = words[sid][t.word_idx]
            for f, (facet, value) in enumerate(zip(FACETS, (w.pos, w.tag, w.dep, w.ent_type or NO_ENTITY))):
                out[f, row, t.token_idx] = vocab[facet].setdefault(value, len(vocab[facet]))
    return out


class AttendedCounts:
    """Accumulator: per layer and head (and the head mean, index H), how often the token that a non-special
    corpus token attends to most falls in each category of each facet, and at each offset."""

    def __init__(self, n_layers: int, n_heads: int):
        self.shape = (n_layers, n_heads + 1)
        self.vocab: dict[str, dict[str, int]] = {f: {} for f in FACETS}
        self.counts: dict[str, np.ndarray] = {f: np.zeros((*self.shape, 0), dtype=np.int64)
                                              for f in (*FACETS, "offset")}

    def _add(self, facet: str, ids: np.ndarray, n_categories: int) -> None:
        """ids: [L, H + 1, N] category ids -> counts [L, H + 1, n_categories] added to the running total."""
        total = self.counts[facet]
        if total.shape[-1] < n_categories:
            total = np.concatenate([total, np.zeros((*self.shape, n_categories - total.shape[-1]),
                                                    dtype=np.int64)], axis=-1)
        cells = self.shape[0] * self.shape[1]
        flat = (np.arange(cells).reshape(self.shape)[..., None] * n_categories + ids).reshape(-1)
        total[..., :n_categories] += np.bincount(flat, minlength=cells * n_categories).reshape(
            *self.shape, n_categories)
        self.counts[facet] = total

    def update(self, max_attended: np.ndarray, rows: np.ndarray, cols: np.ndarray,
               categories: np.ndarray, special: np.ndarray) -> None:
        """max_attended [L, H + 1, N]: the key token each of the N searchable tokens (batch row `rows`,
        position `cols`) attends to most; categories [facets, B, T] from `token_categories`; special [B, T]."""
        if len(rows) == 0:
            return
        row = np.broadcast_to(rows, max_attended.shape)
        for f, facet in enumerate(FACETS):
            self._add(facet, categories[f][row, max_attended], len(self.vocab[facet]))
        offset = np.clip(max_attended - cols, -4, 4)  # -4 and +4 stand for 'further' either side
        bucket = np.where(np.abs(offset) > 3, 7, offset + 3)
        bucket = np.where(special[row, max_attended], 8, bucket)
        self._add("offset", bucket, len(OFFSETS))

    def merge(self, other: AttendedCounts) -> None:
        """Add another accumulator's counts (a shard of the corpus) into this one."""
        for facet in FACETS:
            names = list(other.vocab[facet])
            ids = np.asarray([self.vocab[facet].setdefault(name, len(self.vocab[facet])) for name in names],
                             dtype=np.int64)
            mine = self.counts[facet]
            grown = np.zeros((*self.shape, len(self.vocab[facet])), dtype=np.int64)
            grown[..., :mine.shape[-1]] = mine
            theirs = other.counts[facet]  # may be narrower than its vocabulary, never wider
            grown[..., ids[:theirs.shape[-1]]] += theirs  # ids are distinct: plain fancy-index addition
            self.counts[facet] = grown
        mine, theirs = self.counts["offset"], other.counts["offset"]
        size = max(mine.shape[-1], theirs.shape[-1])
        self.counts["offset"] = (np.pad(mine, ((0, 0), (0, 0), (0, size - mine.shape[-1])))
                                 + np.pad(theirs, ((0, 0), (0, 0), (0, size - theirs.shape[-1]))))

    def rows(self) -> list[tuple]:
        """('attended', layer, head, facet, category, n) for every nonzero count; head None = the head mean.
        Sorted, so equal inputs give equal tables."""
        n_layers, n_cols = self.shape
        out = []
        for facet in (*FACETS, "offset"):
            names = OFFSETS if facet == "offset" else list(self.vocab[facet])
            counts = self.counts[facet]
            for layer in range(n_layers):
                for col in range(n_cols):
                    head = None if col == n_cols - 1 else col
                    for c, n in enumerate(counts[layer, col]):
                        if n:
                            out.append(("attended", layer, head, facet, names[c], int(n)))
        return sorted(out, key=lambda r: (r[1], -1 if r[2] is None else r[2], r[3], r[4]))
