"""Head similarity: the mean Jensen-Shannon distance between the attention distributions of every pair of heads
(Clark et al. 2019, section 6), over a fixed sample of corpus sentences, and its 2-D map by multidimensional
scaling.

For one query token, heads a and b attend with distributions P and Q over the sentence's keys; their
Jensen-Shannon distance is sqrt(JSD(P, Q)) with JSD in bits (log base 2), so 0 for equal distributions and 1 for
disjoint ones. A pair's distance is the mean over every real query token of the sample sentences.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..options import option
from .base import LayerBatch, PassInputs, accumulation_dtype, in_inference_mode, sum_x_ln_x


@dataclass(frozen=True)
class SimilarityOptions:
    similarity_sentences: int = option(1000, "How many corpus sentences (the first ones) the head distances and the "
                                             "map are measured on (default: 1000).", minimum=1)

MDS_SEED = 0
DECIMALS = 6  # the map's coordinates, rounded: the same layout wherever the build runs


def js_distances(attention, mask: np.ndarray):
    """attention [B, N, T, T] of N heads (a tensor, or numpy), mask [B, T] of real tokens -> (sum over the real
    query tokens of the Jensen-Shannon distance of every pair of heads [N, N], a tensor on the attention's
    device, the number of query tokens).

    With S = P + Q and rows that sum to 1, H((P+Q)/2) = H_e(S)/2 + ln 2 where H_e(S) = -sum s ln s, so
    JSD = (ln 2 - (sum s ln s)/2 + (sum p ln p + sum q ln q)/2) / ln 2 bits: one pass over each pair's weights
    (sum_x_ln_x). This is the costly part of the corpus statistics (pairs x tokens x keys)."""
    import torch

    weights = torch.as_tensor(attention).float()
    n, keys = weights.shape[1], weights.shape[3]
    real = torch.as_tensor(np.asarray(mask).reshape(-1), device=weights.device)
    rows = weights.permute(1, 0, 2, 3).reshape(n, -1, keys)[:, real]  # [N, Q, K]
    ln2 = float(np.log(2))
    out = torch.zeros((n, n), dtype=accumulation_dtype(weights.device), device=weights.device)
    with torch.inference_mode():
        mixed, work = torch.empty_like(rows), torch.empty_like(rows)  # written again for every pair's block
        own = sum_x_ln_x(rows, work)  # [N, Q]: sum p ln p = -H(P) in nats
        for a in range(n - 1):
            m = n - a - 1
            torch.add(rows[a + 1 :], rows[a : a + 1], out=mixed[:m])  # [N-a-1, Q, K]
            jsd = (own[a + 1 :] + own[a : a + 1]).sub_(sum_x_ln_x(mixed[:m], work[:m]))
            jsd = jsd.mul_(0.5).add_(ln2).clamp_(min=0).div_(ln2)
            out[a, a + 1 :] = jsd.sqrt_().sum(-1, dtype=out.dtype)
    return out + out.T, int(np.asarray(mask).sum())


class HeadDistances:
    """The accumulator. It keeps the sample rows of the current batch until the batch's last layer has been
    seen (layers come in order, one batch after the other), then adds their pairwise distances: computed in the
    background while the next batch is encoded, added in batch order (one batch at most is pending). The
    background is one thread of its own (torch releases the GIL, so the distances are computed while the main thread
    merges the top-k lists and encodes the next batch), started with its first sample batch and stopped once
    nothing is pending."""

    timing = "of which statistics"

    def __init__(self, n_layers: int, n_heads: int, sample: set[int]):
        self.n_layers, self.n_heads = n_layers, n_heads
        self.sample = np.array(sorted(sample), dtype=np.int64)
        self._sums = None  # [L*H, L*H] tensor on the attention's device, made on the first sample batch
        self._tokens = 0
        self._layers: list[np.ndarray] = []
        self._pending = None
        self._thread = None  # a ThreadPoolExecutor of one thread, while a batch's distances are pending

    @classmethod
    def create(cls, inputs: PassInputs, options: SimilarityOptions, device) -> HeadDistances:
        first = inputs.first_corpus_id
        return cls(inputs.n_layers, inputs.n_heads, set(range(first, first + options.similarity_sentences)))

    def settle(self) -> None:
        """Wait for the distances computed in the background and stop its thread (before the state is sent
        elsewhere, or once the pass is over)."""
        self._collect()
        if self._thread is not None:
            self._thread.shutdown()
            self._thread = None

    def update(self, batch: LayerBatch) -> None:
        rows = np.isin(batch.info.sentence_ids, self.sample)
        if not rows.any():
            return
        if batch.layer == 0:
            self._layers = []
        self._layers.append(batch.attention[batch.info.on(batch.device, "similarity_rows", lambda: rows)])
        if batch.layer == self.n_layers - 1:
            self._collect()
            from concurrent.futures import ThreadPoolExecutor

            import torch

            if self._thread is None:
                self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="reportgen-distances")
            self._pending = self._thread.submit(js_distances, torch.cat(self._layers, dim=1), batch.info.mask[rows])
            self._layers = []

    def _collect(self) -> None:
        """Add the pending batch's distances (waiting for them)."""
        if self._pending is not None:
            sums, tokens = self._pending.result()
            self._pending = None
            self._sums = sums if self._sums is None else self._sums + sums.to(self._sums.device)
            self._tokens += tokens

    @property
    def sums(self) -> np.ndarray:
        """[L*H, L*H] summed distances over the query tokens so far, float64 on the CPU."""
        self._collect()
        n = self.n_layers * self.n_heads
        return np.zeros((n, n)) if self._sums is None else self._sums.double().cpu().numpy()

    @property
    def tokens(self) -> int:
        self._collect()
        return self._tokens

    def __getstate__(self) -> dict:
        self.settle()
        return dict(self.__dict__)

    @in_inference_mode
    def merge(self, other: HeadDistances) -> None:
        self._collect()
        other.settle()
        if other._sums is not None:
            self._sums = other._sums.clone() if self._sums is None else self._sums + other._sums.to(self._sums.device)
        self._tokens += other.tokens

    def distances(self) -> np.ndarray:
        """[L*H, L*H] mean distances, heads in order (layer 0 head 0, layer 0 head 1, ...)."""
        self._collect()
        return self.sums / max(self.tokens, 1)

    def tables(self) -> dict[str, list[tuple]]:
        self.settle()
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
