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
from .base import BLOCKS, LayerBatch, PassInputs, accumulation_dtype, in_inference_mode, sum_x_ln_x

ALL = STATS + NORM_STATS + MOVED_STATS
assert all(s in STATS for s in BY_NORM)


# each statistic's query tokens, by the name of its [B, Q] mask in the batch's cache (BatchInfo.on): every real token,
# or those with a previous token, with a next one, or in a sentence with a last special token
_QUERIES = {"prev": "stats_prev", "next": "stats_next", "last": "stats_last"}


def _queries(stat: str) -> str:
    base = stat.removesuffix(NORM_SUFFIX).removesuffix(MOVED_SUFFIX)
    return _QUERIES.get(base, "stats_mask")


class HeadStats:
    """The accumulator: per statistic, sums [L, H] over sentences of each sentence's mean over its query tokens (on
    the attention's device, summed in float64 where it has it) and the number of sentences [L] (counted from the
    batch's mask, on the CPU); and the same per sentence block, [L, H, BLOCKS] and [L, BLOCKS]. The sums of every
    statistic are kept in one tensor, [statistics, L, H] and [statistics, L, H, BLOCKS] in the order of ALL."""

    timing = "of which statistics"

    def __init__(self, n_layers: int, n_heads: int):
        self.shape = (n_layers, n_heads)
        self._sums = None  # [len(ALL), L, H] tensor, made on the first batch's device
        self._block_sums = None  # [len(ALL), L, H, BLOCKS] tensor, likewise
        self.counts = {s: np.zeros(n_layers, dtype=np.int64) for s in ALL}
        self.block_counts = {s: np.zeros((n_layers, BLOCKS), dtype=np.int64) for s in ALL}

    @classmethod
    def create(cls, inputs: PassInputs, options: None, device) -> HeadStats:
        return cls(inputs.n_layers, inputs.n_heads)

    def _add(self, batch: LayerBatch, found: dict[str, object]) -> None:
        """Add one layer's per-query values of the statistics `found` (stat -> [B, H, Q] tensor, Q the tokens of
        its query mask): each sentence's mean over its query tokens, to the sums and the block sums, one product per
        kind of query mask; and the sentences that have query tokens to the counts."""
        import torch

        info = batch.info
        mask = info.mask
        makes = {"stats_mask": lambda: mask, "stats_prev": lambda: mask[:, 1:],
                 "stats_next": lambda: mask[:, 1:] & mask[:, :-1],
                 "stats_last": lambda: mask & (last_special(mask, info.special) > 0)[:, None]}
        if self._sums is None:
            dtype = accumulation_dtype(batch.device)
            self._sums = torch.zeros((len(ALL), *self.shape), dtype=dtype, device=batch.device)
            self._block_sums = torch.zeros((len(ALL), *self.shape, BLOCKS), dtype=dtype, device=batch.device)
        blocks = info.on(batch.device, "stats_blocks", lambda: info.sentence_ids % BLOCKS)  # [B]
        kinds: dict[str, list[str]] = {}
        for stat in found:
            kinds.setdefault(_queries(stat), []).append(stat)
        for name, stats in kinds.items():
            make = makes[name]

            def weights(make=make):  # each sentence's valid query tokens weigh 1 / their number: its mean
                valid = make().astype(np.float32)
                return valid / np.maximum(valid.sum(1, keepdims=True), 1)

            w = info.on(batch.device, name, weights)  # [B, Q]
            values = torch.stack([found[s] for s in stats], 1)  # [B, S, H, Q]
            b, n, h, q = values.shape
            per_sentence = torch.bmm(values.reshape(b, n * h, q), w[:, :, None]).reshape(b, n, h)  # [B, S, H]
            index = info.on(batch.device, f"{name}_index:{','.join(stats)}",
                            lambda stats=stats: np.array([ALL.index(s) for s in stats], dtype=np.int64))
            per_sentence = per_sentence.to(self._sums.dtype)
            self._sums[index, batch.layer] += per_sentence.sum(0)
            by_block = torch.zeros((n, h, BLOCKS), dtype=self._sums.dtype, device=batch.device)
            by_block.index_add_(2, blocks, per_sentence.permute(1, 2, 0))
            self._block_sums[index, batch.layer] += by_block
            has = make().sum(1) > 0
            sentences = int(has.sum())
            in_blocks = np.bincount(info.sentence_ids[has] % BLOCKS, minlength=BLOCKS)
            for stat in stats:
                self.counts[stat][batch.layer] += sentences
                self.block_counts[stat][batch.layer] += in_blocks

    @property
    def sums(self) -> dict[str, np.ndarray]:
        """stat -> [L, H] float64 sums on the CPU."""
        found = None if self._sums is None else self._sums.double().cpu().numpy()
        return {s: (np.zeros(self.shape) if found is None else found[i]) for i, s in enumerate(ALL)}

    @in_inference_mode
    def update(self, batch: LayerBatch) -> None:
        """One layer of one batch, in torch on the attention's device (batched products, not element loops):
        this runs for every layer of every corpus batch. What depends only on the batch's tokens (masks,
        distances, groups of keys) is made once per batch (BatchInfo.on). The entropy's sum of p ln p is the
        vectorised log of the head distances (base.sum_x_ln_x); the shares by norm are what each group moves over
        what the row moves, so that the [B, H, T, T] weights are divided by nothing."""
        import torch

        info = batch.info
        mask = info.mask
        b, t = mask.shape
        positions = np.arange(t)
        on = lambda name, make: info.on(batch.device, name, make)  # noqa: E731
        a = batch.attention  # [B, H, T, T]
        work = torch.empty_like(a)
        entropy = sum_x_ln_x(a, work).neg_()  # [B, H, T], nats (0 ln 0 = 0)

        def uniform():
            keys = np.broadcast_to(positions + 1, mask.shape) if info.causal else mask.sum(1, keepdims=True)
            return np.broadcast_to(np.log(np.maximum(keys, 1)).astype(np.float32), (b, t))[:, None].copy()

        log_keys = on("stats_uniform", uniform)  # [B, 1, T]
        distance = on("stats_distance", lambda: np.abs(positions[:, None] - positions[None, :]).astype(np.float32))
        found = {"entropy": entropy,
                 "entropy_norm": torch.where(log_keys > 0, entropy / log_keys.clamp(min=1e-30), 0.0),
                 "distance": torch.mul(a, distance, out=work).sum(-1)}
        groups = on("stats_key_groups", lambda: key_groups(info.mask, info.special, info.punct))  # [B, T, 4]
        found |= self._shares(a, groups, "")
        if batch.value_norms is not None:  # what attention moves, alpha_ij |f(x_j)|, and its shares of the row's
            moved = torch.mul(a, batch.value_norms[:, :, None, :], out=work)
            total = moved.sum(-1)  # [B, H, T]
            cp = info.comma_period if info.comma_period is not None else np.zeros_like(mask)
            with_cp = on("stats_groups_cp", lambda: np.concatenate(
                [key_groups(info.mask, info.special, info.punct), cp[..., None].astype(np.float32)], -1))
            shares = self._shares(moved, with_cp, MOVED_SUFFIX)  # Kobayashi et al.'s figures: the norms themselves
            ends = {"prev": slice(1, None), "next": slice(None, -1)}  # the query tokens of the two diagonals
            for stat in BY_NORM:
                row = total[..., ends.get(stat, slice(None))]
                found[f"{stat}{NORM_SUFFIX}"] = torch.where(row > 0, shares[f"{stat}{MOVED_SUFFIX}"]
                                                            / row.clamp(min=1e-30), 0.0)
            found |= shares
        self._add(batch, found)

    @staticmethod
    def _shares(a, groups, suffix: str) -> dict[str, object]:
        """The shares of `a` [B, H, T, T] on the token itself, the previous and next token and the groups of keys
        (`groups` [B, T, G]: KEY_GROUPS, then comma_period where G is 5), as `<share><suffix>` -> [B, H, Q]."""
        b, h, t, _ = a.shape
        to_groups = (a.reshape(b, h * t, t) @ groups).reshape(b, h, t, -1)  # one product per sentence
        out = {f"self{suffix}": a.diagonal(dim1=-2, dim2=-1), f"prev{suffix}": a.diagonal(-1, dim1=-2, dim2=-1),
               f"next{suffix}": a.diagonal(1, dim1=-2, dim2=-1)}
        for i, group in enumerate(("first", "last", "special", "punct", "comma_period")[:to_groups.shape[-1]]):
            out[f"{group}{suffix}"] = to_groups[..., i]
        return out

    @property
    def block_sums(self) -> dict[str, np.ndarray]:
        """stat -> [L, H, BLOCKS] float64 sums per sentence block, on the CPU."""
        found = None if self._block_sums is None else self._block_sums.double().cpu().numpy()
        return {s: (np.zeros((*self.shape, BLOCKS)) if found is None else found[i]) for i, s in enumerate(ALL)}

    @in_inference_mode
    def merge(self, other: HeadStats) -> None:
        if other._sums is not None:
            if self._sums is None:
                self._sums, self._block_sums = other._sums.clone(), other._block_sums.clone()
            else:
                self._sums += other._sums.to(self._sums.device, self._sums.dtype)
                self._block_sums += other._block_sums.to(self._block_sums.device, self._block_sums.dtype)
        for stat in ALL:
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
