"""The map of the heads on the overview (the heads laid out by the distances between their attention) and its
Finding; the table of heads names each head's most similar head (sections/roles.py)."""

from __future__ import annotations

from dataclasses import dataclass

from ...unit import Section
from ..views import summary
from ..views.headmap import HeadMap
from .roles import head_overview

TEMPLATE = "sections/similarity.html"


@dataclass(frozen=True)
class MapSection:
    map: HeadMap
    sample: str  # how many corpus sentences the distances are measured on


def head_map(report) -> MapSection | None:
    overview = head_overview(report)
    return MapSection(overview.map, overview.sample) if overview.map is not None else None


SECTIONS = (
    Section("index", "head-map-section", "Map of the heads", TEMPLATE, "index", 50, head_map,
            figures=lambda v: [("head-map", v.map.chart)]),
    Section("findings", "map", "", "", "", 90, lambda r: summary.head_map(head_overview(r))),
)
