"""What the pages show of the attributions: a probe's words coloured by integrated gradients (green positive, red
negative, as Transformers Interpret draws them), the rollout beside them, and how far each head's attention agrees
with the gradients (Spearman's rho), per sentence, per head and over the model."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...align import held, held_words, to_words
from ...ranking import rank
from ...store.schema import AGREEMENT_RANKS
from ...vocab import READOUT_WORDS, WORD_SHARE_FLOOR, converged, count, head_label, layer_label, ordinal
from ..charts.attribution import agreement_chart, word_chart

LEVELS = 5  # colour steps on each side of zero
TINT_FLOOR = 0.05  # a word under this share of the sentence's largest |attribution| stays untinted
TOP_HEADS = 5  # heads named as agreeing most (the cut extended over a tie)
MOST_NAMED = 10  # heads a cut list names at most: a longer tie at the cut is counted, not named
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
    heads: tuple[tuple[Agreement, ...], ...]  # the heads that agree most on this sentence, best first, in tie groups
    layers: tuple[Agreement, ...]  # the rollout up to each layer
    rollout_special: float  # the share of the rollout (after the last layer) that goes to special tokens
    left_out: int  # heads with too little attention on the words to compare
    top: float  # the sentence's largest |attribution|: the shades are relative to it
    baseline_token: str  # the token the baseline puts in place of the words
    classes: tuple[tuple[str, float], ...]  # a classifier's most probable classes (label, probability)
    legend: tuple[tuple[str, str], ...] = ()  # the colours (class, shares), most negative first (`legend()`)
    baselines: tuple[tuple[str, float | None], ...] = ()  # each baseline's rho here (views/baselines.py)
    faithfulness: str = ""  # whether the test over the probes shows the gradients pick the words that matter
    heads_note: str = ""  # where the cut of `heads` falls inside a tie too long to name (`cut`)
    steps: str = ""  # the steps, where more than attribution_steps were needed to converge; else ''
    held: str = ""  # a causal model's first token where it is a word's, which the baseline keeps (align.held)
    held_word: bool = False  # whether that token is its whole word (then the agreement leaves the word out)


@dataclass(frozen=True)
class HeadAgreement:
    """A head page's agreement section."""

    mean: Agreement  # over the probes where the head is compared, with its interval and n
    rank: str  # 'the 3rd highest of the 72 heads compared', or its tie (`place`)
    per_probe: tuple[Agreement, ...]  # one per probe, linked to its sentence page
    layer: int | None = None  # the layer, for a layer page's rollout
    versus: Any = None  # views/baselines.Versus: against the best baselines, where the report has them


@dataclass(frozen=True)
class ModelAgreement:
    """The overview's agreement section."""

    chart: dict | None
    best: tuple[tuple[Agreement, ...], ...]  # the heads with the highest mean rho, in tie groups (`cut`)
    layers: tuple[Agreement, ...]  # rollout, mean over probes
    probes: int
    methods: tuple[tuple[int, str, str, str], ...]  # (sentence_id, target, description, read-out) of each probe
    compared: int  # heads compared on at least one probe
    every: tuple[Agreement, ...]  # every head's mean, in order: the heatmap's text alternative
    baselines: tuple[Agreement, ...] = ()  # each baseline's mean rho over the probes (views/baselines.py)
    best_baselines: tuple[Agreement, ...] = ()  # the best of them (a tie group)
    agreeing: tuple[tuple[Agreement, ...], ...] = ()  # the heads that beat the best baselines, in tie groups
    every_versus: tuple[str, ...] = ()  # beside `every`: each head against the best baselines, in words
    best_note: str = ""  # where the cut of `best` falls inside a tie too long to name


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


def place(position: int, tied: int, n: int, noun: str, tested: str = "no paired test over the probes") -> str:
    """An item's place among n ranked (reportgen.ranking): 'the highest of the 72 heads compared', 'the 3rd highest
    of ...', 'the lowest of ...'; with `tied` others no test separates from it, 'tied for highest with 2 others of
    ...', 'tied with 2 others for places 3 to 5 of ...' or 'tied for lowest ...'. `noun`: 'heads compared'."""
    of = f"of the {n} {noun}"
    if n == 1:
        return f"the only one of the {noun}"
    if not tied:
        if position == 1:
            return f"the highest {of}"
        return f"the lowest {of}" if position == n else f"the {ordinal(position)} highest {of}"
    others = count(tied, "other")
    why = f": {tested} separates them"
    if tied + 1 == n:
        return f"tied with {'the other' if n == 2 else f'all {n - 1} others'} {of}{why}"
    if position == 1:
        return f"tied for highest with {others} {of}{why}"
    if position + tied == n:
        return f"tied for lowest with {others} {of}{why}"
    return f"tied with {others} for places {position} to {position + tied} {of}{why}"


def cut(groups: list[tuple[Agreement, ...]], k: int = TOP_HEADS,
        most: int = MOST_NAMED) -> tuple[tuple[tuple[Agreement, ...], ...], str]:
    """The first k items of a ranking in tie groups, the cut extended to the end of the tie the k-th belongs to
    (ranking.Ranking.top); where that tie would take the list past `most`, the tie is named up to `most` and the
    rest is counted where it falls: (groups shown, '' or the note)."""
    shown: list[tuple[Agreement, ...]] = []
    at = 0
    for group in groups:
        if at >= k:
            break
        if at + len(group) > most:
            named = max(most - at, 1)
            shown.append(group[:named])
            return tuple(shown), (f"the cut falls inside a tie: {count(len(group), 'head')} share places {at + 1} to "
                                  f"{at + len(group)}, {count(len(group) - named, 'more head')} of them not named")
        shown.append(group)
        at += len(group)
    return tuple(shown), ""


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
        self.ranks: dict[tuple[str, int, int | None], int] = {}  # agreement_ranks: (method, layer, head) -> rank
        self.baseline_token = ""
        self.steps = meta.get("option.attribution_steps", "")
        self.causal = meta.get("causal") == "true"
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
        self.ranks = {(r.method, r.layer, r.head): r.rank for r in store.rows(AGREEMENT_RANKS) if r.rank is not None}
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
        compared = [a for a in heads if a.compared and a.rho is not None]
        # on one sentence there is nothing to resample: heads are tied where their rho is equal
        ranked, note = cut([tuple(compared[i] for i in g) for g in rank([a.rho for a in compared]).groups])
        layers = tuple(self._agreement(sentence_id, l, None, f"layer {l}", f"../layers/{layer_label(l)}.html")
                       for (l, _) in sorted(self.agreement[(sentence_id, "rollout")]))
        readout = READOUT_WORDS.get(t.readout, t.readout)
        name = f"sentence {sentence_id}"
        chart = word_chart(tuple(scored), f"Word attributions of {name}",
                           f"Two bar charts of the words of {name} in order: their integrated-gradient "
                           f"attributions to {t.description} (green positive, red negative), and the attention "
                           f"rollout of {readout}. The table under the chart lists every value.")
        special = 1.0 - float(flow.sum())
        keep = held([tok.is_special for tok in tokens], self.causal)
        first = tokens[0] if tokens and keep[0] and not tokens[0].is_special else None
        classes = sorted(self.classes.get(sentence_id, ()), key=lambda c: (-c[1], c[0]))[:TOP_CLASSES]
        return SentenceAttribution(t.target, t.description, t.value, t.baseline_value, t.delta,
                                   converged(t.delta, t.value, t.baseline_value), readout, tuple(scored),
                                   text[at:], chart, ranked, layers, special,
                                   sum(not a.compared for a in heads), top, self.baseline_token, tuple(classes),
                                   legend(), heads_note=note,
                                   steps=f"{t.steps} steps" if str(t.steps) != self.steps else "",
                                   held="" if first is None else text[first.char_start : first.char_end],
                                   held_word=bool(held_words(word_of, keep)))

    def head(self, layer: int, head: int) -> HeadAgreement | None:
        if not self.targets:
            return None
        mean = self.head_means[(layer, head)]
        if mean.rho is None or ("attention", layer, head) not in self.ranks:
            rank = "not compared on any probe (undefined, or too little attention on the words)"
        else:
            rank = self.place("attention", layer, head, "heads compared")
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
        rank = ("undefined on every probe" if mean.rho is None or ("rollout", layer, None) not in self.ranks
                else self.place("rollout", layer, None, "layers"))
        return HeadAgreement(mean, rank, per_probe, layer)

    def groups(self, method: str = "attention") -> list[list[tuple[int, int | None]]]:
        """The heads (or the rollout's layers) in tie groups by mean rho, as `agreement_ranks` stores them (a tie
        shares a rank), best first; within a tie by mean, then (layer, head)."""
        found: dict[int, list] = defaultdict(list)
        for (m, layer, head), r in self.ranks.items():
            if m == method:
                found[r].append((layer, head))
        mean = (lambda k: self.head_means[k].rho) if method == "attention" else self._rollout_mean
        return [sorted(found[r], key=lambda k: (-(mean(k) or 0.0), k[0], k[1] or 0)) for r in sorted(found)]

    def place(self, method: str, layer: int, head: int | None, noun: str) -> str:
        """Its place among the heads (or layers) ranked, in words (`place`), from the stored ranks."""
        groups = self.groups(method)
        group = next(g for g in groups if (layer, head) in g)
        return place(self.ranks[(method, layer, head)], len(group) - 1, sum(len(g) for g in groups), noun)

    def _rollout_mean(self, key: tuple[int, None]) -> float | None:
        found = [self.agreement[(sid, "rollout")][key].spearman for sid in self.probes
                 if key in self.agreement[(sid, "rollout")]]
        found = [v for v in found if v is not None]
        return float(np.mean(found)) if found else None

    def model(self) -> ModelAgreement | None:
        if not self.targets:
            return None
        values = [(l, h, a.rho) for (l, h), a in sorted(self.head_means.items())]
        ranked = [a for a in self.head_means.values() if a.rho is not None]
        best, note = cut([tuple(self.head_means[k] for k in g) for g in self.groups()])
        layers = tuple(mean_interval([self.agreement[(sid, "rollout")][(l, None)].spearman for sid in self.probes
                                      if (l, None) in self.agreement[(sid, "rollout")]],
                                     f"layer {l}", f"layers/{layer_label(l)}.html#rollout")
                       for l in range(self.n_layers))
        return ModelAgreement(agreement_chart(values, self.n_layers, self.n_heads) if ranked else None,
                              best, layers, len(self.probes),
                              tuple((sid, t.target, t.description, READOUT_WORDS.get(t.readout, t.readout))
                                    for sid, t in sorted(self.targets.items())), len(ranked),
                              tuple(a for _, a in sorted(self.head_means.items())), best_note=note)
