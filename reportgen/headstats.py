"""Per-head statistics accumulated while the corpus streams through the model.

Every statistic is a mean over all real (non-padding) query tokens of the corpus:
  entropy   the entropy of the token's attention distribution, in nats;
  self      the weight on the token itself;
  prev      the weight on the previous token (tokens that have one);
  next      the weight on the next token (tokens that have one);
  first     the weight on the sentence's first token ([CLS] for BERT-style models);
  special   the weight on special tokens ([CLS], [SEP], ...);
  punct     the weight on tokens that belong to punctuation words.
"""

from __future__ import annotations

import numpy as np

STATS = ("entropy", "self", "prev", "next", "first", "special", "punct")
DESCRIPTIONS = {
    "entropy": "mean entropy of the attention distribution (nats)",
    "self": "mean attention to the token itself",
    "prev": "mean attention to the previous token",
    "next": "mean attention to the next token",
    "first": "mean attention to the first token",
    "special": "mean attention to special tokens",
    "punct": "mean attention to punctuation",
}


class HeadStats:
    def __init__(self, n_layers: int, n_heads: int):
        self.sums = {s: np.zeros((n_layers, n_heads)) for s in STATS}
        self.counts = dict.fromkeys(STATS, 0)

    def _add(self, stat: str, values: np.ndarray, valid: np.ndarray) -> None:
        # values: [L, B, H, Q]; valid: [B, Q]
        self.sums[stat] += np.einsum("lbhq,bq->lh", values, valid.astype(values.dtype)).astype(np.float64)
        self.counts[stat] += int(valid.sum())

    def update(self, attention: np.ndarray, mask: np.ndarray, punct: np.ndarray, special: np.ndarray) -> None:
        """attention [L, B, H, T, T]; mask, punct, special: [B, T] booleans (punct/special on key tokens)."""
        a = attention
        self._add("entropy", -(a * np.log(np.maximum(a, 1e-30))).sum(-1), mask)
        self._add("self", np.diagonal(a, axis1=-2, axis2=-1), mask)
        self._add("prev", np.diagonal(a, offset=-1, axis1=-2, axis2=-1), mask[:, 1:])
        self._add("next", np.diagonal(a, offset=1, axis1=-2, axis2=-1), mask[:, 1:] & mask[:, :-1])
        self._add("first", a[..., 0], mask)
        self._add("special", np.einsum("lbhqk,bk->lbhq", a, special.astype(a.dtype)), mask)
        self._add("punct", np.einsum("lbhqk,bk->lbhq", a, punct.astype(a.dtype)), mask)

    def rows(self) -> list[tuple[int, int, str, float]]:
        """(layer, head, stat, value) for every head and statistic, by layer and head, statistics in STATS order."""
        out = []
        n_layers, n_heads = self.sums["entropy"].shape
        for layer in range(n_layers):
            for head in range(n_heads):
                for stat in STATS:
                    if self.counts[stat]:
                        out.append((layer, head, stat, float(self.sums[stat][layer, head] / self.counts[stat])))
        return out
