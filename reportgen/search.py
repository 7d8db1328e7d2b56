"""Exact streaming top-k search of corpus contexts for every probe token (exBERT's search).

Spaces, for each block l (all vectors L2-normalised, score = cosine):
  space 0          'embedding': the block's output hidden state;
  space 1 .. H     'context' of head h = space - 1: the head's softmax(QK^T/sqrt(d))V;
  space H + 1      'context' of the whole layer: the sum over heads of the per-head cosines.

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

EPS = 1e-12
TIE_SEED = 0x5EED_2019  # fixed: the tie sample is part of what makes two builds byte-identical
_NO_KEY = np.iinfo(np.uint64).max


def tie_key(position: np.ndarray) -> np.ndarray:
    """splitmix64 of (position + seed): a bijection of uint64, so distinct positions get distinct keys."""
    with np.errstate(over="ignore"):
        z = position.astype(np.uint64) + np.uint64(TIE_SEED) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def normalise(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), EPS)


@dataclass(frozen=True)
class Candidates:
    """The searchable tokens of one corpus batch, flattened: N tokens.

    embedding: [L, N, d_model]; context: [L, N, H, d_head]; max_attended: [L, H + 1, N]
    (per head, then the head mean); sentence_id, token_idx, order: [N] (order is the tie key,
    `tie_key` of the token's position in the corpus: equal scores keep the smaller key first).
    """

    embedding: np.ndarray
    context: np.ndarray
    max_attended: np.ndarray
    sentence_id: np.ndarray
    token_idx: np.ndarray
    order: np.ndarray


class TopK:
    """Running exact top-k over a stream of candidate batches."""

    def __init__(self, probe_embedding: np.ndarray, probe_context: np.ndarray, k: int,
                 max_per_sentence: int | None = None):
        # probe_embedding: [L, P, d_model]; probe_context: [L, P, H, d_head]
        self.k = k
        self.max_per_sentence = max_per_sentence
        self.emb = normalise(probe_embedding.astype(np.float32))
        ctx = normalise(probe_context.astype(np.float32))
        self.ctx_by_head = np.ascontiguousarray(ctx.transpose(0, 2, 1, 3))  # [L, H, P, d_head]
        n_layers, n_probe, n_heads, _ = ctx.shape
        self.n_spaces = n_heads + 2
        shape = (n_layers, self.n_spaces, n_probe, k)
        self.score = np.full(shape, -np.inf, dtype=np.float32)
        self.sentence_id = np.full(shape, -1, dtype=np.int64)
        self.token_idx = np.full(shape, -1, dtype=np.int64)
        self.max_attended = np.full(shape, -1, dtype=np.int64)
        self.order = np.full(shape, _NO_KEY, dtype=np.uint64)
        # candidates seen whose score equals the row's current k-th score (kept or not): the k-th score never
        # falls, and a candidate seen earlier with a score equal to a new k-th score is necessarily still kept
        self.tied_seen = np.zeros(shape[:3], dtype=np.int64)

    def scores(self, layer: int, cand: Candidates) -> np.ndarray:
        """[spaces, P, N] cosine scores of one layer's candidates."""
        emb = normalise(cand.embedding[layer].astype(np.float32))  # [N, D]
        ctx = normalise(cand.context[layer].astype(np.float32))  # [N, H, d]
        # [H, P, d] @ [H, d, N] -> [H, P, N]; contiguous operands let numpy hand each head to BLAS
        heads = np.matmul(self.ctx_by_head[layer], np.ascontiguousarray(ctx.transpose(1, 2, 0)))
        whole = heads.sum(axis=0, keepdims=True)
        return np.concatenate([(self.emb[layer] @ emb.T)[None], heads, whole], axis=0)

    def update(self, cand: Candidates) -> None:
        """Merge one batch of candidates into the running top-k of every layer, space and probe token."""
        if len(cand.sentence_id) == 0:
            return
        heads = cand.max_attended.shape[1] - 1
        # max-attended token per space: spaces 0 and H + 1 use the head mean (row H), head spaces their own head
        space_rows = np.array([heads, *range(heads), heads])
        k = self.k
        n_rows = self.n_spaces * self.score.shape[2]
        for layer in range(self.score.shape[0]):
            new = self.scores(layer, cand).reshape(n_rows, -1)  # [(space, probe) rows, N]
            # views of this layer's state, one row per (space, probe)
            score, order_, sid, tok, matt = (a[layer].reshape(n_rows, k) for a in (
                self.score, self.order, self.sentence_id, self.token_idx, self.max_attended))
            # the candidates that reach a row's current k-th score (an equal score may win on its tie key);
            # only their rows need work
            hit_row, col = np.nonzero(new >= score[:, -1:])
            if self.max_per_sentence is not None and len(hit_row):
                hit_row, col = self._cap(hit_row, col, new, cand)
            if len(hit_row) == 0:
                continue
            rows, row = np.unique(hit_row, return_inverse=True)
            old_kth = score[rows, -1].copy()
            old_kept = score[rows]  # a copy (fancy indexing), compared with the new k-th score below
            # compact each row's entering candidates to the left of a [R, width] block
            counts = np.bincount(row, minlength=len(rows))
            slot = np.arange(len(row)) - (np.cumsum(counts) - counts)[row]
            width = int(counts.max())
            fresh = np.full((len(rows), width), -np.inf, dtype=np.float32)
            fresh_col = np.zeros((len(rows), width), dtype=np.int64)
            fresh_order = np.full((len(rows), width), _NO_KEY, dtype=np.uint64)
            fresh[row, slot] = new[hit_row, col]
            fresh_col[row, slot] = col
            fresh_order[row, slot] = cand.order[col]
            merged = np.concatenate([score[rows], fresh], axis=-1)  # [R, k + width]
            order = np.concatenate([order_[rows], fresh_order], axis=-1)
            part = np.broadcast_to(np.arange(k + width), merged.shape)
            if width > k:  # cheap selection of k first, then sort only those
                part = np.argpartition(-merged, k - 1, axis=-1)[:, :k]
                kth = np.take_along_axis(merged, part, -1).min(axis=-1, keepdims=True)
                tied = (merged >= kth).sum(axis=-1) > k
                if tied.any():  # equal scores across the cut: sort those rows whole, so corpus order decides
                    part[tied] = np.lexsort((order[tied], -merged[tied]), axis=-1)[:, :k]
                merged, order = np.take_along_axis(merged, part, -1), np.take_along_axis(order, part, -1)
            rank = np.lexsort((order, -merged), axis=-1)[:, :k]  # best first; equal scores in corpus order
            pick = np.take_along_axis(part, rank, -1)  # positions in [old k | fresh width]
            old = pick < k
            old_pos = np.where(old, pick, 0)
            new_col = np.take_along_axis(fresh_col, np.where(old, 0, pick - k), -1)
            space = rows // self.score.shape[2]
            att = cand.max_attended[layer][space_rows[space]]  # [R, N]
            sid[rows] = np.where(old, np.take_along_axis(sid[rows], old_pos, -1), cand.sentence_id[new_col])
            tok[rows] = np.where(old, np.take_along_axis(tok[rows], old_pos, -1), cand.token_idx[new_col])
            matt[rows] = np.where(old, np.take_along_axis(matt[rows], old_pos, -1), np.take_along_axis(att, new_col, -1))
            score[rows] = np.take_along_axis(merged, rank, -1)
            order_[rows] = np.take_along_axis(order, rank, -1)
            # ties at the cut: every candidate equal to the new k-th score is among this batch's entrants or the
            # old kept ones (see tied_seen)
            cut = score[rows, -1]
            in_batch = ((fresh == cut[:, None]) & np.isfinite(fresh)).sum(-1)
            seen = self.tied_seen[layer].reshape(n_rows)
            seen[rows] = np.where(cut > old_kth, (old_kept == cut[:, None]).sum(-1) + in_batch, seen[rows] + in_batch)

    def _cap(self, hit_row: np.ndarray, col: np.ndarray, new: np.ndarray,
             cand: Candidates) -> tuple[np.ndarray, np.ndarray]:
        """Keep, per row and corpus sentence, only the best `max_per_sentence` entrants (score, then tie key)."""
        sentence = cand.sentence_id[col]
        by = np.lexsort((cand.order[col], -new[hit_row, col], sentence, hit_row))
        hit_row, col, sentence = hit_row[by], col[by], sentence[by]
        first = np.ones(len(by), dtype=bool)
        first[1:] = (hit_row[1:] != hit_row[:-1]) | (sentence[1:] != sentence[:-1])
        start = np.maximum.accumulate(np.where(first, np.arange(len(by)), 0))
        keep = np.arange(len(by)) - start < self.max_per_sentence
        return hit_row[keep], col[keep]

    def ties(self) -> dict[str, np.ndarray]:
        """Rows whose k-th score is shared with candidates that were not kept: layer, space, probe, the score,
        tied_kept (kept matches with that score) and tied_dropped (seen but not kept)."""
        kth = self.score[..., -1]
        kept = (self.score == kth[..., None]).sum(-1)
        dropped = np.where(np.isfinite(kth), self.tied_seen - kept, 0)
        layer, space, probe = np.nonzero(dropped > 0)
        at = (layer, space, probe)
        return {"layer": layer, "space": space, "probe": probe, "score": kth[at].astype(np.float64),
                "tied_kept": kept[at], "tied_dropped": dropped[at]}

    def columns(self) -> dict[str, np.ndarray]:
        """Every kept match as columns (best first within a space); fewer than k where the corpus is small."""
        layer, space, probe, rank = np.nonzero(np.isfinite(self.score))
        at = (layer, space, probe, rank)
        return {
            "layer": layer, "space": space, "probe": probe, "rank": rank,
            "sentence_id": self.sentence_id[at], "token_idx": self.token_idx[at],
            "score": self.score[at].astype(np.float64), "max_attended": self.max_attended[at],
        }
