"""View models: one frozen dataclass per page type, built from the store. Templates see nothing else."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from . import charts
from .corpus import SourceFile
from .headstats import DESCRIPTIONS, STATS
from .store import Store

@dataclass(frozen=True)
class Link:
    href: str
    label: str


@dataclass(frozen=True)
class Histogram:
    """Counts of one annotation over a set of matches, largest first."""

    title: str
    bars: tuple[tuple[str, int], ...]

    @property
    def total(self) -> int:
        return sum(n for _, n in self.bars)

    def caption(self) -> str:
        """The numbers the chart shows, as text (the page reads without JavaScript)."""
        if not self.bars:
            return f"{self.title}: no matches."
        total = self.total
        return f"{self.title} ({total:,} matches): " + ", ".join(
            f"{label} {n:,} ({_percent(n, total)})" for label, n in self.bars) + "."


@dataclass(frozen=True)
class ChartBlock:
    """One chart of an analysis, with the captions of its histograms summed over all probe tokens."""

    chart_id: str
    title: str
    spec: dict
    captions: tuple[str, ...]


@dataclass(frozen=True)
class Analysis:
    """exBERT's aggregates of one search space on one page."""

    space: str  # what the DOM ids of this analysis start with
    heading: str
    summary: str  # one line, over all probe tokens
    charts: tuple[ChartBlock, ...]


@dataclass(frozen=True)
class TokenMatches:
    key: str  # "{sentence_id}:{token_idx}", the key of the token in the page data
    token_idx: int
    token: str
    pos: str
    lines: tuple[str, ...]  # the one-line summary of its matches, one per analysis of the page
    n_matches: int


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
    """heads/L{l}H{h}.html: the head's attention on each probe, its context-space matches and their aggregates."""

    root: str
    title: str
    label: str
    layer: int
    head: int
    nav: Nav
    stats: tuple[tuple[str, str], ...]
    analyses: tuple[Analysis, ...]
    probes: tuple[ProbeSection, ...]
    data: dict  # the page's match lists, read by the page script


@dataclass(frozen=True)
class LayerPage:
    """layers/L{l}.html: the layer's embedding-space and whole-layer context-space matches."""

    root: str
    title: str
    label: str
    layer: int
    nav: Nav
    analyses: tuple[Analysis, ...]
    probes: tuple[ProbeSection, ...]
    data: dict


@dataclass(frozen=True)
class SentencePage:
    """sentences/{id}.html: one probe's attention at the head, model and neuron level."""

    root: str
    title: str
    label: str
    sentence_id: int
    text: str
    nav: Nav
    words: tuple[tuple[str, str], ...]  # (word, the model tokens it is made of)
    causal: bool
    head_view: dict
    model_view: dict
    neuron_view: dict


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


FACETS = (("pos", "POS"), ("tag", "fine tag"), ("dep", "dependency"), ("ent", "entity type"))
OFFSETS = ("-3", "-2", "-1", "0", "+1", "+2", "+3", "further", "special")
ATTENDS_TO = {"-3": "the token three before", "-2": "the token two before", "-1": "the previous token",
              "0": "themselves", "+1": "the next token", "+2": "the token two after", "+3": "the token three after",
              "further": "a token more than three away", "special": "a special token"}
TOKEN_BARS = 8  # categories kept per histogram of a single probe token, the last one 'other'
OTHER = "other"
ALL = "all"  # the key of "all probe tokens of the page" in the chart data


def figures_of(page) -> tuple[str, list[tuple[str, dict]]]:
    """A page's figure name prefix and its charts (DOM id, spec), for figure export."""
    if isinstance(page, HeadPage):
        return page.label, ([(c.chart_id, c.spec) for a in page.analyses for c in a.charts]
                            + [(p.chart_id, p.chart) for p in page.probes if p.chart is not None])
    if isinstance(page, LayerPage):
        return page.label, [(c.chart_id, c.spec) for a in page.analyses for c in a.charts]
    if isinstance(page, SentencePage):
        return page.label, [("head-view", page.head_view), ("model-view", page.model_view),
                            ("neuron-view", page.neuron_view)]
    if isinstance(page, IndexPage):
        return "index", [("overview", page.overview_chart)]
    return "", []


def head_label(layer: int, head: int) -> str:
    return f"L{layer}H{head}"


def token_key(sentence_id: int, token_idx: int) -> str:
    return f"{sentence_id}:{token_idx}"


def token_text(sentence: str, piece: str, special: bool, start: int, end: int) -> str:
    """What a token shows: its span of the sentence (no '##' or byte-level marks), or the special token's name."""
    return piece if special else sentence[start:end]


def _percent(n: int, total: int) -> str:
    return f"{int(100 * n / total + 0.5)}%"  # half up, as the page script rounds


def summarise(offsets: Histogram, matched: Histogram, attended: Histogram) -> str:
    """The dominant pattern of a set of matches in one line, from its offset and POS histograms."""
    if not offsets.bars:
        return "No matches."
    total = offsets.total
    where, n = max(offsets.bars, key=lambda b: b[1])  # offsets come in offset order
    parts = [f"{_percent(n, total)} of matches attend most to {ATTENDS_TO[where]}"]
    pos, n = matched.bars[0]
    parts.append(f"the matched tokens are {_percent(n, matched.total)} {pos}")
    words = [(label, n) for label, n in attended.bars if label != "special"]
    if words:
        pos, n = words[0]
        rest = sum(n for _, n in words)
        other = "other " if len(words) < len(attended.bars) else ""
        parts.append(f"the {other}tokens they attend to are {_percent(n, rest)} {pos}")
    return "; ".join(parts) + "."


ATTENTION_FLOOR = 0.005  # weights below this are invisible lines and are left out of the sentence pages


def word_units(text: str, tokens: list[tuple],
               words: list[tuple]) -> tuple[list[int], list[str], list[tuple[str, str]]]:
    """Group model tokens into spaCy words (special tokens stay alone): the unit of each token, each unit's
    label, and (word, its tokens) for every word made of more than one token."""
    word_text = {w[1]: w[2] for w in words}
    unit_of: dict[tuple, int] = {}
    units, labels, members = [], [], defaultdict(list)
    for idx, piece, word_idx, special, cs, ce in tokens:
        key = ("token", idx) if special or word_idx is None else ("word", word_idx)
        if key not in unit_of:
            unit_of[key] = len(labels)
            labels.append(piece if key[0] == "token" else word_text.get(word_idx, text[cs:ce]))
        units.append(unit_of[key])
        members[unit_of[key]].append(token_text(text, piece, special, cs, ce))
    pieces = [(labels[u], " + ".join(m)) for u, m in members.items() if len(m) > 1]
    return units, labels, pieces


def merge_to_words(attention: np.ndarray, units: list[int]) -> np.ndarray:
    """Attention [..., T, T] between tokens -> [..., U, U] between their units (Clark et al. 2019): the sum over
    the pieces of the attended word, the mean over the pieces of the attending word. Rows still sum to 1."""
    member = np.zeros((len(units), max(units) + 1))
    member[np.arange(len(units)), units] = 1
    mean = member / member.sum(0, keepdims=True)
    return np.einsum("tu,...ts,sv->...uv", mean, attention, member)


def _histograms(rows, titles: dict[str, str], order: tuple[str, ...] | None = None) -> dict[str, list[Histogram]]:
    """Rows (sentence_id, token_idx, facet, category, n), largest first -> token key (or ALL) -> one histogram
    per facet. A single token's histograms keep their TOKEN_BARS largest categories and sum the rest into
    'other': the page carries them for every probe token."""
    bars: dict[str, dict[str, list[tuple[str, int]]]] = defaultdict(lambda: defaultdict(list))
    for sid, idx, facet, category, n in rows:
        bars[ALL if sid is None else token_key(sid, idx)][facet].append((category, n))
    rank = {c: i for i, c in enumerate(order or ())}
    out = {}
    for key, found in bars.items():
        hists = []
        for facet, title in titles.items():
            kept = found[facet]
            if order:
                kept = sorted(kept, key=lambda b: rank[b[0]])
            elif key != ALL and len(kept) > TOKEN_BARS:
                kept = kept[:TOKEN_BARS - 1] + [(OTHER, sum(n for _, n in kept[TOKEN_BARS - 1:]))]
            hists.append(Histogram(title, tuple(kept)))
        out[key] = hists
    return out


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

    def _analysis(self, space: str, layer: int, head: int | None, dom: str, heading: str):
        """One space's aggregates: the view, each token's one-line summary, and the page data of its matches."""
        parts = (
            ("matched", "Matched tokens", {f: f"{t} of the matched tokens" for f, t in FACETS},
             self.store.annotation_counts(space, layer, head, attended=False), None),
            ("attended", "Tokens the matches attend to most",
             {f: f"{t} of the tokens they attend to most" for f, t in FACETS},
             self.store.annotation_counts(space, layer, head, attended=True), None),
            ("offsets", "Where the matches attend", {"offset": "offset to the token attended to most"},
             self.store.offset_counts(space, layer, head), OFFSETS),
        )
        found: dict[str, dict[str, list[Histogram]]] = {}
        blocks = []
        for name, title, titles, rows, order in parts:
            found[name] = _histograms(rows, titles, order)
            every = found[name].get(ALL) or [Histogram(t, ()) for t in titles.values()]
            blocks.append(ChartBlock(f"{dom}-{name}", title, charts.histograms(found[name], order),
                                     tuple(h.caption() for h in every)))

        def line(key: str) -> str:
            first = {name: (hists.get(key) or [Histogram("", ())])[0] for name, hists in found.items()}
            return summarise(first["offsets"], first["matched"], first["attended"])

        lists: dict[str, list[int]] = defaultdict(list)  # flat: 4 numbers per match, best first
        for sid, idx, match_sid, match_idx, att_idx, score in self.store.match_lists(space, layer, head):
            lists[token_key(sid, idx)] += [match_sid, match_idx, att_idx, round(score * 1000)]
        return Analysis(dom, heading, line(ALL), tuple(blocks)), line, dict(lists)

    def _page(self, analyses: list[tuple[str, int, int | None, str, str]], heatmap: tuple[int, int] | None):
        """The analyses, probe sections and page data shared by head and layer pages."""
        built = [self._analysis(*a) for a in analyses]
        weights: dict[int, list[tuple[int, int, float]]] = defaultdict(list)
        if heatmap is not None:
            for sid, i, j, w in self.store.attention(*heatmap):
                weights[sid].append((i, j, w))
        sections = []
        for sid, text in self.probes:
            toks = self.probe_tokens[sid]
            chart = None
            if heatmap is not None:
                chart = charts.attention_heatmap([t[1] for t in toks], weights[sid],
                                                 f"{head_label(*heatmap)} on sentence {sid}")
            tokens = tuple(
                TokenMatches(key, idx, tok, pos, tuple(line(key) for _, line, _ in built),
                             max(len(lists.get(key, ())) // 4 for _, _, lists in built))
                for idx, tok, special, pos in toks if not special
                for key in (token_key(sid, idx),))
            sections.append(ProbeSection(sid, text, f"attention-s{sid}", chart, tokens))
        data = {"shown": self.shown, "spaces": {a.space: lists for a, _, lists in built}, "strip": charts.strip()}
        return tuple(a for a, _, _ in built), tuple(sections), data

    def _nav(self, here: int, count: int, make, up: Link, related: tuple[Link, ...]) -> Nav:
        return Nav(up, make(here - 1) if here > 0 else None, make(here + 1) if here + 1 < count else None, related)

    def head(self, layer: int, head: int, stats: dict[tuple[int, int], dict[str, float]]) -> HeadPage:
        label = head_label(layer, head)
        flat = layer * self.n_heads + head

        def link(n: int) -> Link:
            lab = head_label(*divmod(n, self.n_heads))
            return Link(f"{lab}.html", lab)

        related = [Link(f"../layers/L{layer}.html", f"layer {layer}")]
        related += [Link(f"{head_label(n, head)}.html", f"{head_label(n, head)} ({where} layer)")
                    for n, where in ((layer - 1, "previous"), (layer + 1, "next")) if 0 <= n < self.n_layers]
        nav = self._nav(flat, self.n_layers * self.n_heads, link, Link("../index.html", "overview"), tuple(related))
        shown = tuple((DESCRIPTIONS[s], f"{stats[(layer, head)][s]:.3f}") for s in STATS if s in stats[(layer, head)])
        analyses, sections, data = self._page(
            [("context", layer, head, "context", f"What the matches of {label} have in common")], (layer, head))
        return HeadPage("../", f"{label} · {self.meta['model']}", label, layer, head, nav, shown,
                        analyses, sections, data)

    def layer(self, layer: int) -> LayerPage:
        nav = self._nav(layer, self.n_layers, lambda n: Link(f"L{n}.html", f"layer {n}"),
                        Link("../index.html", "overview"),
                        tuple(Link(f"../heads/{head_label(layer, h)}.html", head_label(layer, h))
                              for h in range(self.n_heads)))
        analyses, sections, data = self._page(
            [("embedding", layer, None, "embedding", "Embedding space: the layer's output"),
             ("context", layer, None, "context", "Context space, all heads")], None)
        return LayerPage("../", f"Layer {layer} · {self.meta['model']}", f"L{layer}", layer, nav,
                         analyses, sections, data)

    def contexts(self) -> dict:
        """The corpus sentences that any match list shows, for the shared assets/contexts.js: per sentence its
        text and per token [char_start, char_end, POS index, dep index], or the special token's name."""
        pos: dict[str, int] = {}
        dep: dict[str, int] = {}
        sentences: dict[str, list] = {str(sid): [text, []] for sid, text in self.store.matched_sentences()}
        for sid, _idx, piece, special, cs, ce, p, d in self.store.matched_tokens():
            tokens = sentences[str(sid)][1]
            if special:
                tokens.append(piece)
            else:
                tokens.append([cs, ce, pos.setdefault(p or "", len(pos)), dep.setdefault(d or "", len(dep))])
        return {"pos": list(pos), "dep": list(dep), "sentences": sentences}

    def sentence(self, sentence_id: int) -> SentencePage:
        ids = [sid for sid, _ in self.probes]
        here = ids.index(sentence_id)
        text = dict(self.probes)[sentence_id]
        nav = self._nav(here, len(ids), lambda n: Link(f"{ids[n]}.html", f"sentence {ids[n]}"),
                        Link("../index.html", "overview"), ())
        tokens = self.store.tokens_of(sentence_id)
        labels = [token_text(text, piece, special, cs, ce) for _, piece, _, special, cs, ce in tokens]
        n = len(tokens)
        att = np.zeros((self.n_layers, self.n_heads, n, n))
        for layer, head, i, j, w in self.store.sentence_attention(sentence_id):
            att[layer, head, i, j] = w
        units, unit_labels, pieces = word_units(text, tokens, self.store.words_of(sentence_id, sentence_id))
        rows = (charts.attention_rows("tokens", att, ATTENTION_FLOOR)
                + charts.attention_rows("words", merge_to_words(att, units), ATTENTION_FLOOR))
        levels = {"tokens": charts.token_labels(labels), "words": charts.token_labels(unit_labels)}
        vectors: dict[tuple[int, int, int, str], list[float]] = defaultdict(list)
        for layer, head, t, vector, _dim, value in self.store.neuron(sentence_id):
            vectors[(layer, head, t, vector[0])].append(round(value, 3))
        neuron_rows = [{"l": l, "h": h, "t": t, "v": v, "x": x} for (l, h, t, v), x in vectors.items()]
        name = f"sentence {sentence_id}"
        causal = self.meta.get("causal") == "true"
        return SentencePage(
            "../", f"Sentence {sentence_id} · {self.meta['model']}", f"s{sentence_id}", sentence_id, text, nav,
            tuple(pieces), causal,
            charts.head_view(levels, rows, self.n_layers, f"Head view of {name}"),
            charts.model_view(levels, rows, f"../heads/L{{l}}H{{h}}.html#s{sentence_id}", f"Model view of {name}"),
            charts.neuron_view(labels, neuron_rows, self.n_layers, self.n_heads, int(self.meta["d_head"]),
                               causal, f"Neuron view of {name}"))

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
                  ("repeated sentences (kept)", str(counts["duplicates"])),
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
        versions = tuple((k, m[k]) for k in (
            "model", "architecture", "reportgen_version", "schema_version", "python_version", "torch_version",
            "transformers_version", "spacy_version", "spacy_model", "duckdb_version", "corpus_sha256",
            "probes_sha256"))
        date = m.get("build_date") or "not recorded (set SOURCE_DATE_EPOCH to record it reproducibly)"
        return AboutPage("", f"About · {m['model']}", tuple(SourceFile(*r) for r in self.store.source_files()),
                         settings, (("build date", date),) + versions, tuple((k, str(v)) for k, v in counts.items()))
