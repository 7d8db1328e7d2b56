"""layers/L{l}.html: one layer's page. Its parts are the sections the analyses add (site/sections): the rollout up
to the layer against the gradients, and the layer's embedding-space and whole-layer context-space matches."""

from __future__ import annotations

from dataclasses import dataclass, field

from ...vocab import head_label, layer_label
from ..sections import Placed, placed
from .common import Link, Nav, Report, nav
from .head import NOT_IN_TEMPLATE


@dataclass(frozen=True)
class LayerPage:
    """layers/L{l}.html: the sections of the page's body."""

    root: str
    title: str
    layer: int
    nav: Nav
    toc: tuple[Link, ...]
    body: tuple[Placed, ...]
    data: dict  # what the page script reads (the sections' data)
    charts: tuple = field(default=(), metadata=NOT_IN_TEMPLATE)  # (DOM id, spec) of each chart, for --figures
    files: dict = field(default_factory=dict, metadata=NOT_IN_TEMPLATE)  # data files written beside the page


def layer_page(report: Report, layer: int) -> LayerPage:
    pager = nav(layer, report.n_layers, lambda n: Link(f"{layer_label(n)}.html", f"layer {n}"),
                Link("../index.html", "overview"),
                tuple(Link(f"../heads/{head_label(layer, h)}.html", head_label(layer, h))
                      for h in range(report.n_heads)))
    parts = placed(report.sections.get("layer", ()), report, layer)
    return LayerPage("../", f"Layer {layer} · {report.model}", layer, pager, parts.toc, parts.body, parts.data,
                     parts.charts, parts.files)
