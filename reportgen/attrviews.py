"""What the pages show of the attributions: a probe's words coloured by integrated gradients (green positive, red
negative, as Transformers Interpret draws them), the rollout beside them, and how far each head's attention agrees
with the gradients (Spearman's rho), per sentence, per head and over the model."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

import altair as alt
import numpy as np

from .attribution import DELTA_FLOOR, DELTA_SHARE, to_words
from .charts import _spec, head_grid

LEVELS = 5  # colour steps on each side of zero
TOP_HEADS = 5  # heads named as agreeing most


@dataclass(frozen=True)
class WordScore:
    index: int
    text: str
    score: float  # integrated gradients, summed over the word's tokens
    rollout: float  # the rollout from the target position, summed over the word's tokens
    level: str  # CSS class: attr-p1..attr-p5, attr-n1..attr-n5, attr-0
    before: str = ""  # the sentence's text between the previous word and this one (spaces)

    @property
    def label(self) -> str:
        return f"{self.text}: integrated gradients {self.score:+.3g}, rollout {self.rollout:.3f}"


@dataclass(frozen=True)
class Agreement:
    label: str  # L3H7, or 'layer 3'
    href: str
    rho: float | None

    @property
    def text(self) -> str:
        return "undefined" if self.rho is None else f"{self.rho:+.2f}"


@dataclass(frozen=True)
class SentenceAttribution:
    """The attributions section of a sentence page."""

    target: str
    description: str  # the target in words, with its value
    value: float
    baseline_value: float
    delta: float
    converged: bool
    position: str  # the token whose attention the agreement uses, in words
    words: tuple[WordScore, ...]
    tail: str  # the sentence's text after its last word
    chart: dict
    heads: tuple[Agreement, ...]  # the heads that agree most on this sentence, best first
    layers: tuple[Agreement, ...]  # the rollout up to each layer


@dataclass(frozen=True)
class HeadAgreement:
    """A head page's agreement section."""

    mean: float | None
    rank: str  # 'the 3rd highest of 72 heads'
    per_probe: tuple[Agreement, ...]  # one per probe, linked to its sentence page


@dataclass(frozen=True)
class ModelAgreement:
    """The overview's agreement section."""

    chart: dict | None
    best: tuple[Agreement, ...]
    layers: tuple[Agreement, ...]  # rollout, mean over probes
    probes: int
    methods: tuple[tuple[int, str, str], ...]  # (sentence_id, target, description) of each probe


def level(score: float, top: float) -> str:
    """The colour class of a word: its share of the largest |score| of the sentence in LEVELS steps."""
    if top <= 0 or score == 0:
        return "attr-0"
    step = min(LEVELS, max(1, math.ceil(LEVELS * abs(score) / top)))
    return f"attr-{'p' if score > 0 else 'n'}{step}"


def legend() -> tuple[str, ...]:
    """The colour classes from the most negative to the most positive."""
    return tuple(f"attr-n{i}" for i in range(LEVELS, 0, -1)) + ("attr-0",) + tuple(
        f"attr-p{i}" for i in range(1, LEVELS + 1))


def _mean(values: list[float | None]) -> float | None:
    found = [v for v in values if v is not None]
    return float(np.mean(found)) if found else None


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def word_chart(words: tuple[WordScore, ...], title: str, description: str) -> dict:
    """Two bar charts side by side, one bar per word in sentence order: integrated gradients (green positive, red
    negative) and the rollout."""
    rows = [{"i": w.index, "w": f"{w.index + 1}. {w.text}", "ig": round(w.score, 6), "r": round(w.rollout, 6)}
            for w in words]
    base = alt.Chart(alt.Data(values=rows)).encode(
        y=alt.Y("w:N", sort=alt.EncodingSortField("i"), title=None))
    ig = base.mark_bar().encode(
        x=alt.X("ig:Q", title="integrated gradients"),
        color=alt.condition("datum.ig >= 0", alt.value("#15803d"), alt.value("#b91c1c")),
        tooltip=[alt.Tooltip("w:N", title="word"), alt.Tooltip("ig:Q", title="integrated gradients", format="+.4f")],
    ).properties(width=260, title="Integrated gradients")
    roll = base.mark_bar(color="#4f46e5").encode(
        x=alt.X("r:Q", title="rollout (share of the flow)"),
        tooltip=[alt.Tooltip("w:N", title="word"), alt.Tooltip("r:Q", title="rollout", format=".4f")],
    ).properties(width=200, title="Attention rollout")
    chart = alt.hconcat(ig, roll).properties(title=title, description=description)
    return _spec(chart)


def agreement_chart(values: list[tuple[int, int, float | None]], n_layers: int, n_heads: int) -> dict:
    """The layers x heads grid coloured by each head's mean Spearman rho (-1 to 1, diverging); a click opens the
    head's page."""
    return head_grid(
        [(layer, head, v) for layer, head, v in values if v is not None], n_layers, n_heads,
        "heads/{label}.html#agreement", "mean Spearman rho between attention and |integrated gradients|",
        alt.Scale(domain=[-1, 1], scheme="purpleorange"), "mean rho",
        f"Heatmap of every head, {n_layers} layers (rows) by {n_heads} heads (columns), coloured by the mean over "
        f"the probe sentences of Spearman's rho between the attention each word receives from the target position "
        f"and the magnitude of its integrated-gradient attribution, from -1 to 1. The list beside names the heads "
        f"that agree most.")


class AttributionViews:
    """Reads the attribution tables once; builds each page's part."""

    def __init__(self, store, meta: dict[str, str], n_layers: int, n_heads: int):
        self.n_layers, self.n_heads = n_layers, n_heads
        self.causal = meta.get("causal") == "true"
        self.targets: dict[int, tuple] = {}
        self.scores: dict[tuple[int, str], dict[int, float]] = defaultdict(dict)
        self.agreement: dict[tuple[int, str], dict[tuple[int, int | None], float | None]] = defaultdict(dict)
        self.probes: list[int] = []
        self.head_means: dict[tuple[int, int], float | None] = {}
        if not store.has_table("attribution_targets"):
            return  # a database written before attributions existed
        self.targets = {r[0]: r[1:] for r in store.attribution_targets()}
        for sid, method, idx, score in store.attribution_scores():
            self.scores[(sid, method)][idx] = score
        for sid, method, layer, head, rho in store.attribution_agreement():
            self.agreement[(sid, method)][(layer, head)] = rho
        self.probes = sorted(self.targets)
        self.head_means = {(l, h): _mean([self.agreement[(sid, "attention")].get((l, h)) for sid in self.probes])
                           for l in range(n_layers) for h in range(n_heads)}

    def _position(self, text: str, tokens: list[tuple]) -> str:
        """The target position in words: the first token, or the last for a causal model."""
        _, piece, _, special, start, end = tokens[-1 if self.causal else 0]
        return f"the {'last' if self.causal else 'first'} token, {piece if special else text[start:end]!r}"

    def sentence(self, sentence_id: int, text: str, tokens: list[tuple], words: list[tuple],
                 head_href: str) -> SentenceAttribution | None:
        """tokens: (token_idx, piece, word_idx, is_special, char_start, char_end); words: the sentence's rows of
        the words table. Scores are merged to spaCy words (the sum over a word's tokens)."""
        if sentence_id not in self.targets:
            return None
        target, description, value, baseline, delta = self.targets[sentence_id]
        word_of = [None if special else word for _, _, word, special, _, _ in tokens]
        n = len(words)
        ig = to_words(np.array([self.scores[(sentence_id, "integrated_gradients")].get(i, 0.0)
                                for i in range(len(tokens))]), word_of, n)
        flow = to_words(np.array([self.scores[(sentence_id, "rollout")].get(i, 0.0) for i in range(len(tokens))]),
                        word_of, n)
        top = float(np.abs(ig).max()) if n else 0.0
        start, end = -2, -1  # the words table's char_start and char_end
        scored, at = [], 0
        for i, w in enumerate(words):
            scored.append(WordScore(i, w[2], float(ig[i]), float(flow[i]), level(float(ig[i]), top),
                                    text[at : w[start]]))
            at = w[end]
        words = tuple(scored)
        tail = text[at:]
        position = self._position(text, tokens)
        found = self.agreement[(sentence_id, "attention")]
        ranked = sorted(((rho, l, h) for (l, h), rho in found.items() if rho is not None),
                        key=lambda r: (-r[0], r[1], r[2]))
        heads = tuple(Agreement(f"L{l}H{h}", head_href.format(l=l, h=h), rho) for rho, l, h in ranked[:TOP_HEADS])
        layers = tuple(Agreement(f"layer {l}", f"../layers/L{l}.html", rho)
                       for (l, _), rho in sorted(self.agreement[(sentence_id, "rollout")].items()))
        converged = abs(delta) <= max(DELTA_SHARE * abs(value - baseline), DELTA_FLOOR)
        name = f"sentence {sentence_id}"
        chart = word_chart(words, f"Word attributions of {name}",
                           f"Two bar charts of the words of {name} in order: their integrated-gradient "
                           f"attributions to {description} (green positive, red negative), and the attention "
                           f"rollout from {position}. The table under the chart lists every value.")
        return SentenceAttribution(target, description, value, baseline, delta, converged, position, words, tail,
                                   chart, heads, layers)

    def head(self, layer: int, head: int) -> HeadAgreement | None:
        if not self.targets:
            return None
        mean = self.head_means[(layer, head)]
        found = [v for v in self.head_means.values() if v is not None]
        if mean is None:
            rank = "undefined on every probe"
        else:
            above = sum(1 for v in found if v > mean)
            rank = f"the {_ordinal(above + 1)} highest of {len(found)} heads"
        per_probe = tuple(Agreement(f"sentence {sid}", f"../sentences/{sid}.html#attribution",
                                    self.agreement[(sid, "attention")].get((layer, head))) for sid in self.probes)
        return HeadAgreement(mean, rank, per_probe)

    def model(self) -> ModelAgreement | None:
        if not self.targets:
            return None
        values = [(l, h, v) for (l, h), v in sorted(self.head_means.items())]
        ranked = sorted(((v, l, h) for l, h, v in values if v is not None), key=lambda r: (-r[0], r[1], r[2]))
        best = tuple(Agreement(f"L{l}H{h}", f"heads/L{l}H{h}.html#agreement", v) for v, l, h in ranked[:TOP_HEADS])
        layers = tuple(Agreement(f"layer {l}", f"layers/L{l}.html",
                                 _mean([self.agreement[(sid, "rollout")].get((l, None)) for sid in self.probes]))
                       for l in range(self.n_layers))
        return ModelAgreement(agreement_chart(values, self.n_layers, self.n_heads) if ranked else None, best, layers,
                              len(self.probes),
                              tuple((sid, t[0], t[1]) for sid, t in sorted(self.targets.items())))
