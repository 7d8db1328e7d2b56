"""View models: one frozen dataclass per page type, built from the store. Templates see nothing else."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from . import charts
from .corpus import SourceFile
from .headstats import DESCRIPTIONS, STATS
from .store import Store

CONTEXT_CHARS = 40  # characters of a matched sentence shown on each side of the matched token


@dataclass(frozen=True)
class Link:
    href: str
    label: str


@dataclass(frozen=True)
class Match:
    """One corpus match of a probe token, cut to a window around the matched token."""

    rank: int
    score: str
    left: str
    token: str
    right: str
    pos: str
    dep: str
    ent: str
    attends_to: str


@dataclass(frozen=True)
class TokenMatches:
    token_idx: int
    token: str
    pos: str
    matches: tuple[Match, ...]


@dataclass(frozen=True)
class ProbeSection:
    sentence_id: int
    text: str
    chart_id: str
    chart: dict | None  # Vega-Lite spec, or None where the page has no chart for the probe
    tokens: tuple[TokenMatches, ...]


@dataclass(frozen=True)
class Nav:
    up: Link
    prev: Link | None
    next: Link | None
    related: tuple[Link, ...]


@dataclass(frozen=True)
class HeadPage:
    """heads/L{l}H{h}.html: the head's attention on each probe and its context-space matches."""

    root: str
    title: str
    label: str
    layer: int
    head: int
    nav: Nav
    stats: tuple[tuple[str, str], ...]
    probes: tuple[ProbeSection, ...]


@dataclass(frozen=True)
class LayerPage:
    """layers/L{l}.html: the layer's embedding-space matches (and its whole-layer context matches)."""

    root: str
    title: str
    label: str
    layer: int
    nav: Nav
    space: str
    probes: tuple[ProbeSection, ...]
    context_probes: tuple[ProbeSection, ...]


@dataclass(frozen=True)
class HeadCell:
    label: str
    href: str
    title: str


@dataclass(frozen=True)
class IndexPage:
    """index.html: the model card, the layers x heads overview and the probe list."""

    root: str
    title: str
    model: tuple[tuple[str, str], ...]
    corpus: tuple[tuple[str, str], ...]
    overview_chart: dict
    grid: tuple[tuple[HeadCell, ...], ...]
    layers: tuple[Link, ...]
    probes: tuple[tuple[int, str], ...]


@dataclass(frozen=True)
class AboutPage:
    """about.html: provenance of the report."""

    root: str
    title: str
    files: tuple[SourceFile, ...]
    settings: tuple[tuple[str, str], ...]
    versions: tuple[tuple[str, str], ...]
    counts: tuple[tuple[str, str], ...]


def head_label(layer: int, head: int) -> str:
    return f"L{layer}H{head}"


def token_text(sentence: str, piece: str, special: bool, start: int, end: int) -> str:
    """What a token shows: its span of the sentence (no '##' or byte-level marks), or the special token's name."""
    return piece if special else sentence[start:end]


def _window(text: str, start: int, end: int) -> tuple[str, str, str]:
    left, right = text[:start], text[end:]
    if len(left) > CONTEXT_CHARS:
        left = "…" + left[-CONTEXT_CHARS:].split(" ", 1)[-1]
    if len(right) > CONTEXT_CHARS:
        right = right[:CONTEXT_CHARS].rsplit(" ", 1)[0] + "…"
    return left, text[start:end], right


class Views:
    """Builds every page's view model from one open store."""

    def __init__(self, store: Store, shown: int):
        self.store = store
        self.shown = shown
        self.meta = store.meta()
        self.n_layers = int(self.meta["n_layers"])
        self.n_heads = int(self.meta["n_heads"])
        self.probes = [(sid, text) for sid, _source, text, _t in store.sentences("probe")]
        self.probe_tokens: dict[int, list[tuple]] = defaultdict(list)
        texts = dict(self.probes)
        for sid, idx, piece, special, cs, ce, pos in store.probe_tokens():
            self.probe_tokens[sid].append((idx, token_text(texts[sid], piece, special, cs, ce), special, pos or ""))

    def _sections(self, space: str, layer: int, head: int | None, with_chart: bool) -> tuple[ProbeSection, ...]:
        found: dict[tuple[int, int], list[Match]] = defaultdict(list)
        for (sid, idx, rank, score, text, cs, ce, _tok, pos, dep, ent,
             att_piece, att_special, att_cs, att_ce) in self.store.matches(space, layer, head, self.shown):
            att = token_text(text, att_piece, att_special, att_cs, att_ce)
            left, token, right = _window(text, cs, ce)
            found[(sid, idx)].append(Match(rank, f"{score:.3f}", left, token, right, pos or "", dep or "",
                                           ent or "", att))
        weights: dict[int, list[tuple[int, int, float]]] = defaultdict(list)
        if with_chart and head is not None:
            for sid, i, j, w in self.store.attention(layer, head):
                weights[sid].append((i, j, w))
        sections = []
        for sid, text in self.probes:
            toks = self.probe_tokens[sid]
            chart = None
            if with_chart and head is not None:
                chart = charts.attention_heatmap([t[1] for t in toks], weights[sid],
                                                 f"{head_label(layer, head)} on sentence {sid}")
            tokens = tuple(TokenMatches(idx, tok, pos, tuple(found[(sid, idx)]))
                           for idx, tok, special, pos in toks if not special)
            sections.append(ProbeSection(sid, text, f"attention-s{sid}", chart, tokens))
        return tuple(sections)

    def _nav(self, here: int, count: int, make, up: Link, related: tuple[Link, ...]) -> Nav:
        return Nav(up, make(here - 1) if here > 0 else None, make(here + 1) if here + 1 < count else None, related)

    def head(self, layer: int, head: int, stats: dict[tuple[int, int], dict[str, float]]) -> HeadPage:
        label = head_label(layer, head)
        flat = layer * self.n_heads + head

        def link(n: int) -> Link:
            lab = head_label(*divmod(n, self.n_heads))
            return Link(f"{lab}.html", lab)

        nav = self._nav(flat, self.n_layers * self.n_heads, link, Link("../index.html", "overview"),
                        (Link(f"../layers/L{layer}.html", f"layer {layer}"),))
        shown = tuple((DESCRIPTIONS[s], f"{stats[(layer, head)][s]:.3f}") for s in STATS if s in stats[(layer, head)])
        return HeadPage("../", f"{label} · {self.meta['model']}", label, layer, head, nav, shown,
                        self._sections("context", layer, head, with_chart=True))

    def layer(self, layer: int) -> LayerPage:
        nav = self._nav(layer, self.n_layers, lambda n: Link(f"L{n}.html", f"layer {n}"),
                        Link("../index.html", "overview"),
                        tuple(Link(f"../heads/{head_label(layer, h)}.html", head_label(layer, h))
                              for h in range(self.n_heads)))
        return LayerPage("../", f"Layer {layer} · {self.meta['model']}", f"L{layer}", layer, nav, "embedding",
                         self._sections("embedding", layer, None, with_chart=False),
                         self._sections("context", layer, None, with_chart=False))

    def stats(self) -> dict[tuple[int, int], dict[str, float]]:
        out: dict[tuple[int, int], dict[str, float]] = defaultdict(dict)
        for layer, head, stat, value in self.store.head_stats():
            out[(layer, head)][stat] = value
        return out

    def index(self) -> IndexPage:
        m = self.meta
        counts = self.store.counts()
        model = (("model", m["model"]), ("architecture", m["architecture"]), ("layers", m["n_layers"]),
                 ("heads per layer", m["n_heads"]), ("hidden size", m["d_model"]), ("head size", m["d_head"]),
                 ("token limit", m["max_length"]))
        corpus = (("corpus sentences", f"{counts['sentences']:,}"), ("corpus words", f"{counts['words']:,}"),
                  ("corpus tokens", f"{counts['tokens']:,}"), ("truncated sentences", str(counts["truncated"])),
                  ("probe sentences", str(counts["probes"])), ("matches kept per token and space", m["top_k"]))
        stats = self.stats()
        grid = tuple(
            tuple(HeadCell(head_label(layer, head), f"heads/{head_label(layer, head)}.html",
                           "; ".join(f"{s} {v:.2f}" for s, v in sorted(stats[(layer, head)].items())))
                  for head in range(self.n_heads))
            for layer in range(self.n_layers))
        return IndexPage("", f"reportgen · {m['model']}", model, corpus,
                         charts.overview(self.store.head_stats(), self.n_layers, self.n_heads), grid,
                         tuple(Link(f"layers/L{layer}.html", f"layer {layer}") for layer in range(self.n_layers)),
                         tuple(self.probes))

    def about(self) -> AboutPage:
        m = self.meta
        counts = self.store.counts()
        settings = tuple((k.removeprefix("option."), v) for k, v in sorted(m.items()) if k.startswith("option."))
        versions = tuple((k, m[k]) for k in ("model", "architecture", "reportgen_version", "schema_version", "python_version",
                                               "torch_version", "transformers_version", "spacy_version",
                                               "spacy_model", "duckdb_version", "corpus_sha256", "probes_sha256"))
        return AboutPage("", f"About · {m['model']}", tuple(SourceFile(*r) for r in self.store.source_files()),
                         settings, versions, tuple((k, str(v)) for k, v in counts.items()))
