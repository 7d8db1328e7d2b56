"""The words the head pages and the overview put beside numbers: where a head ranks among the heads
(`rank_text`, at the maximum, the minimum, in between and with ties), and the relation glosses (spaCy's own)."""

from __future__ import annotations

import pytest

from reportgen.site.views.headanalysis import rank_text
from reportgen.vocab import RELATION_GLOSSES

pytestmark = pytest.mark.unit


def _rank_by_loops(value, values):
    """The rule written out: count the heads above and below as the page shows them (3 decimals); the rest (less
    this one) are tied with it."""
    above = below = 0
    for v in values:
        if round(v, 3) > round(value, 3):
            above += 1
        elif round(v, 3) < round(value, 3):
            below += 1
    return above, below, len(values) - above - below - 1


@pytest.mark.parametrize("value, values, expected", [
    (1.0, [1.0, 0.2, 0.1], "highest of 3 heads"),  # the leader of a statistic (the previous-token head)
    (0.1, [1.0, 0.2, 0.1], "lowest of 3 heads"),
    (0.2, [1.0, 0.2, 0.1], "2nd highest of 3 heads"),
    (0.5, [0.5, 0.5, 0.5], "equal for all 3 heads"),
    (0.5, [0.5, 0.5, 0.1], "highest of 3 heads, with 1 other"),  # a tie at the top
    (0.1, [0.5, 0.1, 0.1, 0.1], "lowest of 4 heads, with 2 others"),  # a tie at the bottom
    (0.3, [0.9, 0.3, 0.3, 0.1], "2nd highest of 4 heads, with 1 other"),
    (0.7, [0.7], "the only head"),
    # equal as shown (3 decimals): the last bits, which differ from machine to machine, make no rank
    (2.3682000001, [2.3682000001, 2.3681999999, 2.1], "highest of 3 heads, with 1 other"),
    (2.3681999999, [2.3682000001, 2.3681999999, 2.1], "highest of 3 heads, with 1 other"),
    (0.0944, [0.0946, 0.0944, 0.09441, 0.0931], "2nd highest of 4 heads, with 1 other"),
])
def test_rank_text_at_the_maximum_the_minimum_and_with_ties(value, values, expected):
    assert rank_text(value, values) == expected
    above, below, tied = _rank_by_loops(value, values)
    if "highest of" in expected and not expected[0].isdigit():
        assert above == 0 and below > 0
    if expected.startswith("lowest"):
        assert below == 0 and above > 0
    assert (f"with {tied} other" in expected) == (tied > 0 and (above or below))


def test_the_leader_of_a_statistic_is_never_called_equal_for_all():
    values = [0.0] * 71 + [1.0]
    assert rank_text(1.0, values) == "highest of 72 heads"
    assert rank_text(0.0, values) == "lowest of 72 heads, with 70 others"


def test_the_bisection_counts_what_the_loops_count():
    """rank_text bisects every head's shown values, sorted (headanalysis.Shown, made once per statistic for all the
    head pages): the heads above, below and tied are those the loops count, on values with many ties as shown,
    negatives, and a NaN (no order: the loops' comparisons, which count it as tied)."""
    import math
    import random

    from reportgen.site.views.headanalysis import Shown, rank_among

    generator = random.Random(0)
    for case in range(300):
        values = [round(generator.uniform(-1, 1), generator.choice((1, 2, 4, 6))) + generator.choice((0, 1e-9))
                  for _ in range(generator.randint(1, 40))]
        if case % 10 == 0:
            values[0] = math.nan
        for value in values[:5] + [max(values), min(values)]:
            above, below, tied = _rank_by_loops(value, values)
            text = rank_among(value, Shown.of(values))
            assert text == rank_text(value, values)
            if math.isnan(value) or (not above and not below):
                continue
            assert text.startswith("highest" if not above else "lowest" if not below else f"{above + 1}")
            assert (f"with {tied} other" in text) == (tied > 0)


def test_relation_glosses_are_spacys_own_for_every_label_the_parser_gives():
    import warnings

    import spacy

    from reportgen.annotate import load_pipeline

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # spaCy warns of a term its glossary lacks
        for label, gloss in RELATION_GLOSSES.items():
            if label != "all":
                assert spacy.explain(label) == gloss, label
        labels = load_pipeline().get_pipe("parser").labels
        explained = {label for label in labels if spacy.explain(label)}
    assert explained and explained <= set(RELATION_GLOSSES)
