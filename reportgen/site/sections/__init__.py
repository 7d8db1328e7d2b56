"""The sections analyses add to the pages (unit.Section): one module here per analysis whose registry entry names
it (its SECTIONS), and what the page views do with them. A page view asks `placed` for its kind's sections: each
section's view for that page, its place (above the table of contents, or in the page's body), the table of
contents, the charts to export, the data files written beside the page and the data the page script reads, all
derived from the sections."""

from __future__ import annotations

import importlib
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from ...unit import Section, Unit
from ..links import Link

PAGE_KINDS = ("index", "head", "layer", "sentence", "findings", "heads-column")


def sections_of(units: tuple[Unit, ...], core: tuple[Section, ...] = ()) -> dict[str, tuple[Section, ...]]:
    """Every section of these analyses (their site modules loaded where the entry names one) and the pages' own,
    by page kind, each kind's in order."""
    found: dict[str, list[Section]] = defaultdict(list)
    for section in core:
        found[section.page].append(section)
    for unit in units:
        given = unit.sections
        if isinstance(given, str):
            given = importlib.import_module(f"{__name__}.{given}").SECTIONS
        for section in given:
            if section.page not in PAGE_KINDS:
                raise ValueError(f"analysis {unit.name!r}: a section for page {section.page!r}; pages are "
                                 f"{', '.join(PAGE_KINDS)}")
            found[section.page].append(section)
    return {kind: tuple(sorted(sections, key=lambda s: s.order)) for kind, sections in found.items()}


@dataclass(frozen=True)
class Placed:
    """A section on one page as the page template draws it: the macro `macro` of `template`, called with `view`."""

    template: str
    macro: str
    view: Any


@dataclass(frozen=True)
class PageSections:
    """A page's sections: those above its table of contents and those of its body, the table of contents, and what
    the renderer writes besides the page (charts to export, data files, the page script's data)."""

    above: tuple[Placed, ...] = ()
    body: tuple[Placed, ...] = ()
    toc: tuple[Link, ...] = ()
    charts: tuple[tuple[str, dict], ...] = ()
    files: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)


def placed(sections: tuple[Section, ...], report, *key) -> PageSections:
    """Each section's view for the page `key` of `report`, those with nothing to show (None) left out."""
    built = [(s, view) for s in sections if (view := s.view(report, *key)) is not None]
    charts: list[tuple[str, dict]] = []
    files: dict = {}
    data: dict = {}
    for s, view in built:
        charts += s.figures(view)
        files.update(s.files(view))
        data.update(s.data(view))
    return PageSections(
        tuple(Placed(s.template, s.macro, view) for s, view in built if s.order < 0),
        tuple(Placed(s.template, s.macro, view) for s, view in built if s.order >= 0),
        tuple(Link(href, label) for s, view in built if s.order >= 0 for href, label in s.toc(view)),
        tuple(charts), files, data)


def cached(report, name: str, make):
    """A value read once per report and shared by sections (and pages): `make()` the first time."""
    if name not in report.shared:
        report.shared[name] = make()
    return report.shared[name]
