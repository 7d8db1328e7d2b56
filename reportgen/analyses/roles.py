"""Head roles: one role in words per head, with the evidence that earned it, from the head statistics and the
dependency accuracy. The first rule that applies wins:

1. syntax: among the relations with enough support (not `all`) and both directions, the one whose accuracy beats
   its positional baseline by the most, if it beats it by at least SYNTAX_MARGIN and reaches SYNTAX_FLOOR:
   "syntax: det, dependent to head, 0.92 vs 0.61 for the best offset";
2. position: prev, next or self at least POSITIONAL (the largest of them): "previous token (0.81 of attention)";
3. sink: first or last (the last special token) at least SINK, then special tokens together, then punctuation:
   "[SEP] sink (0.74 of attention)";
4. broad: normalised entropy at least BROAD: "broad (normalised entropy 0.93)";
5. mixed: none of these; the evidence names the largest attention share.
"""

from __future__ import annotations

import numpy as np

from .depacc import ALL, DIRECTIONS

SYNTAX_MARGIN = 0.10  # accuracy above the best offset's
SYNTAX_FLOOR = 0.30  # and at least this accuracy
POSITIONAL = 0.50
SINK = 0.50
BROAD = 0.85

ROLES = ("syntax", "previous", "next", "self", "first", "last", "special", "punct", "broad", "mixed")
POSITIONS = {"prev": ("previous", "previous token"), "next": ("next", "next token"), "self": ("self", "itself")}
SHARES = ("self", "prev", "next", "first", "last", "special", "punct")


def _syntax(dep: dict, layer: int, head: int) -> tuple[float, str] | None:
    """(margin, evidence) of the head's relation that beats its baseline by the most, or None."""
    best = None
    for relation, (_support, acc, base, offset) in dep.items():
        if relation == ALL:
            continue
        for d, direction in enumerate(DIRECTIONS):
            value, baseline = float(acc[layer, head, d]), float(base[d, offset[d]])
            margin = value - baseline
            if value >= SYNTAX_FLOOR and margin >= SYNTAX_MARGIN - 1e-12 and (best is None or margin > best[0]):
                best = (margin, f"syntax: {relation}, {direction.replace('_', ' ')}, {value:.2f} vs "
                                f"{baseline:.2f} for the best offset")
    return best


def role(stats: dict[str, np.ndarray], dep: dict, layer: int, head: int,
         names: dict[str, str]) -> tuple[str, str]:
    """(role, evidence) of one head. `stats`: statistic -> [L, H] means (HeadStats.means); `dep`:
    DepAccuracy.results(); `names`: the model's first and last special tokens ({'first': '[CLS]', ...})."""
    found = _syntax(dep, layer, head)
    if found:
        return "syntax", found[1]
    value = {s: float(v[layer, head]) for s, v in stats.items()}
    positional = max((s for s in POSITIONS if s in value), key=lambda s: value[s])
    if value[positional] >= POSITIONAL:
        key, words = POSITIONS[positional]
        return key, f"{words} ({value[positional]:.2f} of attention)"
    for stat, words in (("first", f"{names.get('first') or 'first-token'} sink"),
                        ("last", f"{names.get('last') or 'last-token'} sink"),
                        ("special", "special-token sink"), ("punct", "punctuation")):
        if value.get(stat, 0.0) >= SINK:
            return stat, f"{words} ({value[stat]:.2f} of attention)"
    if value["entropy_norm"] >= BROAD:
        return "broad", f"broad (normalised entropy {value['entropy_norm']:.2f})"
    largest = max((s for s in SHARES if s in value), key=lambda s: value[s])
    return "mixed", f"mixed (largest share: {largest} {value[largest]:.2f})"


def role_rows(stats: dict[str, np.ndarray], dep: dict, names: dict[str, str]) -> list[tuple[int, int, str, str]]:
    """The head_roles table: (layer, head, role, evidence) for every head."""
    n_layers, n_heads = stats["entropy"].shape
    return [(layer, head, *role(stats, dep, layer, head, names)) for layer in range(n_layers)
            for head in range(n_heads)]
