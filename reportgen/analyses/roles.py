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

from ..vocab import ALL_RELATIONS, DIRECTIONS
from .depacc import DepAccuracy
from .headstats import HeadStats

SYNTAX_MARGIN = 0.10  # accuracy above the best offset's
SYNTAX_FLOOR = 0.30  # and at least this accuracy
POSITIONAL = 0.50
SINK = 0.50
BROAD = 0.85

POSITIONS = {"prev": ("previous", "previous token"), "next": ("next", "next token"), "self": ("self", "itself")}
SHARES = ("self", "prev", "next", "first", "last", "special", "punct")


def _syntax(dep: dict, layer: int, head: int) -> tuple[float, str] | None:
    """(margin, evidence) of the head's relation that beats its baseline by the most, or None."""
    best = None
    for relation, (_support, acc, base, offset) in dep.items():
        if relation == ALL_RELATIONS:
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


def head_roles(accumulators, store) -> dict[str, list[tuple]]:
    """The derived analysis: the head_roles table from the corpus pass's head statistics and dependency accuracy,
    the sinks named after the probes' first and last special tokens."""
    stats = next(a for a in accumulators if isinstance(a, HeadStats))
    dep = next(a for a in accumulators if isinstance(a, DepAccuracy))
    return {"head_roles": role_rows(stats.means(), dep.results(), special_names(store.tokens_of(0)))}


def special_names(tokens) -> dict[str, str]:
    """The first token and the last special token of a probe sentence (TokenRow), as the head roles name them
    ('[CLS]', '[SEP]'); only where they are special tokens."""
    names = {"first": tokens[0].text} if tokens[0].is_special else {}
    last = [t for t in tokens[1:] if t.is_special]
    return names | ({"last": last[-1].text} if last else {})
