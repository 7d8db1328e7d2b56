"""View models: one module and one frozen dataclass per page type, built from the store through `Report`.
Templates see nothing else. PAGES is the registry of page types the renderer and the figure export use: a new page
type is a view module, a template and one entry here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ...vocab import head_label, layer_label
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


def _head_figures(page: HeadPage) -> Figures:
    extra = [(name, spec) for name, spec in (("statistics-strips", page.heads.strips),
                                              ("dep-accuracy", page.heads.dep_chart)) if spec is not None]
    return (extra + [(c.chart_id, c.spec) for a in page.analyses for c in a.charts]
            + [(p.chart_id, p.chart) for p in page.probes if p.chart is not None])


def _index_figures(page: IndexPage) -> Figures:
    return [("overview", page.overview_chart)] + (
        [("head-map", page.heads.map.chart)] if page.heads.map else []) + (
        [("agreement-chart", page.agreement.chart)] if page.agreement and page.agreement.chart else []) + (
        [("importance-chart", page.importance.chart)] if page.importance and page.importance.chart else [])


def _sentence_figures(page: SentencePage) -> Figures:
    return [("head-view", page.head_view), ("model-view", page.model_view), ("neuron-view", page.neuron_view)] + (
        [("attribution-chart", page.attribution.chart)] if page.attribution else [])


def _neuron_files(page: SentencePage) -> dict[str, object]:
    """The neuron view's vectors of each layer, as data for sentences/<id>/neuron-L<l>.js."""
    return {f"{page.sentence_id}/{NEURON_FILE.format(l=layer)}": rows for layer, rows in enumerate(page.neuron_layers)}


def _match_files(page) -> dict[str, object]:
    """A head or layer page's match lists, as data for heads/L<l>H<h>/matches.js (or layers/L<l>/...)."""
    return {page.data["matches"]: page.matches}


PAGES: tuple[PageType, ...] = (
    PageType("index", "index.html", IndexPage, lambda r: [((0,), ())], lambda: "index.html",
             index_page, lambda: "index", _index_figures),
    PageType("head", "head.html", HeadPage,
             lambda r: [((1, layer, 0, head), (layer, head)) for layer in range(r.n_layers)
                        for head in range(r.n_heads)],
             lambda layer, head: f"heads/{head_label(layer, head)}.html", head_page, head_label, _head_figures,
             _match_files),
    PageType("layer", "layer.html", LayerPage, lambda r: [((1, layer, 1), (layer,)) for layer in range(r.n_layers)],
             lambda layer: f"layers/{layer_label(layer)}.html", layer_page, layer_label,
             lambda page: [(c.chart_id, c.spec) for a in page.analyses for c in a.charts], _match_files),
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
