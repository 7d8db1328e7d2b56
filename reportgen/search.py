"""Exact streaming top-k search of corpus contexts for every probe token (exBERT's search).

Spaces, for each block l (all vectors L2-normalised, score = cosine):
  space 0          'embedding': the block's output hidden state;
  space 1 .. H     'context' of head h = space - 1: the head's softmax(QK^T/sqrt(d))V;
  space H + 1      'context' of the whole layer: the sum over heads of the per-head cosines.

The probe vectors are known first; the corpus is then streamed once and a running top-k is kept
per (layer, space, probe token). Memory is O(layers x spaces x probe tokens x k), whatever the
corpus size. Each kept match also carries the token it attends to most: in that head for a head
space, and in the mean over the layer's heads for the embedding and whole-layer spaces.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EPS = 1e-12


def normalise(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), EPS)


@dataclass(frozen=True)
class Candidates:
    """The searchable tokens of one corpus batch, flattened: N tokens.

    embedding: [L, N, d_model]; context: [L, N, H, d_head]; max_attended: [L, H + 1, N]
    (per head, then the head mean); sentence_id, token_idx, order: [N] (order is the global
    position in the corpus stream, used to break score ties in favour of earlier tokens).
    """

    embedding: np.ndarray
    context: np.ndarray
    max_attended: np.ndarray
    sentence_id: np.ndarray
    token_idx: np.ndarray
    order: np.ndarray


class TopK:
    """Running exact top-k over a stream of candidate batches."""

    def __init__(self, probe_embedding: np.ndarray, probe_context: np.ndarray, k: int):
        # probe_embedding: [L, P, d_model]; probe_context: [L, P, H, d_head]
        self.k = k
        self.emb = normalise(probe_embedding.astype(np.float32))
        self.ctx = normalise(probe_context.astype(np.float32))
        n_layers, n_probe, n_heads, _ = self.ctx.shape
        self.n_spaces = n_heads + 2
        shape = (n_layers, self.n_spaces, n_probe, k)
        self.score = np.full(shape, -np.inf, dtype=np.float32)
        self.sentence_id = np.full(shape, -1, dtype=np.int64)
        self.token_idx = np.full(shape, -1, dtype=np.int64)
        self.max_attended = np.full(shape, -1, dtype=np.int64)
        self.order = np.full(shape, np.iinfo(np.int64).max, dtype=np.int64)

    def scores(self, layer: int, cand: Candidates) -> np.ndarray:
        """[spaces, P, N] cosine scores of one layer's candidates."""
        emb = normalise(cand.embedding[layer].astype(np.float32))  # [N, D]
        ctx = normalise(cand.context[layer].astype(np.float32))  # [N, H, d]
        heads = np.einsum("phd,nhd->hpn", self.ctx[layer], ctx, optimize=True)  # [H, P, N]
        whole = heads.sum(axis=0, keepdims=True)
        return np.concatenate([(self.emb[layer] @ emb.T)[None], heads, whole], axis=0)

    def update(self, cand: Candidates) -> None:
        if len(cand.sentence_id) == 0:
            return
        heads = cand.max_attended.shape[1] - 1
        # max-attended token per space: space 0 and H + 1 use the head mean (row H), head spaces their head
        space_rows = np.array([heads] + list(range(heads)) + [heads])
        for layer in range(self.score.shape[0]):
            new = self.scores(layer, cand)  # [S, P, N]
            best = self.score[layer]  # [S, P, k]
            # only (space, probe) rows where some candidate beats the current k-th score need work
            rows = np.nonzero((new > best[..., -1:]).any(axis=-1))
            if len(rows[0]) == 0:
                continue
            s_idx, p_idx = rows
            merged = np.concatenate([best[s_idx, p_idx], new[s_idx, p_idx]], axis=-1)  # [R, k + N]
            n = new.shape[-1]
            cand_order = np.broadcast_to(cand.order, (len(s_idx), n))
            merged_order = np.concatenate([self.order[layer][s_idx, p_idx], cand_order], axis=-1)
            # exact: sort by score descending, then by corpus position (earlier first) on ties
            pick = np.lexsort((merged_order, -merged), axis=-1)[:, : self.k]
            from_old = pick < self.k
            new_pos = np.where(from_old, 0, pick - self.k)
            old_pos = np.where(from_old, pick, 0)

            def take(old: np.ndarray, fresh: np.ndarray) -> np.ndarray:
                return np.where(from_old, np.take_along_axis(old[s_idx, p_idx], old_pos, -1), fresh[new_pos])

            att = cand.max_attended[layer][space_rows[s_idx]]  # [R, N]
            self.score[layer][s_idx, p_idx] = np.take_along_axis(merged, pick, -1)
            self.order[layer][s_idx, p_idx] = np.take_along_axis(merged_order, pick, -1)
            new_sid = take(self.sentence_id[layer], cand.sentence_id)
            new_tok = take(self.token_idx[layer], cand.token_idx)
            new_att = np.where(from_old, np.take_along_axis(self.max_attended[layer][s_idx, p_idx], old_pos, -1),
                               np.take_along_axis(att, new_pos, -1))
            self.sentence_id[layer][s_idx, p_idx] = new_sid
            self.token_idx[layer][s_idx, p_idx] = new_tok
            self.max_attended[layer][s_idx, p_idx] = new_att

    def columns(self) -> dict[str, np.ndarray]:
        """Every kept match as columns (best first within a space); fewer than k where the corpus is small."""
        layer, space, probe, rank = np.nonzero(np.isfinite(self.score))
        at = (layer, space, probe, rank)
        return {
            "layer": layer, "space": space, "probe": probe, "rank": rank,
            "sentence_id": self.sentence_id[at], "token_idx": self.token_idx[at],
            "score": self.score[at].astype(np.float64), "max_attended": self.max_attended[at],
        }
