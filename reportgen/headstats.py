"""Per-head statistics accumulated while the corpus streams through the model.

Every statistic is a mean over all real (non-padding) query tokens of the corpus:
  entropy       the entropy of the token's attention distribution, in nats;
  entropy_norm  that entropy divided by the entropy of a uniform distribution over the same keys (ln of their
                number: every real token, or for a causal model the token and those before it); 0 when the
                attention is on one key, 1 when it is uniform; a token with a single key counts as 0;
  distance      the mean distance in tokens to the attended tokens (sum of weight x |query - key|);
  self          the weight on the token itself;
  prev          the weight on the previous token (tokens that have one);
  next          the weight on the next token (tokens that have one);
  first         the weight on the sentence's first token ([CLS] for BERT-style models);
  last          the weight on the sentence's last special token ([SEP], EOS) when it is not the first token
                (sentences that have one; a model without such a token has no `last` statistic);
  special       the weight on special tokens ([CLS], [SEP], ...);
  punct         the weight on tokens that belong to punctuation words.
"""

from __future__ import annotations

import numpy as np

from .analyses import LayerBatch

STATS = ("entropy", "entropy_norm", "distance", "self", "prev", "next", "first", "last", "special", "punct")
DESCRIPTIONS = {
    "entropy": "mean entropy of the attention distribution (nats)",
    "entropy_norm": "mean entropy divided by that of a uniform distribution over the same keys (0 one key, "
                    "1 uniform)",
    "distance": "mean attention distance (tokens)",
    "self": "mean attention to the token itself",
    "prev": "mean attention to the previous token",
    "next": "mean attention to the next token",
    "first": "mean attention to the first token",
    "last": "mean attention to the last special token ([SEP], EOS), apart from the first",
    "special": "mean attention to special tokens",
    "punct": "mean attention to punctuation",
}


class HeadStats:
    """The accumulator: per statistic, sums [L, H] over query tokens and the number of query tokens [L]."""

    def __init__(self, n_layers: int, n_heads: int):
        self.sums = {s: np.zeros((n_layers, n_heads)) for s in STATS}
        self.counts = {s: np.zeros(n_layers, dtype=np.int64) for s in STATS}

    def _add(self, layer: int, stat: str, values: np.ndarray, valid: np.ndarray) -> None:
        # values: [B, H, Q]; valid: [B, Q]
        self.sums[stat][layer] += np.einsum("bhq,bq->h", values, valid.astype(values.dtype)).astype(np.float64)
        self.counts[stat][layer] += int(valid.sum())

    def update(self, batch: LayerBatch) -> None:
        a, info, layer = batch.attention, batch.info, batch.layer
        mask, special, punct = info.mask, info.special, info.punct
        t = mask.shape[1]
        entropy = -(a * np.log(np.maximum(a, 1e-30))).sum(-1)
        positions = np.arange(t)
        keys = np.broadcast_to(positions + 1, mask.shape) if info.causal else mask.sum(1, keepdims=True)
        uniform = np.log(np.maximum(keys, 1)).astype(a.dtype)
        self._add(layer, "entropy", entropy, mask)
        self._add(layer, "entropy_norm", np.divide(entropy, uniform[:, None], out=np.zeros_like(entropy),
                                                   where=uniform[:, None] > 0), mask)
        distance = np.abs(positions[:, None] - positions[None, :]).astype(a.dtype)
        self._add(layer, "distance", (a * distance).sum(-1), mask)
        self._add(layer, "self", np.diagonal(a, axis1=-2, axis2=-1), mask)
        self._add(layer, "prev", np.diagonal(a, offset=-1, axis1=-2, axis2=-1), mask[:, 1:])
        self._add(layer, "next", np.diagonal(a, offset=1, axis1=-2, axis2=-1), mask[:, 1:] & mask[:, :-1])
        self._add(layer, "first", a[..., 0], mask)
        # the last special token of each sentence, where it is not the first token
        last = np.where(special & mask, positions, -1).max(1)
        has_last = last > 0
        to_last = np.take_along_axis(a, np.maximum(last, 0)[:, None, None, None], -1)[..., 0]  # [B, H, Q]
        self._add(layer, "last", to_last, mask & has_last[:, None])
        self._add(layer, "special", np.einsum("bhqk,bk->bhq", a, special.astype(a.dtype)), mask)
        self._add(layer, "punct", np.einsum("bhqk,bk->bhq", a, punct.astype(a.dtype)), mask)

    def merge(self, other: HeadStats) -> None:
        for stat in STATS:
            self.sums[stat] += other.sums[stat]
            self.counts[stat] += other.counts[stat]

    def means(self) -> dict[str, np.ndarray]:
        """stat -> [L, H] means, for the statistics the corpus had tokens for."""
        return {s: self.sums[s] / self.counts[s][:, None] for s in STATS if self.counts[s].all()}

    def rows(self) -> list[tuple[int, int, str, float]]:
        """(layer, head, stat, value) for every head and statistic, by layer and head, statistics in STATS order."""
        means = self.means()
        n_layers, n_heads = self.sums["entropy"].shape
        return [(layer, head, stat, float(values[layer, head])) for layer in range(n_layers)
                for head in range(n_heads) for stat, values in means.items()]

    def tables(self) -> dict[str, list[tuple]]:
        return {"head_stats": self.rows()}
