"""What the pages show of the attributions: a probe's words coloured by integrated gradients (green positive, red
negative, as Transformers Interpret draws them), the rollout beside them, and how far each head's attention agrees
with the gradients (Spearman's rho), per sentence, per head and over the model."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...align import to_words
from ...vocab import READOUT_WORDS, WORD_SHARE_FLOOR, converged, head_label, layer_label
from ..charts.attribution import agreement_chart, word_chart

LEVELS = 5  # colour steps on each side of zero
TINT_FLOOR = 0.05  # a word under this share of the sentence's largest |attribution| stays untinted
TOP_HEADS = 5  # heads named as agreeing most
TOP_CLASSES = 3  # a classifier's classes shown with their probabilities


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
    """One head's (or the rollout's) agreement on one probe, or its mean over the probes."""

    label: str  # L3H7, 'layer 3', or 'sentence 4'
    href: str
    rho: float | None
    share: float | None = None  # the read-out's share of attention on the probe's words
    low: float | None = None  # the mean's 95% interval over the probes (t), where it is a mean of 2 or more
    high: float | None = None
    n: int = 1  # the probes the value is a mean over

    @property
    def compared(self) -> bool:
        """Whether the head sends enough of its attention to the words to be compared (see WORD_SHARE_FLOOR)."""
        return self.share is None or self.share >= WORD_SHARE_FLOOR

    @property
    def text(self) -> str:
        if not self.compared:
            return f"too little attention on the words to compare ({self.share:.0%} of the read-out)"
        if self.rho is None:
            return "undefined"
        shown = f"{self.rho:+.2f}"
        if self.low is not None:
            shown += f" [{self.low:+.2f}, {self.high:+.2f}], n = {self.n}"
        if self.share is not None:
            shown += f" ({self.share:.0%} of the read-out on the words)"
        return shown


@dataclass(frozen=True)
class SentenceAttribution:
    """The attributions section of a sentence page."""

    target: str
    description: str  # the target in words, with its value
    value: float
    baseline_value: float
    delta: float
    converged: bool
    readout: str  # the attention rows the target is computed from, in words (the agreement's and rollout's rows)
    words: tuple[WordScore, ...]
    tail: str  # the sentence's text after its last word
    chart: dict
    heads: tuple[Agreement, ...]  # the heads that agree most on this sentence, best first
    layers: tuple[Agreement, ...]  # the rollout up to each layer
    rollout_special: float  # the share of the rollout (after the last layer) that goes to special tokens
    left_out: int  # heads with too little attention on the words to compare
    top: float  # the sentence's largest |attribution|: the shades are relative to it
    baseline_token: str  # the token the baseline puts in place of the words
    classes: tuple[tuple[str, float], ...]  # a classifier's most probable classes (label, probability)
    legend: tuple[tuple[str, str], ...] = ()  # the colours (class, shares), most negative first (`legend()`)
    baselines: tuple[tuple[str, float | None], ...] = ()  # each baseline's rho here (views/baselines.py)
    faithfulness: str = ""  # whether the test over the probes shows the gradients pick the words that matter


@dataclass(frozen=True)
class HeadAgreement:
    """A head page's agreement section."""

    mean: Agreement  # over the probes where the head is compared, with its interval and n
    rank: str  # 'the 3rd highest of 72 heads'
    per_probe: tuple[Agreement, ...]  # one per probe, linked to its sentence page
    layer: int | None = None  # the layer, for a layer page's rollout
    versus: Any = None  # views/baselines.Versus: against the best baselines, where the report has them


@dataclass(frozen=True)
class ModelAgreement:
    """The overview's agreement section."""

    chart: dict | None
    best: tuple[Agreement, ...]
    layers: tuple[Agreement, ...]  # rollout, mean over probes
    probes: int
    methods: tuple[tuple[int, str, str, str], ...]  # (sentence_id, target, description, read-out) of each probe
    compared: int  # heads compared on at least one probe
    every: tuple[Agreement, ...]  # every head's mean, in order: the heatmap's text alternative
    baselines: tuple[Agreement, ...] = ()  # each baseline's mean rho over the probes (views/baselines.py)
    best_baselines: tuple[Agreement, ...] = ()  # the best of them (a tie group)
    agreeing: tuple[tuple[Agreement, ...], ...] = ()  # the heads that beat the best baselines, in tie groups
    every_versus: tuple[str, ...] = ()  # beside `every`: each head against the best baselines, in words


def level(score: float, top: float) -> str:
    """The colour class of a word: its share of the largest |score| of the sentence in LEVELS steps; under
    TINT_FLOOR of it, none."""
    if top <= 0 or abs(score) < TINT_FLOOR * top:
        return "attr-0"
    step = min(LEVELS, max(1, math.ceil(LEVELS * abs(score) / top)))
    return f"attr-{'p' if score > 0 else 'n'}{step}"


def legend() -> tuple[tuple[str, str], ...]:
    """The colour classes from the most negative to the most positive, each with the shares of the sentence's
    largest |attribution| it covers."""
    def bounds(i: int) -> str:
        low = max(TINT_FLOOR, (i - 1) / LEVELS)
        return f"{100 * low:.0f}–{100 * i / LEVELS:.0f}%"

    return (tuple((f"attr-n{i}", f"−{bounds(i)}") for i in range(LEVELS, 0, -1))
            + (("attr-0", f"under {100 * TINT_FLOOR:.0f}%: untinted"),)
            + tuple((f"attr-p{i}", f"+{bounds(i)}") for i in range(1, LEVELS + 1)))


def mean_interval(values: list[float | None], label: str = "", href: str = "") -> Agreement:
    """The mean of the defined values, with Student's t 95% interval over them (where there are 2 or more)."""
    found = [v for v in values if v is not None]
    if not found:
        return Agreement(label, href, None, n=0)
    mean = float(np.mean(found))
    if len(found) < 2:
        return Agreement(label, href, mean, n=1)
    from scipy.stats import t

    half = float(t.ppf(0.975, len(found) - 1) * np.std(found, ddof=1) / np.sqrt(len(found)))
    return Agreement(label, href, mean, low=mean - half, high=mean + half, n=len(found))


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


class AttributionViews:
    """Reads the attribution tables once; builds each page's part."""

    def __init__(self, store, meta: dict[str, str], n_layers: int, n_heads: int):
        self.n_layers, self.n_heads = n_layers, n_heads
        self.targets: dict = {}  # sentence id -> TargetRow
        self.scores: dict[tuple[int, str], dict[int, float]] = defaultdict(dict)
        # (sentence id, method) -> (layer, head) -> AgreementRow
        self.agreement: dict[tuple[int, str], dict[tuple[int, int | None], object]] = defaultdict(dict)
        self.probes: list[int] = []
        self.head_means: dict[tuple[int, int], Agreement] = {}
        self.baseline_token = ""
        self.classes = {}
        if not store.has_table("attribution_targets"):
            return  # a database written before attributions existed
        self.targets = {r.sentence_id: r for r in store.attribution_targets()}
        self.baseline_token = meta.get("attribution_baseline_token", "the baseline token")
        self.classes: dict[int, list[tuple[str, float]]] = defaultdict(list)
        for r in store.class_probabilities():
            self.classes[r.sentence_id].append((r.label, r.probability))
        for r in store.attribution_scores():
            self.scores[(r.sentence_id, r.method)][r.token_idx] = r.score
        for r in store.attribution_agreement():
            self.agreement[(r.sentence_id, r.method)][(r.layer, r.head)] = r
        self.probes = sorted(self.targets)
        self.head_means = {(l, h): mean_interval([self.rho(sid, l, h) for sid in self.probes], head_label(l, h),
                                                 f"heads/{head_label(l, h)}.html#agreement")
                           for l in range(n_layers) for h in range(n_heads)}

    def word_share(self) -> float | None:
        """The mean over every head and probe of the read-out's share of attention on the probe's words."""
        found = [r.word_share for (_, method), rows in self.agreement.items() if method == "attention"
                 for r in rows.values() if r.word_share is not None]
        return float(np.mean(found)) if found else None

    def rho(self, sid: int, layer: int, head: int) -> float | None:
        """A head's rho on a probe, None where undefined or where the head is not compared (too little on words)."""
        r = self.agreement[(sid, "attention")].get((layer, head))
        return None if r is None or r.word_share < WORD_SHARE_FLOOR else r.spearman

    def _agreement(self, sid: int, layer: int, head: int | None, label: str, href: str) -> Agreement:
        r = self.agreement[(sid, "attention" if head is not None else "rollout")].get((layer, head))
        return Agreement(label, href, None if r is None else r.spearman, None if r is None else r.word_share)

    def sentence(self, sentence_id: int, text: str, tokens: list, words: list,
                 head_href: str) -> SentenceAttribution | None:
        """tokens (TokenRow) and words (WordRow) of one probe. Scores are merged to spaCy words (the sum over a
        word's tokens)."""
        if sentence_id not in self.targets:
            return None
        t = self.targets[sentence_id]
        word_of = [None if tok.is_special else tok.word_idx for tok in tokens]
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
        found = self.agreement[(sentence_id, "attention")]
        heads = [self._agreement(sentence_id, l, h, head_label(l, h), head_href.format(l=l, h=h))
                 for (l, h) in sorted(found)]
        ranked = [a for _, a in sorted(((i, a) for i, a in enumerate(heads) if a.compared and a.rho is not None),
                                       key=lambda f: (-f[1].rho, f[0]))]
        layers = tuple(self._agreement(sentence_id, l, None, f"layer {l}", f"../layers/{layer_label(l)}.html")
                       for (l, _) in sorted(self.agreement[(sentence_id, "rollout")]))
        readout = READOUT_WORDS.get(t.readout, t.readout)
        name = f"sentence {sentence_id}"
        chart = word_chart(tuple(scored), f"Word attributions of {name}",
                           f"Two bar charts of the words of {name} in order: their integrated-gradient "
                           f"attributions to {t.description} (green positive, red negative), and the attention "
                           f"rollout of {readout}. The table under the chart lists every value.")
        special = 1.0 - float(flow.sum())
        classes = sorted(self.classes.get(sentence_id, ()), key=lambda c: (-c[1], c[0]))[:TOP_CLASSES]
        return SentenceAttribution(t.target, t.description, t.value, t.baseline_value, t.delta,
                                   converged(t.delta, t.value, t.baseline_value), readout, tuple(scored),
                                   text[at:], chart, tuple(ranked[:TOP_HEADS]), layers, special,
                                   sum(not a.compared for a in heads), top, self.baseline_token, tuple(classes),
                                   legend())

    def head(self, layer: int, head: int) -> HeadAgreement | None:
        if not self.targets:
            return None
        mean = self.head_means[(layer, head)]
        found = [a.rho for a in self.head_means.values() if a.rho is not None]
        if mean.rho is None:
            rank = "not compared on any probe (undefined, or too little attention on the words)"
        else:
            above = sum(1 for v in found if v > mean.rho)
            rank = f"the {_ordinal(above + 1)} highest of the {len(found)} heads compared"
        per_probe = tuple(self._agreement(sid, layer, head, f"sentence {sid}", f"../sentences/{sid}.html#attribution")
                          for sid in self.probes)
        return HeadAgreement(mean, rank, per_probe)

    def layer(self, layer: int) -> HeadAgreement | None:
        """A layer page's rollout section: the agreement of the rollout up to this layer on every probe, and its
        mean over the probes."""
        if not self.targets:
            return None
        per_probe = tuple(self._agreement(sid, layer, None, f"sentence {sid}", f"../sentences/{sid}.html#attribution")
                          for sid in self.probes)
        mean = mean_interval([a.rho for a in per_probe])
        above = sum(1 for l in range(self.n_layers) if (m := self._rollout_mean(l)) is not None
                    and mean.rho is not None and m > mean.rho)
        rank = ("undefined on every probe" if mean.rho is None
                else f"the {_ordinal(above + 1)} highest of the {self.n_layers} layers")
        return HeadAgreement(mean, rank, per_probe, layer)

    def _rollout_mean(self, layer: int) -> float | None:
        found = [self.agreement[(sid, "rollout")][(layer, None)].spearman for sid in self.probes
                 if (layer, None) in self.agreement[(sid, "rollout")]]
        found = [v for v in found if v is not None]
        return float(np.mean(found)) if found else None

    def model(self) -> ModelAgreement | None:
        if not self.targets:
            return None
        values = [(l, h, a.rho) for (l, h), a in sorted(self.head_means.items())]
        ranked = [a for key, a in sorted(self.head_means.items(), key=lambda f: (-(f[1].rho or 0), f[0]))
                  if a.rho is not None]
        layers = tuple(mean_interval([self.agreement[(sid, "rollout")][(l, None)].spearman for sid in self.probes
                                      if (l, None) in self.agreement[(sid, "rollout")]],
                                     f"layer {l}", f"layers/{layer_label(l)}.html#rollout")
                       for l in range(self.n_layers))
        return ModelAgreement(agreement_chart(values, self.n_layers, self.n_heads) if ranked else None,
                              tuple(ranked[:TOP_HEADS]), layers, len(self.probes),
                              tuple((sid, t.target, t.description, READOUT_WORDS.get(t.readout, t.readout))
                                    for sid, t in sorted(self.targets.items())), len(ranked),
                              tuple(a for _, a in sorted(self.head_means.items())))
