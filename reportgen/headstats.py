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

    def _add(self, layer: int, stat: str, values, valid: np.ndarray) -> None:
        # values: [B, H, Q] (a torch tensor); valid: [B, Q]
        import torch

        weights = torch.from_numpy(valid.astype(np.float32))
        self.sums[stat][layer] += torch.einsum("bhq,bq->h", values, weights).double().numpy()
        self.counts[stat][layer] += int(valid.sum())

    def update(self, batch: LayerBatch) -> None:
        """One layer of one batch, in torch (a batched matrix product per group of statistics, not numpy's
        element loops): this runs for every layer of every corpus batch."""
        import torch

        info, layer = batch.info, batch.layer
        mask, special, punct = info.mask, info.special, info.punct
        b, t = mask.shape
        positions = np.arange(t)
        with torch.inference_mode():
            a = torch.from_numpy(np.ascontiguousarray(batch.attention, dtype=np.float32))  # [B, H, T, T]
            entropy = -torch.xlogy(a, a).sum(-1)  # [B, H, T], nats (0 ln 0 = 0)
            keys = np.broadcast_to(positions + 1, mask.shape) if info.causal else mask.sum(1, keepdims=True)
            uniform = torch.from_numpy(np.log(np.maximum(keys, 1)).astype(np.float32))
            uniform = torch.broadcast_to(uniform, (b, t))[:, None]
            self._add(layer, "entropy", entropy, mask)
            self._add(layer, "entropy_norm", torch.where(uniform > 0, entropy / uniform.clamp(min=1e-30), 0.0),
                      mask)
            distance = torch.from_numpy(np.abs(positions[:, None] - positions[None, :]).astype(np.float32))
            self._add(layer, "distance", (a * distance).sum(-1), mask)
            self._add(layer, "self", torch.diagonal(a, dim1=-2, dim2=-1), mask)
            self._add(layer, "prev", torch.diagonal(a, offset=-1, dim1=-2, dim2=-1), mask[:, 1:])
            self._add(layer, "next", torch.diagonal(a, offset=1, dim1=-2, dim2=-1), mask[:, 1:] & mask[:, :-1])
            # attention to groups of keys, one matrix product: first token, last special token (where it is not
            # the first), special tokens, punctuation
            last = np.where(special & mask, positions, -1).max(1)
            has_last = last > 0
            groups = np.zeros((b, t, 4), dtype=np.float32)
            groups[:, 0, 0] = 1
            groups[np.arange(b), np.maximum(last, 0), 1] = 1
            groups[..., 2], groups[..., 3] = special, punct
            to_groups = a @ torch.from_numpy(groups)[:, None]  # [B, H, T, 4]
            self._add(layer, "first", to_groups[..., 0], mask)
            self._add(layer, "last", to_groups[..., 1], mask & has_last[:, None])
            self._add(layer, "special", to_groups[..., 2], mask)
            self._add(layer, "punct", to_groups[..., 3], mask)

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
