"""The heads' roles on the pages: a head page's role line, the overview's roles with the table of heads (the other
analyses' columns included), and the Findings about sinks, positional heads, syntax heads and broad heads."""

from __future__ import annotations

from dataclasses import dataclass

from ...unit import Section
from ..views import summary
from ..views.headanalysis import HeadOverview, HeadSummary
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


SECTIONS = (
    Section("head", "role", "", TEMPLATE, "head", -30, role_line),
    Section("index", "roles", "Roles and the table of heads", TEMPLATE, "index", 30, head_table),
    Section("findings", "sinks", "", "", "", 20,
            lambda r: summary.sinks(head_overview(r), summary.probe_special_names(r), stats(r))),
    Section("findings", "position", "", "", "", 30, lambda r: summary.positional(head_overview(r), stats(r))),
    Section("findings", "syntax", "", "", "", 40, lambda r: summary.syntax(head_overview(r))),
    Section("findings", "broad", "", "", "", 60, lambda r: summary.broad(head_overview(r))),
)
