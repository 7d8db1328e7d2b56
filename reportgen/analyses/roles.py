"""Head roles: one role in words per head, with the evidence that earned it, from the head statistics and the
dependency accuracy. The first rule that applies wins:

1. syntax: among the relations (not `all`) in both directions, the one whose accuracy beats its positional
   baseline by the most, among those that beat it by at least SYNTAX_MARGIN, significantly (the margin's
   Bonferroni-corrected interval above 0, see depacc) and with an accuracy of at least SYNTAX_FLOOR:
   "syntax: det, dependent to head, 0.92 vs 0.61 for the best offset"; where no paired test over the block
   resamples separates that cell's margin from another's, the evidence names the tie ("; tied with pobj (dependent
   to head)");
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

Beside each role, head_roles keeps what a reader needs before citing it (analyses/checks.py): its stability under
the block bootstrap, the figure that decides it with its standard error and its tie group among the heads of the
role, and the control model's same head (its role and figure) with the verdict of the test against it (`claimed`).
The sink rule's sensitivity to its threshold goes to role_sensitivity.
"""

from __future__ import annotations

import numpy as np

from ..patterns import BROAD, DECIDING, POSITIONAL, SINK, describe, special_names  # noqa: F401 (thresholds)
from ..vocab import DIRECTIONS, direction_words
from .base import resample_weights
from .checks import (
    ControlFigures,
    above_control,
    control_figures,
    rank_groups,
    resampled_roles,
    resampled_syntax,
    sink_sensitivity,
    stability,
)
from .depacc import DepAccuracy, family, syntax_ranking
from .headstats import HeadStats


def syntax_cell(dep: dict, layer: int, head: int) -> tuple[str, int, tuple[tuple[str, int], ...]] | None:
    """(relation, direction index, the cells tied with it) of the cell that earns a head its syntax role with the
    largest margin (ties of equal margins: by relation, then direction), or None."""
    cells, ranking = syntax_ranking(dep, layer, head)
    if not cells:
        return None
    lead = cells[ranking.order[0]]
    return lead[0], lead[1], tuple(cells[i] for i in ranking.first if cells[i] != lead)


def role(stats: dict[str, np.ndarray], dep: dict, layer: int, head: int,
         names: dict[str, str]) -> tuple[str, str]:
    """(role, evidence) of one head. `stats`: statistic -> [L, H] means (HeadStats.means); `dep`:
    DepAccuracy.results(); `names`: the model's first and last special tokens ({'first': '[CLS]', ...})."""
    found = syntax_cell(dep, layer, head)
    if found:
        relation, d, tied = found
        result = dep[relation]
        value, baseline = float(result.accuracy[layer, head, d]), float(result.baseline[result.best])
        ties = [f"{r} ({direction_words(DIRECTIONS[k])})" for r, k in tied]
        tie = "" if not ties else "; tied with " + (ties[0] if len(ties) == 1 else
                                                   ", ".join(ties[:-1]) + " and " + ties[-1])
        return "syntax", (f"syntax: {relation}, {direction_words(DIRECTIONS[d])}, {value:.2f} vs {baseline:.2f} "
                          f"for the best offset{tie}")
    return describe({s: float(v[layer, head]) for s, v in stats.items()}, names)


def role_rows(stats: dict[str, np.ndarray], dep: dict, names: dict[str, str]) -> list[tuple[int, int, str, str]]:
    """(layer, head, role, evidence) for every head."""
    n_layers, n_heads = stats["entropy"].shape
    return [(layer, head, *role(stats, dep, layer, head, names)) for layer in range(n_layers)
            for head in range(n_heads)]


def checked_rows(stats: HeadStats, dep: dict, names: dict[str, str],
                 control: ControlFigures | None) -> dict[str, list[tuple]]:
    """The head_roles rows (each role with its stability, deciding figure, tie group and the control's test) and
    the role_sensitivity rows, from the merged head statistics and the dependency results."""
    means = stats.means()
    if not means:  # no corpus sentence
        return {"head_roles": [], "role_sensitivity": []}
    n_layers, n_heads = stats.shape
    blocks = np.union1d(stats.blocks(), np.concatenate([r.counts.blocks for r in dep.values()
                                                        if r.counts is not None] or [np.zeros(0, np.int64)]))
    weights = resample_weights(len(blocks))
    drawn = stats.resampled(weights, blocks)
    relation_drawn, _ = resampled_syntax(dep, weights, blocks, family(dep), (n_layers, n_heads))
    resampled = resampled_roles(drawn, relation_drawn)
    heads = [(layer, head) for layer in range(n_layers) for head in range(n_heads)]
    found = [(*role(means, dep, layer, head, names), syntax_cell(dep, layer, head)) for layer, head in heads]
    roles = [[found[layer * n_heads + head][0] for head in range(n_heads)] for layer in range(n_layers)]
    relations = [[(f[2][0] if f[2] else None) for f in found[layer * n_heads:(layer + 1) * n_heads]]
                 for layer in range(n_layers)]
    stable, role_stable = stability(resampled, relation_drawn, roles, relations)
    values, ses, draws, controls = [], [], [], []
    for (layer, head), (name, _, cell) in zip(heads, found):
        value = se = draw = other = None
        if cell is not None:
            relation, d, _ = cell
            result = dep[relation]
            value, se = float(result.margin[layer, head, d]), float(result.margin_se[layer, head, d])
            if result.counts is not None:
                mine = weights[:, np.searchsorted(blocks, result.counts.blocks)]
                draw = result.counts.resampled(([layer], [head], [d]), mine)[1][:, 0]
            if control is not None:
                found_control = control.dep.get((layer, head, relation, DIRECTIONS[d]))
                other = found_control[1:] if found_control else None
        elif (stat := DECIDING.get(name)) in means:
            value, draw = float(means[stat][layer, head]), drawn[stat][:, layer, head]
            se = float(np.nanstd(draw, ddof=1))
            if control is not None:
                other = control.stats.get((layer, head, stat))
        values.append(value)
        ses.append(se)
        draws.append(draw)
        controls.append(other)
    tested = sum(v is not None and c is not None for v, c in zip(values, controls))
    groups = rank_groups([f[0] for f in found], values, draws)
    rows = []
    for i, ((layer, head), (name, evidence, cell)) in enumerate(zip(heads, found)):
        other = controls[i]
        claimed = (None if values[i] is None or other is None else
                   above_control(values[i], ses[i], other[0], other[1], tested))
        rows.append((layer, head, name, evidence, cell[0] if cell else None,
                     DIRECTIONS[cell[1]] if cell else None, float(stable[layer, head]),
                     float(role_stable[layer, head]), values[i], ses[i], groups[i],
                     control.roles.get((layer, head)) if control else None, other[0] if other else None,
                     other[1] if other else None, claimed))
    syntax = np.array([[r == "syntax" for r in row] for row in roles], dtype=bool)
    return {"head_roles": rows, "role_sensitivity": sink_sensitivity(means, syntax)}


def head_roles(accumulators, store) -> dict[str, list[tuple]]:
    """The derived analysis: the head_roles and role_sensitivity tables from the corpus pass's head statistics and
    dependency accuracy, the sinks named after the probes' first and last special tokens, the control model's
    figures read from the store (the control unit runs before the corpus pass)."""
    stats = next(a for a in accumulators if isinstance(a, HeadStats))
    dep = next(a for a in accumulators if isinstance(a, DepAccuracy))
    return checked_rows(stats, dep.results(), special_names(store.tokens_of(0)), control_figures(store))
