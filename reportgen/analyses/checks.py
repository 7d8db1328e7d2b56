"""What a role must pass before the report states it: its stability under resampling, the sink threshold's
sensitivity, the tie groups among heads of one role, and the test against the control model.

Stability. The corpus pass keeps the head statistics and the dependency counts per block of sentences (sentence id
modulo BLOCKS), so each of the BOOTSTRAP resamples of the blocks (the same resamples for both) gives every head's
statistics and every cell's accuracy and margin exactly. On each resample the role rules are applied again (the
syntax rule first, then patterns.py's, in the same order and with the same thresholds; a syntax cell's significance
uses the whole corpus's standard error, moved to the resample's margin). A head's stability is the share of
resamples that give it the same role (for a syntax head, on the same relation, in either direction); below STABLE
the pages mark the role unstable.

The control (Adebayo et al. 2018, model randomisation): a role is claimed where the figure that decides it (the
share, the normalised entropy of a broad head, the margin of a syntax head's cell) is larger in the model than in
the same head of a randomly initialised copy: a one-sided z-test, z = (value - control) / sqrt(se^2 + se_c^2), each
standard error from its own block bootstrap, at FAMILY_ALPHA Bonferroni-corrected over the heads tested. The two
figures come from different sentences (the control's are the corpus's first ones), so the test treats them as
independent samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..patterns import SINKS, pattern_roles
from ..ranking import rank
from ..store.checks import CONTROL_DEP_ACCURACY, CONTROL_HEAD_STATS, CONTROL_ROLES
from ..vocab import ALL_RELATIONS, DIRECTIONS, STABLE, SYNTAX_FLOOR, SYNTAX_MARGIN  # noqa: F401 (STABLE: below)

SINK_THRESHOLDS = (0.55, 0.60, 0.65)  # the sink rule's threshold, the report's (0.6) and either side of it
FAMILY_ALPHA = 0.05


def resampled_syntax(dep: dict, weights: np.ndarray, blocks: np.ndarray, cells: int,
                     shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(relation [R, L, H], direction [R, L, H]): on each resample of `blocks` (`weights` [R, len(blocks)]), each
    head's syntax cell with the largest margin among those that earn the role ('' and -1 where none does); ties
    go to the first relation by name, then direction, as the role's own rule. `dep`: DepAccuracy.results();
    `cells`: the family the significance is corrected for."""
    n_layers, n_heads = shape
    relations = [r for r in dep if r != ALL_RELATIONS]
    resamples = weights.shape[0]
    relation = np.full((resamples, n_layers, n_heads), "", dtype=object)
    direction = np.full((resamples, n_layers, n_heads), -1, dtype=np.int64)
    if not relations:
        return relation, direction
    names = np.array(relations, dtype=object)
    for layer in range(n_layers):
        margins = []
        for r in relations:
            result = dep[r]
            if result.counts is None:  # figures made by hand: the same on every resample
                acc = np.broadcast_to(result.accuracy[layer], (resamples, n_heads, 2))
                margin = np.broadcast_to(result.margin[layer], (resamples, n_heads, 2))
            else:
                mine = weights[:, np.searchsorted(blocks, result.counts.blocks)]
                acc, margin = result.counts.resampled((layer,), mine)
            se = result.margin_se[layer]
            earns = ((acc >= SYNTAX_FLOOR) & (margin >= SYNTAX_MARGIN - 1e-12)
                     & (margin - result.z(cells) * se > 0))
            margins.append(np.where(earns, margin, -np.inf))
        flat = np.stack(margins, axis=2).reshape(resamples, n_heads, len(relations) * len(DIRECTIONS))
        best = np.argmax(flat, axis=-1)  # the first largest: relations by name, then directions
        found = np.take_along_axis(flat, best[..., None], axis=-1)[..., 0] > -np.inf
        relation[:, layer] = np.where(found, names[best // len(DIRECTIONS)], "")
        direction[:, layer] = np.where(found, best % len(DIRECTIONS), -1)
    return relation, direction


def resampled_roles(stats: dict[str, np.ndarray], relation: np.ndarray) -> np.ndarray:
    """[R, L, H] each head's role on each resample: syntax where it has a syntax cell (`relation` non-empty), else
    patterns.py's rules on the resample's statistics (`stats`: stat -> [R, L, H])."""
    roles = pattern_roles(stats)
    roles[relation != ""] = "syntax"
    return roles


def stability(resampled: np.ndarray, relation_drawn: np.ndarray, roles: list[list[str]],
              relations: list[list[str | None]]) -> tuple[np.ndarray, np.ndarray]:
    """([L, H] stability, [L, H] role stability): the share of resamples giving each head its role `roles[l][h]`
    (for a syntax head, on its relation `relations[l][h]`), and giving it its role on any relation."""
    role = np.array(roles, dtype=object)
    relation = np.array([[r or "" for r in row] for row in relations], dtype=object)
    same_role = resampled == role[None]
    same = same_role & ((role[None] != "syntax") | (relation_drawn == relation[None]))
    return same.mean(axis=0), same_role.mean(axis=0)


def sink_sensitivity(means: dict[str, np.ndarray], syntax: np.ndarray) -> list[tuple[str, float, int]]:
    """('sink', threshold, heads) for each threshold of SINK_THRESHOLDS: how many heads the rules make sinks with
    the sink rule at that threshold (`means`: stat -> [L, H]; `syntax`: [L, H] the heads the syntax rule takes
    first)."""
    out = []
    for threshold in SINK_THRESHOLDS:
        roles = pattern_roles(means, sink=threshold)
        out.append(("sink", threshold, int((np.isin(roles, SINKS) & ~syntax).sum())))
    return out


def rank_groups(roles: list[str], values: list[float | None], resampled: list[np.ndarray | None]) -> list[int | None]:
    """Each head's tie group (1 = the largest) of its value among the heads of its role, from the paired resamples
    (one [R] array per head, the same resamples for all); None where a head has no value."""
    out: list[int | None] = [None] * len(roles)
    for role in sorted(set(roles)):
        members = [i for i, r in enumerate(roles) if r == role and values[i] is not None]
        if not members:
            continue
        drawn = [resampled[i] for i in members]
        matrix = np.stack(drawn, axis=1) if all(d is not None for d in drawn) else None
        ranking = rank([values[i] for i in members], matrix)
        for group, items in enumerate(ranking.groups, start=1):
            for k in items:
                out[members[k]] = group
    return out


def above_control(value: float, se: float, control: float, control_se: float, tests: int) -> bool:
    """Whether `value` lies above `control` by a one-sided z-test at FAMILY_ALPHA Bonferroni-corrected over
    `tests` tests, the two standard errors from independent samples."""
    from scipy.stats import norm

    spread = float(np.hypot(se, control_se))
    if spread == 0:
        return value > control
    return (value - control) / spread > norm.ppf(1 - FAMILY_ALPHA / max(tests, 1))


@dataclass(frozen=True)
class ControlFigures:
    """The control model's figures, as stored: (value, se) by (layer, head, stat); (accuracy, margin, se) by
    (layer, head, relation, direction); its role by (layer, head)."""

    stats: dict
    dep: dict
    roles: dict


def control_figures(store) -> ControlFigures | None:
    """What the control unit stored, or None where the report has no control (absent or empty tables)."""
    roles = {(r.layer, r.head): r.role for r in store.rows(CONTROL_ROLES)}
    if not roles:
        return None
    return ControlFigures({(r.layer, r.head, r.stat): (r.value, r.se) for r in store.rows(CONTROL_HEAD_STATS)},
                          {(r.layer, r.head, r.relation, r.direction): (r.accuracy, r.accuracy - r.baseline_accuracy,
                                                                              r.margin_se)
                           for r in store.rows(CONTROL_DEP_ACCURACY)}, roles)
