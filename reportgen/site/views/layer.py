"""layers/L{l}.html: the layer's embedding-space and whole-layer context-space matches."""

from __future__ import annotations

from dataclasses import dataclass, field

from ...vocab import head_label, layer_label
from .attribution import HeadAgreement
from .common import Link, Nav, Report, nav
from .matches import Analysis, ProbeSection, page_sections, split_matches, toc


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
    data: dict  # what the page script reads: the shown matches, the strip's chart, the match lists' file
    rollout: HeadAgreement | None = None  # the rollout up to this layer against the gradients, per probe
    # every space's match lists, written beside the page (matches.MATCHES_FILE, views.PAGES' files)
    matches: dict = field(default_factory=dict, metadata={"template": False})


def layer_page(report: Report, layer: int) -> LayerPage:
    pager = nav(layer, report.n_layers, lambda n: Link(f"{layer_label(n)}.html", f"layer {n}"),
                Link("../index.html", "overview"),
                tuple(Link(f"../heads/{head_label(layer, h)}.html", head_label(layer, h))
                      for h in range(report.n_heads)))
    analyses, sections, data = page_sections(
        report, [("embedding", layer, None, "embedding", "Embedding space: the layer's output"),
                 ("context", layer, None, "context", "Context space, all heads")], None)
    data, matches = split_matches(data, layer_label(layer))
    rollout = report.attributions.layer(layer)
    links = toc(report, analyses)
    if rollout is not None:
        links = (Link("#rollout", "Rollout and gradients"),) + links
    return LayerPage("../", f"Layer {layer} · {report.model}", layer, pager, links, analyses, sections, data,
                     rollout, matches)
