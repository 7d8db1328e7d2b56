"""Head roles: one role in words per head, with the evidence that earned it, from the head statistics and the
dependency accuracy. The first rule that applies wins:

1. syntax: among the relations (not `all`) in both directions, the one whose accuracy beats its positional
   baseline by the most, among those that beat it by at least SYNTAX_MARGIN, significantly (the margin's
   Bonferroni-corrected interval above 0, see depacc) and with an accuracy of at least SYNTAX_FLOOR:
   "syntax: det, dependent to head, 0.92 vs 0.61 for the best offset";
2. position: prev or next above POSITIONAL (Clark et al.'s 0.5), or self above it: "previous token (0.81 of
   attention)";
3. sink: first or last (the last special token) above SINK (Clark et al.'s 0.6 for [CLS], [SEP] and punctuation),
   then special tokens together, then punctuation: "[SEP] sink (0.74 of attention)";
4. broad: normalised entropy at least BROAD: "broad (normalised entropy 0.93)";
5. mixed: none of these; the evidence names the largest attention shares and the normalised entropy.

Rules 2 to 5 live in patterns.py (`describe`), where the sentence pages name each head's pattern on one probe
with the same words and thresholds.

Why this order: a syntax head is the most specific finding, and position cannot earn it (the positional baseline
is subtracted); a positional head attends to a word that moves with the query, which is more specific than a fixed
sink; sinks and broad attention exclude each other (a share above 0.6 on one key is not spread). With thresholds
above one half, at most one position and one sink can pass; [CLS] is both the first and a special token, and the
first matching name, the more specific, wins.
"""

from __future__ import annotations

import numpy as np

from ..patterns import BROAD, POSITIONAL, SINK, describe, special_names  # noqa: F401 (thresholds, with the rules)
from ..vocab import ALL_RELATIONS, DIRECTIONS, SYNTAX_FLOOR, SYNTAX_MARGIN
from .depacc import DepAccuracy
from .headstats import HeadStats


def syntax_cells(dep: dict, layer: int, head: int) -> list[tuple[float, str, str, float, float]]:
    """(margin, relation, direction, accuracy, baseline) of every relation cell of a head that earns the syntax
    role (see the module's docstring), largest margin first."""
    found = []
    for relation, result in dep.items():
        if relation == ALL_RELATIONS:
            continue
        cells = 2 * sum(r != ALL_RELATIONS for r in dep)
        significant = result.significant(max(cells, 1))
        for d, direction in enumerate(DIRECTIONS):
            value, baseline = float(result.accuracy[layer, head, d]), float(result.baseline[result.best])
            margin = value - baseline
            if value >= SYNTAX_FLOOR and margin >= SYNTAX_MARGIN - 1e-12 and significant[layer, head, d]:
                found.append((margin, relation, direction, value, baseline))
    return sorted(found, key=lambda f: (-f[0], f[1], f[2]))


def role(stats: dict[str, np.ndarray], dep: dict, layer: int, head: int,
         names: dict[str, str]) -> tuple[str, str]:
    """(role, evidence) of one head. `stats`: statistic -> [L, H] means (HeadStats.means); `dep`:
    DepAccuracy.results(); `names`: the model's first and last special tokens ({'first': '[CLS]', ...})."""
    found = syntax_cells(dep, layer, head)
    if found:
        _margin, relation, direction, value, baseline = found[0]
        return "syntax", (f"syntax: {relation}, {direction.replace('_', ' ')}, {value:.2f} vs {baseline:.2f} for "
                          f"the best offset")
    return describe({s: float(v[layer, head]) for s, v in stats.items()}, names)


def role_rows(stats: dict[str, np.ndarray], dep: dict, names: dict[str, str]) -> list[tuple[int, int, str, str]]:
    """The head_roles table: (layer, head, role, evidence) for every head."""
    n_layers, n_heads = stats["entropy"].shape
    return [(layer, head, *role(stats, dep, layer, head, names)) for layer in range(n_layers)
            for head in range(n_heads)]


def head_roles(accumulators, store) -> dict[str, list[tuple]]:
    """The derived analysis: the head_roles table from the corpus pass's head statistics and dependency accuracy,
    the sinks named after the probes' first and last special tokens."""
    stats = next(a for a in accumulators if isinstance(a, HeadStats))
    dep = next(a for a in accumulators if isinstance(a, DepAccuracy))
    return {"head_roles": role_rows(stats.means(), dep.results(), special_names(store.tokens_of(0)))}
