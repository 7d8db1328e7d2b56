"""The heads' roles on the pages: a head page's role line, the overview's roles with the table of heads (the other
analyses' columns included), and the Findings about sinks, positional heads, syntax heads and broad heads."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from ...unit import Section
from ..views.headanalysis import HeadOverview, HeadSummary
from ..views.summary import (
    Finding,
    Part,
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
    """The line under a head page's title: the head's role and the evidence that earned it."""

    role: str
    evidence: str


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


def role_line(report, layer: int, head: int) -> RoleLine | None:
    role, evidence = head_analyses(report).roles.get((layer, head), ("", ""))
    return RoleLine(role, evidence) if role else None


def head_table(report) -> HeadTable:
    overview = head_overview(report)
    columns = tuple(c for s in report.sections.get("heads-column", ()) if (c := s.view(report)) is not None)
    return HeadTable(overview.roles, overview.heads, statistics(report), columns, overview.min_support,
                     overview.sample)


def head_overview(report) -> HeadOverview:
    """Every head's role, statistics, best relation and nearest head; Table 1; the map (read once per report)."""
    return cached(report, "head_overview", lambda: head_analyses(report).overview(
        stat_names(report), report.store.counts().sentences))



LARGEST = 3  # syntax heads named with their margins
SINKS = ("first", "last", "special", "punct")
SINK_WORDS = {"special": "special tokens together", "punct": "punctuation"}
MOVES_LITTLE = 0.10  # a sink that moves less than this share of its row's total from its sink, by norm


def sinks(overview: HeadOverview, names: dict[str, str],
          stats: dict[tuple[int, int], dict[str, float]] | None = None) -> Finding:
    heads = [h for h in overview.heads if h.role in SINKS]
    total = len(overview.heads)
    if not heads:
        return Finding("sinks", (Part(f"None of the {total} heads is a sink: none gives more than 0.6 of its "
                                      f"attention to the first or last token, special tokens or punctuation. "),
                                 Part("Roles", "#roles"), Part(".")))
    by = Counter(h.role for h in heads)
    kinds = [[Part(f"{by[r]} to {names.get(r) or SINK_WORDS.get(r, r + ' token')}")] for r in SINKS if by[r]]
    parts = [Part(f"{len(heads)} of the {total} heads are sinks, giving more than 0.6 of their attention to one "
                  f"place: ")] + join(kinds) + [Part(f"; they sit in {layers_text(Counter(h.layer for h in heads))}")]
    moved = [(stats or {}).get((h.layer, h.head), {}).get(f"{h.role}_by_norm") for h in heads]
    if all(m is not None for m in moved):  # the corpus pass measured what attention moves
        little = sum(m < MOVES_LITTLE for m in moved)
        parts.append(Part(f"; {little} of them take less than {MOVES_LITTLE:.2f} of what their attention moves "
                          f"from that place (weighting each weight by the norm of the vector it moves)"))
    parts += [Part(". "), Part("Roles", "#roles"), Part(".")]
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
    return Finding("position", tuple([Part("Positional: ")] + join(groups, "; ", "; and ") + [Part(".")]))


def syntax(overview: HeadOverview) -> Finding:
    heads = [h for h in overview.heads if h.role == "syntax" and h.best is not None]
    if not heads:
        return Finding("syntax", (Part("No head predicts the heads of any dependency relation significantly better "
                                       "than the best fixed offset by 0.10 or more. "),
                                  Part("Table 1", "#table1"), Part(".")))
    best = sorted(heads, key=lambda h: (-h.best.margin, h.layer, h.head))[:LARGEST]
    items = [[head_part(h.layer, h.head), Part(" on "), Part(h.best.relation, f"{h.href}#syntax"),
              Part(f" ({h.best.direction}, {h.best.accuracy:.2f} against {h.best.baseline:.2f} for the best "
                   f"offset)")] for h in best]
    return Finding("syntax", tuple(
        [Part(f"{len(heads)} head{'s beat' if len(heads) > 1 else ' beats'} position significantly on some "
              f"dependency relation (the syntax role); {'the largest margins' if len(heads) > 1 else 'its margin'}: ")]
        + join(items) + [Part(".")]))


def broad(overview: HeadOverview) -> Finding:
    counts = Counter(h.role for h in overview.heads)
    return Finding("broad", (Part(f"{counts['broad']} head{'s' if counts['broad'] != 1 else ''} attend broadly "
                                  f"(normalised entropy at least 0.85) and {counts['mixed']} "
                                  f"{'are' if counts['mixed'] != 1 else 'is'} mixed (no rule applies). "),
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
