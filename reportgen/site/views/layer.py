"""layers/L{l}.html: the layer's embedding-space and whole-layer context-space matches."""

from __future__ import annotations

from dataclasses import dataclass

from ...vocab import head_label, layer_label
from .common import Link, Nav, Report, nav
from .matches import Analysis, ProbeSection, page_sections, toc


@dataclass(frozen=True)
class LayerPage:
    """layers/L{l}.html: the layer's embedding-space and whole-layer context-space matches."""

    root: str
    title: str
    layer: int
    nav: Nav
    toc: tuple[Link, ...]
    analyses: tuple[Analysis, ...]
    probes: tuple[ProbeSection, ...]
    data: dict


def layer_page(report: Report, layer: int) -> LayerPage:
    pager = nav(layer, report.n_layers, lambda n: Link(f"{layer_label(n)}.html", f"layer {n}"),
                Link("../index.html", "overview"),
                tuple(Link(f"../heads/{head_label(layer, h)}.html", head_label(layer, h))
                      for h in range(report.n_heads)))
    analyses, sections, data = page_sections(
        report, [("embedding", layer, None, "embedding", "Embedding space: the layer's output"),
                 ("context", layer, None, "context", "Context space, all heads")], None)
    return LayerPage("../", f"Layer {layer} · {report.model}", layer, pager, toc(report, analyses), analyses,
                     sections, data)
