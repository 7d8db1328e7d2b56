"""The heads' roles on the pages: a head page's role line, the overview's roles with the table of heads (the other
analyses' columns included), and the Findings about sinks, positional heads, syntax heads and broad heads."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from ...unit import Section
from ...vocab import STABLE
from ..views.headanalysis import HeadOverview, HeadSummary, RoleCheck
from ..views.summary import (
    Finding,
    Part,
    and_list,
    head_part,
    join,
    layers_text,
    probe_special_names,
)
from . import cached
from .headstats import Statistic, statistics
from .readers import head_analyses, stat_names, stats

TEMPLATE = "sections/roles.html"


@dataclass(frozen=True)
class RoleLine:
    """The lines under a head page's title: the head's role and the evidence that earned it, its stability and the
    control model's same head."""

    role: str
    evidence: str
    check: RoleCheck | None
    figure: str  # what decides the role, in words ('' for mixed)
    stable: float  # the stability below which a role is marked unstable


FIGURES = {"syntax": "the margin over the best fixed offset", "broad": "the normalised entropy", "mixed": ""}


@dataclass(frozen=True)
class Column:
    """A column another analysis adds to the table of heads: its title and each head's cell by label, as (the value
    the column sorts by, the text shown)."""

    title: str
    cells: dict[str, tuple[str, str]]


@dataclass(frozen=True)
class HeadTable:
    """The overview's roles: how many heads have each, and the table of every head."""

    roles: tuple[tuple[str, str, int], ...]  # role, what it means, how many heads have it
    heads: tuple[HeadSummary, ...]
    statistics: tuple[Statistic, ...]  # the statistics' columns, in order
    columns: tuple[Column, ...]  # the other analyses' columns ('heads-column' sections)
    min_support: str
    sample: str
    sinks_at: tuple[tuple[float, int], ...]  # the sink rule's sensitivity: (threshold, sinks)
    stable: float


def role_line(report, layer: int, head: int) -> RoleLine | None:
    analyses = head_analyses(report)
    role, evidence = analyses.roles.get((layer, head), ("", ""))
    if not role:
        return None
    return RoleLine(role, evidence, analyses.checks.get((layer, head)), FIGURES.get(role, "the share of attention"),
                    STABLE)


def head_table(report) -> HeadTable:
    overview = head_overview(report)
    columns = tuple(c for s in report.sections.get("heads-column", ()) if (c := s.view(report)) is not None)
    return HeadTable(overview.roles, overview.heads, statistics(report), columns, overview.min_support,
                     overview.sample, overview.sinks_at, STABLE)


def head_overview(report) -> HeadOverview:
    """Every head's role, statistics, best relation and nearest head; Table 1; the map (read once per report)."""
    return cached(report, "head_overview", lambda: head_analyses(report).overview(
        stat_names(report), report.store.counts().sentences))



LARGEST = 3  # syntax heads named with their margins
SINKS = ("first", "last", "special", "punct")
SINK_WORDS = {"special": "special tokens together", "punct": "punctuation"}
MOVES_LITTLE = 0.10  # a sink that moves less than this share of its row's total from its sink, by norm


def claimed_text(heads: list[HeadSummary], them: str = "them") -> str:
    """'; 2 of them are claimed against the random model's same heads' ('' where the report has no control)."""
    checked = [h.check for h in heads if h.check is not None and h.check.control_role is not None]
    if not checked:
        return ""
    return (f"; {sum(bool(c.claimed) for c in checked)} of {them} differ significantly from the random model's same "
            f"head{'s' if len(checked) > 1 else ''} (claimed)")


def sinks(overview: HeadOverview, names: dict[str, str],
          stats: dict[tuple[int, int], dict[str, float]] | None = None) -> Finding:
    heads = [h for h in overview.heads if h.role in SINKS]
    total = len(overview.heads)
    others = [f"{t:.2f}: {n}" for t, n in overview.sinks_at if abs(t - 0.6) > 1e-9]
    sensitivity = f" (sinks at the threshold {'; at '.join(others)})" if others else ""
    if not heads:
        return Finding("sinks", (Part(f"None of the {total} heads is a sink: none gives more than 0.6 of its "
                                      f"attention to the first or last token, special tokens or punctuation"
                                      f"{sensitivity}. "),
                                 Part("Roles", "#roles"), Part(".")))
    by = Counter(h.role for h in heads)
    kinds = [[Part(f"{by[r]} to {names.get(r) or SINK_WORDS.get(r, r + ' token')}")] for r in SINKS if by[r]]
    parts = [Part(f"{len(heads)} of the {total} heads are sinks{sensitivity}, giving more than 0.6 of their "
                  f"attention to one place: ")] + join(kinds) + [
        Part(f"; they sit in {layers_text(Counter(h.layer for h in heads))}")]
    moved = [(stats or {}).get((h.layer, h.head), {}).get(f"{h.role}_by_norm") for h in heads]
    if all(m is not None for m in moved):  # the corpus pass measured what attention moves
        little = sum(m < MOVES_LITTLE for m in moved)
        parts.append(Part(f"; {little} of them take less than {MOVES_LITTLE:.2f} of what their attention moves "
                          f"from that place (weighting each weight by the norm of the vector it moves)"))
    parts += [Part(claimed_text(heads)), Part(". "), Part("Roles", "#roles"), Part(".")]
    return Finding("sinks", tuple(parts))


def positional(overview: HeadOverview, stats: dict[tuple[int, int], dict[str, float]]) -> Finding:
    groups = []
    for role, stat, words in (("previous", "prev", "previous-token"), ("next", "next", "next-token"),
                              ("self", "self", "self")):
        heads = [h for h in overview.heads if h.role == role]
        if heads:
            items = [[head_part(h.layer, h.head), Part(f" ({stats[(h.layer, h.head)][stat]:.2f} of its attention)")]
                     for h in heads]
            groups.append([Part(f"{words} head{'s' if len(heads) > 1 else ''} ")] + join(items))
    if not groups:
        return Finding("position", (Part("No head gives more than half of its attention to the previous token, "
                                         "the next token or the token itself."),))
    every = [h for h in overview.heads if h.role in ("previous", "next", "self")]
    claimed = claimed_text(every, "them")
    return Finding("position", tuple([Part("Positional: ")] + join(groups, "; ", "; and ") + [Part(claimed + ".")]))


def largest(heads: list[HeadSummary], k: int = LARGEST) -> tuple[list[HeadSummary], bool]:
    """The syntax heads with the largest margins: the first k by margin, the cut extended over a tie (the heads'
    tie groups, head_roles.rank_group, from paired tests over the block resamples); and whether it was extended."""
    order = sorted(heads, key=lambda h: (-h.best.margin, h.layer, h.head))
    if not order or any(h.check is None or h.check.rank_group is None for h in order):
        return order[:k], False
    groups = sorted({h.check.rank_group for h in order})
    cut: list[HeadSummary] = []
    for group in groups:
        if len(cut) >= k:
            break
        cut += [h for h in order if h.check.rank_group == group]
    return cut, len(cut) > k


def syntax(overview: HeadOverview) -> Finding:
    heads = [h for h in overview.heads if h.role == "syntax" and h.best is not None]
    beat = overview.significant_heads
    if not heads:
        return Finding("syntax", (Part(f"No head has the syntax role: none predicts the heads of a dependency relation "
                                       f"better than the best fixed offset by 0.10 or more, significantly, at an "
                                       f"accuracy of at least 0.30 ({beat} head{'s beat' if beat != 1 else ' beats'} "
                                       f"position significantly on some relation, at any margin). "),
                                  Part("Table 1", "#table1"), Part(".")))
    best, extended = largest(heads)
    items = []
    for h in best:
        tie = f"; tied with {and_list([t.relation for t in h.tied])}" if h.tied else ""
        items.append([head_part(h.layer, h.head), Part(" on "), Part(h.best.relation, f"{h.href}#syntax"),
                      Part(f" ({h.best.direction}, {h.best.accuracy:.2f} against {h.best.baseline:.2f} for the best "
                           f"offset{tie})")])
    many = len(heads) > 1
    cut = (f" (the first {LARGEST}, extended over a tie to {len(best)})" if extended else "")
    return Finding("syntax", tuple(
        [Part(f"{len(heads)} head{'s have' if many else ' has'} the syntax role: a margin over the best fixed offset "
              f"of at least 0.10, significant, at an accuracy of at least 0.30 ({beat} head"
              f"{'s beat' if beat != 1 else ' beats'} position significantly on some relation, at any margin)"
              f"{claimed_text(heads)}; {'the largest margins' if many else 'its margin'}{cut}: ")]
        + join(items) + [Part(".")]))


def broad(overview: HeadOverview) -> Finding:
    counts = Counter(h.role for h in overview.heads)
    control = Counter(h.check.control_role for h in overview.heads if h.check and h.check.control_role)
    random = (f"; the random model has {control['broad']} broad head{'s' if control['broad'] != 1 else ''} of "
              f"{sum(control.values())}" if control else "")
    return Finding("broad", (Part(f"{counts['broad']} head{'s' if counts['broad'] != 1 else ''} attend broadly "
                                  f"(normalised entropy at least 0.85) and {counts['mixed']} "
                                  f"{'are' if counts['mixed'] != 1 else 'is'} mixed (no rule applies)"
                                  f"{random}. "),
                             Part("Roles", "#roles"), Part(".")))


SECTIONS = (
    Section("head", "role", "", TEMPLATE, "head", -30, role_line),
    Section("index", "roles", "Roles and the table of heads", TEMPLATE, "index", 30, head_table),
    Section("findings", "sinks", "", "", "", 20,
            lambda r: sinks(head_overview(r), probe_special_names(r), stats(r))),
    Section("findings", "position", "", "", "", 30, lambda r: positional(head_overview(r), stats(r))),
    Section("findings", "syntax", "", "", "", 40, lambda r: syntax(head_overview(r))),
    Section("findings", "broad", "", "", "", 60, lambda r: broad(head_overview(r))),
)
