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

from . import LayerBatch

DIRECTIONS = ("dependent_to_head", "head_to_dependent")
OFFSETS = (-1, 1, -2, 2, -3, 3, -4, 4)
ALL = "all"


def _is_dependent(info, rows: np.ndarray, words: np.ndarray, heads: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Whether word `words` (any shape, -1 or past the end: no) of row `rows` depends on `heads` with `labels`."""
    n = info.heads.shape[1]
    inside = (words >= 0) & (words < n)
    safe = np.where(inside, words, 0)
    return inside & (info.heads[rows, safe] == heads) & (info.deps[rows, safe] == labels) & (safe != heads)


class DepAccuracy:
    """The accumulator: correct predictions per layer, head, relation and direction; arcs per relation; the
    baseline's correct predictions per relation, direction and offset."""

    def __init__(self, n_layers: int, n_heads: int, min_support: int = 100):
        self.n_layers, self.n_heads, self.min_support = n_layers, n_heads, min_support
        self.relations: list[str] = []
        self.correct = np.zeros((n_layers, n_heads, 0, len(DIRECTIONS)), dtype=np.int64)
        self.support = np.zeros(0, dtype=np.int64)
        self.baseline = np.zeros((0, len(DIRECTIONS), len(OFFSETS)), dtype=np.int64)

    def _indices(self, labels) -> np.ndarray:
        """Relation labels -> their indices, adding new relations (in order of first appearance)."""
        known = {r: i for i, r in enumerate(self.relations)}
        new = [r for r in dict.fromkeys(labels.tolist()) if r not in known]
        if new:
            for r in new:
                known[r] = len(self.relations)
                self.relations.append(r)
            grow = len(new)
            self.correct = np.concatenate([self.correct, np.zeros((*self.correct.shape[:2], grow, 2), np.int64)], 2)
            self.support = np.concatenate([self.support, np.zeros(grow, np.int64)])
            self.baseline = np.concatenate([self.baseline, np.zeros((grow, *self.baseline.shape[1:]), np.int64)])
        return np.array([known[r] for r in labels.tolist()], dtype=np.int64)

    def update(self, batch: LayerBatch) -> None:
        info = batch.info
        rows, deps, heads, labels = info.arcs
        if not len(rows):
            return
        rel = self._indices(labels)
        n_rel = len(self.relations)
        if batch.layer == 0:  # the arcs and the baseline do not depend on the layer: counted once per batch
            self.support += np.bincount(rel, minlength=n_rel)
            for o, offset in enumerate(OFFSETS):
                self.baseline[:, 0, o] += np.bincount(rel, weights=heads == deps + offset,
                                                      minlength=n_rel).astype(np.int64)
                hits = _is_dependent(info, rows, heads + offset, heads, labels)
                self.baseline[:, 1, o] += np.bincount(rel, weights=hits, minlength=n_rel).astype(np.int64)
        words = batch.word_attention()  # [B, H, W, W]
        _, _, has_tokens = info.word_matrices
        words = np.where(has_tokens[:, None, None, :], words, -np.inf)
        diagonal = np.arange(words.shape[-1])
        words[..., diagonal, diagonal] = -np.inf  # a word never predicts itself
        predicted = words.argmax(-1)  # [B, H, W]
        to_head = predicted[rows, :, deps] == heads[:, None]  # [N, H]
        from_head = predicted[rows, :, heads]  # [N, H]
        to_dependent = _is_dependent(info, rows[:, None], from_head, heads[:, None], labels[:, None])
        for d, hits in enumerate((to_head, to_dependent)):
            counts = np.zeros((self.n_heads, n_rel), dtype=np.int64)
            np.add.at(counts, (slice(None), rel), hits.T.astype(np.int64))
            self.correct[batch.layer, :, :, d] += counts

    def merge(self, other: DepAccuracy) -> None:
        rel = self._indices(np.array(other.relations, dtype=object))
        self.support[rel] += other.support
        self.baseline[rel] += other.baseline
        self.correct[:, :, rel] += other.correct

    def results(self) -> dict[str, tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
        """relation -> (support, accuracy [L, H, 2], baseline accuracy [2, len(OFFSETS)], best offset index [2])
        for `all` and every relation with at least `min_support` arcs, sorted by name."""
        out = {}
        order = sorted(i for i, r in enumerate(self.relations) if self.support[i] >= self.min_support)
        total = self.support.sum()
        if total:
            out[ALL] = (int(total), self.correct.sum(2) / total, self.baseline.sum(0) / total)
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
