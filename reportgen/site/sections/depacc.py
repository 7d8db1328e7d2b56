"""Dependency accuracy on the pages: the line under a head page's title naming the Table 1 cells it is best for, a
head page's accuracy per relation against the best fixed offset, the overview's Table 1 and its Finding."""

from __future__ import annotations

from dataclasses import dataclass

from ...unit import Section
from ..views.headanalysis import DepRow, HeadOverview, Table1Best, Table1Row
from ..views.summary import Finding, Part
from .readers import head_analyses
from .roles import head_overview

TEMPLATE = "sections/depacc.html"


@dataclass(frozen=True)
class HeadDependencies:
    """A head page's dependency accuracy: per relation and direction, against the best fixed offset."""

    label: str
    dep: tuple[DepRow, ...]  # 'all' first, then relations by name
    dep_chart: dict | None
    min_support: str


@dataclass(frozen=True)
class Table1:
    """Clark et al.'s Table 1 on the overview."""

    rows: tuple[Table1Row, ...]
    min_support: str
    controlled: bool  # whether the report measured the control model


def best_for(report, layer: int, head: int) -> tuple[Table1Best, ...] | None:
    return head_analyses(report).table1_best(layer, head) or None


def head_view(report, layer: int, head: int) -> HeadDependencies:
    part = head_analyses(report).head(layer, head, [])
    return HeadDependencies(part.label, part.dep, part.dep_chart, part.min_support)


def table1(report) -> Table1 | None:
    overview = head_overview(report)
    if not overview.table1:
        return None
    controlled = any(c.claimed is not None for row in overview.table1 for c in row.cells)
    return Table1(overview.table1, overview.min_support, controlled)


def table1_finding(overview: HeadOverview) -> Finding | None:
    """How many Table 1 cells (relations but all) hold their claim: in-sample, held out, and against the control."""
    cells = [c for row in overview.table1 if row.relation != "all" for c in row.cells]
    if not cells:
        return None
    in_sample = sum(c.row.significant for c in cells)
    held = sum(c.held is not None and c.held.significant for c in cells)
    below = sum(c.held is not None and c.held.below for c in cells)
    text = (f"In Table 1, the head picked on half of the sentence blocks beats the best fixed offset significantly on "
            f"the other half in {held} of the {len(cells)} relation-direction cells (the most accurate head over "
            f"every sentence, scored on the sentences it was picked on: {in_sample})")
    if any(c.claimed is not None for c in cells):
        claimed = sum(bool(c.claimed) for c in cells)
        text += f"; {claimed} of the {held} also beat the random model's best head"
    if below:
        text += f"; in {below} the picked head is significantly below position"
    return Finding("table1", (Part(text + ". "), Part("Table 1", "#table1"), Part(".")))


SECTIONS = (
    Section("head", "table1-best", "", TEMPLATE, "head_line", -20, best_for),
    Section("head", "syntax", "Dependency accuracy", TEMPLATE, "head", 30, head_view,
            figures=lambda v: [("dep-accuracy", v.dep_chart)] if v.dep_chart is not None else []),
    Section("index", "table1", "Table 1: dependency relations", TEMPLATE, "index", 40, table1),
    Section("findings", "table1", "", "", "", 50, lambda r: table1_finding(head_overview(r))),
)
