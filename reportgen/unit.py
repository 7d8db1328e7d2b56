"""What an analysis declares, in one registry entry (analyses/registry.py): its options, how it is computed, its
tables and its page sections. The build, the corpus pass, the command line, the database and the pages take
everything from the entries they are given; none of them names an analysis.

How an analysis is computed, one or more of:
- `accumulator`: a corpus-pass accumulator class (analyses/base.py's protocol), made once per shard by
  `create(inputs, options, device)`;
- `derived`: `f(state, store) -> {table: rows}`, after the pass, from the merged accumulators (`state[name]`) and
  the stored corpus;
- `probe`: a per-probe analysis class, `cls(loaded, probes, config)` checking its targets before any work, then
  `.run(probes, progress, warnings, corpus, store) -> {table: rows}`, `.meta() -> {key: value}` (an `option.<key>`
  among it is the value the analysis used, which the meta table keeps over the configured one) and `.stage` (its
  clock's name). Per-probe analyses run in registry order before the corpus pass, each one's tables written before
  the next runs: `store` holds the probes' `words`, `tokens` and attention and the tables of the analyses before
  it, which it may read (store.rows).

Its pages: `sections`, a tuple of Section, or the name of a module of reportgen/site/sections/ whose SECTIONS they
are (site.sections.sections_of loads it when pages are written: the site's modules import the page libraries,
which the computation does not need). `templates` gives template sources by name, for sections whose macros are
not files under templates/.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .store.schema import Table


@dataclass(frozen=True)
class Section:
    """One part of a page that an analysis contributes. The page views iterate their kind's sections in `order`:
    `view(report, *key)` builds the section's view model for one page (None: nothing to show there, and no entry
    in the table of contents); the page template calls the macro `macro` of the template `template` with it.

    page: 'index', 'head', 'layer' or 'sentence'; anchor and title: its entry in the page's table of contents
    (title '' for a section that has none, such as a line above the contents); order: its place on the page
    (negative: above the table of contents); links(view): the entries it adds to the table of contents, by default
    (anchor, title); figures(view): its charts as (DOM id, Vega-Lite spec), for --figures; files(view): data files
    written beside the page ({path relative to the page's folder: rows}); data(view): what it adds to the data the
    page script reads.

    Besides the four page types, two kinds of section feed other sections: 'findings' (`view(report)` gives one
    of the overview's Findings, or None) and 'heads-column' (`view(report)` gives a column of the overview's table
    of heads, or None)."""

    page: str
    anchor: str
    title: str
    template: str
    macro: str
    order: int
    view: Callable[..., Any]
    links: Callable[[Any], tuple[tuple[str, str], ...]] | None = None
    figures: Callable[[Any], list[tuple[str, dict]]] = lambda view: []
    files: Callable[[Any], dict[str, Any]] = lambda view: {}
    data: Callable[[Any], dict[str, Any]] = lambda view: {}

    def toc(self, view: Any) -> tuple[tuple[str, str], ...]:
        """(href, label) of the section's entries in the page's table of contents."""
        if self.links is not None:
            return self.links(view)
        return ((f"#{self.anchor}", self.title),) if self.title else ()


@dataclass(frozen=True)
class Unit:
    """One analysis: everything it declares (see the module's docstring)."""

    name: str
    summary: str  # one line: what it measures (the docs' list of analyses)
    options: type | None = None  # a frozen dataclass of options.option() fields
    tables: tuple[Table, ...] = ()
    accumulator: type | None = None
    derived: Callable[..., Mapping[str, Any]] | None = None
    probe: type | None = None
    sections: tuple[Section, ...] | str = ()
    templates: Mapping[str, str] = field(default_factory=dict)

