"""heads/L{l}H{h}.html: one head's page. Its parts are the sections the analyses add (site/sections): its role,
its statistics among all heads, its importance, its dependency accuracy, its agreement with the gradients, its
attention on each probe and what its context-space matches have in common."""

from __future__ import annotations

from dataclasses import dataclass, field

from ...vocab import head_label, layer_label
from ..sections import Placed, placed
from .common import Link, Nav, Report, nav

NOT_IN_TEMPLATE = {"template": False}  # a page field the renderer uses, not the template


@dataclass(frozen=True)
class HeadPage:
    """heads/L{l}H{h}.html: the sections above the table of contents and those of the page's body."""

    root: str
    title: str
    label: str
    layer: int
    head: int
    nav: Nav
    toc: tuple[Link, ...]
    above: tuple[Placed, ...]
    body: tuple[Placed, ...]
    data: dict  # what the page script reads (the sections' data)
    charts: tuple = field(default=(), metadata=NOT_IN_TEMPLATE)  # (DOM id, spec) of each chart, for --figures
    files: dict = field(default_factory=dict, metadata=NOT_IN_TEMPLATE)  # data files written beside the page


def head_page(report: Report, layer: int, head: int) -> HeadPage:
    label = head_label(layer, head)
    n_layers, n_heads = report.n_layers, report.n_heads

    def link(n: int) -> Link:
        lab = head_label(*divmod(n, n_heads))
        return Link(f"{lab}.html", lab)

    related = [Link(f"../layers/{layer_label(layer)}.html", f"layer {layer}")]
    related += [Link(f"{head_label(n, head)}.html", f"{head_label(n, head)} ({where} layer)")
                for n, where in ((layer - 1, "previous"), (layer + 1, "next")) if 0 <= n < n_layers]
    pager = nav(layer * n_heads + head, n_layers * n_heads, link, Link("../index.html", "overview"), tuple(related))
    parts = placed(report.sections.get("head", ()), report, layer, head)
    return HeadPage("../", f"{label} · {report.model}", label, layer, head, pager, parts.toc, parts.above,
                    parts.body, parts.data, parts.charts, parts.files)
