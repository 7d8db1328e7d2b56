"""exBERT's match analyses, shared by the head and layer pages: for each search space, the histograms of what the
matches are (with their corpus base rates), each probe token's one-line summary, the match lists the page script
shows, and the corpus sentences those lists need (assets/contexts.js)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ...store import match_counts
from ...store.rows import MatchColumns
from ...vocab import FACETS as BASE_FACETS
from ...vocab import OFFSETS, head_label
from .. import findings
from ..charts import matches as charts
from ..findings import Histogram
from .common import Link, Report, base_rates, shorten, token_key

FACETS = tuple(zip(BASE_FACETS, ("POS", "fine tag", "dependency", "entity type")))
ALL_TOKENS = "all"  # the key of "all probe tokens of the page" in the chart data


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


def _histograms(grouped: match_counts.Bars, titles: dict[str, str], base: dict[str, dict[str, int]],
                order: tuple[str, ...] | None = None,
                own_of: dict[str, dict[str, str]] | None = None) -> dict[str, Sequence[Histogram]]:
    """Counts grouped by probe token and facet (store/match_counts.py) -> token key (or ALL_TOKENS) -> one histogram
    per facet, each category with its base
    rate from `base` (facet -> category -> count in the corpus population). With `own_of` (token key -> facet ->
    the probe token's own category), the histograms of all probe tokens also carry the probe set's own mix: each
    probe token's category counted once per match it has, the shares the matches would have if every match shared
    its probe token's category."""
    bars = {ALL_TOKENS if key is None else token_key(*key): defaultdict(list, facets)
            for key, facets in grouped.items()}
    own: dict[str, dict[str, int]] | None = None
    if own_of is not None:
        own = {facet: defaultdict(int) for facet in titles}
        for key, found in bars.items():
            if key in own_of:
                for facet in titles:
                    own[facet][own_of[key][facet]] += sum(n for _, n in found.get(facet, ()))
    shares = {facet: findings.base_shares(base.get(facet, {})) for facet in titles}
    facets = list(titles.items())

    def made(key: str, found) -> Sequence[Histogram]:
        def one(i: int) -> Histogram:
            facet, title = facets[i]
            return findings.histogram(title, found[facet], shares[facet], order,
                                      own[facet] if own is not None and key == ALL_TOKENS else None)
        return [one(i) for i in range(len(facets))] if key == ALL_TOKENS else _Lazy(one, len(facets))

    return {key: made(key, found) for key, found in bars.items()}


class _Lazy(Sequence):
    """One probe token's histograms, one per facet, each made when first read: a page reads four of a token's nine
    (its line: the matched tokens' POS and dependency, the attended tokens' POS, the offsets)."""

    def __init__(self, make, n: int):
        self._make, self._made = make, [None] * n

    def __len__(self) -> int:
        return len(self._made)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if self._made[i] is None:
            self._made[i] = self._make(i)
        return self._made[i]


def heatmap_text(tokens: list[str], weights: list[tuple[int, int, float]]) -> str:
    """A heatmap's text alternative: the token each token attends to most, with its weight."""
    best: dict[int, tuple[float, int]] = {}
    for i, j, w in weights:
        if i not in best or w > best[i][0]:
            best[i] = (w, j)
    return "Each token attends most to: " + "; ".join(
        f"{tokens[i]} → {tokens[j]} ({w:.2f})" for i, (w, j) in sorted(best.items())) + "."


def match_lists(found: MatchColumns) -> tuple[dict[str, list], dict[str, int]]:
    """(token key -> its matches, best first, flat: 4 numbers per match, the corpus sentence, the matched token, the
    token it attends to most and the score x 1000 rounded to an integer; token key -> how many distinct corpus
    sentences they come from) of one space's match columns."""
    sid, tok = found.sentence_id, found.token_idx
    if not len(sid):
        return {}, {}
    # the rint of the same double as Python's round(score * 1000): both round half to even
    columns = [found.match_sentence_id.tolist(), found.match_token_idx.tolist(),
               found.max_attended_token_idx.tolist(),
               np.rint(np.asarray(found.score, dtype=np.float64) * 1000).astype(np.int64).tolist()]
    starts = np.flatnonzero((np.diff(sid) != 0) | (np.diff(tok) != 0)) + 1
    edges = [0, *starts.tolist(), len(sid)]
    lists, sentences = {}, {}
    for a, b in zip(edges, edges[1:]):
        key = token_key(int(sid[a]), int(tok[a]))
        lists[key] = [v for row in zip(*(c[a:b] for c in columns)) for v in row]
        sentences[key] = len(set(columns[0][a:b]))
    return lists, sentences


def analysis(report: Report, space: str, layer: int, head: int | None, dom: str, heading: str, several: bool):
    """One space's aggregates: the view, each token's line, and the page data of its matches."""
    attended_base = base_rates(report.store.base_counts("attended", layer, head))
    columns, categories = report.store.match_columns(space, layer, head), report.token_categories
    whose = "the whole layer" if head is None else head_label(layer, head)
    parts = (
        ("matched", "Matched tokens", {f: f"{t} of the matched tokens" for f, t in FACETS},
         match_counts.annotation_counts(columns, categories, attended=False), report.matched_base, None,
         "every non-special corpus token"),
        ("attended", "Tokens the matches attend to most",
         {f: f"{t} of the tokens they attend to most" for f, t in FACETS},
         match_counts.annotation_counts(columns, categories, attended=True), attended_base, None,
         f"the tokens that every corpus token attends to most in {whose}"),
        ("offsets", "Where the matches attend", {"offset": "offset to the token attended to most"},
         match_counts.offset_counts(columns, categories), attended_base, OFFSETS,
         f"where every corpus token attends most in {whose}"),
    )
    found: dict[str, dict[str, list[Histogram]]] = {}
    blocks = []
    # each probe token's own categories, for the matched tokens' histograms of all probe tokens
    own_of = {token_key(sid, t.token_idx): dict(zip(BASE_FACETS, t.categories))
              for sid, _ in report.probes for t in report.probe_tokens[sid] if not t.is_special}
    for name, title, titles, counts, base, order, population in parts:
        found[name] = _histograms(counts, titles, base, order, own_of if name == "matched" else None)
        every = found[name].get(ALL_TOKENS) or [Histogram(t, ()) for t in titles.values()]
        description = (f"Bar charts of the {', '.join(titles.values())}, as shares of the matches, each "
                       f"with its corpus base rate (the share among {population})")
        blocks.append(ChartBlock(f"{dom}-{name}", title,
                                 charts.histograms(every, order, description, own=name == "matched"),
                                 tuple(h.caption() for h in every)))

    lists, sentences = match_lists(columns)
    tied = {token_key(r.sentence_id, r.token_idx): (r.score, r.tied_kept, r.tied_dropped, r.open_ended)
            for r in report.store.cut_ties(space, layer, head)}
    pos_base, dep_base = report.matched_base.get("pos", {}), report.matched_base.get("dep", {})

    def line(key: str, pos: str, dep: str) -> TokenLine:
        hists = {name: found[name].get(key) or [Histogram("", ())] * len(part[2])
                 for name, part in zip(found, parts)}
        matched = hists["matched"]
        own = "; ".join((
            findings.own_category(matched[0], pos, pos_base.get(pos, 0) / max(1, sum(pos_base.values())), "POS"),
            findings.own_category(matched[2], dep, dep_base.get(dep, 0) / max(1, sum(dep_base.values())),
                                  "dependency")))
        n = len(lists.get(key, ())) // 4
        text, warning = findings.diversity(n, sentences.get(key, 0))
        warnings = [warning] if warning else []
        if key in tied:
            warnings.append(findings.ties(n, *tied[key]))
        return TokenLine(heading if several else "", text, own,
                         findings.summarise(hists["offsets"][0], matched[0], hists["attended"][0]),
                         tuple(warnings))

    keys = [token_key(sid, t.token_idx) for sid, _ in report.probes for t in report.probe_tokens[sid]
            if not t.is_special]
    few = sum(1 for key in keys if findings.diversity(len(lists.get(key, ())) // 4, sentences.get(key, 0))[1])
    notes = []
    same, every = report.same_form.get((space, layer, head), (0, 0))
    if every:
        notes.append(findings.same_form(same, every))
    if tied:
        notes.append(f"{len(tied)} of {len(keys)} probe tokens have ties at the cut: their last matches share "
                     f"one score with corpus contexts that were not kept, and are a pseudo-random sample.")
    if few:
        notes.append(f"{few} of {len(keys)} probe tokens get their matches from fewer than half as many corpus "
                     f"sentences as matches: look-alike sentences rather than look-alike tokens.")
    summary = findings.summarise(*(found[name].get(ALL_TOKENS, [Histogram("", ())])[0]
                                   for name in ("offsets", "matched", "attended")))
    pattern = findings.corpus_pattern(attended_base.get("offset", {}),
                                      "the mean of this layer's heads" if head is None else "this head")
    summary = (f"{pattern} Against that and the corpus, the matches of all probe tokens: "
               f"{summary[0].lower()}{summary[1:]}").strip()
    return Analysis(dom, heading, summary, tuple(notes), tuple(blocks)), line, lists


def page_sections(report: Report, analyses: list[tuple[str, int, int | None, str, str]],
                  heatmap: tuple[int, int] | None):
    """The analyses, probe sections and page data shared by head and layer pages."""
    built = [analysis(report, *a, several=len(analyses) > 1) for a in analyses]
    weights: dict[int, list[tuple[int, int, float]]] = defaultdict(list)
    if heatmap is not None:
        found = report.store.attention(*heatmap)
        for sid, i, j, w in zip(found.sentence_id.tolist(), found.from_token_idx.tolist(),
                                found.to_token_idx.tolist(), found.weight.tolist()):
            weights[sid].append((i, j, w))
    sections = []
    for sid, text in report.probes:
        toks = report.probe_tokens[sid]
        labels = [t.text for t in toks]
        chart, chart_text = None, ""
        if heatmap is not None:
            name = f"{head_label(*heatmap)} on sentence {sid}"
            chart = charts.attention_heatmap(labels, weights[sid], name,
                                             f"Heatmap of the attention of {name}: each row is a token, "
                                             f"each column a token it attends to, darker is more")
            chart_text = heatmap_text(labels, weights[sid])
        tokens = []
        for t in toks:
            if not t.is_special:
                key = token_key(sid, t.token_idx)
                tokens.append(TokenMatches(key, t.token_idx, t.text, t.pos, t.dep,
                                           tuple(line(key, t.pos, t.dep) for _, line, _ in built)))
        sections.append(ProbeSection(sid, text, f"attention-s{sid}", chart, chart_text, tuple(tokens)))
    data = {"shown": report.shown, "spaces": {a.space: lists for a, _, lists in built}, "strip": charts.strip()}
    return tuple(a for a, _, _ in built), tuple(sections), data


MATCHES_FILE = "{label}/matches.js"  # a head or layer page's match lists, beside the page, loaded when asked for


def split_matches(data: dict, label: str) -> tuple[dict, dict]:
    """(what the page carries, the match lists of every space): the page names the file its match lists load
    from (MATCHES_FILE, relative to the page) when the reader first opens a token or picks one."""
    inline = {k: v for k, v in data.items() if k != "spaces"} | {"matches": MATCHES_FILE.format(label=label)}
    return inline, data["spaces"]


def toc(report: Report, analyses: tuple[Analysis, ...], first: tuple[Link, ...] = ()) -> tuple[Link, ...]:
    return first + tuple(Link(f"#{a.space}", a.heading) for a in analyses) + tuple(
        Link(f"#s{sid}", f"Sentence {sid}: {shorten(text)}") for sid, text in report.probes)


def contexts(report: Report) -> dict:
    """The corpus sentences that any match list shows, for the shared assets/contexts.js. Per sentence: its text,
    its tokens ([char_start, char_end, word], word -1 for none, or the special token's name) and its words
    ([char_start, char_end, pos, tag, dep, ent], as indexes into the category lists)."""
    names: dict[str, dict[str, int]] = {f: {} for f in BASE_FACETS}
    sentences: dict[str, list] = {str(r.sentence_id): [r.text, [], []] for r in report.store.matched_sentences()}
    position: dict[tuple[int, int], int] = {}
    for w in report.store.matched_words():
        words = sentences[str(w.sentence_id)][2]
        position[(w.sentence_id, w.word_idx)] = len(words)
        words.append([w.char_start, w.char_end] + [
            names[f].setdefault(c or ("none" if f == "ent" else ""), len(names[f]))
            for f, c in zip(BASE_FACETS, (w.pos, w.tag, w.dep, w.ent_type))])
    for t in report.store.matched_tokens():
        tokens = sentences[str(t.sentence_id)][1]
        tokens.append(t.text if t.is_special else [t.char_start, t.char_end,
                                                   position.get((t.sentence_id, t.word_idx), -1)])
    return {**{f: list(found) for f, found in names.items()}, "sentences": sentences}
