"""heads/L{l}H{h}.html: one head's statistics among all heads, its role and dependency accuracy, its agreement with
the gradients, its attention on each probe, and what its context-space matches have in common."""

from __future__ import annotations

from dataclasses import dataclass, field

from ...vocab import head_label, layer_label
from .attribution import HeadAgreement
from .common import Link, Nav, Report, nav
from .headanalysis import HeadAnalysis
from .importance import HeadImportanceView
from .matches import Analysis, ProbeSection, page_sections, split_matches, toc


@dataclass(frozen=True)
class HeadPage:
    """heads/L{l}H{h}.html: the head's attention on each probe, its context-space matches and their aggregates."""

    root: str
    title: str
    label: str
    layer: int
    head: int
    nav: Nav
    toc: tuple[Link, ...]
    heads: HeadAnalysis  # role, statistics among all heads, dependency accuracy
    analyses: tuple[Analysis, ...]
    probes: tuple[ProbeSection, ...]
    data: dict  # what the page script reads: the shown matches, the strip's chart, the match lists' file
    agreement: HeadAgreement | None = None  # with the integrated gradients, over the probes
    importance: HeadImportanceView | None = None  # the change of the output when the head is removed
    # every space's match lists, written beside the page (matches.MATCHES_FILE, views.PAGES' files)
    matches: dict = field(default_factory=dict, metadata={"template": False})


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
    analyses, sections, data = page_sections(
        report, [("context", layer, head, "context", f"What the matches of {label} have in common")], (layer, head))
    data, matches = split_matches(data, label)
    agreement = report.attributions.head(layer, head)
    importance = report.importance.head(layer, head)
    # in the page's order
    links = toc(report, analyses, (Link("#statistics", "Statistics over the corpus"),)
                + ((Link("#importance", "Importance: removing the head"),) if importance is not None else ())
                + (Link("#syntax", "Dependency accuracy"),)
                + ((Link("#agreement", "Attention and gradients"),) if agreement is not None else ()))
    return HeadPage("../", f"{label} · {report.model}", label, layer, head, pager, links,
                    report.head_analyses.head(layer, head, report.stat_names), analyses, sections, data, agreement,
                    importance, matches)
