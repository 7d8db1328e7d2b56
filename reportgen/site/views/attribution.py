"""What the pages show of the attributions: a probe's words coloured by integrated gradients (green positive, red
negative, as Transformers Interpret draws them), the rollout beside them, and how far each head's attention agrees
with the gradients (Spearman's rho), per sentence, per head and over the model."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from ...align import to_words, token_text
from ...vocab import converged, head_label, layer_label
from ..charts.attribution import agreement_chart, word_chart

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


class AttributionViews:
    """Reads the attribution tables once; builds each page's part."""

    def __init__(self, store, meta: dict[str, str], n_layers: int, n_heads: int):
        self.n_layers, self.n_heads = n_layers, n_heads
        self.causal = meta.get("causal") == "true"
        self.targets: dict = {}  # sentence id -> TargetRow
        self.scores: dict[tuple[int, str], dict[int, float]] = defaultdict(dict)
        self.agreement: dict[tuple[int, str], dict[tuple[int, int | None], float | None]] = defaultdict(dict)
        self.probes: list[int] = []
        self.head_means: dict[tuple[int, int], float | None] = {}
        if not store.has_table("attribution_targets"):
            return  # a database written before attributions existed
        self.targets = {r.sentence_id: r for r in store.attribution_targets()}
        for r in store.attribution_scores():
            self.scores[(r.sentence_id, r.method)][r.token_idx] = r.score
        for r in store.attribution_agreement():
            self.agreement[(r.sentence_id, r.method)][(r.layer, r.head)] = r.spearman
        self.probes = sorted(self.targets)
        self.head_means = {(l, h): _mean([self.agreement[(sid, "attention")].get((l, h)) for sid in self.probes])
                           for l in range(n_layers) for h in range(n_heads)}

    def _position(self, text: str, tokens: list) -> str:
        """The target position in words: the first token, or the last for a causal model."""
        t = tokens[-1 if self.causal else 0]
        return (f"the {'last' if self.causal else 'first'} token, "
                f"{token_text(text, t.text, t.is_special, t.char_start, t.char_end)!r}")

    def sentence(self, sentence_id: int, text: str, tokens: list, words: list,
                 head_href: str) -> SentenceAttribution | None:
        """tokens (TokenRow) and words (WordRow) of one probe. Scores are merged to spaCy words (the sum over a
        word's tokens)."""
        if sentence_id not in self.targets:
            return None
        t = self.targets[sentence_id]
        target, description, value, baseline, delta = t.target, t.description, t.value, t.baseline_value, t.delta
        word_of = [None if t.is_special else t.word_idx for t in tokens]
        n = len(words)
        ig = to_words(np.array([self.scores[(sentence_id, "integrated_gradients")].get(i, 0.0)
                                for i in range(len(tokens))]), word_of, n)
        flow = to_words(np.array([self.scores[(sentence_id, "rollout")].get(i, 0.0) for i in range(len(tokens))]),
                        word_of, n)
        top = float(np.abs(ig).max()) if n else 0.0
        scored, at = [], 0
        for i, w in enumerate(words):
            scored.append(WordScore(i, w.text, float(ig[i]), float(flow[i]), level(float(ig[i]), top),
                                    text[at : w.char_start]))
            at = w.char_end
        words = tuple(scored)
        tail = text[at:]
        position = self._position(text, tokens)
        found = self.agreement[(sentence_id, "attention")]
        ranked = sorted(((rho, l, h) for (l, h), rho in found.items() if rho is not None),
                        key=lambda r: (-r[0], r[1], r[2]))
        heads = tuple(Agreement(head_label(l, h), head_href.format(l=l, h=h), rho) for rho, l, h in ranked[:TOP_HEADS])
        layers = tuple(Agreement(f"layer {l}", f"../layers/{layer_label(l)}.html", rho)
                       for (l, _), rho in sorted(self.agreement[(sentence_id, "rollout")].items()))
        is_converged = converged(delta, value, baseline)
        name = f"sentence {sentence_id}"
        chart = word_chart(words, f"Word attributions of {name}",
                           f"Two bar charts of the words of {name} in order: their integrated-gradient "
                           f"attributions to {description} (green positive, red negative), and the attention "
                           f"rollout from {position}. The table under the chart lists every value.")
        return SentenceAttribution(target, description, value, baseline, delta, is_converged, position, words, tail,
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
        best = tuple(Agreement(head_label(l, h), f"heads/{head_label(l, h)}.html#agreement", v)
                     for v, l, h in ranked[:TOP_HEADS])
        layers = tuple(Agreement(f"layer {l}", f"layers/{layer_label(l)}.html",
                                 _mean([self.agreement[(sid, "rollout")].get((l, None)) for sid in self.probes]))
                       for l in range(self.n_layers))
        return ModelAgreement(agreement_chart(values, self.n_layers, self.n_heads) if ranked else None, best, layers,
                              len(self.probes),
                              tuple((sid, t.target, t.description) for sid, t in sorted(self.targets.items())))
