"""Exact streaming top-k search of corpus contexts for every probe token (exBERT's search).

Spaces, for each block l (all vectors L2-normalised, score = cosine):
  space 0          'embedding': the block's output hidden state;
  space 1 .. H     'context' of head h = space - 1: the head's softmax(QK^T/sqrt(d))V;
  space H + 1      'context' of the whole layer: as exBERT's search with every head selected, the sum over heads
                   of the per-head cosines, each weighted by the norm of the probe's raw context of that head
                   (sum_h |q_h| cos(q_h, c_h): exBERT's query is the raw context, its corpus contexts are
                   normalised per head).

The probe vectors are known first; the corpus is then streamed once and a running top-k is kept
per (layer, space, probe token). Memory is O(layers x spaces x probe tokens x k), whatever the
corpus size. Each kept match also carries the token it attends to most: in that head for a head
space, and in the mean over the layer's heads for the embedding and whole-layer spaces.

Equal scores are ordered by a tie key, a seeded hash of the corpus position (`tie_key`), not by the
position itself: where many contexts tie (identical vectors), the kept ones are a deterministic
pseudo-random sample of them rather than the first ones of the corpus, whatever the batching. For every
row the search also counts the ties at the cut: how many kept matches share the k-th score and how many
seen candidates with that score were not kept (`ties`). With `max_per_sentence`, at most that many
matches of a row come from one corpus sentence; a sentence is never split across batches, so keeping each
batch's best per sentence before the merge stays exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..options import option
from .base import LayerBatch, PassInputs, in_inference_mode

EPS = 1e-12
TIE_SEED = 0x5EED_2019  # fixed: the tie sample is part of what makes two builds byte-identical
_NO_KEY = np.iinfo(np.uint64).max


@dataclass(frozen=True)
class SearchOptions:
    top_k: int = option(50, "Matches kept per probe token and search space (default: 50).", minimum=1)
    max_matches_per_sentence: int | None = option(
        None, "At most N matches per corpus sentence for each probe token and space (default: no limit).", minimum=1)
    shown_matches: int = option(10, "Matches a page lists before 'show all' (default: 10).", minimum=1)


def tie_key(position: np.ndarray) -> np.ndarray:
    """splitmix64 of (position + seed): a bijection of uint64, so distinct positions get distinct keys."""
    with np.errstate(over="ignore"):
        z = position.astype(np.uint64) + np.uint64(TIE_SEED) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def signed_key(key: np.ndarray) -> np.ndarray:
    """uint64 tie keys as int64 in the same order (the top bit flipped): torch sorts int64, not uint64."""
    return (np.asarray(key, dtype=np.uint64) ^ np.uint64(1 << 63)).view(np.int64)


def normalise(x):
    """Rows of a float32 tensor scaled to unit length (an all-zero row stays zero)."""
    return x / x.norm(dim=-1, keepdim=True).clamp_min(EPS)


QUANTUM_BITS = 3  # the last bits of a float32 score's mantissa that are rounded away before scores are compared


def quantise(scores):
    """float32 scores rounded to 20 bits of mantissa (float32 keeps 23): two scores that differ by fewer than 8
    float32 steps are equal here. Such differences are the arithmetic's noise (another batch size, thread count or
    CPU changes them), not an order of the matches: equal scores are ordered by the tie key and counted as ties at
    the cut. The rounding is of the magnitude, half up, so it is the same for a score and its negative."""
    return quantise_(scores.float().clone())


def quantise_(scores):
    """`quantise` in place, on a float32 tensor the caller no longer needs unrounded: the same bits without two
    copies of a batch's scores (2,520 x 1,000 scores: 1.1 ms against 2.8 ms on one thread)."""
    import torch

    bits = scores.view(torch.int32)
    half, low = 1 << (QUANTUM_BITS - 1), (1 << QUANTUM_BITS) - 1
    return bits.add_(half).bitwise_and_(~low).view(torch.float32)


def _best(scores, keys, k: int):
    """[R, k] positions of each row's k best by (score descending, tie key ascending), best first: everything
    above the k-th score, then the tied ones with the smallest keys."""
    import torch

    cut = torch.topk(scores, k, dim=1).values[:, -1:]
    take = scores > cut
    need = k - take.sum(1, keepdim=True)
    tied = scores == cut
    n_tied = tied.sum(1, keepdim=True)
    take |= tied & (n_tied == need)  # rows whose tied candidates all fit
    split = (n_tied > need).nonzero()[:, 0]
    if len(split):  # the others: the tied ones with the smallest keys (rarely more than a few rows)
        t = tied[split]
        by_key = torch.argsort(keys[split], dim=1, stable=True)
        by_key = by_key.gather(1, torch.argsort((~t.gather(1, by_key)).to(torch.int8), dim=1, stable=True))
        rank = torch.empty_like(by_key)  # tied first, by key
        rank.scatter_(1, by_key, torch.arange(by_key.shape[1], device=scores.device).expand_as(by_key).contiguous())
        take[split] |= t & (rank < need[split])
    pick = take.nonzero()[:, 1].reshape(len(scores), k)  # exactly k per row, in position order
    pick = pick.gather(1, torch.argsort(keys.gather(1, pick), dim=1, stable=True))
    return pick.gather(1, torch.argsort(scores.gather(1, pick), dim=1, descending=True, stable=True))


@dataclass(frozen=True)
class Candidates:
    """The searchable tokens of one corpus batch, flattened: N tokens (numpy arrays or tensors).

    embedding: [L, N, d_model]; context: [L, N, H, d_head]; max_attended: [L, H + 1, N]
    (per head, then the head mean); sentence_id, token_idx, order: [N] (order is the tie key,
    `tie_key` of the token's position in the corpus: equal scores keep the smaller key first).
    """

    embedding: object
    context: object
    max_attended: object
    sentence_id: object
    token_idx: object
    order: object


_NO_KEY_SIGNED = int(signed_key(np.array([_NO_KEY]))[0])


class KeptMatches:
    """Reading a TopK's result back to the CPU, once, at the end: the kept matches and the ties at the cut, as
    columns and as the database's tables."""

    def ties(self) -> dict[str, np.ndarray]:
        """Rows whose k-th score is shared with candidates that were not kept: layer, space, probe, the score,
        tied_kept (kept matches with that score), tied_dropped (seen but not kept) and open_ended: whether more
        corpus contexts may share that score than were counted. With `max_per_sentence`, a sentence's candidates
        past its cap are discarded before the ties are counted (`_cap`), so the count is only a lower bound."""
        score, seen = self.score.cpu().numpy(), self.tied_seen.cpu().numpy()
        kth = score[..., -1]
        kept = (score == kth[..., None]).sum(-1)
        dropped = np.where(np.isfinite(kth), seen - kept, 0)
        layer, space, probe = np.nonzero(dropped > 0)
        at = (layer, space, probe)
        return {"layer": layer, "space": space, "probe": probe, "score": kth[at].astype(np.float64),
                "tied_kept": kept[at], "tied_dropped": dropped[at],
                "open_ended": np.full(len(layer), getattr(self, "max_per_sentence", None) is not None)}

    def columns(self) -> dict[str, np.ndarray]:
        """Every kept match as columns (best first within a space); fewer than k where the corpus is small."""
        score = self.score.cpu().numpy()
        layer, space, probe, rank = np.nonzero(np.isfinite(score))
        at = (layer, space, probe, rank)
        return {
            "layer": layer, "space": space, "probe": probe, "rank": rank,
            "sentence_id": self.sentence_id.cpu().numpy()[at], "token_idx": self.token_idx.cpu().numpy()[at],
            "score": score[at].astype(np.float64), "max_attended": self.max_attended.cpu().numpy()[at],
        }

    def tables(self) -> dict[str, dict]:
        """The kept matches (`neighbours`) and the ties at the cut (`cut_ties`), in key order."""
        keys = np.asarray(self.probe_keys, dtype=np.int64).reshape(-1, 2)
        cols = self.columns()
        names, head, head_key = _space_columns(cols["space"], self.n_heads)
        order = np.lexsort((cols["rank"], head_key, cols["layer"], names, keys[cols["probe"], 1],
                            keys[cols["probe"], 0]))
        neighbours = {
            "sentence_id": keys[cols["probe"], 0][order], "token_idx": keys[cols["probe"], 1][order],
            "space": names[order].tolist(), "layer": cols["layer"][order], "head": [head[i] for i in order],
            "rank": cols["rank"][order], "match_sentence_id": cols["sentence_id"][order],
            "match_token_idx": cols["token_idx"][order], "score": cols["score"][order],
            "match_max_attended_token_idx": cols["max_attended"][order]}
        ties = self.ties()
        names, head, head_key = _space_columns(ties["space"], self.n_heads)
        order = np.lexsort((head_key, ties["layer"], names, keys[ties["probe"], 1], keys[ties["probe"], 0]))
        cut_ties = {
            "sentence_id": keys[ties["probe"], 0][order], "token_idx": keys[ties["probe"], 1][order],
            "space": names[order].tolist(), "layer": ties["layer"][order], "head": [head[i] for i in order],
            "score": ties["score"][order], "tied_kept": ties["tied_kept"][order],
            "tied_dropped": ties["tied_dropped"][order], "open_ended": ties["open_ended"][order].tolist()}
        return {"neighbours": neighbours, "cut_ties": cut_ties}


class TopK(KeptMatches):
    """Running exact top-k over a stream of candidate batches, kept as tensors on one device (the model's).

    The build feeds it one layer at a time while the model runs (`update_layer`): the head and whole-layer spaces
    from the attention's output as each layer is computed, the embedding space from the block outputs after the
    forward pass. Only `columns` and `ties` bring the result back to the CPU."""

    timing = ""  # the search is the rest of the corpus pass

    def __init__(self, probe_embedding, probe_context, k: int, max_per_sentence: int | None = None,
                 device=None, probe_keys=None):
        import torch

        # probe_embedding: [L, P, d_model]; probe_context: [L, P, H, d_head]
        self.device = torch.device(device or "cpu")
        self.probe_keys = probe_keys  # (sentence_id, token_idx) of each probe token, for `tables`
        self.k = k
        self.max_per_sentence = max_per_sentence
        as_t = lambda x: torch.as_tensor(x, device=self.device).float()  # noqa: E731
        self.emb = normalise(as_t(probe_embedding))  # [L, P, D]
        raw = as_t(probe_context)
        ctx = normalise(raw)
        self.ctx_by_head = ctx.permute(0, 2, 1, 3).contiguous()  # [L, H, P, d_head]
        self.ctx_norm = raw.norm(dim=-1).permute(0, 2, 1)[..., None].contiguous()  # [L, H, P, 1]: |q_h|
        n_layers, n_probe, n_heads, _ = ctx.shape
        self.n_heads = n_heads
        self.n_spaces = n_heads + 2
        shape = (n_layers, self.n_spaces, n_probe, k)
        full = lambda value, dtype: torch.full(shape, value, dtype=dtype, device=self.device)  # noqa: E731
        self.score = full(-torch.inf, torch.float32)
        self.sentence_id = full(-1, torch.int64)
        self.token_idx = full(-1, torch.int64)
        self.max_attended = full(-1, torch.int64)
        self.order = full(_NO_KEY_SIGNED, torch.int64)
        # candidates seen whose score equals the row's current k-th score (kept or not): the k-th score never
        # falls, and a candidate seen earlier with a score equal to a new k-th score is necessarily still kept
        self.tied_seen = torch.zeros(shape[:3], dtype=torch.int64, device=self.device)

    @classmethod
    def create(cls, inputs: PassInputs, options: SearchOptions, device) -> TopK:
        return cls(inputs.probe_embedding, inputs.probe_context, options.top_k, options.max_matches_per_sentence,
                   device=device, probe_keys=inputs.probe_keys)

    def update(self, batch: LayerBatch) -> None:
        """One layer of one corpus batch: its head and whole-layer spaces from the heads' contexts, its embedding
        space from the layer's output, for every searchable token (on the batch's device; nothing comes back)."""
        rows, cols = batch.searchable()
        info = batch.info
        sentence_id = info.on(batch.device, "sentence_id", lambda: info.sentence_ids[info.searchable[0]])
        # the tie keys: a seeded hash of the corpus position, whatever the batches
        order = info.on(batch.device, "order", lambda: signed_key(tie_key(
            (info.sentence_ids[info.searchable[0]] << 20) | info.searchable[1])))
        self.update_layer(batch.layer, sentence_id, cols, order, batch.max_attended,
                          context=batch.context[rows, cols], embedding=batch.hidden[rows, cols])

    def add(self, cand: Candidates) -> None:
        """Merge one batch of candidates (every layer) into the running top-k of every layer, space and probe
        token."""
        import torch

        if len(cand.sentence_id) == 0:
            return
        as_t = lambda x: torch.as_tensor(x, device=self.device)  # noqa: E731
        sid, tok = as_t(cand.sentence_id), as_t(cand.token_idx)
        order = as_t(signed_key(cand.order)) if not torch.is_tensor(cand.order) else cand.order.to(self.device)
        max_att = as_t(cand.max_attended)
        for layer in range(self.score.shape[0]):
            self.update_layer(layer, sid, tok, order, max_att[layer], embedding=as_t(cand.embedding[layer]),
                              context=as_t(cand.context[layer]))

    @in_inference_mode
    def update_layer(self, layer: int, sentence_id, token_idx, order, max_attended, *, embedding=None,
                     context=None) -> None:
        """One layer of one batch of N candidates (tensors on this device): the embedding space from embedding
        [N, d_model], the head and whole-layer spaces from context [N, H, d_head] (either or both); order [N] the
        signed tie keys (`signed_key`), max_attended [H + 1, N]."""
        import torch

        if len(sentence_id) == 0:
            return
        if context is not None:
            ctx = normalise(context.float()).permute(1, 2, 0)  # [H, d, N]
            n_heads, n_probe = self.ctx_by_head.shape[1:3]
            # the heads' scores and the whole layer's in one block, written in place (no copy of the heads' rows)
            scores = ctx.new_empty((n_heads + 1, n_probe, ctx.shape[-1]))
            heads = torch.bmm(self.ctx_by_head[layer], ctx, out=scores[:n_heads])  # [H, P, d] @ [H, d, N]
            torch.sum(heads * self.ctx_norm[layer], 0, keepdim=True, out=scores[n_heads:])
            self._merge(layer, 1, scores, sentence_id, token_idx, order,
                        max_attended)  # head h uses its own row, the whole layer the mean (row H)
        if embedding is not None:
            scores = (self.emb[layer] @ normalise(embedding.float()).T)[None]  # [1, P, N]
            self._merge(layer, 0, scores, sentence_id, token_idx, order, max_attended[-1:])

    def _merge(self, layer: int, first: int, new, sentence_id, token_idx, order, max_attended) -> None:
        """Merge scores new [S, P, N] of spaces first .. first + S - 1 into the running top-k. max_attended
        [S', N]: row s for space first + s, the last row for spaces past S' (the whole layer)."""
        import torch

        k = self.k
        n_space, n_probe, n = new.shape
        n_rows = n_space * n_probe
        spaces = slice(first, first + n_space)
        score, kept_order, sid, tok, matt = (a[layer, spaces].reshape(n_rows, k) for a in (
            self.score, self.order, self.sentence_id, self.token_idx, self.max_attended))
        seen = self.tied_seen[layer, spaces].reshape(n_rows)
        new = quantise_(new.reshape(n_rows, n))  # the scores were made for this merge alone
        if self.max_per_sentence is not None:
            new = self._cap(new, sentence_id, order)
        # only the candidates that reach their row's k-th score (an equal score may win on its tie key) need work:
        # each row's entrants compacted to the left of a [R, width] block (width: the most entrants of a row)
        hit_row, col = (new >= score[:, -1:]).nonzero(as_tuple=True)
        if hit_row.numel() == 0:
            return
        rows, row_of, counts = torch.unique_consecutive(hit_row, return_inverse=True, return_counts=True)
        width = int(counts.max())  # a shape: the one number the merge needs on the host
        slot = torch.arange(len(hit_row), device=self.device) - (counts.cumsum(0) - counts)[row_of]
        fresh = new.new_full((len(rows), width), -torch.inf)
        fresh[row_of, slot] = new[hit_row, col]
        fresh_col = torch.zeros((len(rows), width), dtype=torch.int64, device=self.device)
        fresh_col[row_of, slot] = col
        fresh_key = torch.full((len(rows), width), _NO_KEY_SIGNED, dtype=torch.int64, device=self.device)
        fresh_key[row_of, slot] = order[col]
        old_kept = score[rows]  # [R, k]
        merged = torch.cat([old_kept, fresh], 1)  # [R, k + width]
        keys = torch.cat([kept_order[rows], fresh_key], 1)
        pick = _best(merged, keys, k)
        old = pick < k
        old_pos = torch.where(old, pick, 0)
        new_col = fresh_col.gather(1, torch.where(old, 0, pick - k))  # the candidate each new entrant is
        space = torch.clamp(rows // n_probe, max=len(max_attended) - 1)
        sid[rows] = torch.where(old, sid[rows].gather(1, old_pos), sentence_id[new_col])
        tok[rows] = torch.where(old, tok[rows].gather(1, old_pos), token_idx[new_col])
        matt[rows] = torch.where(old, matt[rows].gather(1, old_pos), max_attended[space[:, None], new_col])
        score[rows] = merged.gather(1, pick)
        kept_order[rows] = keys.gather(1, pick)
        # ties at the cut: every candidate equal to the new k-th score is among this batch's entrants or the old
        # kept ones (see tied_seen)
        kth = score[rows, -1:]
        in_batch = ((fresh == kth) & torch.isfinite(fresh)).sum(1)
        seen[rows] = torch.where(kth[:, 0] > old_kept[:, -1], (old_kept == kth).sum(1) + in_batch,
                                 seen[rows] + in_batch)

    @in_inference_mode
    def merge(self, other: TopK) -> None:
        """Add another search state over other corpus sentences (a shard; no sentence in both), exactly: the k best
        of the union of the two kept lists, and the ties at the new cut. A state's candidates equal to the merged
        cut are all kept by it when its own cut is lower, or counted in its tied_seen when its cut is the same."""
        import torch

        shape = self.score.shape
        n_rows, k = shape[0] * shape[1] * shape[2], self.k
        theirs = [a.to(self.device).reshape(n_rows, k) for a in (other.score, other.order, other.sentence_id,
                                                                  other.token_idx, other.max_attended)]
        mine = [a.reshape(n_rows, k) for a in (self.score, self.order, self.sentence_id, self.token_idx,
                                               self.max_attended)]
        both = [torch.cat([a, b], 1) for a, b in zip(mine, theirs)]
        pick = _best(both[0], both[1], k)
        cut = both[0].gather(1, pick)[:, -1:]

        def ties_of(score, seen):  # each side's candidates with the merged cut's score
            return torch.where(score[:, -1] == cut[:, 0], seen, (score == cut).sum(1))

        seen = (ties_of(mine[0], self.tied_seen.reshape(n_rows))
                + ties_of(theirs[0], other.tied_seen.to(self.device).reshape(n_rows)))
        for target, values in zip(mine, both):
            target.copy_(values.gather(1, pick))
        self.tied_seen.copy_(torch.where(torch.isfinite(cut[:, 0]), seen, 0).reshape(self.tied_seen.shape))

    def _cap(self, new, sentence_id, order):
        """Scores new [R, N] with all but the best `max_per_sentence` candidates of each corpus sentence (score,
        then tie key) per row set to -inf: they can neither enter nor count as ties."""
        import torch

        by_key = torch.argsort(order, stable=True)  # [N]
        pos = by_key.expand(new.shape[0], -1).gather(
            1, torch.argsort(new[:, by_key], dim=1, descending=True, stable=True))  # by score, then key
        pos = pos.gather(1, torch.argsort(sentence_id[pos], dim=1, stable=True))  # grouped by sentence
        sentence = sentence_id[pos]
        start = torch.ones_like(sentence, dtype=torch.bool)
        start[:, 1:] = sentence[:, 1:] != sentence[:, :-1]
        index = torch.arange(pos.shape[1], device=new.device).expand_as(pos)
        first = torch.cummax(torch.where(start, index, 0), dim=1).values
        dropped = torch.zeros_like(start).scatter_(1, pos, index - first >= self.max_per_sentence)
        return new.masked_fill(dropped, -torch.inf)


def _space_columns(space: np.ndarray, n_heads: int) -> tuple[np.ndarray, list[int | None], np.ndarray]:
    """TopK's space numbers -> the database's space names, heads (None: embedding or whole layer), sort key."""
    names = np.where(space == 0, "embedding", "context")
    head = [None if s in (0, n_heads + 1) else int(s) - 1 for s in space]
    return names, head, np.where((space == 0) | (space == n_heads + 1), -1, space)
