"""reportgen.analyses.similarity: Jensen-Shannon distances between heads against scipy, the HeadDistances
accumulator over sample sentences, and the MDS layout against the distances it lays out."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon, pdist, squareform
from scipy.stats import pearsonr, spearmanr

from reportgen.analyses.base import feed, plain_info
from reportgen.analyses.similarity import HeadDistances, js_distances, layout, sum_x_ln_x

pytestmark = pytest.mark.unit


def _attention(rng, lengths, n_layers, n_heads, sharp=3.0):
    """Right-padded [L, B, H, T, T] distributions over each row's real keys. Padding query rows are garbage: other
    distributions, over every key (as a real model's padding rows are; rows that sum to 1 do count in the
    formula js_distances uses, where unnormalised ones would mostly be clamped to 0)."""
    b, t = len(lengths), max(lengths)
    mask = np.zeros((b, t), bool)
    att = rng.uniform(0, 1, size=(n_layers, b, n_heads, t, t)) ** 4  # garbage everywhere to start with
    att /= att.sum(-1, keepdims=True)
    for row, n in enumerate(lengths):
        mask[row, :n] = True
        logits = rng.normal(scale=sharp, size=(n_layers, n_heads, n, n))
        w = np.exp(logits - logits.max(-1, keepdims=True))
        att[:, row, :, :n, :n] = w / w.sum(-1, keepdims=True)
        att[:, row, :, :n, n:] = 0.0
    return att.astype(np.float32), mask


def _scipy_sums(att, mask):
    """att [B, N, T, T]: per pair of heads, the sum over real query tokens of scipy's JS distance (base 2)."""
    b, n = att.shape[:2]
    out = np.zeros((n, n))
    for row in range(b):
        k = int(mask[row].sum())
        for q in range(k):
            for x in range(n):
                for y in range(n):
                    p, r = att[row, x, q, :k].astype(np.float64), att[row, y, q, :k].astype(np.float64)
                    out[x, y] += jensenshannon(p, r, base=2)
    return out


def test_js_distances_match_scipy_per_query_token_and_ignore_padding_rows():
    rng = np.random.default_rng(0)
    att, mask = _attention(rng, [6, 3, 1, 5], 1, 5)
    att = att[0]
    sums, tokens = js_distances(att, mask)
    sums = sums.numpy()  # a tensor on the attention's device (here the CPU)
    assert tokens == 15
    want = _scipy_sums(att, mask)
    np.testing.assert_allclose(sums, want, atol=2e-4 * tokens, rtol=1e-4)
    mean = sums / tokens
    np.testing.assert_allclose(mean, want / 15, atol=2e-4)
    np.testing.assert_array_equal(mean, mean.T)
    assert np.all(np.diag(mean) == 0)
    assert np.all(mean[~np.eye(5, dtype=bool)] > 0.01) and np.all(mean <= 1.0)
    # other garbage in the padding query rows changes nothing
    other = att.copy()
    other[np.broadcast_to(~mask[:, None, :, None], other.shape)] = 0.0
    other[:, 0, :, 0] = np.where(mask, other[:, 0, :, 0], 1.0)  # head 0's padding rows on token 0, others nowhere
    np.testing.assert_array_equal(js_distances(other, mask)[0].numpy(), sums)


def test_sum_x_ln_x_is_the_plain_sum_with_0_ln_0_as_0():
    """The vectorised sum of x ln x against plain loops with math.log, on rows with zeros (0 ln 0 = 0, not nan),
    a one-hot row (exactly 0), the smallest floats and values up to 2 (a sum of two distributions)."""
    import math

    import torch

    rng = np.random.default_rng(3)
    rows = rng.dirichlet(np.ones(7), size=(3, 5)).astype(np.float32) * 2
    rows[0, 0] = [0, 0, 1, 0, 0, 0, 0]
    rows[0, 1, :3] = 0
    rows[1, 2] = [1e-38, 1e-45, 0, 0.5, 0.5 - 1e-38, 1.0, 0]
    x = torch.tensor(rows)
    got = sum_x_ln_x(x, torch.empty_like(x)).numpy()
    want = [[sum(float(v) * math.log(float(v)) for v in row if v > 0) for row in block] for block in rows]
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    assert got[0, 0] == 0.0 and not np.isnan(got).any()
    assert torch.equal(x, torch.tensor(rows))  # x is left as it was


def test_js_distance_extremes_disjoint_one_equal_zero():
    t = 4
    att = np.zeros((1, 3, t, t), np.float32)
    att[0, 0, :, 0] = 1.0  # head 0 on token 0
    att[0, 1, :, 1] = 1.0  # head 1 on token 1: disjoint from head 0
    att[0, 2, :, 0] = 1.0  # head 2 equals head 0
    sums, tokens = js_distances(att, np.ones((1, t), bool))
    d = sums.numpy() / tokens
    assert d[0, 1] == pytest.approx(1.0, abs=1e-6) and d[1, 2] == pytest.approx(1.0, abs=1e-6)
    assert d[0, 2] == pytest.approx(0.0, abs=1e-6)


def test_js_distance_of_equal_soft_distributions_is_near_zero():
    # float32 entropies: equal heads come out close to 0 (not exactly); scipy says 0
    rng = np.random.default_rng(1)
    att, mask = _attention(rng, [12, 9], 1, 1)
    att = np.concatenate([att[0], att[0]], axis=1)
    sums, tokens = js_distances(att, mask)
    assert float(sums[0, 1]) / tokens == pytest.approx(0.0, abs=1e-3)


def _direct_distances(batches, sample, n_layers, n_heads):
    """[L*H, L*H] mean scipy JS distances over the real query tokens of the sample sentences."""
    n = n_layers * n_heads
    sums, tokens = np.zeros((n, n)), 0
    for att, mask, ids in batches:
        for row, sid in enumerate(ids):
            if sid not in sample:
                continue
            k = int(mask[row].sum())
            tokens += k
            flat = att[:, row].reshape(n, *att.shape[3:])  # heads in order: layer 0 head 0, layer 0 head 1, ...
            sums += _scipy_sums(flat[None], mask[row : row + 1])
    return sums / tokens, tokens


def _batches(rng, n_layers, n_heads):
    """Three batches of sentences 0..8 (in a scrambled order), each with its own padding."""
    out = []
    for ids, lengths in (([4, 0, 7], [5, 3, 6]), ([2, 8], [4, 7]), ([1, 6, 3, 5], [2, 6, 3, 4])):
        att, mask = _attention(rng, lengths, n_layers, n_heads)
        out.append((att, mask, ids))
    return out


def _feed(acc, batches):
    for att, mask, ids in batches:
        b, t = mask.shape
        feed([acc], att, plain_info(mask, np.zeros((b, t), bool), np.zeros((b, t), bool),
                                    sentence_ids=np.asarray(ids)))


@pytest.mark.parametrize("n_layers, n_heads", [(3, 2), (1, 4)])
def test_head_distances_use_only_the_sample_sentences(n_layers, n_heads):
    rng = np.random.default_rng(2)
    batches = _batches(rng, n_layers, n_heads)
    sample = {0, 2, 3, 7}  # some batches have none, some several
    acc = HeadDistances(n_layers, n_heads, sample)
    _feed(acc, batches)
    want, tokens = _direct_distances(batches, sample, n_layers, n_heads)
    assert acc.tokens == tokens == 3 + 6 + 4 + 3  # sentences 0, 7, 2 and 3
    np.testing.assert_allclose(acc.distances(), want, atol=3e-4)
    # and not the others: all sentences give other distances
    everything = HeadDistances(n_layers, n_heads, set(range(9)))
    _feed(everything, batches)
    assert everything.tokens == 40
    assert not np.allclose(everything.distances(), acc.distances(), atol=1e-3)


def test_head_distance_tables():
    rng = np.random.default_rng(3)
    n_layers, n_heads = 2, 3
    batches = _batches(rng, n_layers, n_heads)
    acc = HeadDistances(n_layers, n_heads, {0, 1, 2})
    _feed(acc, batches)
    want, _ = _direct_distances(batches, {0, 1, 2}, n_layers, n_heads)
    tables = acc.tables()
    pairs = tables["head_distance"]
    n = n_layers * n_heads
    assert len(pairs) == n * (n - 1)  # both orders, no head with itself
    for la, ha, lb, hb, d in pairs:
        assert (la, ha) != (lb, hb)
        assert d == pytest.approx(want[la * n_heads + ha, lb * n_heads + hb], abs=3e-4)
    assert sorted((la, ha) for la, ha, _, _ in tables["head_map"]) == [(l, h) for l in range(n_layers)
                                                                       for h in range(n_heads)]


def test_no_sample_sentences_give_empty_tables():
    rng = np.random.default_rng(4)
    acc = HeadDistances(2, 2, {99})
    _feed(acc, _batches(rng, 2, 2))
    assert acc.tokens == 0
    assert acc.tables() == {"head_distance": [], "head_map": []}


def test_merge_of_two_halves_equals_one_pass():
    rng = np.random.default_rng(5)
    batches = _batches(rng, 2, 3)
    sample = {0, 1, 2, 4, 8}
    whole, first, second = (HeadDistances(2, 3, sample) for _ in range(3))
    _feed(whole, batches)
    _feed(first, batches[:1])
    _feed(second, batches[1:])
    first.merge(second)
    assert first.tokens == whole.tokens
    np.testing.assert_allclose(first.distances(), whole.distances(), rtol=1e-12, atol=1e-12)


def _points(rng, n):
    """n points really in 2-D and their Euclidean distances."""
    xy = rng.normal(size=(n, 2)) * [3.0, 1.0]
    return xy, squareform(pdist(xy))


@pytest.mark.parametrize("n", [3, 8, 24])
def test_layout_recovers_distances_of_points_in_the_plane(n):
    rng = np.random.default_rng(n)
    _, d = _points(rng, n)
    xy = layout(d)
    assert xy.shape == (n, 2)
    got = pdist(xy)
    want = squareform(d, checks=False)
    assert spearmanr(got, want).statistic > 0.9
    assert pearsonr(got, want).statistic > 0.9
    np.testing.assert_allclose(got, want, atol=0.05 * want.max())  # metric MDS: the distances themselves
    assert np.all(xy[0] >= 0)  # signs fixed: the first head has non-negative coordinates


def test_layout_is_deterministic_and_rounded():
    rng = np.random.default_rng(7)
    _, d = _points(rng, 16)
    first, second = layout(d), layout(d.copy())
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(first, np.round(first, 6))


def test_layout_of_fewer_than_three_heads_is_the_origin():
    assert layout(np.zeros((2, 2))).tolist() == [[0.0, 0.0], [0.0, 0.0]]


def test_layout_of_real_head_distances_correlates_with_them():
    # distances from an accumulator (not a Euclidean plane): still a faithful map on this easy case where heads
    # come in three groups of near-identical attention
    rng = np.random.default_rng(8)
    lengths = [7, 5, 6]
    base, mask = _attention(rng, lengths, 1, 3, sharp=4.0)
    noise, _ = _attention(rng, lengths, 1, 9, sharp=0.5)
    heads = 0.8 * np.repeat(base[0], 3, axis=1) + 0.2 * noise[0]  # [B, 9, T, T], rows still sum to 1
    acc = HeadDistances(1, 9, {0, 1, 2})
    _feed(acc, [(heads[None], mask, [0, 1, 2])])
    d = acc.distances()
    xy = layout(d)
    got = pdist(xy)
    want = squareform(d, checks=False)
    assert pearsonr(got, want).statistic > 0.9
    # every head is nearer on the map to the heads of its group than to any other
    on_map = squareform(got)
    group = np.arange(9) // 3
    for a in range(9):
        same = [on_map[a, b] for b in range(9) if b != a and group[b] == group[a]]
        other = [on_map[a, b] for b in range(9) if group[b] != group[a]]
        assert max(same) < min(other)
