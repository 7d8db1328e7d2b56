"""The head analysis's claims on hand-made data where each rule bites (each figure recomputed here with plain loops
from its definition): ties between relations (the paired block bootstrap), a Table 1 cell that wins in-sample and
loses held out, a role that flips under resampling, a control that has the role too, the interval a verdict rests
on, the sink threshold's sensitivity, and the per-block head statistics the resampling needs."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.stats import norm

from reportgen.analyses.base import BLOCKS, feed, plain_info, resample_percentiles, resample_weights
from reportgen.analyses.checks import ControlFigures, above_control
from reportgen.analyses.depacc import OFFSETS, DepResult, syntax_ranking
from reportgen.analyses.headstats import HeadStats
from reportgen.analyses.roles import checked_rows, role
from reportgen.analyses.table1 import held_out
from reportgen.patterns import describe, pattern_roles, sentence_shares

pytestmark = pytest.mark.unit

NAMES = {"first": "[CLS]", "last": "[SEP]"}
QUIET = {"entropy": 1.2, "entropy_norm": 0.5, "distance": 2.0, "self": 0.1, "prev": 0.2, "next": 0.15,
         "first": 0.12, "last": 0.1, "special": 0.22, "punct": 0.05}


def _stats(**values):
    return {s: np.full((1, 1), values.get(s, v)) for s, v in QUIET.items()}


def _relation(hits_per_block, support_per_block, base_per_block, offset=-1):
    """One relation's DepResult for one head (1 layer, 1 head), the same hits in both directions, from per-block
    counts (blocks 0, 1, ...): the head's hits, the dependents, and the hits of the baseline at `offset` (every
    other offset right 0 times)."""
    hits = np.asarray(hits_per_block, dtype=np.int64)
    correct = np.stack([hits, hits])[None, None]  # [1, 1, 2, blocks]
    support = np.asarray(support_per_block, dtype=np.int64)
    baseline = np.zeros((len(OFFSETS), len(support)), dtype=np.int64)
    baseline[OFFSETS.index(offset)] = base_per_block
    return DepResult.of(correct, support, baseline, resample_weights(len(support)))


def _paired_tie(a: DepResult, b: DepResult) -> bool:
    """Whether the 95% interval of a's margin less b's (head 0, first direction) over the same block resamples holds
    0, by loops over the resamples."""
    weights = resample_weights(len(a.counts.support))
    differences = []
    for w in weights:
        margins = []
        for r in (a, b):
            c = r.counts
            n = sum(wi * s for wi, s in zip(w, c.support))
            hits = sum(wi * h for wi, h in zip(w, c.correct[0, 0, 0]))
            base = sum(wi * h for wi, h in zip(w, c.baseline))
            margins.append((hits - base) / n)
        differences.append(margins[0] - margins[1])
    low, high = np.quantile(differences, [0.025, 0.975])
    return low <= 0 <= high


def test_resample_percentiles_are_numpys_nanpercentile_bit_for_bit():
    """The bootstrap's percentiles without numpy's cell-by-cell NaN path give nanpercentile's numbers exactly: no
    NaN, NaN rows (a resample without the relation's dependents, as a sparse relation's resamples are), NaNs in
    some cells only, and every row NaN."""
    rng = np.random.default_rng(0)
    tails = [2.5, 97.5]
    values = rng.random((1000, 3, 4, 2))
    cases = [values.copy()]
    rows = values.copy()
    rows[rng.random(1000) < 0.07] = np.nan
    cases.append(rows)
    scattered = rows.copy()
    scattered[5, 0, 0, 0] = scattered[7, 2, 3, 1] = np.nan  # rows 5 and 7 hold numbers beside them
    assert not np.isnan(rows[[5, 7]]).any()
    cases.append(scattered)
    cases.append(np.full((20, 2), np.nan))
    # the relation of a few dependents as DepResult.of resamples it: whole resamples without any
    sparse = _relation([1, 0, 0, 0, 2], [1, 0, 0, 0, 3], [0, 0, 0, 0, 1])
    accuracy, _ = sparse.counts.resampled()
    assert np.isnan(accuracy).any() and not np.isnan(accuracy).all()
    cases.append(accuracy)
    for case in cases:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # nanpercentile of all-NaN cells
            want = np.nanpercentile(case, tails, axis=0)
            got = resample_percentiles(case, tails)
        assert got.shape == want.shape and np.array_equal(got, want, equal_nan=True)
    low, high = resample_percentiles(accuracy, tails)
    assert np.array_equal(sparse.accuracy_low, low) and np.array_equal(sparse.accuracy_high, high)


# ---- a tie between two relations of one head ---------------------------------------------------------------


def test_a_relation_tied_with_the_best_by_the_paired_bootstrap_is_named_beside_it():
    rng = np.random.default_rng(0)
    blocks = 60
    support = np.full(blocks, 20)
    base = np.full(blocks, 6)  # the offset: 0.30
    mark = rng.binomial(20, 0.46, blocks)  # margin about 0.16, noisy
    pobj = np.full(blocks, 9)  # margin 0.15 exactly in every block
    dep = {"mark": _relation(mark, support, base), "pobj": _relation(pobj, support, base)}
    assert dep["mark"].margin[0, 0, 0] > dep["pobj"].margin[0, 0, 0]
    assert _paired_tie(dep["mark"], dep["pobj"])
    cells, ranking = syntax_ranking(dep, 0, 0)
    assert {cells[i] for i in ranking.first} == {("mark", 0), ("mark", 1), ("pobj", 0), ("pobj", 1)}
    found = role(_stats(), dep, 0, 0, NAMES)
    assert found[0] == "syntax" and found[1].startswith("syntax: mark, dependent to head,")
    assert found[1].endswith("; tied with mark (head to dependent), pobj (dependent to head) and pobj (head to "
                             "dependent)")
    # far apart: no tie, the best relation alone
    dep["pobj"] = _relation(np.full(blocks, 6 + 2), support, base)  # margin 0.10
    dep["mark"] = _relation(np.full(blocks, 16), support, base)  # margin 0.50
    assert not _paired_tie(dep["mark"], dep["pobj"])
    found = role(_stats(), dep, 0, 0, NAMES)
    assert found[1] == ("syntax: mark, dependent to head, 0.80 vs 0.30 for the best offset; tied with mark (head to "
                        "dependent)")  # its own other direction, equal in every block, is the only tie


# ---- held-out selection ------------------------------------------------------------------------------------


def test_a_head_that_wins_in_sample_can_lose_held_out():
    blocks = 80
    even = np.arange(blocks) % 2 == 0
    support = np.full(blocks, 20)
    lucky = np.where(even, 20, 9)  # perfect on the selection half, 0.45 on the other: 0.725 over all
    steady = np.full(blocks, 14)  # 0.70 everywhere
    correct = np.zeros((1, 2, 2, blocks), dtype=np.int64)
    correct[0, 0, :] = lucky
    correct[0, 1, :] = steady
    baseline = np.zeros((len(OFFSETS), blocks), dtype=np.int64)
    baseline[OFFSETS.index(-1)] = 10  # 0.50
    result = DepResult.of(correct, support, baseline, resample_weights(blocks), np.arange(blocks))
    cells = 4
    # in-sample: the lucky head leads, and significantly above the offset
    assert result.accuracy[0, 0, 0] > result.accuracy[0, 1, 0] and result.significant(cells)[0, 0, 0]
    picked = held_out(result, 0, cells)
    assert (picked.layer, picked.head) == (0, 0)  # picked on the even blocks, where it is perfect
    # scored on the odd blocks, by loops: 9/20 against 10/20
    odd = [b for b in range(blocks) if b % 2]
    assert picked.support == 20 * len(odd)
    assert picked.accuracy == pytest.approx(sum(lucky[b] for b in odd) / picked.support)
    assert picked.margin == pytest.approx(-0.05)
    weights = resample_weights(len(odd))
    margins = [(w @ lucky[odd] - w @ np.full(len(odd), 10)) / (w @ support[odd]) for w in weights]
    se = np.std(margins, ddof=1)
    z = norm.ppf(1 - 0.05 / (2 * cells))
    assert picked.se == pytest.approx(se)
    assert (picked.low_corrected, picked.high_corrected) == pytest.approx((-0.05 - z * se, -0.05 + z * se))
    assert picked.high_corrected < 0  # held out, it is significantly below position


# ---- stability: a role that flips under resampling -----------------------------------------------------------


def _sentences(prev_weights, t=6):
    """One sentence per block (ids 0, 1, ...), t tokens, one head: each query from the second on puts `p` of its
    attention on the previous token and spreads the rest evenly; the first spreads all of it."""
    b = len(prev_weights)
    att = np.zeros((1, b, 1, t, t), np.float32)
    for row, p in enumerate(prev_weights):
        att[0, row, 0] = (1 - p) / t
        att[0, row, 0, 0] = 1 / t
        for q in range(1, t):
            att[0, row, 0, q, q - 1] += p
    mask = np.ones((b, t), bool)
    special = np.zeros((b, t), bool)
    special[:, [0, t - 1]] = True
    return att, plain_info(mask, special, np.zeros((b, t), bool), sentence_ids=np.arange(b))


def _direct_stability(att, info) -> tuple[str, float]:
    """The role of the corpus and the share of resamples that give it, by loops: each sentence's shares
    (patterns.sentence_shares), their means weighted by how often each block is drawn, describe's rules."""
    per_sentence = [sentence_shares(att[:, row], info.special[row], info.punct[row]) for row in range(att.shape[1])]
    stats = list(per_sentence[0])

    def roles_of(w):
        means = {s: sum(wi * p[s][0, 0] for wi, p in zip(w, per_sentence)) / sum(w) for s in stats}
        return describe(means, NAMES)[0]

    point = roles_of(np.ones(len(per_sentence)))
    weights = resample_weights(len(per_sentence))
    return point, float(np.mean([roles_of(w) == point for w in weights]))


def test_a_role_that_flips_under_resampling_has_a_low_stability_and_a_steady_one_a_high_one():
    rng = np.random.default_rng(1)
    # a previous-token share of about 0.52 over 30 sentences that differ widely, then one of 0.92 everywhere
    for prevs, stable in ((np.clip(rng.normal(0.43, 0.3, 30), 0, 1), False), (np.full(30, 0.9), True)):
        att, info = _sentences(prevs)
        stats = HeadStats(1, 1)
        feed([stats], att, info)
        rows = checked_rows(stats, {}, NAMES, None)["head_roles"]
        (layer, head, name, _, relation, direction, stability, role_stability, value, se, group, *control), = rows
        point, share = _direct_stability(att, info)
        assert name == point == "previous"
        assert stability == pytest.approx(share) and role_stability == stability
        assert (stability >= 0.8) is stable, stability
        assert value == pytest.approx(stats.means()["prev"][0, 0]) and group == 1
        assert control == [None, None, None, None]  # no control measured: nothing claimed


def test_the_head_statistics_keep_exact_per_block_sums_and_resample_them():
    rng = np.random.default_rng(2)
    prevs = rng.uniform(0, 1, 12)
    att, info = _sentences(prevs)
    ids = np.array([3, 3 + BLOCKS, 7, 7, 300, 44, 9, 10, 11, 12, 13, 14])  # some sentences share a block
    info = plain_info(info.mask, info.special, info.punct, sentence_ids=ids)
    stats = HeadStats(1, 1)
    feed([stats], att, info)
    sums, means = stats.block_sums, stats.means()
    for stat, total in stats.sums.items():
        assert sums[stat].sum(-1) == pytest.approx(total)  # the blocks add up to the totals the means come from
    blocks = stats.blocks()
    assert list(blocks) == sorted({int(i) % BLOCKS for i in ids})
    shares = [sentence_shares(att[:, row], info.special[row], info.punct[row])["prev"][0, 0] for row in range(12)]
    weights = resample_weights(len(blocks))
    drawn = stats.resampled(weights, blocks)
    at = {int(b): k for k, b in enumerate(blocks)}
    for r, w in enumerate(weights[:50]):  # each resample's mean, by loops over the sentences of each drawn block
        want = sum(w[at[i % BLOCKS]] * s for i, s in zip(ids, shares))
        count = sum(w[at[i % BLOCKS]] for i in ids)
        assert drawn["prev"][r, 0, 0] == pytest.approx(want / count)
    assert stats.resampled(np.ones((1, len(blocks))), blocks)["prev"][0] == pytest.approx(means["prev"])
    # merging two halves keeps the blocks exact
    halves = [HeadStats(1, 1), HeadStats(1, 1)]
    for part, rows in zip(halves, (slice(0, 5), slice(5, 12))):
        sub = plain_info(info.mask[rows], info.special[rows], info.punct[rows], sentence_ids=ids[rows])
        feed([part], att[:, rows], sub)
    halves[1].merge(halves[0])
    for stat in means:
        assert halves[1].block_sums[stat] == pytest.approx(sums[stat])
        assert (halves[1].block_counts[stat] == stats.block_counts[stat]).all()


# ---- the control model -----------------------------------------------------------------------------------


def test_a_control_that_has_the_role_too_leaves_it_unclaimed_and_one_that_lacks_it_claims_it():
    att, info = _sentences(np.full(30, 0.8))
    stats = HeadStats(1, 1)
    feed([stats], att, info)
    value = float(stats.means()["prev"][0, 0])
    (row,) = checked_rows(stats, {}, NAMES, None)["head_roles"]
    se = row[9]
    for control_value, control_se, claimed in ((value, 0.01, False), (value - 0.005, 0.01, False),
                                               (0.10, 0.01, True)):
        control = ControlFigures({(0, 0, "prev"): (control_value, control_se)}, {}, {(0, 0): "previous"})
        (row,) = checked_rows(stats, {}, NAMES, control)["head_roles"]
        assert row[11:] == ("previous", control_value, control_se, claimed)
        z = (value - control_value) / np.hypot(se, control_se)  # one head tested: no correction
        assert claimed == (z > norm.ppf(0.95))
    # the Bonferroni correction over the heads tested
    assert above_control(0.53, 0.01, 0.5, 0.01, 1) and not above_control(0.53, 0.01, 0.5, 0.01, 72)


def test_a_syntax_role_is_tested_on_its_own_cell_against_the_controls_same_cell():
    blocks = 60
    support, base = np.full(blocks, 20), np.full(blocks, 6)
    dep = {"det": _relation(np.full(blocks, 16), support, base)}  # margin 0.50 in both directions
    att, info = _sentences(np.full(blocks, 0.1))
    stats = HeadStats(1, 1)
    feed([stats], att, info)
    control = ControlFigures({}, {(0, 0, "det", "dependent_to_head"): (0.78, 0.48, 0.05)}, {(0, 0): "syntax"})
    (row,) = checked_rows(stats, dep, NAMES, control)["head_roles"]
    assert row[2] == "syntax" and row[4:6] == ("det", "dependent_to_head")
    assert row[8] == pytest.approx(0.5) and row[12:] == (0.48, 0.05, False)  # the control has the role too


# ---- the interval a verdict rests on -------------------------------------------------------------------------


def test_the_stored_corrected_interval_is_what_the_verdict_rests_on_not_the_95_percent_one():
    blocks = 40
    support = np.full(blocks, 10)
    hits = np.random.default_rng(0).binomial(10, 0.58, blocks)  # a margin of 0.068 over an offset of 0.50
    r = _relation(hits, support, np.full(blocks, 5))
    cells = 40  # a large family: the corrected interval is wider than the 95% one
    low, high = r.corrected(cells)
    z = norm.ppf(1 - 0.05 / (2 * cells))
    weights = resample_weights(blocks)
    margins = [(w @ hits - w @ np.full(blocks, 5)) / (w @ support) for w in weights]
    se = np.std(margins, ddof=1)
    margin = hits.sum() / support.sum() - 0.5
    assert (low[0, 0, 0], high[0, 0, 0]) == pytest.approx((margin - z * se, margin + z * se))
    assert r.margin_low[0, 0, 0] > 0  # the uncorrected 95% interval excludes 0 ...
    assert low[0, 0, 0] < 0 < high[0, 0, 0]  # ... the corrected one does not: not significant
    assert not r.significant(cells)[0, 0, 0]


# ---- the rules for many heads at once, and the sink threshold's sensitivity -------------------------------------


def test_the_vectorised_rules_give_describes_roles():
    rng = np.random.default_rng(4)
    values = {s: rng.uniform(0, 1, 2000) for s in QUIET}
    values["prev"][:5] = np.nan  # a resample without the statistic
    found = pattern_roles(values)
    for i in range(2000):
        one = {s: float(v[i]) for s, v in values.items() if not np.isnan(v[i])}
        assert found[i] == describe(one, NAMES)[0]
    sinks = {t: int(np.isin(pattern_roles(values, sink=t), ("first", "last", "special", "punct")).sum())
             for t in (0.55, 0.6, 0.65)}
    assert sinks[0.55] > sinks[0.6] > sinks[0.65]


def test_the_sink_sensitivity_counts_sinks_at_each_threshold():
    att, info = _sentences(np.full(10, 0.1))
    stats = HeadStats(1, 1)
    feed([stats], att, info)
    means = stats.means()
    rows = checked_rows(stats, {}, NAMES, None)["role_sensitivity"]
    assert [r[:2] for r in rows] == [("sink", 0.55), ("sink", 0.6), ("sink", 0.65)]
    for _, threshold, heads in rows:  # by describe's rules with the sink threshold moved, by hand
        value = {s: float(v[0, 0]) for s, v in means.items()}
        positional = max(value["prev"], value["next"], value["self"]) > 0.5
        sink = not positional and any(value.get(s, 0) > threshold for s in ("first", "last", "special", "punct"))
        assert heads == int(sink)
