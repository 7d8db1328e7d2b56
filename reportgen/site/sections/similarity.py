"""The map of the heads on the overview (the heads laid out by the distances between their attention) and its
Finding; the table of heads names each head's most similar head (sections/roles.py)."""

from __future__ import annotations

from dataclasses import dataclass

from ...unit import Section
from ..views.headanalysis import HeadOverview
from ..views.headmap import HeadMap
from ..views.summary import Finding, Part
from .roles import head_overview

TEMPLATE = "sections/similarity.html"


@dataclass(frozen=True)
class MapSection:
    map: HeadMap
    sample: str  # how many corpus sentences the distances are measured on


def head_map(report) -> MapSection | None:
    overview = head_overview(report)
    return MapSection(overview.map, overview.sample) if overview.map is not None else None



def map_finding(overview: HeadOverview) -> Finding | None:
    if overview.map is None:
        return None
    m = overview.map
    return Finding("map", (Part(f"The map of the heads keeps the order of the measured distances at Spearman's rho "
                                f"{m.correlation:.2f} (Kruskal's stress {m.stress:.2f}): "),
                           Part("read it as a sketch", "#head-map-section"), Part(", not as a measurement.")))


SECTIONS = (
    Section("index", "head-map-section", "Map of the heads", TEMPLATE, "index", 50, head_map,
            figures=lambda v: [("head-map", v.map.chart)]),
    Section("findings", "map", "", "", "", 90, lambda r: map_finding(head_overview(r))),
)
