"""sentences/{id}.html: one probe's attention at three levels (bertviz's head, model and neuron views), a table of
every head with its dominant pattern on the sentence, and the sentence's attributions."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...align import attention_to_words, token_text, word_units
from ...patterns import describe, headline, sentence_shares, special_names
from ...vocab import ROLE_CODES, ROLES, head_label, layer_label
from ..charts import sentence as charts
from ..charts.base import token_labels
from ..sections import Placed, placed
from .common import Link, Nav, Report, nav, shorten
from .headanalysis import ROLE_MEANINGS

NEURON_FILE = "neuron-L{l}.js"  # a sentence's neuron vectors of one layer, in sentences/<id>/
ATTENTION_FLOOR = 0.005  # weights below this are invisible lines and are left out of the sentence pages
NOT_IN_TEMPLATE = {"template": False}  # a page field the renderer uses, not the template


@dataclass(frozen=True)
class HeadPattern:
    """One head's cell in a sentence page's table of heads: a link to the head's page at the sentence, and its
    pattern on the sentence, named by the rules of the roles (patterns.describe: the same words and thresholds as
    the overview's roles, without syntax), with the number that earned it."""

    label: str  # L3H7
    href: str
    role: str  # one of vocab.ROLES, not 'syntax'
    value: float
    evidence: str

    @property
    def text(self) -> str:
        return f"{ROLE_CODES[self.role]} {self.value:.2f}"


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
    role_key: tuple[tuple[str, str, str], ...]  # (code, role, what it means) of every role a cell can show
    body: tuple[Placed, ...] = ()  # the analyses' sections (the attributions), above the attention views
    charts: tuple = field(default=(), metadata=NOT_IN_TEMPLATE)  # the sections' charts, for --figures
    # the neuron view's vectors, one list of rows per layer: the page carries the first layer's, and a data file
    # per layer in the sentence's folder gives the others when the reader picks them (views.PAGES' files)
    neuron_layers: tuple[list[dict], ...] = field(default=(), metadata=NOT_IN_TEMPLATE)

    @property
    def layer_files(self) -> str:
        """The neuron view's data files, relative to the page, with {l} for the layer."""
        return f"{self.sentence_id}/{NEURON_FILE}"


def _head_patterns(report: Report, sentence_id: int, tokens: list, words: list,
                   att: np.ndarray) -> tuple[LayerPatterns, ...]:
    """The sentence page's table of heads: each head's link and its pattern on the sentence."""
    punct_words = {w.word_idx for w in words if w.is_punct}
    special = np.array([bool(t.is_special) for t in tokens])
    punct = np.array([not t.is_special and t.word_idx in punct_words for t in tokens])
    shares = sentence_shares(att, special, punct, report.meta.get("causal") == "true")
    names = special_names(tokens)
    rows = []
    for layer in range(report.n_layers):
        cells = []
        for head in range(report.n_heads):
            value = {s: float(v[layer, head]) for s, v in shares.items()}
            role, evidence = describe(value, names)
            cells.append(HeadPattern(head_label(layer, head),
                                     f"../heads/{head_label(layer, head)}.html#s{sentence_id}", role,
                                     headline(role, value), evidence))
        rows.append(LayerPatterns(Link(f"../layers/{layer_label(layer)}.html", f"layer {layer}"), tuple(cells)))
    return tuple(rows)


def _neuron_layers(found, n_layers: int) -> tuple[list[dict], ...]:
    """The neuron view's rows of each layer, {l, h, t, v: 'q' | 'k', x: the vector to 3 decimals}, from the store's
    columns (ordered by layer, head, token, vector)."""
    out = tuple([] for _ in range(n_layers))
    if not len(found.value):
        return out
    columns = (np.asarray(found.layer), np.asarray(found.head), np.asarray(found.token_idx), np.asarray(found.vector))
    changed = np.zeros(len(found.value) - 1, dtype=bool)
    for column in columns:
        changed |= column[1:] != column[:-1]
    starts = np.flatnonzero(np.concatenate(([True], changed))).tolist() + [len(found.value)]
    layers, heads, tokens, vectors = (column[starts[:-1]].tolist() for column in columns)
    values = rounded(np.asarray(found.value, dtype=np.float64), 3)
    for i, (start, end) in enumerate(zip(starts, starts[1:])):
        out[layers[i]].append({"l": layers[i], "h": heads[i], "t": tokens[i], "v": vectors[i][0],
                               "x": values[start:end]})
    return out


def rounded(values: np.ndarray, decimals: int) -> list[float]:
    """[round(x, decimals) for x in values], Python's own rounding, computed as numpy's x * 10**d, rint, / 10**d.
    The two agree wherever the product's rounding cannot cross a half (both give the double nearest to the same
    k / 10**d); the few products within a millionth of a half (and any past float's range) are rounded by Python."""
    scale = 10.0 ** decimals
    with np.errstate(invalid="ignore", over="ignore"):
        product = values * scale
        out = np.rint(product) / scale
        near = np.abs(product - np.floor(product) - 0.5) <= 1e-6 * np.maximum(1.0, np.abs(product))
        near |= np.isfinite(values) & ~np.isfinite(product)  # a product past float's range
    found = out.tolist()
    for i in np.flatnonzero(near).tolist():
        found[i] = round(float(values[i]), decimals)
    return found


def sentence_page(report: Report, sentence_id: int) -> SentencePage:
    ids = [sid for sid, _ in report.probes]
    n_layers, n_heads = report.n_layers, report.n_heads
    text = dict(report.probes)[sentence_id]
    pager = nav(ids.index(sentence_id), len(ids), lambda n: Link(f"{ids[n]}.html", f"sentence {ids[n]}"),
                Link("../index.html", "overview"), ())
    tokens = report.store.tokens_of(sentence_id)
    words = report.store.words_of(sentence_id, sentence_id)
    labels = [token_text(text, t.text, t.is_special, t.char_start, t.char_end) for t in tokens]
    n = len(tokens)
    att = np.zeros((n_layers, n_heads, n, n))
    found = report.store.sentence_attention(sentence_id)
    att[found.layer, found.head, found.from_token_idx, found.to_token_idx] = found.weight
    units, unit_labels, pieces = word_units(text, tokens, words)
    rows = (charts.attention_rows("tokens", att, ATTENTION_FLOOR)
            + charts.attention_rows("words", attention_to_words(att, units, max(units) + 1), ATTENTION_FLOOR))
    levels = {"tokens": token_labels(labels), "words": token_labels(unit_labels)}
    neuron_layers = _neuron_layers(report.store.neuron(sentence_id), n_layers)
    name = f"sentence {sentence_id}"
    causal = report.meta.get("causal") == "true"
    grid = f"{n_layers} layers by {n_heads} heads"
    head_links = f"../heads/{head_label('{l}', '{h}')}.html#s{sentence_id}"
    parts = placed(report.sections.get("sentence", ()), report, sentence_id)
    return SentencePage(
        "../", f"Sentence {sentence_id}: “{shorten(text)}” · {report.model}",
        sentence_id, text, pager, tuple(pieces), causal,
        charts.head_view(levels, rows, n_layers, n_heads, f"Head view of {name}",
                         f"Head view of {name}: the tokens (or words) in two columns, a line from each on the "
                         f"left to every one it attends to on the right, its opacity the weight and its colour "
                         f"the head, for one layer of {n_layers}. The table of heads below names each "
                         f"head's dominant pattern."),
        charts.model_view(levels, rows, n_heads, head_links, f"Model view of {name}",
                          f"Model view of {name}: a grid of {grid}, each cell a heatmap of that head's "
                          f"attention, rows attending and columns attended to, darker is more. The table of "
                          f"heads below names each head's dominant pattern."),
        charts.neuron_view(labels, neuron_layers[0] if neuron_layers else [], n_layers, n_heads,
                           int(report.meta["d_head"]), causal, f"Neuron view of {name}",
                           f"Neuron view of {name}: for one layer, head and query token, the query vector, "
                           f"every key vector, their elementwise product, the scores q.k/sqrt(d) and their "
                           f"softmax, the head's attention from the query token."),
        _head_patterns(report, sentence_id, tokens, words, att), n,
        tuple((ROLE_CODES[r], r, ROLE_MEANINGS[r]) for r in ROLES if r != "syntax"), parts.body, parts.charts,
        neuron_layers=neuron_layers)
