"""View models: one module and one frozen dataclass per page type, built from the store through `Report`.
Templates see nothing else. PAGES is the registry of page types the renderer and the figure export use: a new page
type is a view module, a template and one entry here. What an analysis shows on a page is a section (site/sections),
which the page's view places; CORE_SECTIONS are the pages' own."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ...vocab import head_label, layer_label
from . import index, summary
from .about import AboutPage, about_page
from .common import Report
from .head import HeadPage, head_page
from .index import IndexPage, index_page
from .layer import LayerPage, layer_page
from .sentence import NEURON_FILE, SentencePage, sentence_page
from .study import StudyPage

Figures = list[tuple[str, dict]]  # (the chart's DOM id, its spec)


@dataclass(frozen=True)
class PageType:
    """One kind of page. `keys(report)`: (order, key) of each page of this kind the report has (pages are written
    in the order of `order` across kinds, as the progress bar counts them); `path(*key)`: the page's path in the
    site; `build(report, *key)`: its view; `figures(page)`: its charts to export; `files(page)`: other files
    written beside the page ({path relative to the page's folder: text})."""

    name: str
    template: str
    view: type
    keys: Callable[[Report], list[tuple[tuple, tuple]]]
    path: Callable[..., str]
    build: Callable
    prefix: Callable[..., str]  # the figure files' name prefix
    figures: Callable[[object], Figures]
    files: Callable[[object], dict[str, str]] = lambda page: {}


def _sentence_figures(page: SentencePage) -> Figures:
    return [("head-view", page.head_view), ("model-view", page.model_view),
            ("neuron-view", page.neuron_view)] + list(page.charts)


def _neuron_files(page: SentencePage) -> dict[str, object]:
    """The neuron view's vectors of each layer, as data for sentences/<id>/neuron-L<l>.js."""
    return {f"{page.sentence_id}/{NEURON_FILE.format(l=layer)}": rows for layer, rows in enumerate(page.neuron_layers)}


def _charts(page) -> Figures:
    """A page's charts, as its sections gave them."""
    return list(page.charts)


def _files(page) -> dict[str, object]:
    """The data files the sections of a page write beside it (a head or layer page's match lists)."""
    return page.files


PAGES: tuple[PageType, ...] = (
    PageType("index", "index.html", IndexPage, lambda r: [((0,), ())], lambda: "index.html",
             index_page, lambda: "index", _charts),
    PageType("head", "head.html", HeadPage,
             lambda r: [((1, layer, 0, head), (layer, head)) for layer in range(r.n_layers)
                        for head in range(r.n_heads)],
             lambda layer, head: f"heads/{head_label(layer, head)}.html", head_page, head_label, _charts, _files),
    PageType("layer", "layer.html", LayerPage, lambda r: [((1, layer, 1), (layer,)) for layer in range(r.n_layers)],
             lambda layer: f"layers/{layer_label(layer)}.html", layer_page, layer_label, _charts, _files),
    PageType("sentence", "sentence.html", SentencePage,
             lambda r: [((2, i), (sid,)) for i, (sid, _text) in enumerate(r.probes)],
             lambda sid: f"sentences/{sid}.html", sentence_page, lambda sid: f"s{sid}", _sentence_figures,
             _neuron_files),
    PageType("about", "about.html", AboutPage, lambda r: [((3,), ())], lambda: "about.html", about_page,
             lambda: "", lambda page: []),
    PageType("study", "study.html", StudyPage, lambda r: [((4,), ())] if r.study is not None else [],
             lambda: "studies/edits.html", lambda r: r.study, lambda: "edits",
             lambda page: [("study-heads", page.chart)]),
)
PAGE_TYPES = {kind.name: kind for kind in PAGES}
# the pages' own sections, beside those the analyses add (sections.sections_of)
CORE_SECTIONS = index.SECTIONS + summary.SECTIONS
