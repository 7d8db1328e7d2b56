"""Dependency accuracy per head (Clark et al. 2019, section 4), against a positional baseline.

At word level (attention to a word: the sum over its tokens; from a word: the mean over its tokens; special
tokens are no words and are never predicted), each head predicts, for a word, the other word it attends to most.

- dependent_to_head: for every arc (a word and its syntactic head), correct when the dependent's prediction is
  its head.
- head_to_dependent: for every arc, correct when the head word's prediction is a dependent of that head with the
  arc's relation (any of them, when the head has several).

Roots (a word whose head is itself) are no arcs, nor is an arc whose dependent or head word lost its tokens to
truncation. The baseline of a relation and direction predicts the word at a fixed offset (-4..+4, not 0) from the
dependent (or the head); its best offset is reported, ties going to the offset listed first in OFFSETS (nearest,
left first). Relations are spaCy's labels (punctuation included), with `all` for every arc together.
"""

from __future__ import annotations

import numpy as np

from ..vocab import ALL_RELATIONS, DIRECTIONS
from .base import AnalysisSettings, LayerBatch, in_inference_mode

OFFSETS = (-1, 1, -2, 2, -3, 3, -4, 4)


def _is_dependent(info, rows: np.ndarray, words: np.ndarray, heads: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Whether word `words` (any shape, -1 or past the end: no) of row `rows` depends on `heads` with `labels`."""
    n = info.heads.shape[1]
    inside = (words >= 0) & (words < n)
    safe = np.where(inside, words, 0)
    return inside & (info.heads[rows, safe] == heads) & (info.deps[rows, safe] == labels) & (safe != heads)


class DepAccuracy:
    """The accumulator: correct predictions per layer, head, relation and direction (a tensor on the attention's
    device); arcs per relation and the baseline's correct predictions per relation, direction and offset (from
    the parses alone: numpy on the CPU)."""

    timing = "of which statistics"

    def __init__(self, n_layers: int, n_heads: int, min_support: int = 100):
        self.n_layers, self.n_heads, self.min_support = n_layers, n_heads, min_support
        self.relations: list[str] = []
        self._correct = None  # [L, H, relations, directions] int64 tensor, made on the first batch's device
        self.support = np.zeros(0, dtype=np.int64)
        self.baseline = np.zeros((0, len(DIRECTIONS), len(OFFSETS)), dtype=np.int64)

    @classmethod
    def create(cls, settings: AnalysisSettings, device) -> DepAccuracy:
        return cls(settings.n_layers, settings.n_heads, settings.min_dep_support)

    @property
    def correct(self) -> np.ndarray:
        """[L, H, relations, directions] correct predictions, on the CPU."""
        if self._correct is None:
            return np.zeros((self.n_layers, self.n_heads, len(self.relations), len(DIRECTIONS)), dtype=np.int64)
        return self._correct.cpu().numpy()

    def _grow(self, device) -> None:
        import torch

        have = 0 if self._correct is None else self._correct.shape[2]
        if self._correct is None or have < len(self.relations):
            device = device if self._correct is None else self._correct.device
            grown = torch.zeros((self.n_layers, self.n_heads, len(self.relations), len(DIRECTIONS)),
                                dtype=torch.int64, device=device)
            if self._correct is not None:
                grown[:, :, :have] = self._correct
            self._correct = grown

    def _indices(self, labels) -> np.ndarray:
        """Relation labels -> their indices, adding new relations (in order of first appearance)."""
        known = {r: i for i, r in enumerate(self.relations)}
        new = [r for r in dict.fromkeys(labels.tolist()) if r not in known]
        if new:
            for r in new:
                known[r] = len(self.relations)
                self.relations.append(r)
            grow = len(new)
            self.support = np.concatenate([self.support, np.zeros(grow, np.int64)])
            self.baseline = np.concatenate([self.baseline, np.zeros((grow, *self.baseline.shape[1:]), np.int64)])
        return np.array([known[r] for r in labels.tolist()], dtype=np.int64)

    @in_inference_mode
    def update(self, batch: LayerBatch) -> None:
        import torch

        info = batch.info
        rows, deps, heads, labels = info.arcs
        if not len(rows):
            return
        rel = self._indices(labels)
        n_rel = len(self.relations)
        self._grow(batch.device)
        if batch.layer == 0:  # the arcs and the baseline do not depend on the layer: counted once per batch
            self.support += np.bincount(rel, minlength=n_rel)
            for o, offset in enumerate(OFFSETS):
                self.baseline[:, 0, o] += np.bincount(rel, weights=heads == deps + offset,
                                                      minlength=n_rel).astype(np.int64)
                hits = _is_dependent(info, rows, heads + offset, heads, labels)
                self.baseline[:, 1, o] += np.bincount(rel, weights=hits, minlength=n_rel).astype(np.int64)
        on = lambda name, make: info.on(batch.device, name, make)  # noqa: E731
        words = batch.word_attention()  # [B, H, W, W]
        has_tokens = on("dep_has_tokens", lambda: info.word_matrices[2])  # [B, W]
        words = words.masked_fill(~has_tokens[:, None, None, :], -torch.inf)
        words.diagonal(dim1=-2, dim2=-1).fill_(-torch.inf)  # a word never predicts itself
        predicted = words.argmax(-1)  # [B, H, W]
        rows_t, deps_t = on("dep_rows", lambda: rows), on("dep_deps", lambda: deps)
        heads_t = on("dep_heads", lambda: heads)
        to_head = predicted[rows_t, :, deps_t] == heads_t[:, None]  # [N, H]
        from_head = predicted[rows_t, :, heads_t]  # [N, H]
        # is the word predicted from the head a dependent of that head with the arc's relation?
        word_heads = on("dep_word_heads", lambda: info.heads)  # [B, W]
        word_labels = on("dep_word_labels", lambda: self._indices_or_missing(info.deps))  # [B, W]
        label_t = on("dep_labels", lambda: rel)
        n = info.heads.shape[1]
        inside = (from_head >= 0) & (from_head < n)
        safe = torch.where(inside, from_head, 0)
        to_dependent = (inside & (word_heads[rows_t[:, None], safe] == heads_t[:, None])
                        & (word_labels[rows_t[:, None], safe] == label_t[:, None]) & (safe != heads_t[:, None]))
        for d, hits in enumerate((to_head, to_dependent)):
            self._correct[batch.layer, :, :, d].index_add_(1, label_t, hits.T.long())

    def _indices_or_missing(self, labels: np.ndarray) -> np.ndarray:
        """Each word's relation index (-1 for no word): known relations only, as every arc's is known by now."""
        known = {r: i for i, r in enumerate(self.relations)}
        return np.vectorize(lambda r: known.get(r, -1), otypes=[np.int64])(labels) if labels.size else \
            np.zeros(labels.shape, np.int64)

    @in_inference_mode
    def merge(self, other: DepAccuracy) -> None:
        rel = self._indices(np.array(other.relations, dtype=object))
        self.support[rel] += other.support
        self.baseline[rel] += other.baseline
        if other._correct is not None:
            self._grow(other._correct.device)
            self._correct[:, :, rel] += other._correct.to(self._correct.device)

    def results(self) -> dict[str, tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
        """relation -> (support, accuracy [L, H, 2], baseline accuracy [2, len(OFFSETS)], best offset index [2])
        for `all` and every relation with at least `min_support` arcs, sorted by name."""
        out = {}
        order = sorted(i for i, r in enumerate(self.relations) if self.support[i] >= self.min_support)
        total = self.support.sum()
        if total:
            out[ALL_RELATIONS] = (int(total), self.correct.sum(2) / total, self.baseline.sum(0) / total)
        for i in sorted(order, key=lambda i: self.relations[i]):
            out[self.relations[i]] = (int(self.support[i]), self.correct[:, :, i] / self.support[i],
                                      self.baseline[i] / self.support[i])
        return {r: (n, acc, base, base.argmax(-1)) for r, (n, acc, base) in out.items()}

    def tables(self) -> dict[str, list[tuple]]:
        rows = []
        results = self.results()
        for layer in range(self.n_layers):
            for head in range(self.n_heads):
                for relation, (support, acc, base, best) in results.items():
                    for d, direction in enumerate(DIRECTIONS):
                        rows.append((layer, head, relation, direction, support, float(acc[layer, head, d]),
                                     OFFSETS[best[d]], float(base[d, best[d]])))
        return {"dep_accuracy": rows}
