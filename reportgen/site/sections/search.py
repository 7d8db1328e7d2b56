"""exBERT's search on the pages: on head and layer pages, what each space's matches have in common (histograms
against the corpus base rates, a line per probe token), every probe with its tokens, the match lists written beside
the page (loaded when the reader opens a token) and the head page's one-line summary above its contents."""

from __future__ import annotations

from dataclasses import dataclass

from ...unit import Section
from ...vocab import head_label, layer_label
from ..views.common import shorten
from ..views.matches import MATCHES_FILE, Analysis, ProbeSection, page_sections

TEMPLATE = "sections/search.html"


@dataclass(frozen=True)
class Matches:
    """One page's analyses of its spaces, its probes with their tokens, and what the page script reads."""

    analyses: tuple[Analysis, ...]
    probes: tuple[ProbeSection, ...]
    data: dict  # the shown matches, the strip's chart, the match lists' file
    lists: dict  # every space's match lists, written beside the page (MATCHES_FILE)
    sentences: tuple[tuple[int, str], ...]  # (id, text) of each probe, for the table of contents

    @property
    def summary(self) -> str:
        return self.analyses[0].summary


def _matches(report, key: tuple, label: str, spaces: list, heatmap) -> Matches:
    """The page's matches, made once for the page's sections (only the last page's are kept)."""
    if report.shared.get("matches", (None,))[0] != key:
        analyses, probes, data = page_sections(report, spaces, heatmap)
        inline = {k: v for k, v in data.items() if k != "spaces"} | {"matches": MATCHES_FILE.format(label=label)}
        report.shared["matches"] = (key, Matches(analyses, probes, inline, data["spaces"], tuple(report.probes)))
    return report.shared["matches"][1]


def head_view(report, layer: int, head: int) -> Matches:
    label = head_label(layer, head)
    return _matches(report, ("head", layer, head), label,
                    [("context", layer, head, "context", f"What the matches of {label} have in common")],
                    (layer, head))


def layer_view(report, layer: int) -> Matches:
    return _matches(report, ("layer", layer), layer_label(layer),
                    [("embedding", layer, None, "embedding", "Embedding space: the layer's output"),
                     ("context", layer, None, "context", "Context space, all heads")], None)


def _links(view: Matches) -> tuple[tuple[str, str], ...]:
    return tuple((f"#{a.space}", a.heading) for a in view.analyses) + tuple(
        (f"#s{sid}", f"Sentence {sid}: {shorten(text)}") for sid, text in view.sentences)


def _figures(view: Matches) -> list[tuple[str, dict]]:
    return ([(c.chart_id, c.spec) for a in view.analyses for c in a.charts]
            + [(p.chart_id, p.chart) for p in view.probes if p.chart is not None])


def _files(view: Matches) -> dict:
    return {view.data["matches"]: view.lists}


SECTIONS = (
    Section("head", "summary", "", TEMPLATE, "head_line", -10, head_view),
    Section("head", "matches", "", TEMPLATE, "head", 50, head_view, links=_links, figures=_figures, files=_files,
            data=lambda v: v.data),
    Section("layer", "matches", "", TEMPLATE, "layer", 50, layer_view, links=_links, figures=_figures,
            files=_files, data=lambda v: v.data),
)
