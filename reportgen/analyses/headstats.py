"""Per-head statistics accumulated while the corpus streams through the model.

Every statistic is, as Clark et al. (2019, `General_Analysis.ipynb`) average theirs, the mean over each sentence's
real (non-padding) query tokens, then the mean over the sentences (a sentence without such a token for a
statistic, such as a one-token sentence for `prev`, is left out of that statistic):
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

and, where the pass gives the norms of what each head moves from each token (|f_h(x_j)|, encode.value_norms), the
same shares of what attention moves (Kobayashi et al. 2020, "Attention is Not Only a Weight"): each row's weights
alpha_ij |f_h(x_j)| divided by their sum over the row, stored as `<stat>_by_norm` for the shares of vocab.BY_NORM
(`first_by_norm`: the share of what a token's attention moves that comes from the first token); and, as Kobayashi
et al.'s figures average them (their `re-examine.py`), the same sums over a group's keys of alpha_ij |f_h(x_j)|
without that division, in the units of the hidden state, stored as `<stat>_moved` for vocab.MOVED_GROUPS: the
shares' groups and their punctuation, the tokens of the words "," and "." (`comma_period_moved`; a sentence
without one counts 0, as theirs).

Besides the sums over every sentence, the accumulator keeps the same sums and counts per block of sentences (a
sentence's block is its id modulo BLOCKS, as the dependency accuracy's), so that a bootstrap over blocks recomputes
every mean exactly on each resample (`resampled`), and shards still merge by adding. The stored means come from
the sums over every sentence, as before: the blocks change no stored figure.
"""

from __future__ import annotations

import numpy as np

from ..patterns import key_groups, last_special
from ..vocab import BY_NORM, MOVED_STATS, MOVED_SUFFIX, NORM_STATS, NORM_SUFFIX, STATS
from .base import BLOCKS, LayerBatch, PassInputs, accumulation_dtype, in_inference_mode

ALL = STATS + NORM_STATS + MOVED_STATS
assert all(s in STATS for s in BY_NORM)


class HeadStats:
    """The accumulator: per statistic, sums [L, H] over sentences of each sentence's mean over its query tokens (on
    the attention's device, summed in float64 where it has it) and the number of sentences [L] (counted from the
    batch's mask, on the CPU); and the same per sentence block, [L, H, BLOCKS] and [L, BLOCKS]."""

    timing = "of which statistics"

    def __init__(self, n_layers: int, n_heads: int):
        self.shape = (n_layers, n_heads)
        self._sums: dict = {}  # stat -> [L, H] tensor, made on the first batch's device
        self._block_sums: dict = {}  # stat -> [L, H, BLOCKS] tensor, likewise
        self.counts = {s: np.zeros(n_layers, dtype=np.int64) for s in ALL}
        self.block_counts = {s: np.zeros((n_layers, BLOCKS), dtype=np.int64) for s in ALL}

    @classmethod
    def create(cls, inputs: PassInputs, options: None, device) -> HeadStats:
        return cls(inputs.n_layers, inputs.n_heads)

    def _add(self, batch: LayerBatch, stat: str, values, valid: str, make) -> None:
        # values: [B, H, Q] tensor; valid: the name of a [B, Q] mask of the batch, made by `make` once per batch
        import torch

        def weights():  # each sentence's valid query tokens weigh 1 / their number: the sentence's mean
            mask = make().astype(np.float32)
            n = mask.sum(1, keepdims=True)
            return mask / np.maximum(n, 1)

        info = batch.info
        w = info.on(batch.device, valid, weights)
        if stat not in self._sums:
            dtype = accumulation_dtype(batch.device)
            self._sums[stat] = torch.zeros(self.shape, dtype=dtype, device=batch.device)
            self._block_sums[stat] = torch.zeros((*self.shape, BLOCKS), dtype=dtype, device=batch.device)
        self._sums[stat][batch.layer] += torch.einsum("bhq,bq->h", values, w).to(self._sums[stat].dtype)
        blocks = info.on(batch.device, "stats_blocks", lambda: info.sentence_ids % BLOCKS)  # [B]
        per_sentence = torch.einsum("bhq,bq->hb", values, w).to(self._block_sums[stat].dtype)  # [H, B]
        self._block_sums[stat][batch.layer].index_add_(1, blocks, per_sentence)
        has = make().sum(1) > 0
        self.counts[stat][batch.layer] += int(has.sum())
        np.add.at(self.block_counts[stat][batch.layer], info.sentence_ids[has] % BLOCKS, 1)

    @property
    def sums(self) -> dict[str, np.ndarray]:
        """stat -> [L, H] float64 sums on the CPU."""
        return {s: (self._sums[s].double().cpu().numpy() if s in self._sums else np.zeros(self.shape))
                for s in ALL}

    @in_inference_mode
    def update(self, batch: LayerBatch) -> None:
        """One layer of one batch, in torch on the attention's device (batched products, not element loops):
        this runs for every layer of every corpus batch. What depends only on the batch's tokens (masks,
        distances, groups of keys) is made once per batch (BatchInfo.on)."""
        import torch

        info = batch.info
        mask = info.mask
        b, t = mask.shape
        positions = np.arange(t)
        on = lambda name, make: info.on(batch.device, name, make)  # noqa: E731
        a = batch.attention  # [B, H, T, T]
        entropy = -torch.xlogy(a, a).sum(-1)  # [B, H, T], nats (0 ln 0 = 0)

        def uniform():
            keys = np.broadcast_to(positions + 1, mask.shape) if info.causal else mask.sum(1, keepdims=True)
            return np.broadcast_to(np.log(np.maximum(keys, 1)).astype(np.float32), (b, t))[:, None].copy()

        log_keys = on("stats_uniform", uniform)  # [B, 1, T]
        self._add(batch, "entropy", entropy, "stats_mask", lambda: mask)
        self._add(batch, "entropy_norm", torch.where(log_keys > 0, entropy / log_keys.clamp(min=1e-30), 0.0),
                  "stats_mask", lambda: mask)
        distance = on("stats_distance", lambda: np.abs(positions[:, None] - positions[None, :]).astype(np.float32))
        self._add(batch, "distance", (a * distance).sum(-1), "stats_mask", lambda: mask)
        self._shares(batch, a, "")
        if batch.value_norms is not None:  # the same shares of what attention moves: alpha_ij |f(x_j)|, normalised
            moved = a * batch.value_norms[:, :, None, :]
            total = moved.sum(-1, keepdim=True)
            self._shares(batch, torch.where(total > 0, moved / total.clamp(min=1e-30), 0.0), NORM_SUFFIX)
            self._shares(batch, moved, MOVED_SUFFIX)  # Kobayashi et al.'s figures: the norms themselves
            cp = info.comma_period if info.comma_period is not None else np.zeros_like(mask)
            keys = on("stats_comma_period", lambda: cp.astype(np.float32))  # [B, T]
            self._add(batch, f"comma_period{MOVED_SUFFIX}", torch.einsum("bhqk,bk->bhq", moved, keys), "stats_mask",
                      lambda: mask)

    def _shares(self, batch: LayerBatch, a, suffix: str) -> None:
        """The shares of `a` [B, H, T, T] (rows sum to 1) on the token itself, the previous and next token and the
        groups of keys, as `<share><suffix>`."""
        import torch

        info = batch.info
        mask, special, punct = info.mask, info.special, info.punct
        on = lambda name, make: info.on(batch.device, name, make)  # noqa: E731
        self._add(batch, f"self{suffix}", torch.diagonal(a, dim1=-2, dim2=-1), "stats_mask", lambda: mask)
        self._add(batch, f"prev{suffix}", torch.diagonal(a, offset=-1, dim1=-2, dim2=-1), "stats_prev",
                  lambda: mask[:, 1:])
        self._add(batch, f"next{suffix}", torch.diagonal(a, offset=1, dim1=-2, dim2=-1), "stats_next",
                  lambda: mask[:, 1:] & mask[:, :-1])
        # attention to groups of keys (patterns.KEY_GROUPS), one matrix product: first token, last special token
        # (where it is not the first), special tokens, punctuation
        last = last_special(mask, special)
        to_groups = a @ on("stats_groups", lambda: key_groups(mask, special, punct)[:, None])  # [B, H, T, 4]
        self._add(batch, f"first{suffix}", to_groups[..., 0], "stats_mask", lambda: mask)
        self._add(batch, f"last{suffix}", to_groups[..., 1], "stats_last", lambda: mask & (last > 0)[:, None])
        self._add(batch, f"special{suffix}", to_groups[..., 2], "stats_mask", lambda: mask)
        self._add(batch, f"punct{suffix}", to_groups[..., 3], "stats_mask", lambda: mask)

    @property
    def block_sums(self) -> dict[str, np.ndarray]:
        """stat -> [L, H, BLOCKS] float64 sums per sentence block, on the CPU."""
        return {s: (self._block_sums[s].double().cpu().numpy() if s in self._block_sums
                    else np.zeros((*self.shape, BLOCKS))) for s in ALL}

    @in_inference_mode
    def merge(self, other: HeadStats) -> None:
        for stat in ALL:
            for mine, theirs in ((self._sums, other._sums), (self._block_sums, other._block_sums)):
                if stat in theirs:
                    if stat in mine:
                        mine[stat] += theirs[stat].to(mine[stat].device, mine[stat].dtype)
                    else:
                        mine[stat] = theirs[stat].clone()
            self.counts[stat] += other.counts[stat]
            self.block_counts[stat] += other.block_counts[stat]

    def blocks(self) -> np.ndarray:
        """The numbers of the blocks that hold a sentence."""
        return np.nonzero(sum(c.sum(0) for c in self.block_counts.values()))[0]

    def resampled(self, weights: np.ndarray, blocks: np.ndarray) -> dict[str, np.ndarray]:
        """stat -> [resamples, L, H] each statistic's mean on each resample of the blocks `blocks` (`weights`
        [resamples, len(blocks)]: how often each is drawn), for the statistics `means` gives; NaN where a resample
        holds no sentence for a layer's statistic."""
        sums, found = self.block_sums, self.means()
        out = {}
        with np.errstate(invalid="ignore", divide="ignore"):
            for stat in found:
                n = weights @ self.block_counts[stat][:, blocks].T  # [R, L]
                out[stat] = np.tensordot(weights, sums[stat][..., blocks], axes=([1], [2])) / n[:, :, None]
        return out

    def means(self) -> dict[str, np.ndarray]:
        """stat -> [L, H] means, for the statistics the corpus had tokens for."""
        sums = self.sums
        return {s: sums[s] / self.counts[s][:, None] for s in ALL if self.counts[s].all()}

    def rows(self) -> list[tuple[int, int, str, float]]:
        """(layer, head, stat, value) for every head and statistic, by layer and head, statistics in STATS order
        then the shares by norm (NORM_STATS) and what attention moves (MOVED_STATS)."""
        means = self.means()
        n_layers, n_heads = self.shape
        return [(layer, head, stat, float(values[layer, head])) for layer in range(n_layers)
                for head in range(n_heads) for stat, values in means.items()]

    def tables(self) -> dict[str, list[tuple]]:
        return {"head_stats": self.rows()}
