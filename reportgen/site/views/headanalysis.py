"""View models of the head analysis (Clark et al. 2019) on the overview and on head pages: roles, dependency
accuracy against the positional baseline, Table 1, the map of the heads, a head's statistics among all heads."""

from __future__ import annotations

import bisect
import functools
from collections import defaultdict
from dataclasses import dataclass

from ...store import Store
from ...store.checks import CONTROL_HEAD_STATS, DEP_TABLE1, ROLE_SENSITIVITY
from ...vocab import (
    ALL_RELATIONS,
    BY_NORM,
    DIRECTIONS,
    NORM_SUFFIX,
    ROLES,
    STABLE,
    STAT_DESCRIPTIONS,
    count,
    direction_words,
    head_label,
    ordinal,
)
from ..charts import heads as headcharts
from .headmap import HeadMap, head_map
from .table1 import TABLE1_LEFT_OUT, DepRow, Table1Best, Table1Row, table1_best, table1_rows

__all__ = ["TABLE1_LEFT_OUT", "DepRow", "HeadAnalyses", "HeadOverview", "HeadSummary", "RoleCheck", "Table1Best",
           "Table1Row"]

ROLE_MEANINGS = {
    "syntax": "its attention finds a dependency relation's heads significantly better than any fixed offset does",
    "previous": "most attention on the previous token", "next": "most attention on the next token",
    "self": "most attention on the token itself", "first": "most attention on the first token (a sink)",
    "last": "most attention on the last special token (a sink)", "special": "most attention on special tokens",
    "punct": "most attention on punctuation", "broad": "attention spread almost evenly",
    "mixed": "none of the above",
}


def rank_text(value: float, values: list[float], digits: int = 3) -> str:
    """Where `value` stands among `values` (its own included): 'highest of 72 heads', '3rd highest of 72
    heads', 'lowest of 72 heads', 'equal for all 72 heads'; values that are equal as the page shows them (to `digits`
    decimals) share the better rank, and a shared top or bottom says so ('highest of 72 heads, with 2 others'). The
    last bits of a statistic differ between machines, so exact equality would make the words differ too."""
    return rank_among(value, Shown.of(values, digits))


@dataclass(frozen=True)
class Shown:
    """Every head's value of one statistic as a page shows it (rounded), sorted: where one head stands among them
    is two bisections instead of a pass over every head (a head page of a 270-head model ranks 14 statistics)."""

    values: tuple[float, ...]
    exact: bool  # no NaN: the sorted order is the comparisons' order
    digits: int  # the decimals shown

    @classmethod
    def of(cls, values: list[float], digits: int = 3) -> Shown:
        shown = [round(v, digits) for v in values]
        exact = all(v == v for v in shown)
        return cls(tuple(sorted(shown) if exact else shown), exact, digits)


def rank_among(value: float, shown: Shown) -> str:
    """rank_text of `value` among every head's values as shown (`Shown`, made once for many heads)."""
    mine = round(value, shown.digits)
    n = len(shown.values)
    if shown.exact and mine == mine:
        above = n - bisect.bisect_right(shown.values, mine)
        below = bisect.bisect_left(shown.values, mine)
    else:
        above = sum(v > mine for v in shown.values)
        below = sum(v < mine for v in shown.values)
    tied = n - above - below - 1  # others shown with the same value
    if above == 0 and below == 0:
        return f"equal for all {n} heads" if n > 1 else "the only head"
    others = f", with {count(tied, 'other')}" if tied else ""
    if above == 0:
        return f"highest of {n} heads{others}"
    if below == 0:
        return f"lowest of {n} heads{others}"
    return f"{ordinal(above + 1)} highest of {n} heads{others}"


@dataclass(frozen=True)
class StatRank:
    name: str
    description: str
    value: str  # '0.810'
    rank: str  # 'highest of 72 heads'
    control: str = ""  # the control model's same statistic of the same head ('0.094'), '' without a control


@dataclass(frozen=True)
class NormShare:
    """One share of a head's attention by weight and by what it moves (the norm of f(x_j), Kobayashi et al.)."""

    name: str  # 'first'
    description: str
    weight: float
    norm: float
    rank: str  # of the share by norm among the heads


@dataclass(frozen=True)
class HeadAnalysis:
    """A head page's part: its role, its statistics among all heads, its dependency accuracy."""

    role: str
    evidence: str
    ranks: tuple[StatRank, ...]
    strips: dict | None  # chart of every head's statistics, this head's highlighted
    dep: tuple[DepRow, ...]  # 'all' first, then relations by name
    dep_chart: dict | None
    min_support: str
    table1: tuple[Table1Best, ...] = ()  # the relations this head is Table 1's best head for
    by_norm: tuple[NormShare, ...] = ()  # each share by weight beside its share of what attention moves
    label: str = ""  # L3H7


@dataclass(frozen=True)
class RoleCheck:
    """What a head's role must pass before it is cited (head_roles): its stability under the block bootstrap, the
    figure that decides it, and the control model's same head with the test against it."""

    stability: float
    role_stability: float
    syntax: bool
    value: float | None
    se: float | None
    rank_group: int | None
    control_role: str | None
    control_value: float | None
    claimed: bool | None

    @property
    def unstable(self) -> bool:
        return self.stability < STABLE

    @property
    def stability_text(self) -> str:
        """'0.93', '0.62 (unstable; syntax on any relation: 0.98)'."""
        notes = (["unstable"] if self.unstable else []) + (
            [f"syntax on any relation: {self.role_stability:.2f}"] if self.syntax else [])
        return f"{self.stability:.2f}" + (f" ({'; '.join(notes)})" if notes else "")

    @property
    def control_text(self) -> str:
        """The control model's same head: 'broad, 1.00 against 0.97: not claimed'; '' without a control."""
        if self.control_role is None:
            return ""
        if self.value is None or self.control_value is None:
            return f"{self.control_role}; no test (no figure to compare)"
        verdict = "claimed" if self.claimed else "not claimed"
        return f"{self.control_role}, {self.control_value:.2f} against {self.value:.2f}: {verdict}"


@dataclass(frozen=True)
class HeadSummary:
    """One row of the overview's table of heads."""

    label: str
    href: str
    layer: int
    head: int
    role: str
    evidence: str
    values: tuple[tuple[str, float | None], ...]  # each statistic (shown to 3 decimals) in the page's order
    best: DepRow | None  # the syntax cell with the largest margin
    nearest: tuple[str, str, float] | None  # the most similar head: label, href, distance
    tied: tuple[DepRow, ...] = ()  # the syntax cells no paired test separates from `best`
    check: RoleCheck | None = None


@dataclass(frozen=True)
class HeadOverview:
    """The overview's part: the table of heads, Table 1 and the map."""

    heads: tuple[HeadSummary, ...]
    table1: tuple[Table1Row, ...]
    map: HeadMap | None
    roles: tuple[tuple[str, str, int, int | None], ...]  # role, what it means, how many heads have it, how many
    # of them are claimed against the control model (None without a control)
    min_support: str
    sample: str
    sinks_at: tuple[tuple[float, int], ...] = ()  # (threshold, sinks) of the sink rule's sensitivity
    significant_heads: int = 0  # heads with a relation cell (not 'all') significantly above its offset, any margin


class HeadAnalyses:
    """Reads the head analysis tables once and builds its parts of the overview and of head pages."""

    def __init__(self, store: Store, meta: dict[str, str], stats: dict[tuple[int, int], dict[str, float]],
                 n_layers: int, n_heads: int):
        self.meta, self.stats, self.n_layers, self.n_heads = meta, stats, n_layers, n_heads
        # a report without one of these analyses (its tables absent) shows nothing of it
        found = store.head_roles() if store.has_table("head_roles") else []
        self.roles = {(r.layer, r.head): (r.role, r.evidence) for r in found}
        self.checks = {(r.layer, r.head): RoleCheck(r.stability, r.role_stability, r.role == "syntax", r.value,
                                                    r.se, r.rank_group, r.control_role, r.control_value, r.claimed)
                       for r in found}
        self.dep: dict[tuple[int, int], list[DepRow]] = defaultdict(list)
        for r in (store.dep_accuracy() if store.has_table("dep_accuracy") else ()):
            self.dep[(r.layer, r.head)].append(DepRow(r.relation, direction_words(r.direction), r.support,
                                                      r.accuracy, r.baseline_offset, r.baseline_accuracy,
                                                      r.accuracy_low, r.accuracy_high, r.margin_low, r.margin_high,
                                                      r.significant, r.margin_low_corrected,
                                                      r.margin_high_corrected, r.below, r.table1_lead,
                                                      r.syntax_lead))
        self.held = {(r.relation, direction_words(r.direction)): r for r in store.rows(DEP_TABLE1)}
        self.sinks_at = tuple((r.threshold, r.heads) for r in store.rows(ROLE_SENSITIVITY) if r.rule == "sink")
        self.control_stats = {(r.layer, r.head, r.stat): r.value for r in store.rows(CONTROL_HEAD_STATS)}
        self.store = store
        self._shown_by_stat: dict[str, Shown] = {}
        self._strips: dict[str, list[float | None]] = {}
        self.nearest = {(n.layer, n.head): (head_label(n.near_layer, n.near_head),
                                            f"heads/{head_label(n.near_layer, n.near_head)}.html", n.distance)
                        for n in (store.nearest_heads() if store.has_table("head_distance") else ())}

    def _shown(self, stat: str) -> Shown:
        """Every head's value of `stat` as the pages show it, sorted (made once for all the head pages)."""
        if stat not in self._shown_by_stat:
            self._shown_by_stat[stat] = Shown.of([v[stat] for v in self.stats.values() if stat in v])
        return self._shown_by_stat[stat]

    def _strip(self, stat: str) -> list[float | None]:
        """The statistic's strip: every head's value to 4 decimals, in head order (None where a head has none)."""
        if stat not in self._strips:
            self._strips[stat] = [None if (v := self.stats.get((l, h), {}).get(stat)) is None else round(v, 4)
                                  for l in range(self.n_layers) for h in range(self.n_heads)]
        return self._strips[stat]

    def syntax_lead(self, layer: int, head: int) -> tuple[DepRow, ...]:
        """The head's syntax cells that lead: the largest margin first (ties of equal margins by relation, then
        direction, as the role), then the cells no paired test separates from it; () where none earns the role."""
        return tuple(sorted((r for r in self.dep.get((layer, head), ()) if r.syntax_lead and r.finding),
                            key=lambda r: (-r.margin, r.relation, DIRECTIONS.index(r.direction.replace(" ", "_")))))

    @functools.cached_property
    def table1(self) -> tuple[Table1Row, ...]:
        """Clark et al.'s Table 1 (views/table1.py)."""
        return table1_rows(self.dep, self.held)

    def table1_best(self, layer: int, head: int) -> tuple[Table1Best, ...]:
        """The Table 1 cells that name a head: in-sample (leading or tied) or picked on the selection half."""
        return table1_best(self.table1, head_label(layer, head))

    def overview(self, names: list[str], corpus_sentences: int) -> HeadOverview:
        heads = []
        for layer in range(self.n_layers):
            for head in range(self.n_heads):
                lead = self.syntax_lead(layer, head)
                heads.append(HeadSummary(
                    head_label(layer, head), f"heads/{head_label(layer, head)}.html", layer, head,
                    *self.roles.get((layer, head), ("", "")),
                    tuple((s, self.stats.get((layer, head), {}).get(s)) for s in names),
                    lead[0] if lead else None, self.nearest.get((layer, head)), lead[1:],
                    self.checks.get((layer, head))))
        table1 = self.table1
        map_view = head_map(self.store, self.roles, self.nearest, self.n_layers, self.n_heads)
        counts, claimed = defaultdict(int), defaultdict(int)
        controlled = any(c.control_role is not None for c in self.checks.values())
        for key, (role, _) in self.roles.items():
            counts[role] += 1
            claimed[role] += bool(self.checks[key].claimed)
        roles = tuple((r, ROLE_MEANINGS[r], counts[r], claimed[r] if controlled and r != "mixed" else None)
                      for r in ROLES if counts[r])
        sample = min(int(self.meta.get("option.similarity_sentences", "1000")), corpus_sentences)
        significant = sum(any(r.significant and r.relation != ALL_RELATIONS for r in rows)
                          for rows in self.dep.values())
        return HeadOverview(tuple(heads), table1, map_view, roles, self.meta.get("option.min_dep_support", "100"),
                            f"{sample:,}", self.sinks_at, significant)

    def head(self, layer: int, head: int, names: list[str]) -> HeadAnalysis:
        role, evidence = self.roles.get((layer, head), ("", ""))
        mine = self.stats.get((layer, head), {})
        ranks, strip_values = [], {}
        for s in names:
            if s not in mine:
                continue
            control = self.control_stats.get((layer, head, s))
            ranks.append(StatRank(s, STAT_DESCRIPTIONS.get(s, s), f"{mine[s]:.3f}",
                                  rank_among(mine[s], self._shown(s)),
                                  "" if control is None else f"{control:.3f}"))
            strip_values[s] = self._strip(s)
        label = head_label(layer, head)
        strips = headcharts.stat_strips(
            [r.name for r in ranks], strip_values, layer * self.n_heads + head, self.n_heads,
            f"Strips of every head's statistics, one per statistic, a tick per head, {label}'s larger and in "
            f"orange. The list beside it gives {label}'s value and rank.") if ranks else None
        dep = tuple(self.dep.get((layer, head), ()))
        dep_chart = None
        if dep:
            relations = list(dict.fromkeys(r.relation for r in dep))
            dep_chart = headcharts.dep_accuracy(
                relations, [{"r": r.relation, "d": r.direction, "a": round(r.accuracy, 4),
                             "b": round(r.baseline, 4), "o": r.baseline_offset, "n": r.support} for r in dep],
                f"Bar chart of {label}'s dependency accuracy per relation, one panel per direction, each bar with "
                f"a black tick at the accuracy of the best fixed offset. The table under it lists every value.")
        by_norm = tuple(NormShare(s, STAT_DESCRIPTIONS.get(s, s), mine[s], mine[n],
                                  rank_among(mine[n], self._shown(n)))
                        for s in BY_NORM if s in mine and (n := f"{s}{NORM_SUFFIX}") in mine)
        return HeadAnalysis(role, evidence, tuple(ranks), strips, dep, dep_chart,
                            self.meta.get("option.min_dep_support", "100"), self.table1_best(layer, head), by_norm,
                            label)
