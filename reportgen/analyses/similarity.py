"""Head similarity: the mean Jensen-Shannon distance between the attention distributions of every pair of heads
(Clark et al. 2019, section 6), over a fixed sample of corpus sentences, and its 2-D map by multidimensional
scaling.

For one query token, heads a and b attend with distributions P and Q over the sentence's keys; their
Jensen-Shannon distance is sqrt(JSD(P, Q)) with JSD in bits (log base 2), so 0 for equal distributions and 1 for
disjoint ones. A pair's distance is the mean over every real query token of the sample sentences.
"""

from __future__ import annotations

import numpy as np

from . import LayerBatch

MDS_SEED = 0
DECIMALS = 6  # the map's coordinates, rounded: the same layout wherever the build runs


def js_distances(attention: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, int]:
    """attention [B, N, T, T] of N heads, mask [B, T] of real tokens -> (sum over the real query tokens of the
    Jensen-Shannon distance of every pair of heads [N, N], the number of query tokens).

    With S = P + Q and rows that sum to 1, H((P+Q)/2) = H_e(S)/2 + ln 2 where H_e(S) = -sum s ln s (torch's
    `special.entr`), so JSD = (H_e(S)/2 + ln 2 - (H(P) + H(Q))/2) / ln 2 bits: one pass over each pair's
    weights. This is the costly part of the corpus statistics (pairs x tokens x keys)."""
    import torch

    weights = torch.from_numpy(np.ascontiguousarray(attention, dtype=np.float32))
    n, keys = weights.shape[1], weights.shape[3]
    rows = weights.permute(1, 0, 2, 3).reshape(n, -1, keys)[:, torch.from_numpy(mask.reshape(-1))]  # [N, Q, K]
    own = torch.special.entr(rows).sum(-1)  # [N, Q], nats
    out = np.zeros((n, n))
    ln2 = float(np.log(2))
    with torch.inference_mode():
        for a in range(n - 1):
            mixed = torch.special.entr(rows[a : a + 1] + rows[a + 1 :]).sum(-1).mul_(0.5).add_(ln2)
            jsd = (mixed - (own[a : a + 1] + own[a + 1 :]) * 0.5).clamp_(min=0).div_(ln2)
            out[a, a + 1 :] = jsd.sqrt_().sum(-1).double().numpy()
    return out + out.T, int(mask.sum())


class HeadDistances:
    """The accumulator. It keeps the sample rows of the current batch until the batch's last layer has been
    seen (layers come in order, one batch after the other), then adds their pairwise distances."""

    def __init__(self, n_layers: int, n_heads: int, sample: set[int]):
        self.n_layers, self.n_heads, self.sample = n_layers, n_heads, sample
        self.sums = np.zeros((n_layers * n_heads, n_layers * n_heads))
        self.tokens = 0
        self._layers: list[np.ndarray] = []

    def update(self, batch: LayerBatch) -> None:
        rows = np.isin(batch.info.sentence_ids, list(self.sample))
        if not rows.any():
            return
        if batch.layer == 0:
            self._layers = []
        self._layers.append(batch.attention[rows])
        if batch.layer == self.n_layers - 1:
            sums, tokens = js_distances(np.concatenate(self._layers, axis=1), batch.info.mask[rows])
            self.sums += sums
            self.tokens += tokens
            self._layers = []

    def merge(self, other: HeadDistances) -> None:
        self.sums += other.sums
        self.tokens += other.tokens

    def distances(self) -> np.ndarray:
        """[L*H, L*H] mean distances, heads in order (layer 0 head 0, layer 0 head 1, ...)."""
        return self.sums / max(self.tokens, 1)

    def tables(self) -> dict[str, list[tuple]]:
        if not self.tokens:
            return {"head_distance": [], "head_map": []}
        d = self.distances()
        h = self.n_heads
        pairs = [(a // h, a % h, b // h, b % h, float(d[a, b])) for a in range(len(d)) for b in range(len(d))
                 if a != b]
        xy = layout(d)
        return {"head_distance": pairs,
                "head_map": [(a // h, a % h, float(x), float(y)) for a, (x, y) in enumerate(xy)]}


def layout(distances: np.ndarray) -> np.ndarray:
    """2-D coordinates [N, 2] whose Euclidean distances approximate `distances`: scikit-learn's metric MDS on the
    precomputed distances, fixed seed, rounded to DECIMALS. The signs are fixed so that the first head has
    non-negative coordinates (MDS's solution is only defined up to reflection)."""
    from sklearn.manifold import MDS

    if len(distances) < 3:
        return np.zeros((len(distances), 2))
    mds = MDS(n_components=2, metric_mds=True, metric="precomputed", init="random", n_init=4,
              random_state=MDS_SEED, normalized_stress="auto")
    xy = mds.fit_transform(distances)
    xy *= np.where(xy[0] < 0, -1, 1)
    return np.round(xy, DECIMALS) + 0.0  # + 0.0: no -0.0
