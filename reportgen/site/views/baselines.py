"""The agreement's baselines on the pages (analyses/baselines.py): rankings of a probe's words that need no attention,
given the same rho with |integrated gradients| as the heads, and each head (or the rollout up to a layer) against
the best of them, paired over the probes. A head is said to agree with the gradients only where it beats every best
baseline (`agreement_tests.beats`)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from ...store.schema import AGREEMENT_BASELINES, AGREEMENT_TESTS
from ...vocab import MIN_PROBES
from .attribution import Agreement, mean_interval

BASELINE_WORDS = {"length": "word length", "rarity": "word rarity", "position": "word position",
                  "uniform": "tokens per word"}
BASELINE_ABOUT = {"length": "the word's length in characters",
                  "rarity": "how rare the word's form is among the corpus's words (inverse frequency)",
                  "position": "the word's index in the sentence",
                  "uniform": "the word's number of tokens: what attention spread evenly over the tokens gives it"}


@dataclass(frozen=True)
class Against:
    """A head (or the rollout up to a layer) against one best baseline: the mean of the paired differences of rho
    over the probes where both are defined, its 95% bootstrap interval, and whether the head beats it."""

    baseline: str  # in words
    n: int
    difference: float | None
    low: float | None
    high: float | None
    beats: bool

    @property
    def below(self) -> bool:
        """Whether the baseline agrees with the gradients more than the head, separated as `beats` is."""
        return self.high is not None and self.high < 0 and self.n >= MIN_PROBES

    @property
    def text(self) -> str:
        if self.difference is None:
            return "no probe to compare on"
        shown = f"{self.difference:+.2f}"
        if self.low is not None:
            shown += f" [{self.low:+.2f}, {self.high:+.2f}]"
        return f"{shown} over {self.n} probe{'s' if self.n != 1 else ''}"


@dataclass(frozen=True)
class Versus:
    """A head page's (or a layer page's) comparison with the best baselines."""

    best: tuple[Agreement, ...]  # the best baselines' mean rho over the probes
    against: tuple[Against, ...]

    @property
    def agrees(self) -> bool:
        return bool(self.against) and all(a.beats for a in self.against)

    @property
    def verdict(self) -> str:
        if not self.against:
            return "not compared with the baselines"
        if self.agrees:
            return "it agrees with the gradients more than any baseline that needs no attention"
        if any(a.below for a in self.against):
            return "a baseline that needs no attention agrees with the gradients more than it does"
        if max(a.n for a in self.against) < MIN_PROBES:
            return f"too few probes to tell it from the baselines (a comparison needs {MIN_PROBES})"
        return "it is not told apart from a baseline that needs no attention"


class BaselineViews:
    """Reads `agreement_baselines` and `agreement_tests` once."""

    def __init__(self, store, probes: list[int]):
        self.probes = probes
        self.per_probe: dict[str, dict[int, float | None]] = defaultdict(dict)
        for r in store.rows(AGREEMENT_BASELINES):
            self.per_probe[r.baseline][r.sentence_id] = r.spearman
        self.names = ([b for b in BASELINE_WORDS if b in self.per_probe]
                      + sorted(set(self.per_probe) - set(BASELINE_WORDS)))
        self.means = tuple(mean_interval([self.per_probe[b].get(sid) for sid in probes], self.name(b))
                           for b in self.names)
        self.tests: dict[tuple[str, int, int | None], list] = defaultdict(list)
        best = set()
        for t in store.rows(AGREEMENT_TESTS):
            self.tests[(t.method, t.layer, t.head)].append(t)
            if t.best:
                best.add(t.baseline)
        self.best = tuple(m for b, m in zip(self.names, self.means) if b in best)

    @staticmethod
    def name(baseline: str) -> str:
        return BASELINE_WORDS.get(baseline, baseline)

    def on(self, sentence_id: int) -> tuple[tuple[str, float | None], ...]:
        """Each baseline's rho on one probe."""
        return tuple((self.name(b), self.per_probe[b].get(sentence_id)) for b in self.names)

    def versus(self, method: str, layer: int, head: int | None) -> Versus | None:
        found = sorted((t for t in self.tests.get((method, layer, head), ()) if t.best),
                       key=lambda t: self.names.index(t.baseline) if t.baseline in self.names else len(self.names))
        if not self.per_probe:
            return None
        return Versus(self.best, tuple(Against(self.name(t.baseline), t.n_probes, t.difference, t.ci_low, t.ci_high,
                                               t.beats) for t in found))

    def agreeing(self, head_means: dict[tuple[int, int], Agreement],
                 groups: list[list[tuple[int, int]]]) -> tuple[tuple[Agreement, ...], ...]:
        """The heads that agree with the gradients (beat every best baseline), in the tie groups of the heads'
        ranking by mean rho (`agreement_ranks`, through AttributionViews.groups), best first."""
        def agrees(key: tuple[int, int]) -> bool:
            versus = self.versus("attention", *key)
            return versus is not None and versus.agrees

        found = (tuple(head_means[k] for k in g if agrees(k)) for g in groups)
        return tuple(g for g in found if g)
