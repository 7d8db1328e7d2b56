"""The agreement's baselines and the faithfulness test on hand-made cases: each baseline's rho against a rank
correlation written as plain loops, the paired test against a bootstrap written as plain loops, a baseline that
beats a head (the head is then not said to agree), ties among the agreeing heads, and ERASER's comprehensiveness
and sufficiency on a bag-of-words "model" whose output is computed by hand."""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np
import pytest

from reportgen.analyses import baselines, faithfulness
from reportgen.analyses.faithfulness import deletion, order, removals, rows_of, top_words
from reportgen.ranking import paired
from reportgen.store.schema import AGREEMENT_BASELINES, AGREEMENT_TESTS

pytestmark = pytest.mark.unit

Row = namedtuple("Row", "sentence_id method layer head spearman n_words word_share")


def average_ranks(values: list[float]) -> list[float]:
    """1-based ranks, tied values sharing the mean of their places."""
    ranks = [0.0] * len(values)
    for i, v in enumerate(values):
        below = sum(1 for w in values if w < v)
        equal = sum(1 for w in values if w == v)
        ranks[i] = below + (equal + 1) / 2
    return ranks


def rho_by_hand(x: list[float], y: list[float]) -> float | None:
    """Spearman's rho: Pearson's correlation of the average ranks, in plain loops."""
    rx, ry = average_ranks(x), average_ranks(y)
    n = len(x)
    mx, my = sum(rx) / n, sum(ry) / n
    sxy = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    sxx = sum((a - mx) ** 2 for a in rx)
    syy = sum((b - my) ** 2 for b in ry)
    if n < 3 or sxx == 0 or syy == 0:
        return None
    return sxy / math.sqrt(sxx * syy)


def bootstrap_by_hand(a: list[float], b: list[float], resamples: int = 1000, seed: int = 0):
    """(mean difference, 2.5th and 97.5th percentiles of the resampled mean differences): the same resamples as
    reportgen.ranking.bootstrap_means draws (units with replacement, seed 0), the means taken in plain loops."""
    n = len(a)
    idx = np.random.default_rng(seed).integers(0, n, size=(resamples, n))
    means = []
    for row in idx:
        total = 0.0
        for j in row:
            total += a[j] - b[j]
        means.append(total / n)
    low, high = np.quantile(means, [0.025, 0.975])
    return sum(x - y for x, y in zip(a, b)) / n, float(low), float(high)


# ---- the baselines ---------------------------------------------------------------------------------------------

WORDS = ["The", "unbelievably", "comfortable", "cat", "sat", "."]
TOKENS_PER_WORD = [1, 3, 2, 1, 1, 1]
COUNTS = {"the": 40, "cat": 3, "sat": 2, ".": 30, "comfortable": 1}  # "unbelievably" never seen
TOTAL = 100
IMPORTANCE = [0.05, 0.9, 0.4, 0.3, 0.2, 0.01]  # |integrated gradients| per word


def test_each_baselines_rho_equals_a_rank_correlation_by_hand():
    values = baselines.word_values(WORDS, np.array(TOKENS_PER_WORD), COUNTS, TOTAL)
    by_hand = {"length": [len(w) for w in WORDS],
               "rarity": [math.log((TOTAL + 1) / (COUNTS.get(w.lower(), 0) + 1)) for w in WORDS],
               "position": list(range(len(WORDS))),
               "uniform": TOKENS_PER_WORD}
    rows = baselines.baseline_rows(7, np.array(IMPORTANCE), values)
    assert [r[1] for r in rows] == list(baselines.BASELINES)
    for sid, name, rho, n in rows:
        assert (sid, n) == (7, len(WORDS))
        assert rho == pytest.approx(rho_by_hand(IMPORTANCE, [float(v) for v in by_hand[name]]), abs=1e-12), name
    # the rarest word (never seen) is the one the gradients rank first: rarity agrees, positively
    assert dict((r[1], r[2]) for r in rows)["rarity"] > 0.5


def test_a_constant_baseline_is_undefined():
    rows = baselines.baseline_rows(0, np.array([0.1, 0.2, 0.3]),
                                   baselines.word_values(["a", "b", "c"], np.ones(3), {}, 0))
    assert dict((r[1], r[2]) for r in rows) == {"length": None, "rarity": None, "position": pytest.approx(1.0),
                                                "uniform": None}


def test_the_paired_test_is_a_bootstrap_of_the_paired_differences():
    a = [0.8, 0.7, 0.9, 0.6, 0.75, 0.85, 0.5]
    b = [0.6, 0.65, 0.7, 0.62, 0.5, 0.7, 0.55]
    found = paired(a, b)
    difference, low, high = bootstrap_by_hand(a, b)
    assert (found.n, found.difference) == (7, pytest.approx(difference))
    assert (found.low, found.high) == (pytest.approx(low), pytest.approx(high))
    assert found.above == (low > 0) and not found.below
    # undefined values are left out of both sides: the pairs are the probes where both are defined
    assert paired(a + [None], b + [0.1]) == found
    assert paired([None, 0.3], [0.2, None]).n == 0


def _agreement(per_head: dict[tuple[int, int], list[float]]) -> list[Row]:
    return [Row(sid, "attention", l, h, v, 6, 0.8) for (l, h), values in per_head.items()
            for sid, v in enumerate(values)]


def test_a_baseline_that_beats_a_head_keeps_it_from_agreeing():
    """Word length agrees with the gradients at about 0.8 on every probe; L0H0 at about 0.6 (below it, separated),
    L0H1 at about 0.95 (above it, separated), L1H0 at about 0.8 (not told apart). Only L0H1 agrees."""
    rng = np.random.default_rng(1)
    probes = list(range(8))
    length = [0.8 + 0.02 * rng.standard_normal() for _ in probes]
    per_probe = {"length": length, "rarity": [0.1 + 0.05 * rng.standard_normal() for _ in probes],
                 "position": [-0.2] * 4 + [0.0] * 4, "uniform": [None] * 8}
    heads = {(0, 0): [v - 0.2 + 0.01 * rng.standard_normal() for v in length],
             (0, 1): [v + 0.15 + 0.01 * rng.standard_normal() for v in length],
             (1, 0): [v + 0.05 * rng.standard_normal() for v in length]}
    rows = baselines.comparison_rows(_agreement(heads), per_probe, probes)
    by = {(r[1], r[2], r[3]): r for r in rows}
    assert {r[3] for r in rows if r[4]} == {"length"}  # the best baseline, alone
    for key, values in heads.items():
        difference, low, high = bootstrap_by_hand(values, length)
        method, layer, head, name, best, n, diff, lo, hi, beats = by[(*key, "length")]
        assert (n, diff, lo, hi) == (8, pytest.approx(difference), pytest.approx(low), pytest.approx(high))
        assert beats == (low > 0)
    assert [by[(*k, "length")][9] for k in heads] == [False, True, False]
    # ... and the pages name only the head that beats it
    views = _baseline_views(rows, per_probe, probes)
    means = {k: _mean(v, k) for k, v in heads.items()}
    groups = views.agreeing(means, _groups(heads, probes))
    assert [[a.label for a in g] for g in groups] == [["L0H1"]]
    assert views.versus("attention", 0, 0).verdict.startswith("a baseline that needs no attention agrees")
    assert views.versus("attention", 1, 0).verdict.startswith("it is not told apart")
    assert views.versus("attention", 0, 1).agrees


def test_no_head_beats_a_baseline_over_fewer_than_five_probes():
    probes = list(range(4))
    per_probe = {"length": [0.1, 0.2, 0.1, 0.2], "rarity": [None] * 4, "position": [0.0] * 4, "uniform": [None] * 4}
    rows = baselines.comparison_rows(_agreement({(0, 0): [0.9, 0.95, 0.9, 0.92]}), per_probe, probes)
    (row,) = [r for r in rows if r[3] == "length"]
    assert row[7] > 0 and not row[9]  # above in the bootstrap, but not claimed over 4 probes


def test_agreeing_heads_that_no_paired_test_separates_are_tied():
    probes = list(range(10))
    rng = np.random.default_rng(2)
    length = [0.2 + 0.02 * rng.standard_normal() for _ in probes]
    per_probe = {"length": length, "rarity": [0.0] * 10, "position": [0.0] * 10, "uniform": [None] * 10}
    common = [0.8 + 0.1 * rng.standard_normal() for _ in probes]
    heads = {(0, 0): [v + 0.001 * rng.standard_normal() for v in common],  # the same as L0H1 up to noise
             (0, 1): [v + 0.001 * rng.standard_normal() for v in common],
             (1, 1): [0.5 + 0.01 * rng.standard_normal() for _ in probes]}  # clearly below both, above length
    views = _baseline_views(baselines.comparison_rows(_agreement(heads), per_probe, probes), per_probe, probes)
    means = {k: _mean(v, k) for k, v in heads.items()}
    groups = views.agreeing(means, _groups(heads, probes))
    assert [sorted(a.label for a in g) for g in groups] == [["L0H0", "L0H1"], ["L1H1"]]
    from reportgen.site.sections.attribution import agreement
    from reportgen.site.views.attribution import ModelAgreement

    model = ModelAgreement(None, (), (), 10, (), 3, (), views.means, views.best, groups)
    text = agreement(model, 0.5).text
    assert "3 heads agree with the gradients more than the best baseline does" in text
    assert "(tied); L1H1" in text and "most" not in text


def _groups(heads: dict, probes: list[int]) -> list[list[tuple[int, int]]]:
    """The heads in the tie groups `agreement_ranks` stores (the same rank: tied)."""
    found: dict[int, list] = {}
    for method, layer, head, _, _, r in baselines.rank_rows(_agreement(heads), probes):
        found.setdefault(r, []).append((layer, head))
    return [found[r] for r in sorted(found)]


def ranks_by_hand(heads: dict[tuple[int, int], list[float | None]], probes: list[int]) -> dict:
    """Each head's rank written from the definition: heads by mean rho (over the probes where defined), highest
    first; walking down, a head starts a new group only where the 2.5th percentile of the resampled difference of
    the means (the head before it minus it; 1,000 resamples of the probes, seed 0, a head's mean over the drawn
    probes where it is defined) is above 0; a head's rank is 1 + the heads in the groups before its own."""
    keys = sorted(heads)
    idx = np.random.default_rng(0).integers(0, len(probes), size=(1000, len(probes)))

    def mean(values):
        found = [v for v in values if v is not None]
        return sum(found) / len(found) if found else None

    order = sorted(keys, key=lambda k: (-mean(heads[k]), k))
    ranks, position, before = {}, 1, None
    for i, key in enumerate(order):
        if before is not None:
            diffs = []
            for row in idx:
                a, b = mean([heads[before][j] for j in row]), mean([heads[key][j] for j in row])
                if a is not None and b is not None:
                    diffs.append(a - b)
            if np.quantile(diffs, 0.025) > 0:
                position = i + 1
        ranks[key] = position
        before = key
    return ranks


def test_the_heads_ranks_are_a_paired_bootstrap_over_the_probes():
    """Hand-made ties: L0H0 and L0H1 the same up to noise at the top (tied for highest), L1H0 alone below them, and
    L1H1 and L1H2 tied at the bottom, L1H2 left out of one probe (not compared there)."""
    rng = np.random.default_rng(3)
    probes = list(range(9))
    common = [0.7 + 0.1 * rng.standard_normal() for _ in probes]
    low = [0.1 + 0.1 * rng.standard_normal() for _ in probes]
    low[0] = float(np.mean(low[1:]))  # the probe L1H2 is not compared on moves neither mean
    heads = {(0, 0): [v + 0.001 * rng.standard_normal() for v in common],
             (0, 1): [v + 0.001 * rng.standard_normal() for v in common],
             (1, 0): [0.4 + 0.01 * rng.standard_normal() for _ in probes],
             (1, 1): [v + 0.002 * rng.standard_normal() for v in low],
             (1, 2): [None] + [v + 0.002 * rng.standard_normal() for v in low[1:]]}
    rows = baselines.rank_rows(_agreement(heads), probes)
    found = {(l, h): (n, m, r) for method, l, h, n, m, r in rows}
    expected = ranks_by_hand(heads, probes)
    assert {k: r for k, (_, _, r) in found.items()} == expected
    assert expected == {(0, 0): 1, (0, 1): 1, (1, 0): 3, (1, 1): 4, (1, 2): 4}
    assert found[(1, 2)][0] == 8 and found[(1, 2)][1] == pytest.approx(np.mean(heads[(1, 2)][1:]))
    # the words a head page uses, from these ranks
    from reportgen.site.views.attribution import place

    assert place(1, 1, 5, "heads compared").startswith("tied for highest with 1 other of the 5 heads compared")
    assert place(3, 0, 5, "heads compared") == "the 3rd highest of the 5 heads compared"
    assert place(4, 1, 5, "heads compared").startswith("tied for lowest with 1 other of the 5")
    assert place(1, 0, 6, "layers") == "the highest of the 6 layers"
    assert place(6, 0, 6, "layers") == "the lowest of the 6 layers"
    assert place(2, 1, 2, "layers").startswith("tied with the other of the 2 layers")
    assert place(2, 2, 6, "layers").startswith("tied with 2 others for places 2 to 4 of the 6 layers")


def test_a_cut_list_extends_over_a_tie_or_says_where_it_falls():
    from reportgen.site.views.attribution import cut, mean_interval

    a = [mean_interval([0.5], f"H{i}") for i in range(20)]
    shown, note = cut([(a[0],), (a[1], a[2]), (a[3], a[4], a[5]), (a[6],)], k=5)
    assert [[x.label for x in g] for g in shown] == [["H0"], ["H1", "H2"], ["H3", "H4", "H5"]] and not note
    shown, note = cut([(a[0],), tuple(a[1:15])], k=5, most=10)  # 14 heads tied for places 2 to 15
    assert sum(len(g) for g in shown) == 10
    assert note == "the cut falls inside a tie: 14 heads share places 2 to 15, 5 more heads of them not named"


def _mean(values, key):
    from reportgen.site.views.attribution import mean_interval
    from reportgen.vocab import head_label

    return mean_interval(values, head_label(*key), "")


def _baseline_views(rows, per_probe, probes):
    from reportgen.site.views.baselines import BaselineViews

    class Store:
        def rows(self, table):
            if table is AGREEMENT_BASELINES:
                return [table.row_type(sid, name, per_probe[name][i], 6) for name in per_probe
                        for i, sid in enumerate(probes)]
            assert table is AGREEMENT_TESTS
            return [table.row_type(*r) for r in rows]

    return BaselineViews(Store(), probes)


# ---- faithfulness ----------------------------------------------------------------------------------------------

# a bag-of-words "model": f = the sum of each token's weight
WEIGHT = {0: 0.0, 1: 0.25, 2: 0.5, 10: 1.0, 11: 2.0, 12: 0.5, 13: 4.0, 14: -1.0}
BASELINE = 0
# [CLS] "a" "bb"(two tokens) "c" "d" [SEP]: words 0..3
IDS = [1, 10, 11, 12, 13, 14, 2]
WORD_OF = [None, 0, 1, 1, 2, 3, None]
REPLACEABLE = [False, True, True, True, True, True, False]


def bag_of_words(batch: np.ndarray) -> np.ndarray:
    return np.array([sum(WEIGHT[int(t)] for t in row) for row in batch])


def test_removing_one_word_by_hand():
    """f(probe) = 0.25 + 1 + 2 + 0.5 + 4 - 1 + 0.5 = 7.25. Removing word 1 ("bb", tokens 11 and 12) leaves
    0.25 + 1 + 0 + 0 + 4 - 1 + 0.5 = 4.75: comprehensiveness 2.5. Only word 1 kept: 0.25 + 0 + 2 + 0.5 + 0 + 0
    + 0.5 = 3.25: sufficiency 4.0."""
    without, only = removals(IDS, WORD_OF, REPLACEABLE, [1], BASELINE)
    assert without == [1, 10, 0, 0, 13, 14, 2] and only == [1, 0, 11, 12, 0, 0, 2]
    found = deletion(bag_of_words, IDS, WORD_OF, REPLACEABLE, {"mine": [[1, 2, 0, 3]]}, BASELINE, bins=(20,))
    assert found == {"mine": [(20, 1, pytest.approx(2.5), pytest.approx(4.0))]}


def test_every_bin_and_the_random_mean_against_plain_loops():
    calls = []

    def f(batch):
        calls.append(len(batch))
        return bag_of_words(batch)

    orders = {"ig": [[2, 1, 0, 3]], "random": [[3, 0, 1, 2], [0, 2, 3, 1]]}
    found = deletion(f, IDS, WORD_OF, REPLACEABLE, orders, BASELINE)
    assert len(calls) == 1  # one batched pass for every ranking and bin
    intact = sum(WEIGHT[t] for t in IDS)
    for name, lists in orders.items():
        expected = []
        for k in (1, 5, 10, 20, 50):
            m = max(1, k * 4 // 100)
            comp, suff = [], []
            for words in lists:
                top = set(words[:m])
                without = sum(WEIGHT[BASELINE] if (w is not None and w in top) else WEIGHT[t]
                              for t, w in zip(IDS, WORD_OF))
                only = sum(WEIGHT[t] if (w is None or w in top) else WEIGHT[BASELINE] for t, w in zip(IDS, WORD_OF))
                comp.append(intact - without)
                suff.append(intact - only)
            expected.append((k, m, pytest.approx(sum(comp) / len(comp)), pytest.approx(sum(suff) / len(suff))))
        assert found[name] == expected, name


def test_a_continuation_and_special_tokens_are_never_removed():
    ids = IDS + [13]  # a continuation token after the probe
    without, only = removals(ids, WORD_OF + [None], REPLACEABLE + [False], [0, 1, 2, 3], BASELINE)
    assert without == [1, 0, 0, 0, 0, 0, 2, 13] and only == ids


def test_bins_order_and_the_aopc():
    assert [top_words(k, 10) for k in faithfulness.BINS] == [1, 1, 1, 2, 5]
    assert [top_words(k, 3) for k in faithfulness.BINS] == [1, 1, 1, 1, 1]
    assert [top_words(k, 200) for k in faithfulness.BINS] == [2, 10, 20, 40, 100]
    assert order([0.5, -2.0, 0.5, 3.0], 4) == [3, 0, 2, 1]  # signed, ties in word order
    measured = {"integrated_gradients": [(1, 1, 1.0, 0.5), (5, 1, 1.0, 0.5), (10, 1, 1.0, 0.5), (20, 2, 3.0, 0.0),
                                         (50, 5, 4.0, -1.0)]}
    rows = rows_of(3, (1, 2), measured)
    assert rows[-1] == (3, "integrated_gradients", None, None, None, None, pytest.approx(2.0), pytest.approx(0.1))
    assert rows[0] == (3, "integrated_gradients", None, None, 1, 1, 1.0, 0.5)


def test_each_rankings_order_of_the_words():
    texts = ["The", "unbelievably", "cat", "sat"]
    orders = faithfulness.word_orders(4, [0.5, -2.0, 0.1, 0.5], [0.1, 0.2, 0.3, 0.05], texts, [0.0, 0.1, 0.6, 0.2])
    assert orders["integrated_gradients"] == [[0, 3, 2, 1]]  # signed: the word that pushes the target down last
    assert orders["rollout"] == [[2, 1, 0, 3]]
    assert orders["attention"] == [[2, 3, 1, 0]]
    assert orders["length"] == [[1, 0, 2, 3]]  # ties in the order of the words
    rng = np.random.default_rng([0, 4])
    assert orders["random"] == [list(rng.permutation(4)) for _ in range(5)]
    assert "attention" not in faithfulness.word_orders(4, [0.0] * 4, [0.0] * 4, texts)


def test_the_attention_ranking_is_the_head_with_the_highest_mean_rho():
    rows = [Row(0, "attention", 0, 0, 0.5, 5, 0.8), Row(1, "attention", 0, 0, 0.5, 5, 0.8),
            Row(0, "attention", 1, 1, 0.9, 5, 0.05),  # too little on the words: not compared
            Row(1, "attention", 1, 1, 0.4, 5, 0.8),
            Row(0, "attention", 0, 1, 0.5, 5, 0.8), Row(1, "attention", 0, 1, None, 5, 0.8),
            Row(0, "rollout", 1, None, 0.99, 5, 0.9)]
    assert faithfulness.best_head(rows) == (0, 0)  # L0H1's 0.5 ties it on fewer probes; the lower head wins
    assert faithfulness.best_head([]) is None
