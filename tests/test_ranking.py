"""Rankings among ties (reportgen.ranking): a leader only where a paired test separates it from the runner-up,
cut lists that never fall inside a tie, ties that chain; checked on hand-made values and resamples."""

from __future__ import annotations

import numpy as np
import pytest

from reportgen.ranking import Ranking, bootstrap_means, rank

pytestmark = pytest.mark.unit


def _resamples(per_unit: list[list[float]]) -> np.ndarray:
    return bootstrap_means(np.array(per_unit, dtype=np.float64), resamples=2000, seed=1)


def test_a_leader_where_the_paired_difference_separates_it():
    # three items over 40 sentences: item 0 is above item 1 on every sentence by 0.1 (a paired difference with no
    # spread), item 2 far below
    rng = np.random.default_rng(0)
    base = rng.normal(1.0, 0.5, size=40)
    per = np.stack([base + 0.1, base, base - 2.0], axis=1)
    ranking = rank(per.mean(0), bootstrap_means(per))
    assert ranking.groups == ((0,), (1,), (2,))
    assert ranking.first == (0,) and ranking.last == (2,)


def test_overlapping_items_are_tied_and_the_tie_is_named():
    # items 0 and 1 differ by noise alone (independent draws around the same mean): no test separates them, even
    # though their point values differ
    rng = np.random.default_rng(3)
    per = np.stack([rng.normal(1.0, 0.3, 30), rng.normal(1.0, 0.3, 30), rng.normal(0.0, 0.3, 30)], axis=1)
    means = per.mean(0)
    ranking = rank(means, bootstrap_means(per))
    assert set(ranking.first) == {0, 1} and len(ranking.groups) == 2
    # the leader by point value alone would be one of them: the ranking refuses to say which
    assert ranking.position(int(np.argmax(means[:2]))) == ranking.position(int(np.argmin(means[:2]))) == 1


def test_ties_chain_and_cut_lists_extend_over_a_tie():
    # a > b ~ c ~ d > e, with b-d apart in point value but each next to a tied neighbour
    values = [5.0, 3.0, 2.9, 2.8, 1.0]
    resampled = np.array([[5.0, 3.0 + d, 2.9 - d, 2.8 + d, 1.0] for d in np.linspace(-0.2, 0.2, 41)])
    ranking = rank(values, resampled)
    assert ranking.groups == ((0,), (1, 2, 3), (4,))
    assert ranking.top(2) == (0, 1, 2, 3)  # "the two most important" would cut inside the tie: the cut extends
    assert ranking.top(1) == (0,) and ranking.top(4) == (0, 1, 2, 3)
    assert ranking.bottom(1) == (4,) and ranking.bottom(2) == (4, 3, 2, 1)
    assert [ranking.position(i) for i in range(5)] == [1, 2, 2, 2, 5]


def test_without_resamples_only_equal_values_tie_and_lowest_first_ranks_ascending():
    ranking = rank([3, 1, 3, 2])  # counts: sinks per layer
    assert ranking.groups == ((0, 2), (3,), (1,))
    ascending = rank([0.5, 0.2, 0.2 + 1e-12, 0.9], descending=False)
    assert ascending.groups == ((1, 2), (0,), (3,))


def test_undefined_items_are_left_out():
    ranking = rank([0.3, None, float("nan"), 0.1])
    assert ranking.order == (0, 3)


def test_the_paired_test_by_plain_loops():
    """Two items, resamples written out: apart exactly when the 2.5th percentile of (first - second) is above 0."""
    for shift, apart in ((0.5, True), (0.05, False)):
        resampled = np.array([[1.0 + shift + e, 1.0 - e] for e in np.linspace(-0.1, 0.1, 201)])
        diffs = sorted(a - b for a, b in resampled)
        low = np.quantile(diffs, 0.025)
        assert (low > 0) == apart
        assert rank([1.0 + shift, 1.0], resampled) == Ranking(((0,), (1,)) if apart else ((0, 1),))
