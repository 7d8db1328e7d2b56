"""View models of the head analysis (Clark et al. 2019) on the overview and on head pages: roles, dependency
accuracy against the positional baseline, Table 1, the map of the heads, a head's statistics among all heads."""

from __future__ import annotations

import functools
from collections import defaultdict
from dataclasses import dataclass

from ...store import Store
from ...vocab import (
    ALL_RELATIONS,
    BY_NORM,
    DIRECTIONS,
    NORM_SUFFIX,
    RELATION_GLOSSES,
    ROLES,
    STAT_DESCRIPTIONS,
    SYNTAX_FLOOR,
    SYNTAX_MARGIN,
    direction_words,
    head_label,
)
from ..charts import heads as headcharts
from ..links import Link
from .headmap import HeadMap, head_map

TABLE1_LEFT_OUT = ("ROOT", "punct")  # Clark et al.'s Table 1 has no row for these
ROLE_MEANINGS = {
    "syntax": "its attention finds a dependency relation's heads significantly better than any fixed offset does",
    "previous": "most attention on the previous token", "next": "most attention on the next token",
    "self": "most attention on the token itself", "first": "most attention on the first token (a sink)",
    "last": "most attention on the last special token (a sink)", "special": "most attention on special tokens",
    "punct": "most attention on punctuation", "broad": "attention spread almost evenly",
    "mixed": "none of the above",
}


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def rank_text(value: float, values: list[float], digits: int = 3) -> str:
    """Where `value` stands among `values` (its own included): 'highest of 72 heads', '3rd highest of 72
    heads', 'lowest of 72 heads', 'equal for all 72 heads'; values that are equal as the page shows them (to `digits`
    decimals) share the better rank, and a shared top or bottom says so ('highest of 72 heads, with 2 others'). The
    last bits of a statistic differ between machines, so exact equality would make the words differ too."""
    shown = [round(v, digits) for v in values]
    mine = round(value, digits)
    n = len(values)
    above = sum(v > mine for v in shown)
    below = sum(v < mine for v in shown)
    tied = n - above - below - 1  # others shown with the same value
    if above == 0 and below == 0:
        return f"equal for all {n} heads" if n > 1 else "the only head"
    others = f", with {tied} other{'s' if tied != 1 else ''}" if tied else ""
    if above == 0:
        return f"highest of {n} heads{others}"
    if below == 0:
        return f"lowest of {n} heads{others}"
    return f"{ordinal(above + 1)} highest of {n} heads{others}"


@dataclass(frozen=True)
class DepRow:
    relation: str
    direction: str  # 'dependent to head'
    support: int
    accuracy: float
    baseline_offset: int
    baseline: float
    accuracy_low: float  # 95% bootstrap interval
    accuracy_high: float
    margin_low: float  # 95% bootstrap interval of the margin over the baseline
    margin_high: float
    significant: bool  # the margin's Bonferroni-corrected interval lies above 0

    @property
    def margin(self) -> float:
        return self.accuracy - self.baseline

    @property
    def finding(self) -> bool:
        """Whether this cell earns the syntax role: significant, by at least SYNTAX_MARGIN, at SYNTAX_FLOOR."""
        return (self.relation != ALL_RELATIONS and self.significant and self.margin >= SYNTAX_MARGIN - 1e-12
                and self.accuracy >= SYNTAX_FLOOR)

    @property
    def margin_text(self) -> str:
        return f"{self.margin:+.2f} [{self.margin_low:+.2f}, {self.margin_high:+.2f}]"


@dataclass(frozen=True)
class StatRank:
    name: str
    description: str
    value: str  # '0.810'
    rank: str  # 'highest of 72 heads'


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
class HeadSummary:
    """One row of the overview's table of heads."""

    label: str
    href: str
    layer: int
    head: int
    role: str
    evidence: str
    values: tuple[tuple[str, float | None], ...]  # each statistic (shown to 3 decimals) in the page's order
    best: DepRow | None  # the relation beating its baseline by the most
    nearest: tuple[str, str, float] | None  # the most similar head: label, href, distance


@dataclass(frozen=True)
class Table1Cell:
    """One direction of a Table 1 row: the best head (and any head tied with it) and its accuracy against the
    baseline."""

    label: str
    href: str
    row: DepRow
    tied: tuple[Link, ...] = ()  # other heads with exactly the same accuracy


@dataclass(frozen=True)
class Table1Best:
    """A Table 1 cell that names a head as the best (or tied): shown on the head's page."""

    relation: str
    gloss: str
    direction: str  # in words
    significant: bool
    href: str  # the row of Table 1 on the overview


@dataclass(frozen=True)
class Table1Row:
    """Clark et al.'s Table 1: for one relation and direction, the best head and the baseline."""

    relation: str
    gloss: str  # the relation in words (spaCy's glossary)
    support: int
    cells: tuple[Table1Cell, ...]  # per direction


@dataclass(frozen=True)
class HeadOverview:
    """The overview's part: the table of heads, Table 1 and the map."""

    heads: tuple[HeadSummary, ...]
    table1: tuple[Table1Row, ...]
    map: HeadMap | None
    roles: tuple[tuple[str, str, int], ...]  # role, what it means, how many heads have it
    min_support: str
    sample: str


class HeadAnalyses:
    """Reads the head analysis tables once and builds its parts of the overview and of head pages."""

    def __init__(self, store: Store, meta: dict[str, str], stats: dict[tuple[int, int], dict[str, float]],
                 n_layers: int, n_heads: int):
        self.meta, self.stats, self.n_layers, self.n_heads = meta, stats, n_layers, n_heads
        # a report without one of these analyses (its tables absent) shows nothing of it
        self.roles = {(r.layer, r.head): (r.role, r.evidence) for r in store.head_roles()} \
            if store.has_table("head_roles") else {}
        self.dep: dict[tuple[int, int], list[DepRow]] = defaultdict(list)
        for r in (store.dep_accuracy() if store.has_table("dep_accuracy") else ()):
            self.dep[(r.layer, r.head)].append(DepRow(r.relation, direction_words(r.direction), r.support,
                                                      r.accuracy, r.baseline_offset, r.baseline_accuracy,
                                                      r.accuracy_low, r.accuracy_high, r.margin_low, r.margin_high,
                                                      r.significant))
        self.store = store
        self.nearest = {(n.layer, n.head): (head_label(n.near_layer, n.near_head),
                                            f"heads/{head_label(n.near_layer, n.near_head)}.html", n.distance)
                        for n in (store.nearest_heads() if store.has_table("head_distance") else ())}

    def _best(self, layer: int, head: int) -> DepRow | None:
        """The relation cell the head finds best against the baseline among those that earn the syntax role, or
        None ('none')."""
        rows = [r for r in self.dep.get((layer, head), ()) if r.finding]
        return max(rows, key=lambda r: (r.margin, r.accuracy), default=None)

    @functools.cached_property
    def table1(self) -> tuple[Table1Row, ...]:
        """Clark et al.'s Table 1: per relation (ROOT and punct left out) and direction, the most accurate head and
        any head tied with it."""
        table1 = []
        relations: dict[str, int] = {}
        for rows in self.dep.values():
            for r in rows:
                relations[r.relation] = r.support
        # as Clark et al.'s Table 1: no row for root and punct (both stay inside `all`)
        shown = [r for r in relations if r not in TABLE1_LEFT_OUT]
        for relation in sorted(shown, key=lambda r: (r != ALL_RELATIONS, -relations[r], r)):
            cells = []
            for direction in map(direction_words, DIRECTIONS):
                found = [(r.accuracy, -layer, -head, r) for (layer, head), rows in self.dep.items() for r in rows
                         if r.relation == relation and r.direction == direction]
                acc, layer, head, row = max(found, key=lambda f: f[:3])
                label = head_label(-layer, -head)
                tied = tuple(Link(f"heads/{head_label(-l, -h)}.html", head_label(-l, -h))
                             for a, l, h, _ in sorted(found, key=lambda f: (-f[1], -f[2]))
                             if a == acc and (l, h) != (layer, head))
                cells.append(Table1Cell(label, f"heads/{label}.html", row, tied))
            table1.append(Table1Row(relation, RELATION_GLOSSES.get(relation, ""), relations[relation], tuple(cells)))
        return tuple(table1)

    def table1_best(self, layer: int, head: int) -> tuple[Table1Best, ...]:
        """The Table 1 cells where a head is the best head (or tied for it), in Table 1's order."""
        label = head_label(layer, head)
        return tuple(Table1Best(row.relation, row.gloss, cell.row.direction, cell.row.significant,
                                f"../index.html#table1-{row.relation}")
                     for row in self.table1 for cell in row.cells
                     if cell.label == label or any(t.label == label for t in cell.tied))

    def overview(self, names: list[str], corpus_sentences: int) -> HeadOverview:
        heads = tuple(
            HeadSummary(head_label(layer, head), f"heads/{head_label(layer, head)}.html", layer, head,
                        *self.roles.get((layer, head), ("", "")),
                        tuple((s, self.stats.get((layer, head), {}).get(s)) for s in names),
                        self._best(layer, head), self.nearest.get((layer, head)))
            for layer in range(self.n_layers) for head in range(self.n_heads))
        table1 = self.table1
        map_view = head_map(self.store, self.roles, self.nearest, self.n_layers, self.n_heads)
        counts = defaultdict(int)
        for role, _ in self.roles.values():
            counts[role] += 1
        roles = tuple((r, ROLE_MEANINGS[r], counts[r]) for r in ROLES if counts[r])
        sample = min(int(self.meta.get("option.similarity_sentences", "1000")), corpus_sentences)
        return HeadOverview(heads, table1, map_view, roles, self.meta.get("option.min_dep_support", "100"),
                            f"{sample:,}")

    def head(self, layer: int, head: int, names: list[str]) -> HeadAnalysis:
        role, evidence = self.roles.get((layer, head), ("", ""))
        mine = self.stats.get((layer, head), {})
        ranks, strip_values = [], {}
        for s in names:
            if s not in mine:
                continue
            every = [v[s] for v in self.stats.values() if s in v]
            ranks.append(StatRank(s, STAT_DESCRIPTIONS.get(s, s), f"{mine[s]:.3f}", rank_text(mine[s], every)))
            strip_values[s] = [None if (v := self.stats.get((l, h), {}).get(s)) is None else round(v, 4)
                               for l in range(self.n_layers) for h in range(self.n_heads)]
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
                                  rank_text(mine[n], [v[n] for v in self.stats.values() if n in v]))
                        for s in BY_NORM if s in mine and (n := f"{s}{NORM_SUFFIX}") in mine)
        return HeadAnalysis(role, evidence, tuple(ranks), strips, dep, dep_chart,
                            self.meta.get("option.min_dep_support", "100"), self.table1_best(layer, head), by_norm,
                            label)
