"""reportgen.analyses.roles: each documented rule on small hand-made head statistics and dependency results (in
the form DepAccuracy.results() returns them), including the first-rule-wins order between them, the thresholds
taken from Clark et al. (above 0.5 for a position, above 0.6 for a sink) and the significance a syntax role needs."""

from __future__ import annotations

import numpy as np
import pytest

from reportgen.analyses.depacc import OFFSETS, DepAccuracy, DepResult
from reportgen.analyses.roles import BROAD, POSITIONAL, SINK, role, role_rows
from reportgen.vocab import ALL_RELATIONS as ALL
from reportgen.vocab import SYNTAX_FLOOR, SYNTAX_MARGIN

pytestmark = pytest.mark.unit

NAMES = {"first": "[CLS]", "last": "[SEP]"}

# a head with no pattern: nothing over any threshold, prev the largest share
QUIET = {"entropy": 1.2, "entropy_norm": 0.5, "distance": 2.0, "self": 0.1, "prev": 0.2, "next": 0.15,
         "first": 0.12, "last": 0.1, "special": 0.22, "punct": 0.05}


def _stats(n_layers=1, n_heads=1, **per_stat):
    """stat -> [L, H]: QUIET everywhere, with the given stats replaced (a number, or an [L, H] list)."""
    return {s: np.broadcast_to(np.asarray(per_stat.get(s, v), dtype=float), (n_layers, n_heads)).copy()
            for s, v in QUIET.items()}


def _relation(accuracy, baseline, support=150, n_layers=1, n_heads=1, se=0.01):
    """One relation's DepResult: accuracy per direction (dependent_to_head, head_to_dependent) as a pair or
    [L, H, 2]; the baseline {offset: accuracy} (other offsets 0, one baseline for both directions); the margin's
    bootstrap standard error `se` (significance: the margin above z * se, z for 0.05 over the head's cells)."""
    acc = np.broadcast_to(np.asarray(accuracy, dtype=float), (n_layers, n_heads, 2)).copy()
    base = np.zeros(len(OFFSETS))
    for offset, value in baseline.items():
        base[OFFSETS.index(offset)] = value
    best = max(range(len(OFFSETS)), key=lambda o: (base[o], OFFSETS[o]))
    margin = acc - base[best]
    se = np.full(acc.shape, se)
    return DepResult(support, acc, base, best, acc, acc, margin, margin, se)


def test_syntax_when_accuracy_beats_the_best_offset_by_the_margin():
    dep = {"det": _relation((0.92, 0.2), {-1: 0.61, 1: 0.3})}
    assert role(_stats(), dep, 0, 0, NAMES) == (
        "syntax", "syntax: det, dependent to head, 0.92 vs 0.61 for the best offset")


def test_syntax_needs_a_significant_margin():
    # the same margin of 0.31, with a bootstrap standard error too large for it over the head's cells
    dep = {"det": _relation((0.92, 0.2), {-1: 0.61}, se=0.2)}
    assert role(_stats(), dep, 0, 0, NAMES)[0] == "mixed"
    # the threshold: Bonferroni over the head's 2 cells, z = 2.24
    from scipy.stats import norm

    z = norm.ppf(1 - 0.05 / 4)
    assert role(_stats(), {"det": _relation((0.92, 0.2), {-1: 0.61}, se=0.31 / z - 1e-6)}, 0, 0,
                NAMES)[0] == "syntax"
    assert role(_stats(), {"det": _relation((0.92, 0.2), {-1: 0.61}, se=0.31 / z + 1e-6)}, 0, 0,
                NAMES)[0] == "mixed"


def test_syntax_compares_with_the_best_offset_not_the_first():
    # the best offset is +2 at 0.85: 0.90 is only 0.05 above it, although 0.60 above offset -1
    dep = {"nsubj": _relation((0.90, 0.0), {-1: 0.30, 2: 0.85})}
    assert role(_stats(), dep, 0, 0, NAMES)[0] == "mixed"
    dep = {"nsubj": _relation((0.90, 0.0), {-1: 0.30, 2: 0.75})}
    assert role(_stats(), dep, 0, 0, NAMES) == (
        "syntax", "syntax: nsubj, dependent to head, 0.90 vs 0.75 for the best offset")


def test_syntax_margin_is_inclusive_and_floor_is_required():
    base = 0.35
    at_margin = base + SYNTAX_MARGIN  # 0.45: exactly the margin (up to float rounding)
    assert role(_stats(), {"obj": _relation((at_margin, 0), {-1: base})}, 0, 0, NAMES)[0] == "syntax"
    below = at_margin - 0.01
    assert role(_stats(), {"obj": _relation((below, 0), {-1: base})}, 0, 0, NAMES)[0] == "mixed"
    # far above the baseline but under the floor: no syntax
    low = SYNTAX_FLOOR - 0.01
    assert role(_stats(), {"obj": _relation((low, 0), {-1: 0.0})}, 0, 0, NAMES)[0] == "mixed"
    # at the floor, with the margin: syntax
    assert role(_stats(), {"obj": _relation((SYNTAX_FLOOR, 0), {-1: 0.0})}, 0, 0, NAMES)[0] == "syntax"


def test_previous_token_head_as_good_as_offset_minus_1_is_positional_not_syntax():
    # a head on the previous word is exactly as right as the offset -1 baseline for every relation
    dep = {"compound": _relation((0.81, 0.0), {-1: 0.81}),
           "amod": _relation((0.70, 0.05), {-1: 0.70, 1: 0.02}),
           ALL: _relation((0.40, 0.0), {-1: 0.40})}
    assert role(_stats(prev=0.81), dep, 0, 0, NAMES) == ("previous", "previous token (0.81 of attention)")


def test_all_is_never_a_syntax_role():
    dep = {ALL: _relation((0.95, 0.95), {-1: 0.1})}
    assert role(_stats(), dep, 0, 0, NAMES)[0] == "mixed"


def test_syntax_picks_the_largest_margin_over_relations_and_directions():
    dep = {"amod": _relation((0.60, 0.45), {-1: 0.40}),  # margins 0.20, 0.05
           "nsubj": _relation((0.50, 0.80), {2: 0.45}),  # margins 0.05, 0.35: the largest
           "det": _relation((0.95, 0.10), {1: 0.70})}  # margin 0.25
    assert role(_stats(), dep, 0, 0, NAMES) == (
        "syntax", "syntax: nsubj, head to dependent, 0.80 vs 0.45 for the best offset")


def test_syntax_comes_before_every_other_rule():
    dep = {"det": _relation((0.9, 0.0), {1: 0.2})}
    for stats in (_stats(prev=0.9), _stats(first=0.9), _stats(entropy_norm=0.99)):
        assert role(stats, dep, 0, 0, NAMES)[0] == "syntax"


@pytest.mark.parametrize("stat, key, words", [("prev", "previous", "previous token"),
                                              ("next", "next", "next token"), ("self", "self", "itself")])
def test_positional_roles_above_clarks_half(stat, key, words):
    assert POSITIONAL == 0.5
    assert role(_stats(**{stat: 0.73}), {}, 0, 0, NAMES) == (key, f"{words} (0.73 of attention)")
    assert role(_stats(**{stat: POSITIONAL + 0.001}), {}, 0, 0, NAMES)[0] == key
    assert role(_stats(**{stat: POSITIONAL}), {}, 0, 0, NAMES)[0] == "mixed"  # above it, as their `> 0.5`


def test_positional_takes_the_largest_and_comes_before_sinks_and_broad():
    assert role(_stats(prev=0.55, next=0.6, self=0.52), {}, 0, 0, NAMES)[0] == "next"
    assert role(_stats(self=0.51, first=0.9, entropy_norm=0.99), {}, 0, 0, NAMES)[0] == "self"


def test_sinks_named_after_the_special_tokens():
    assert role(_stats(first=0.66), {}, 0, 0, NAMES) == ("first", "[CLS] sink (0.66 of attention)")
    assert role(_stats(last=0.74), {}, 0, 0, NAMES) == ("last", "[SEP] sink (0.74 of attention)")
    gpt = {"first": "<|endoftext|>"}
    assert role(_stats(first=0.9), {}, 0, 0, gpt) == ("first", "<|endoftext|> sink (0.90 of attention)")
    # no names: generic words
    assert role(_stats(first=0.61), {}, 0, 0, {}) == ("first", "first-token sink (0.61 of attention)")
    assert role(_stats(last=0.61), {}, 0, 0, {}) == ("last", "last-token sink (0.61 of attention)")


def test_sink_order_first_last_special_punct_and_clarks_threshold():
    assert SINK == 0.6
    assert role(_stats(first=SINK + 0.01, last=0.5, special=1.0), {}, 0, 0, NAMES)[0] == "first"
    assert role(_stats(first=0.3, last=SINK + 0.01, special=0.8), {}, 0, 0, NAMES)[0] == "last"
    # neither special token alone, both together: special-token sink
    assert role(_stats(first=0.3, last=0.3, special=0.65), {}, 0, 0, NAMES) == (
        "special", "special-token sink (0.65 of attention)")
    assert role(_stats(punct=0.67), {}, 0, 0, NAMES) == ("punct", "punctuation (0.67 of attention)")
    assert role(_stats(special=0.65, punct=0.7), {}, 0, 0, NAMES)[0] == "special"
    assert role(_stats(first=SINK), {}, 0, 0, NAMES)[0] == "mixed"  # above it, as their `> 0.6`
    assert role(_stats(first=0.55), {}, 0, 0, NAMES)[0] == "mixed"


def test_a_model_without_a_last_special_token_has_no_last_statistic():
    stats = _stats(first=0.2, special=0.65)
    del stats["last"]
    assert role(stats, {}, 0, 0, {"first": "<s>"}) == ("special", "special-token sink (0.65 of attention)")
    stats = _stats()
    del stats["last"]
    assert role(stats, {}, 0, 0, {})[0] == "mixed"


def test_broad_after_sinks():
    assert role(_stats(entropy_norm=0.93), {}, 0, 0, NAMES) == ("broad", "broad (normalised entropy 0.93)")
    assert role(_stats(entropy_norm=BROAD), {}, 0, 0, NAMES)[0] == "broad"
    assert role(_stats(entropy_norm=BROAD - 0.01), {}, 0, 0, NAMES)[0] == "mixed"
    assert role(_stats(entropy_norm=0.95, punct=0.65), {}, 0, 0, NAMES)[0] == "punct"


def test_mixed_names_the_largest_attention_share():
    assert role(_stats(), {}, 0, 0, NAMES) == (
        "mixed", "mixed: its largest shares, special 0.22 and prev 0.20, are under the thresholds, and its "
                 "normalised entropy 0.50 is not broad")
    # entropy and distance are no shares, however large
    assert role(_stats(special=0.1, first=0.31), {}, 0, 0, NAMES)[1].startswith(
        "mixed: its largest shares, first 0.31 and prev 0.20,")


def test_role_rows_one_per_head_from_that_heads_values():
    # 2 layers x 3 heads, each head with its own pattern
    stats = _stats(2, 3, prev=[[0.9, 0.1, 0.1], [0.1, 0.1, 0.1]], first=[[0.0, 0.8, 0.0], [0.0, 0.0, 0.1]],
                   entropy_norm=[[0.2, 0.2, 0.2], [0.9, 0.2, 0.2]], punct=[[0.0, 0.0, 0.0], [0.0, 0.0, 0.7]])
    acc = np.zeros((2, 3, 2))
    acc[0, 2, 1] = 0.88  # layer 0 head 2: head to dependent
    dep = {"pobj": _relation(acc, {1: 0.4}, n_layers=2, n_heads=3)}
    rows = role_rows(stats, dep, NAMES)
    assert [(layer, head, name) for layer, head, name, _ in rows] == [
        (0, 0, "previous"), (0, 1, "first"), (0, 2, "syntax"), (1, 0, "broad"), (1, 1, "mixed"), (1, 2, "punct")]
    assert rows[2][3] == "syntax: pobj, head to dependent, 0.88 vs 0.40 for the best offset"


def test_a_previous_word_head_gets_no_syntax_role_from_real_dependency_results():
    # DepAccuracy's own results, fed by hand-made attention: a chain in which each word's head is the previous
    # word, and a head that attends to the previous token. It is right for every dependent but the roots, but so
    # is offset -1.
    from reportgen.analyses.base import BatchInfo, feed

    n, b = 6, 3
    t = n + 2
    word_of = np.tile(np.r_[-1, np.arange(n), -1], (b, 1))
    heads = np.tile(np.r_[0, np.arange(n - 1)], (b, 1))  # word 0 is the root
    deps = np.full((b, n), "nmod", dtype=object)
    deps[:, 0] = "ROOT"
    special = np.zeros((b, t), bool)
    special[:, [0, t - 1]] = True
    info = BatchInfo(np.arange(b), np.ones((b, t), bool), special, np.zeros((b, t), bool), word_of, heads, deps)
    att = np.zeros((1, b, 1, t, t), np.float32)
    for q in range(t):
        att[0, :, 0, q, max(q - 1, 0)] = 1.0
    dep = DepAccuracy(1, 1, min_support=1)
    feed([dep], att, info)
    results = dep.results()
    nmod = results["nmod"]
    assert nmod.accuracy[0, 0, 0] == 1.0 and OFFSETS[nmod.best] == -1 and nmod.baseline[nmod.best] == 1.0
    assert not nmod.significant(4)[0, 0, 0]  # a margin of 0
    stats = _stats(prev=0.87)
    assert role_rows(stats, results, NAMES) == [(0, 0, "previous", "previous token (0.87 of attention)")]


def test_a_sinks_evidence_gives_what_it_moves_where_measured():
    from reportgen.patterns import describe

    value = {"first": 0.73, "first_by_norm": 0.08, "entropy_norm": 0.2}
    assert describe(value, {"first": "[CLS]"}) == ("first", "[CLS] sink (0.73 of attention, 0.08 of what it moves)")
    assert describe({"first": 0.73, "entropy_norm": 0.2}, {"first": "[CLS]"})[1] == "[CLS] sink (0.73 of attention)"
