"""View models: one frozen dataclass per page type, built from the store. Templates see nothing else."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from . import charts, findings
from .attrviews import AttributionViews, HeadAgreement, ModelAgreement, SentenceAttribution, legend
from .baserates import FACETS as BASE_FACETS
from .baserates import OFFSETS
from .corpus import SourceFile
from .findings import Histogram
from .headstats import DESCRIPTIONS, STATS
from .roleviews import HeadAnalyses, HeadAnalysis, HeadOverview
from .store import COLUMNS, Store
from .studyviews import StudyPage, study_page

@dataclass(frozen=True)
class Link:
    href: str
    label: str


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
    notes: tuple[str, ...]  # how many probe tokens have ties at the cut, or few distinct sentences
    charts: tuple[ChartBlock, ...]


@dataclass(frozen=True)
class TokenLine:
    """What one space's matches of one probe token say."""

    space: str  # the analysis' heading where a page has several, else ''
    matches: str  # '50 matches from 9 corpus sentences'
    own: str  # 'x% (n/k) share its POS NOUN (corpus y%); ... its dependency ...'
    summary: str
    warnings: tuple[str, ...]  # few distinct sentences; ties at the cut


@dataclass(frozen=True)
class TokenMatches:
    key: str  # "{sentence_id}:{token_idx}", the key of the token in the page data
    token_idx: int
    token: str
    pos: str
    dep: str
    lines: tuple[TokenLine, ...]  # one per analysis of the page


@dataclass(frozen=True)
class ProbeSection:
    sentence_id: int
    text: str
    chart_id: str
    chart: dict | None  # Vega-Lite spec, or None where the page has no chart for the probe
    chart_text: str  # the chart's text alternative
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
    toc: tuple[Link, ...]
    heads: HeadAnalysis  # role, statistics among all heads, dependency accuracy
    analyses: tuple[Analysis, ...]
    probes: tuple[ProbeSection, ...]
    data: dict  # the page's match lists, read by the page script
    agreement: HeadAgreement | None = None  # with the integrated gradients, over the probes


@dataclass(frozen=True)
class LayerPage:
    """layers/L{l}.html: the layer's embedding-space and whole-layer context-space matches."""

    root: str
    title: str
    label: str
    layer: int
    nav: Nav
    toc: tuple[Link, ...]
    analyses: tuple[Analysis, ...]
    probes: tuple[ProbeSection, ...]
    data: dict


@dataclass(frozen=True)
class HeadPattern:
    """One head's cell in a sentence page's table of heads: a link to the head's page at the sentence, and
    what the head attends to most on the sentence (one of PATTERNS, a mean share of attention)."""

    label: str  # L3H7
    href: str
    pattern: str  # a key of PATTERNS
    value: float

    @property
    def text(self) -> str:
        return f"{self.pattern} {self.value:.2f}"


@dataclass(frozen=True)
class LayerPatterns:
    """One layer's row of the table of heads: a link to the layer's page, then its heads in order."""

    link: Link
    heads: tuple[HeadPattern, ...]


@dataclass(frozen=True)
class SentencePage:
    """sentences/{id}.html: one probe's attention at the head, model and neuron level, and a table of every
    head (links to their pages, each with its dominant pattern on the sentence: the views' text alternative)."""

    root: str
    title: str  # 'Sentence 3: “The cat sat on…” · model'
    label: str
    sentence_id: int
    text: str
    nav: Nav
    words: tuple[tuple[str, str], ...]  # (word, the model tokens it is made of)
    causal: bool
    head_view: dict
    model_view: dict
    neuron_view: dict
    heads: tuple[LayerPatterns, ...]  # layers as rows, heads as columns
    n_tokens: int  # the query tokens the patterns are means over
    pattern_names: tuple[tuple[str, str], ...]  # PATTERNS: each pattern's name and what it means
    attribution: SentenceAttribution | None = None  # integrated gradients, rollout, agreement with the heads
    legend: tuple[str, ...] = legend()  # the attribution colours, most negative first
    # the neuron view's vectors, one list of rows per layer: the page carries the first layer's, and a data file
    # per layer in the sentence's folder gives the others when the reader picks them (site.write_layer_data)
    neuron_layers: tuple[list[dict], ...] = ()

    @property
    def layer_files(self) -> str:
        """The neuron view's data files, relative to the page, with {l} for the layer."""
        return f"{self.sentence_id}/{NEURON_FILE}"


@dataclass(frozen=True)
class Statistic:
    """One head statistic of the overview: its menu entry, its table column and its heatmap."""

    name: str  # as in head_stats.stat
    description: str
    scale: str  # 'share of attention, 0–1', or its unit (entropy: 'nats')
    title: str  # the legend's title: the description with the scale
    chart: dict  # the heatmap of every head coloured by this statistic, its legend naming it


@dataclass(frozen=True)
class IndexPage:
    """index.html: the model card, the layers x heads overview (one heatmap per statistic, a menu picks the one
    shown; the same numbers as a table) and the probe list."""

    root: str
    title: str
    model: tuple[tuple[str, str], ...]
    corpus: tuple[tuple[str, str], ...]
    statistics: tuple[Statistic, ...]  # in headstats.STATS order; the first is shown first
    heads: HeadOverview  # the table of heads, Table 1, the map
    probes: tuple[tuple[int, str], ...]
    agreement: ModelAgreement | None = None  # attention against integrated gradients, every head
    studies: tuple[Link, ...] = ()  # the study pages the report has

    @property
    def overview_chart(self) -> dict:
        """The heatmap shown first (and written with --figures)."""
        return self.statistics[0].chart

    @property
    def overview_specs(self) -> dict[str, dict]:
        """Every statistic's heatmap by name, for the page script that swaps them."""
        return {s.name: s.chart for s in self.statistics}


@dataclass(frozen=True)
class AboutPage:
    """about.html: provenance of the report."""

    root: str
    title: str
    files: tuple[SourceFile, ...]  # corpus, probe and model files, each with its own sha256
    settings: tuple[tuple[str, str], ...]  # each option with the value the build used (never out or db)
    versions: tuple[tuple[str, str], ...]
    hashes: tuple[tuple[str, str], ...]  # corpus_sha256, probes_sha256, model_sha256: one per set of files
    counts: tuple[tuple[str, str], ...]


FACETS = tuple(zip(BASE_FACETS, ("POS", "fine tag", "dependency", "entity type")))
ALL = "all"  # the key of "all probe tokens of the page" in the chart data


def figures_of(page) -> tuple[str, list[tuple[str, dict]]]:
    """A page's figure name prefix and its charts (DOM id, spec), for figure export."""
    if isinstance(page, HeadPage):
        extra = [(name, spec) for name, spec in (("statistics-strips", page.heads.strips),
                                                      ("dep-accuracy", page.heads.dep_chart))
                 if spec is not None]
        return page.label, (extra + [(c.chart_id, c.spec) for a in page.analyses for c in a.charts]
                            + [(p.chart_id, p.chart) for p in page.probes if p.chart is not None])
    if isinstance(page, LayerPage):
        return page.label, [(c.chart_id, c.spec) for a in page.analyses for c in a.charts]
    if isinstance(page, SentencePage):
        return page.label, [("head-view", page.head_view), ("model-view", page.model_view),
                            ("neuron-view", page.neuron_view)] + (
            [("attribution-chart", page.attribution.chart)] if page.attribution else [])
    if isinstance(page, StudyPage):
        return "edits", [("study-heads", page.chart)]
    if isinstance(page, IndexPage):
        return "index", [("overview", page.overview_chart)] + (
            [("head-map", page.heads.map_chart)] if page.heads.map_chart else []) + (
            [("agreement-chart", page.agreement.chart)] if page.agreement and page.agreement.chart else [])
    return "", []


def head_label(layer: int, head: int) -> str:
    return f"L{layer}H{head}"


def token_key(sentence_id: int, token_idx: int) -> str:
    return f"{sentence_id}:{token_idx}"


def token_text(sentence: str, piece: str, special: bool, start: int, end: int) -> str:
    """What a token shows: its span of the sentence (no '##' or byte-level marks), or the special token's name."""
    return piece if special else sentence[start:end]


NEURON_FILE = "neuron-L{l}.js"  # a sentence's neuron vectors of one layer, in sentences/<id>/
ATTENTION_FLOOR = 0.005  # weights below this are invisible lines and are left out of the sentence pages


def shorten(text: str, limit: int = 60) -> str:
    """A sentence cut to about `limit` characters at a word boundary, with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] or text[:limit]
    return cut.rstrip(" ,;:") + "…"


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


# What a head attends to on a sentence, as the head statistics measure it over the corpus (headstats), with
# 'rest' for the attention none of the others covers. They overlap: [CLS] is both 'first' and 'special'.
PATTERNS = {
    "prev": "the previous token",
    "self": "the token itself",
    "next": "the next token",
    "first": "the first token",
    "special": "special tokens",
    "punct": "punctuation",
    "rest": "every other token (not previous, itself, next, first, special or punctuation)",
}


def attention_patterns(attention: np.ndarray, special: np.ndarray, punct: np.ndarray) -> dict[str, np.ndarray]:
    """Each pattern of PATTERNS as a [L, H] mean over the query tokens of attention [L, H, T, T]: the weight on
    the previous token (over the tokens that have one), on the token itself, on the next token (over the tokens
    that have one), on the first token, on special tokens and on punctuation (`special`, `punct`: [T] booleans
    of the key tokens), and on every other token."""
    n = attention.shape[-1]
    zeros = np.zeros(attention.shape[:2])
    near = np.abs(np.arange(n)[:, None] - np.arange(n)[None, :]) <= 1  # previous, itself, next
    rest = ~near & ~np.asarray(special, bool)[None, :] & ~np.asarray(punct, bool)[None, :]
    rest[:, 0] = False
    return {
        "prev": np.diagonal(attention, -1, -2, -1).mean(-1) if n > 1 else zeros,
        "self": np.diagonal(attention, 0, -2, -1).mean(-1),
        "next": np.diagonal(attention, 1, -2, -1).mean(-1) if n > 1 else zeros,
        "first": attention[..., 0].mean(-1),
        "special": (attention * np.asarray(special, float)).sum(-1).mean(-1),
        "punct": (attention * np.asarray(punct, float)).sum(-1).mean(-1),
        "rest": (attention * rest).sum(-1).mean(-1),
    }


def dominant_patterns(attention: np.ndarray, special: np.ndarray, punct: np.ndarray) -> list[list[tuple[str, float]]]:
    """[layer][head] -> (the largest pattern of `attention_patterns`, its value); a tie goes to the pattern
    listed first in PATTERNS."""
    found = attention_patterns(attention, special, punct)
    names = list(PATTERNS)
    stacked = np.stack([found[name] for name in names])  # [P, L, H]
    best = stacked.argmax(0)
    return [[(names[best[layer, head]], float(stacked[best[layer, head], layer, head]))
             for head in range(stacked.shape[2])] for layer in range(stacked.shape[1])]


def _histograms(rows, titles: dict[str, str], base: dict[str, dict[str, int]],
                order: tuple[str, ...] | None = None) -> dict[str, list[Histogram]]:
    """Rows (sentence_id, token_idx, facet, category, n) -> token key (or ALL) -> one histogram per facet,
    each category with its base rate from `base` (facet -> category -> count in the corpus population)."""
    bars: dict[str, dict[str, list[tuple[str, int]]]] = defaultdict(lambda: defaultdict(list))
    for sid, idx, facet, category, n in rows:
        bars[ALL if sid is None else token_key(sid, idx)][facet].append((category, n))
    return {key: [findings.histogram(title, found[facet], base.get(facet, {}), order)
                  for facet, title in titles.items()]
            for key, found in bars.items()}


def _base(rows: list[tuple[str, str, int]]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for facet, category, n in rows:
        out[facet][category] = n
    return out


def heatmap_text(tokens: list[str], weights: list[tuple[int, int, float]]) -> str:
    """A heatmap's text alternative: the token each token attends to most, with its weight."""
    best: dict[int, tuple[float, int]] = {}
    for i, j, w in weights:
        if i not in best or w > best[i][0]:
            best[i] = (w, j)
    return "Each token attends most to: " + "; ".join(
        f"{tokens[i]} → {tokens[j]} ({w:.2f})" for i, (w, j) in sorted(best.items())) + "."


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
        for sid, idx, piece, special, cs, ce, pos, dep in store.probe_tokens():
            self.probe_tokens[sid].append((idx, token_text(texts[sid], piece, special, cs, ce), special, pos or "",
                                           dep or ""))
        self._matched_base: dict[str, dict[str, int]] | None = None
        self._head_analyses: HeadAnalyses | None = None
        self.attributions = AttributionViews(store, self.meta, self.n_layers, self.n_heads)
        self.study = study_page(store, self.meta)

    @property
    def matched_base(self) -> dict[str, dict[str, int]]:
        """The categories of every non-special corpus token: the base rates of the matched tokens."""
        if self._matched_base is None:
            self._matched_base = _base(self.store.base_counts("matched"))
        return self._matched_base

    def _analysis(self, space: str, layer: int, head: int | None, dom: str, heading: str, several: bool):
        """One space's aggregates: the view, each token's line, and the page data of its matches."""
        attended_base = _base(self.store.base_counts("attended", layer, head))
        whose = "the whole layer" if head is None else head_label(layer, head)
        parts = (
            ("matched", "Matched tokens", {f: f"{t} of the matched tokens" for f, t in FACETS},
             self.store.annotation_counts(space, layer, head, attended=False), self.matched_base, None,
             "every non-special corpus token"),
            ("attended", "Tokens the matches attend to most",
             {f: f"{t} of the tokens they attend to most" for f, t in FACETS},
             self.store.annotation_counts(space, layer, head, attended=True), attended_base, None,
             f"the tokens that every corpus token attends to most in {whose}"),
            ("offsets", "Where the matches attend", {"offset": "offset to the token attended to most"},
             self.store.offset_counts(space, layer, head), attended_base, OFFSETS,
             f"where every corpus token attends most in {whose}"),
        )
        found: dict[str, dict[str, list[Histogram]]] = {}
        blocks = []
        for name, title, titles, rows, base, order, population in parts:
            found[name] = _histograms(rows, titles, base, order)
            every = found[name].get(ALL) or [Histogram(t, ()) for t in titles.values()]
            description = (f"Bar charts of the {', '.join(titles.values())}, as shares of the matches, each "
                           f"with its corpus base rate (the share among {population})")
            blocks.append(ChartBlock(f"{dom}-{name}", title, charts.histograms(every, order, description, own=name == "matched"),
                                     tuple(h.caption() for h in every)))

        lists: dict[str, list[int]] = defaultdict(list)  # flat: 4 numbers per match, best first
        sentences: dict[str, set[int]] = defaultdict(set)
        for sid, idx, match_sid, match_idx, att_idx, score in self.store.match_lists(space, layer, head):
            lists[token_key(sid, idx)] += [match_sid, match_idx, att_idx, round(score * 1000)]
            sentences[token_key(sid, idx)].add(match_sid)
        tied = {token_key(sid, idx): rest for sid, idx, *rest in self.store.cut_ties(space, layer, head)}
        pos_base, dep_base = self.matched_base.get("pos", {}), self.matched_base.get("dep", {})

        def line(key: str, pos: str, dep: str) -> TokenLine:
            hists = {name: found[name].get(key) or [Histogram("", ())] * len(part[2])
                     for name, part in zip(found, parts)}
            matched = hists["matched"]
            own = "; ".join((
                findings.own_category(matched[0], pos, pos_base.get(pos, 0) / max(1, sum(pos_base.values())), "POS"),
                findings.own_category(matched[2], dep, dep_base.get(dep, 0) / max(1, sum(dep_base.values())),
                                      "dependency")))
            n = len(lists.get(key, ())) // 4
            text, warning = findings.diversity(n, len(sentences.get(key, ())))
            warnings = [warning] if warning else []
            if key in tied:
                warnings.append(findings.ties(n, *tied[key]))
            return TokenLine(heading if several else "", text, own,
                             findings.summarise(hists["offsets"][0], matched[0], hists["attended"][0]),
                             tuple(warnings))

        keys = [token_key(sid, t[0]) for sid, _ in self.probes for t in self.probe_tokens[sid] if not t[2]]
        few = sum(1 for key in keys if findings.diversity(len(lists.get(key, ())) // 4,
                                                          len(sentences.get(key, ())))[1])
        notes = []
        if tied:
            notes.append(f"{len(tied)} of {len(keys)} probe tokens have ties at the cut: their last matches share "
                         f"one score with corpus contexts that were not kept, and are a pseudo-random sample.")
        if few:
            notes.append(f"{few} of {len(keys)} probe tokens get their matches from fewer than half as many corpus "
                         f"sentences as matches: look-alike sentences rather than look-alike tokens.")
        summary = findings.summarise(*(found[name].get(ALL, [Histogram("", ())])[0]
                                       for name in ("offsets", "matched", "attended")))
        pattern = findings.corpus_pattern(attended_base.get("offset", {}),
                                          "the mean of this layer's heads" if head is None else "this head")
        summary = (f"{pattern} Against that and the corpus, the matches of all probe tokens: "
                   f"{summary[0].lower()}{summary[1:]}").strip()
        return Analysis(dom, heading, summary, tuple(notes), tuple(blocks)), line, dict(lists)

    def _page(self, analyses: list[tuple[str, int, int | None, str, str]], heatmap: tuple[int, int] | None):
        """The analyses, probe sections and page data shared by head and layer pages."""
        built = [self._analysis(*a, several=len(analyses) > 1) for a in analyses]
        weights: dict[int, list[tuple[int, int, float]]] = defaultdict(list)
        if heatmap is not None:
            for sid, i, j, w in self.store.attention(*heatmap):
                weights[sid].append((i, j, w))
        sections = []
        for sid, text in self.probes:
            toks = self.probe_tokens[sid]
            labels = [t[1] for t in toks]
            chart, chart_text = None, ""
            if heatmap is not None:
                name = f"{head_label(*heatmap)} on sentence {sid}"
                chart = charts.attention_heatmap(labels, weights[sid], name,
                                                 f"Heatmap of the attention of {name}: each row is a token, "
                                                 f"each column a token it attends to, darker is more")
                chart_text = heatmap_text(labels, weights[sid])
            tokens = []
            for idx, tok, special, pos, dep in toks:
                if not special:
                    key = token_key(sid, idx)
                    tokens.append(TokenMatches(key, idx, tok, pos, dep,
                                               tuple(line(key, pos, dep) for _, line, _ in built)))
            sections.append(ProbeSection(sid, text, f"attention-s{sid}", chart, chart_text, tuple(tokens)))
        data = {"shown": self.shown, "spaces": {a.space: lists for a, _, lists in built}, "strip": charts.strip()}
        return tuple(a for a, _, _ in built), tuple(sections), data

    def _toc(self, analyses: tuple[Analysis, ...], first: tuple[Link, ...] = ()) -> tuple[Link, ...]:
        return first + tuple(Link(f"#{a.space}", a.heading) for a in analyses) + tuple(
            Link(f"#s{sid}", f"Sentence {sid}: {shorten(text)}") for sid, text in self.probes)

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
        analyses, sections, data = self._page(
            [("context", layer, head, "context", f"What the matches of {label} have in common")], (layer, head))
        toc = self._toc(analyses, (Link("#statistics", "Statistics over the corpus"),
                                   Link("#syntax", "Dependency accuracy")))
        agreement = self.attributions.head(layer, head)
        if agreement is not None:
            toc = toc[:2] + (Link("#agreement", "Attention and gradients"),) + toc[2:]
        return HeadPage("../", f"{label} · {self.meta['model']}", label, layer, head, nav, toc,
                        self.head_analyses(stats).head(layer, head, self.stat_names(stats)), analyses, sections,
                        data, agreement)

    def layer(self, layer: int) -> LayerPage:
        nav = self._nav(layer, self.n_layers, lambda n: Link(f"L{n}.html", f"layer {n}"),
                        Link("../index.html", "overview"),
                        tuple(Link(f"../heads/{head_label(layer, h)}.html", head_label(layer, h))
                              for h in range(self.n_heads)))
        analyses, sections, data = self._page(
            [("embedding", layer, None, "embedding", "Embedding space: the layer's output"),
             ("context", layer, None, "context", "Context space, all heads")], None)
        return LayerPage("../", f"Layer {layer} · {self.meta['model']}", f"L{layer}", layer, nav,
                         self._toc(analyses), analyses, sections, data)

    def contexts(self) -> dict:
        """The corpus sentences that any match list shows, for the shared assets/contexts.js. Per sentence:
        its text, its tokens ([char_start, char_end, word], word -1 for none, or the special token's name)
        and its words ([char_start, char_end, pos, tag, dep, ent], as indexes into the category lists)."""
        names: dict[str, dict[str, int]] = {f: {} for f in BASE_FACETS}
        sentences: dict[str, list] = {str(sid): [text, [], []] for sid, text in self.store.matched_sentences()}
        position: dict[tuple[int, int], int] = {}
        for sid, word_idx, cs, ce, *categories in self.store.matched_words():
            words = sentences[str(sid)][2]
            position[(sid, word_idx)] = len(words)
            words.append([cs, ce] + [names[f].setdefault(c or ("none" if f == "ent" else ""), len(names[f]))
                                     for f, c in zip(BASE_FACETS, categories)])
        for sid, piece, special, cs, ce, word_idx in self.store.matched_tokens():
            tokens = sentences[str(sid)][1]
            tokens.append(piece if special else [cs, ce, position.get((sid, word_idx), -1)])
        return {**{f: list(found) for f, found in names.items()}, "sentences": sentences}

    def sentence(self, sentence_id: int) -> SentencePage:
        ids = [sid for sid, _ in self.probes]
        here = ids.index(sentence_id)
        text = dict(self.probes)[sentence_id]
        nav = self._nav(here, len(ids), lambda n: Link(f"{ids[n]}.html", f"sentence {ids[n]}"),
                        Link("../index.html", "overview"), ())
        tokens = self.store.tokens_of(sentence_id)
        words = self.store.words_of(sentence_id, sentence_id)
        labels = [token_text(text, piece, special, cs, ce) for _, piece, _, special, cs, ce in tokens]
        n = len(tokens)
        att = np.zeros((self.n_layers, self.n_heads, n, n))
        for layer, head, i, j, w in self.store.sentence_attention(sentence_id):
            att[layer, head, i, j] = w
        units, unit_labels, pieces = word_units(text, tokens, words)
        rows = (charts.attention_rows("tokens", att, ATTENTION_FLOOR)
                + charts.attention_rows("words", merge_to_words(att, units), ATTENTION_FLOOR))
        levels = {"tokens": charts.token_labels(labels), "words": charts.token_labels(unit_labels)}
        vectors: dict[tuple[int, int, int, str], list[float]] = defaultdict(list)
        for layer, head, t, vector, _dim, value in self.store.neuron(sentence_id):
            vectors[(layer, head, t, vector[0])].append(round(value, 3))
        neuron_layers = tuple([] for _ in range(self.n_layers))
        for (l, h, t, v), x in vectors.items():
            neuron_layers[l].append({"l": l, "h": h, "t": t, "v": v, "x": x})
        name = f"sentence {sentence_id}"
        causal = self.meta.get("causal") == "true"
        grid = f"{self.n_layers} layers by {self.n_heads} heads"
        return SentencePage(
            "../", f"Sentence {sentence_id}: “{shorten(text)}” · {self.meta['model']}", f"s{sentence_id}",
            sentence_id, text, nav, tuple(pieces), causal,
            charts.head_view(levels, rows, self.n_layers, self.n_heads, f"Head view of {name}",
                             f"Head view of {name}: the tokens (or words) in two columns, a line from each on the "
                             f"left to every one it attends to on the right, its opacity the weight and its colour "
                             f"the head, for one layer of {self.n_layers}. The table of heads below names each "
                             f"head's dominant pattern."),
            charts.model_view(levels, rows, self.n_heads, f"../heads/L{{l}}H{{h}}.html#s{sentence_id}",
                              f"Model view of {name}",
                              f"Model view of {name}: a grid of {grid}, each cell a heatmap of that head's "
                              f"attention, rows attending and columns attended to, darker is more. The table of "
                              f"heads below names each head's dominant pattern."),
            charts.neuron_view(labels, neuron_layers[0] if neuron_layers else [], self.n_layers, self.n_heads,
                               int(self.meta["d_head"]), causal, f"Neuron view of {name}",
                               f"Neuron view of {name}: for one layer, head and query token, the query vector, "
                               f"every key vector, their elementwise product, the scores q.k/sqrt(d) and their "
                               f"softmax, the head's attention from the query token."),
            self._head_patterns(sentence_id, tokens, words, att), n, tuple(PATTERNS.items()),
            self.attributions.sentence(sentence_id, text, tokens, words, f"../heads/L{{l}}H{{h}}.html#s{sentence_id}"),
            neuron_layers=neuron_layers)

    def _head_patterns(self, sentence_id: int, tokens: list[tuple], words: list[tuple],
                       att: np.ndarray) -> tuple[LayerPatterns, ...]:
        """The sentence page's table of heads: each head's link and dominant pattern on the sentence."""
        is_punct = COLUMNS["words"].index("is_punct")
        punct_words = {w[1] for w in words if w[is_punct]}
        special = np.array([bool(t[3]) for t in tokens])
        punct = np.array([not t[3] and t[2] in punct_words for t in tokens])
        found = dominant_patterns(att, special, punct)
        return tuple(
            LayerPatterns(Link(f"../layers/L{layer}.html", f"layer {layer}"), tuple(
                HeadPattern(head_label(layer, head), f"../heads/{head_label(layer, head)}.html#s{sentence_id}",
                            *found[layer][head])
                for head in range(self.n_heads)))
            for layer in range(self.n_layers))

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
        names = self.stat_names(stats)
        roles = self.head_analyses(stats).roles
        statistics = tuple(
            Statistic(s, DESCRIPTIONS.get(s, s), charts.stat_scale(s), charts.stat_title(s),
                      charts.overview(s, [(layer, head, values[s]) for (layer, head), values in sorted(stats.items())
                                          if s in values], self.n_layers, self.n_heads, roles))
            for s in names or ["entropy"])
        return IndexPage("", f"reportgen · {m['model']}", model, corpus, statistics,
                         self.head_analyses(stats).overview(names, counts["sentences"]), tuple(self.probes),
                         self.attributions.model(),
                         (Link("studies/edits.html", "Is the attention interpretable? Edit identification "
                                                     "(Stevens & Su 2020)"),) if self.study else ())

    @staticmethod
    def stat_names(stats: dict[tuple[int, int], dict[str, float]]) -> list[str]:
        """The statistics the database has: headstats' order, then any it does not list (a newer build's)."""
        found = {s for values in stats.values() for s in values}
        return [s for s in STATS if s in found] + sorted(found - set(STATS))

    def head_analyses(self, stats: dict[tuple[int, int], dict[str, float]]) -> HeadAnalyses:
        """The head analysis tables, read once."""
        if self._head_analyses is None:
            self._head_analyses = HeadAnalyses(self.store, self.meta, stats, self.n_layers, self.n_heads)
        return self._head_analyses

    # where the site was written: not part of the analysis, and an absolute path must not reach a published
    # report (databases written before these options were left out of the meta table still hold them)
    HIDDEN_OPTIONS = ("out", "db")

    def about(self) -> AboutPage:
        m = self.meta
        counts = self.store.counts()
        settings = tuple((k.removeprefix("option."), v) for k, v in sorted(m.items())
                         if k.startswith("option.") and k.removeprefix("option.") not in self.HIDDEN_OPTIONS)
        versions = tuple((k, m.get(k, "not recorded")) for k in (
            "model", "architecture", "reportgen_version", "schema_version", "python_version", "torch_version",
            "transformers_version", "spacy_version", "spacy_model", "duckdb_version"))
        hashes = tuple((k, m.get(k, "not recorded")) for k in ("corpus_sha256", "probes_sha256", "model_sha256"))
        date = m.get("build_date") or "not recorded (set SOURCE_DATE_EPOCH to record it reproducibly)"
        return AboutPage("", f"About · {m['model']}", tuple(SourceFile(*r) for r in self.store.source_files()),
                         settings, (("build date", date),) + versions, hashes,
                         tuple((k, str(v)) for k, v in counts.items()))
