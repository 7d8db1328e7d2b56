"""reportgen.headstats.HeadStats against a naive per-token loop on small random attention with padding."""

from __future__ import annotations

import math

import numpy as np
import pytest

from reportgen.analyses.base import feed, plain_info
from reportgen.analyses.headstats import HeadStats
from reportgen.vocab import STATS

pytestmark = pytest.mark.unit

L, H = 2, 3


def _batch(rng, lengths, causal=False, garbage_padding=True):
    """Right-padded attention [L, B, H, T, T] whose real rows are distributions over the real keys.

    Padding query rows hold garbage (as real models give): they must never count.
    """
    b, t = len(lengths), max(lengths)
    mask = np.zeros((b, t), bool)
    for row, n in enumerate(lengths):
        mask[row, :n] = True
    att = rng.uniform(0, 1, size=(L, b, H, t, t)) if garbage_padding else np.zeros((L, b, H, t, t))
    for row, n in enumerate(lengths):
        logits = rng.normal(scale=3.0, size=(L, H, n, n))
        if causal:
            logits = np.where(np.tril(np.ones((n, n), bool)), logits, -np.inf)
        weights = np.exp(logits - logits.max(-1, keepdims=True))
        weights /= weights.sum(-1, keepdims=True)
        att[:, row, :, :n, :n] = weights
        att[:, row, :, :n, n:] = 0.0  # real queries put nothing on padding keys
    special = np.zeros((b, t), bool)
    punct = np.zeros((b, t), bool)
    for row, n in enumerate(lengths):
        special[row, 0] = True
        special[row, n - 1] = n > 1  # [CLS] ... [SEP]
        punct[row, 1 : n - 1] = rng.uniform(size=max(n - 2, 0)) < 0.3
    return att.astype(np.float32), mask, punct, special


def _update(stats, att, mask, punct, special, causal=False):
    feed([stats], att, plain_info(mask, special, punct, causal))


def _naive(batches, causal=False):
    """stat -> [L, H] means, as Clark et al. average: each sentence's mean over its real query tokens (those that
    have the statistic: a previous token, a next token, a last special token), then the mean over the sentences
    that have any; one Python loop over every real query token."""
    sums = {s: [[0.0] * H for _ in range(L)] for s in STATS}
    counts = dict.fromkeys(STATS, 0)
    for att, mask, punct, special in batches:
        n_rows, t = mask.shape
        for b in range(n_rows):
            n = int(mask[b].sum())
            last = max((k for k in range(n) if special[b, k]), default=0)
            mine = {s: [[0.0] * H for _ in range(L)] for s in STATS}
            tokens = dict.fromkeys(STATS, 0)
            for q in range(n):
                has_prev, has_next = q > 0, q + 1 < n
                for stat in ("entropy", "entropy_norm", "distance", "self", "first", "special", "punct"):
                    tokens[stat] += 1
                tokens["last"] += last > 0
                tokens["prev"] += has_prev
                tokens["next"] += has_next
                for layer in range(L):
                    for h in range(H):
                        row = [float(x) for x in att[layer, b, h, q, :n]]
                        entropy = -sum(p * math.log(p) for p in row if p > 0)
                        mine["entropy"][layer][h] += entropy
                        keys = q + 1 if causal else n
                        mine["entropy_norm"][layer][h] += entropy / math.log(keys) if keys > 1 else 0.0
                        mine["distance"][layer][h] += sum(p * abs(q - k) for k, p in enumerate(row))
                        if last > 0:
                            mine["last"][layer][h] += row[last]
                        mine["self"][layer][h] += row[q]
                        mine["first"][layer][h] += row[0]
                        mine["special"][layer][h] += sum(p for k, p in enumerate(row) if special[b, k])
                        mine["punct"][layer][h] += sum(p for k, p in enumerate(row) if punct[b, k])
                        if has_prev:
                            mine["prev"][layer][h] += row[q - 1]
                        if has_next:
                            mine["next"][layer][h] += row[q + 1]
            for stat in STATS:  # the sentence's mean, one sentence more
                if tokens[stat]:
                    counts[stat] += 1
                    for layer in range(L):
                        for h in range(H):
                            sums[stat][layer][h] += mine[stat][layer][h] / tokens[stat]
    return {s: (np.array(sums[s]) / counts[s] if counts[s] else None) for s in STATS}


def _as_dict(rows):
    out = {}
    for layer, head, stat, value in rows:
        out.setdefault(stat, np.full((L, H), np.nan))[layer, head] = value
    return out


def _check(batches, causal=False):
    stats = HeadStats(L, H)
    for batch in batches:
        _update(stats, *batch, causal=causal)
    got = _as_dict(stats.rows())
    want = _naive(batches, causal)
    assert set(got) == {s for s, v in want.items() if v is not None}
    for stat, value in want.items():
        if value is not None:
            np.testing.assert_allclose(got[stat], value, rtol=1e-5, atol=1e-6, err_msg=stat)
    return got


@pytest.mark.parametrize("causal", [False, True])
def test_matches_naive_loop_over_several_batches(causal):
    rng = np.random.default_rng(0 if causal else 1)
    batches = [_batch(rng, [5, 2, 7], causal), _batch(rng, [1], causal), _batch(rng, [3, 3, 4, 9, 2], causal)]
    _check(batches, causal)


def test_merge_of_two_halves_equals_one_pass():
    rng = np.random.default_rng(6)
    batches = [_batch(rng, [5, 2, 7]), _batch(rng, [3, 9]), _batch(rng, [4])]
    whole, first, second = HeadStats(L, H), HeadStats(L, H), HeadStats(L, H)
    for i, batch in enumerate(batches):
        _update(whole, *batch)
        _update(first if i < 2 else second, *batch)
    first.merge(second)
    assert [r[:3] for r in first.rows()] == [r[:3] for r in whole.rows()]
    np.testing.assert_allclose([r[3] for r in first.rows()], [r[3] for r in whole.rows()], rtol=1e-12)


def test_mean_is_over_sentences_each_weighted_alike_as_clark_et_al():
    # a 9-token sentence and a 2-token one: each sentence's mean counts once, whatever its length or batch
    rng = np.random.default_rng(2)
    batches = [_batch(rng, [9]), _batch(rng, [2])]
    got = _check(batches)
    one = HeadStats(L, H)
    _update(one, *batches[0])
    other = HeadStats(L, H)
    _update(other, *batches[1])
    mean_of_means = (_as_dict(one.rows())["self"] + _as_dict(other.rows())["self"]) / 2
    np.testing.assert_allclose(got["self"], mean_of_means, rtol=1e-6)
    # and not the mean over tokens
    tokens = (_as_dict(one.rows())["self"] * 9 + _as_dict(other.rows())["self"] * 2) / 11
    assert not np.allclose(got["self"], tokens)


def test_padding_rows_never_count():
    rng = np.random.default_rng(3)
    att, mask, punct, special = _batch(rng, [4, 1, 6])
    stats = HeadStats(L, H)
    _update(stats, att, mask, punct, special)
    # the same sentences one per batch, without any padding, give the same statistics
    alone = HeadStats(L, H)
    for row, n in enumerate(mask.sum(1)):
        _update(alone, att[:, row : row + 1, :, :n, :n], mask[row : row + 1, :n], punct[row : row + 1, :n],
                special[row : row + 1, :n])
    got, want = _as_dict(stats.rows()), _as_dict(alone.rows())
    assert set(got) == set(want)
    for stat in got:
        np.testing.assert_allclose(got[stat], want[stat], rtol=1e-6, atol=1e-7, err_msg=stat)


def test_known_values_on_a_hand_made_head():
    # one layer, one head, one 3-token sentence plus one padding position
    att = np.zeros((1, 1, 1, 4, 4), np.float32)
    att[0, 0, 0, :3, :3] = [[1.0, 0.0, 0.0],
                            [0.5, 0.5, 0.0],
                            [0.25, 0.25, 0.5]]
    att[0, 0, 0, 3] = [0.1, 0.2, 0.3, 0.4]  # padding query: ignored
    mask = np.array([[True, True, True, False]])
    special = np.array([[True, False, True, False]])
    punct = np.array([[False, True, False, False]])
    stats = HeadStats(1, 1)
    _update(stats, att, mask, punct, special)
    got = {stat: value for _, _, stat, value in stats.rows()}
    assert got["self"] == pytest.approx((1.0 + 0.5 + 0.5) / 3)
    assert got["prev"] == pytest.approx((0.5 + 0.25) / 2)  # tokens 1 and 2 have a previous token
    assert got["next"] == pytest.approx((0.0 + 0.0) / 2)  # tokens 0 and 1 have a next token
    assert got["first"] == pytest.approx((1.0 + 0.5 + 0.25) / 3)
    assert got["special"] == pytest.approx((1.0 + 0.5 + 0.75) / 3)
    assert got["punct"] == pytest.approx((0.0 + 0.5 + 0.25) / 3)
    assert got["entropy"] == pytest.approx((0.0 + math.log(2) + (0.5 * math.log(4) + 0.5 * math.log(2))) / 3)
    # three keys each (not causal): the uniform entropy is ln 3
    assert got["entropy_norm"] == pytest.approx((0.0 + math.log(2) / math.log(3) + 1.5 * math.log(2) / math.log(3)) / 3)
    assert got["distance"] == pytest.approx((0.0 + 0.5 * 1 + (0.25 * 2 + 0.25 * 1)) / 3)
    assert got["last"] == pytest.approx((0.0 + 0.0 + 0.5) / 3)  # token 2 is the last special token


def test_single_token_sentences_have_no_prev_or_next_rows():
    rng = np.random.default_rng(4)
    stats = HeadStats(L, H)
    _update(stats, *_batch(rng, [1, 1, 1]))
    got = _as_dict(stats.rows())
    assert set(got) == set(STATS) - {"prev", "next", "last"}  # the only special token is the first
    np.testing.assert_allclose(got["self"], 1.0, rtol=1e-6)
    np.testing.assert_allclose(got["entropy"], 0.0, atol=1e-6)


def test_no_updates_give_no_rows():
    assert HeadStats(L, H).rows() == []


def test_rows_cover_every_head_and_stat_once():
    rng = np.random.default_rng(5)
    stats = HeadStats(L, H)
    _update(stats, *_batch(rng, [3, 5]))
    keys = [(layer, head, stat) for layer, head, stat, _ in stats.rows()]
    assert len(keys) == len(set(keys)) == L * H * len(STATS)
    assert [k[:2] for k in keys] == sorted(k[:2] for k in keys)  # grouped by layer, then head


def _without_trailing_special(batch, rows):
    """The batch with the last special token of the given rows dropped (a model without [SEP]/EOS there)."""
    att, mask, punct, special = batch
    special = special.copy()
    for row in rows:
        special[row, int(mask[row].sum()) - 1] = False
    return att, mask, punct, special


@pytest.mark.parametrize("causal", [False, True])
def test_last_counts_only_sentences_that_have_a_last_special_token(causal):
    rng = np.random.default_rng(7)
    batches = [_without_trailing_special(_batch(rng, [5, 4, 6], causal), [1]),
               _without_trailing_special(_batch(rng, [3, 7], causal), [0, 1])]
    got = _check(batches, causal)
    # by hand: the mean over the two sentences that have one (rows 0 and 2 of the first batch) of each one's mean
    # over its query tokens
    att, mask = batches[0][0], batches[0][1]
    want = (att[:, 0, :, :5, 4].mean(-1) + att[:, 2, :, :6, 5].mean(-1)) / 2
    np.testing.assert_allclose(got["last"], want, rtol=1e-5)


def test_no_sentence_with_a_last_special_token_gives_no_last_rows():
    rng = np.random.default_rng(8)
    stats = HeadStats(L, H)
    _update(stats, *_without_trailing_special(_batch(rng, [4, 6]), [0, 1]))
    got = _as_dict(stats.rows())
    assert set(got) == set(STATS) - {"last"}


def test_known_values_of_a_causal_head():
    # causal: token q has q + 1 keys, so the uniform entropy is ln(q + 1); the first token has one key (0)
    att = np.zeros((1, 1, 1, 3, 3), np.float32)
    att[0, 0, 0] = [[1.0, 0.0, 0.0],
                    [0.5, 0.5, 0.0],
                    [0.2, 0.3, 0.5]]
    mask = np.ones((1, 3), bool)
    special = np.array([[True, False, False]])  # no last special token (GPT-2 style)
    stats = HeadStats(1, 1)
    _update(stats, att, mask, np.zeros((1, 3), bool), special, causal=True)
    got = {stat: value for _, _, stat, value in stats.rows()}
    h2 = -(0.2 * math.log(0.2) + 0.3 * math.log(0.3) + 0.5 * math.log(0.5))
    assert got["entropy"] == pytest.approx((0.0 + math.log(2) + h2) / 3)
    assert got["entropy_norm"] == pytest.approx((0.0 + 1.0 + h2 / math.log(3)) / 3)
    assert got["distance"] == pytest.approx((0.0 + 0.5 + (0.2 * 2 + 0.3 * 1)) / 3)
    assert "last" not in got
    assert got["first"] == pytest.approx((1.0 + 0.5 + 0.2) / 3)


def test_a_uniform_head_has_normalised_entropy_one_and_a_one_hot_head_zero():
    # not causal: every real token is a key; padding keys are no keys
    lengths = [4, 7, 2]
    b, t = len(lengths), max(lengths)
    mask = np.zeros((b, t), bool)
    att = np.zeros((1, b, 2, t, t), np.float32)
    for row, n in enumerate(lengths):
        mask[row, :n] = True
        att[0, row, 0, :n, :n] = 1.0 / n  # head 0 uniform
        att[0, row, 1, np.arange(n), (np.arange(n) + 1) % n] = 1.0  # head 1 one-hot
    stats = HeadStats(1, 2)
    _update(stats, att, mask, np.zeros((b, t), bool), np.zeros((b, t), bool))
    got = {(head, stat): value for _, head, stat, value in stats.rows()}
    assert got[(0, "entropy_norm")] == pytest.approx(1.0, abs=1e-6)
    assert got[(1, "entropy_norm")] == pytest.approx(0.0, abs=1e-6)
    # distance of the uniform head: the mean over sentences of the mean over tokens of the mean |q - k|
    want = sum(sum(abs(q - k) / n for q in range(n) for k in range(n)) / n for n in lengths) / len(lengths)
    assert got[(0, "distance")] == pytest.approx(want, rel=1e-6)
