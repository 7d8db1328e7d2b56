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

import numpy as np

from ..vocab import FACETS, OFFSETS, SPECIAL
from .base import BatchInfo, LayerBatch, PassInputs, in_inference_mode


def token_categories(info: BatchInfo, vocab: dict[str, dict[str, int]]) -> np.ndarray:
    """[facets, B, T] category ids of every token of a batch (special and padding tokens: the id of 'special',
    never counted), from the words' annotations. `vocab` maps each facet's category names to ids and grows as new
    categories appear."""
    b, t = info.mask.shape
    out = np.zeros((len(FACETS), b, t), dtype=np.int64)
    special = [vocab[f].setdefault(SPECIAL, len(vocab[f])) for f in FACETS]
    out[:] = np.asarray(special)[:, None, None]
    for row in range(b):
        for token in range(t):
            word = info.word_of[row, token]
            if word < 0 or not info.mask[row, token] or info.special[row, token]:
                continue
            for f, facet in enumerate(FACETS):
                out[f, row, token] = vocab[facet].setdefault(info.annotations[f, row, word], len(vocab[facet]))
    return out


class AttendedCounts:
    """Accumulator: per layer and head (and the head mean, index H), how often the token that a non-special
    corpus token attends to most falls in each category of each facet, and at each offset. The counts are
    int64 tensors on the device of the first update (the model's), read back only by `rows`."""

    timing = ""

    def __init__(self, n_layers: int, n_heads: int):
        self.shape = (n_layers, n_heads + 1)
        self.vocab: dict[str, dict[str, int]] = {f: {} for f in FACETS}
        self.counts: dict = {}  # facet -> [L, H + 1, categories] tensor

    @classmethod
    def create(cls, inputs: PassInputs, options: None, device) -> AttendedCounts:
        return cls(inputs.n_layers, inputs.n_heads)

    def update(self, batch: LayerBatch) -> None:
        """One layer of one corpus batch: the token each searchable token attends to most (per head and for the
        head mean), counted by category and offset."""
        rows, cols = batch.searchable()
        info = batch.info
        categories = info.on(batch.device, "categories", lambda: token_categories(info, self.vocab))
        special = info.on(batch.device, "special", lambda: info.special)
        self.update_layer(batch.layer, batch.max_attended, rows, cols, categories, special)

    def _total(self, facet: str, n_categories: int, device):
        import torch

        total = self.counts.get(facet)
        if total is None or total.shape[-1] < n_categories:
            grown = torch.zeros((*self.shape, n_categories), dtype=torch.int64,
                                device=device if total is None else total.device)
            if total is not None:
                grown[..., :total.shape[-1]] = total
            self.counts[facet] = total = grown
        return total

    @in_inference_mode
    def update_layer(self, layer: int, max_attended, rows, cols, categories, special) -> None:
        """One layer: max_attended [H + 1, N] (tensor) the key token each of the N searchable tokens (batch row
        `rows`, position `cols`, tensors) attends to most; categories [facets, B, T] from `token_categories` and
        special [B, T], as tensors on the same device."""
        import torch

        if max_attended.shape[-1] == 0:
            return
        cols_per_head = self.shape[1]
        row = rows.expand_as(max_attended)
        head = torch.arange(cols_per_head, device=max_attended.device)[:, None]
        for f, facet in enumerate(FACETS):
            n = len(self.vocab[facet])
            total = self._total(facet, n, max_attended.device)
            flat = (head * n + categories[f][row, max_attended]).reshape(-1)
            total[layer, :, :n] += torch.bincount(flat, minlength=cols_per_head * n).reshape(cols_per_head, n)
        offset = torch.clamp(max_attended - cols, -4, 4)  # -4 and +4 stand for 'further' either side
        bucket = torch.where(offset.abs() > 3, 7, offset + 3)
        bucket = torch.where(special[row, max_attended], 8, bucket)
        n = len(OFFSETS)
        total = self._total("offset", n, max_attended.device)
        total[layer] += torch.bincount((head * n + bucket).reshape(-1), minlength=cols_per_head * n).reshape(-1, n)

    def add(self, max_attended, rows, cols, categories, special) -> None:
        """Every layer at once: max_attended [L, H + 1, N], the rest as in `update_layer` (numpy or tensors)."""
        import torch

        as_t = lambda x: torch.as_tensor(np.asarray(x) if not torch.is_tensor(x) else x)  # noqa: E731
        max_attended, rows, cols = as_t(max_attended), as_t(rows), as_t(cols)
        categories, special = as_t(categories), as_t(special)
        for layer in range(max_attended.shape[0]):
            self.update_layer(layer, max_attended[layer], rows, cols, categories, special)

    def _numpy(self, facet: str) -> np.ndarray:
        total = self.counts.get(facet)
        return np.zeros((*self.shape, 0), dtype=np.int64) if total is None else total.cpu().numpy()

    @in_inference_mode
    def merge(self, other: AttendedCounts) -> None:
        """Add another accumulator's counts (a shard of the corpus) into this one."""
        import torch

        for facet in FACETS:
            names = list(other.vocab[facet])
            ids = [self.vocab[facet].setdefault(name, len(self.vocab[facet])) for name in names]
            theirs = other._numpy(facet)  # may be narrower than its vocabulary, never wider
            if theirs.shape[-1] == 0:
                continue
            mine = self._total(facet, len(self.vocab[facet]), "cpu")
            # ids are distinct: plain index addition
            mine[..., ids[:theirs.shape[-1]]] += torch.as_tensor(theirs, device=mine.device)
        theirs = other._numpy("offset")
        if theirs.shape[-1]:
            mine = self._total("offset", len(OFFSETS), "cpu")
            mine += torch.as_tensor(theirs, device=mine.device)

    def rows(self) -> list[tuple]:
        """('attended', layer, head, facet, category, n) for every nonzero count; head None = the head mean.
        Sorted, so equal inputs give equal tables."""
        n_layers, n_cols = self.shape
        out = []
        for facet in (*FACETS, "offset"):
            names = OFFSETS if facet == "offset" else list(self.vocab[facet])
            counts = self._numpy(facet)
            for layer in range(n_layers):
                for col in range(n_cols):
                    head = None if col == n_cols - 1 else col
                    for c, n in enumerate(counts[layer, col]):
                        if n:
                            out.append(("attended", layer, head, facet, names[c], int(n)))
        return sorted(out, key=lambda r: (r[1], -1 if r[2] is None else r[2], r[3], r[4]))

    def tables(self) -> dict[str, list[tuple]]:
        return {"base_counts": self.rows()}


def matched_base_counts(accumulators, store) -> dict[str, list]:
    """The derived analysis of the 'matched' base rates: counted in SQL from the stored tokens and words, once the
    corpus is in the database."""
    store.fill_matched_base_counts()
    return {}
