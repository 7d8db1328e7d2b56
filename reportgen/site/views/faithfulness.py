"""What the pages show of the faithfulness test (analyses/faithfulness.py, DeYoung et al. 2020's ERASER): on a
sentence page, what removing each ranking's top words does to the target; on the overview, each ranking's AOPC
over the probes with its interval, the rankings in tie groups, and whether integrated gradients find the words the
output depends on better than random words and than the longest words: the test the pages' "which words drive the
output" rests on."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from ...ranking import Paired, bootstrap_means, paired, rank
from ...vocab import MIN_PROBES, head_label

ORDER = ("integrated_gradients", "rollout", "attention", "length", "random")
CONTROLS = ("random", "length")  # what integrated gradients must beat for the pages to say they find the words
RESAMPLES = 1000
SEED = 0


def ranking_name(ranking: str, layer: int | None = None, head: int | None = None) -> str:
    """A ranking of the words, in words."""
    if ranking == "attention":
        return f"{head_label(layer, head)}'s attention"
    return {"integrated_gradients": "integrated gradients", "rollout": "rollout", "length": "word length",
            "random": "random words"}.get(ranking, ranking)


@dataclass(frozen=True)
class ProbeRanking:
    """One ranking of one probe's words: comprehensiveness and sufficiency at each bin, and their AOPC."""

    ranking: str
    name: str
    comprehensiveness: tuple[float, ...]
    sufficiency: tuple[float, ...]
    aopc_comprehensiveness: float
    aopc_sufficiency: float


@dataclass(frozen=True)
class Estimate:
    """A mean over the probes with its 95% bootstrap interval."""

    value: float
    low: float | None
    high: float | None

    @property
    def text(self) -> str:
        shown = f"{self.value:+.3g}"
        return shown if self.low is None else f"{shown} [{self.low:+.3g}, {self.high:+.3g}]"


@dataclass(frozen=True)
class RankingSummary:
    ranking: str
    name: str
    comprehensiveness: Estimate
    sufficiency: Estimate
    n: int


@dataclass(frozen=True)
class Versus:
    """Integrated gradients against one control ranking, by AOPC comprehensiveness over the probes."""

    control: str  # its name in words
    test: Paired

    @property
    def beaten(self) -> bool:
        return self.test.above and self.test.n >= MIN_PROBES

    @property
    def text(self) -> str:
        t = self.test
        if t.difference is None:
            return "no probe"
        shown = f"{t.difference:+.3g}"
        return shown if t.low is None else f"{shown} [{t.low:+.3g}, {t.high:+.3g}]"


@dataclass(frozen=True)
class Verdict:
    """Whether integrated gradients find the words the output depends on: they beat every control."""

    probes: int
    versus: tuple[Versus, ...]

    @property
    def holds(self) -> bool:
        return bool(self.versus) and all(v.beaten for v in self.versus)

    @property
    def short(self) -> str:
        """The verdict in one clause, for the Findings."""
        each = " and ".join(f"{v.control} ({v.text})" for v in self.versus)
        if self.probes < MIN_PROBES:
            return (f"with {self.probes} probe{'s' if self.probes != 1 else ''}, under the {MIN_PROBES} a "
                    f"comparison needs, integrated gradients are not tested against {each}")
        if self.holds:
            return f"integrated gradients are more comprehensive than {each}, paired over the probes"
        failed = " or ".join(f"{v.control} ({v.text})" for v in self.versus if not v.beaten)
        return (f"integrated gradients are not shown to be more comprehensive than {failed}, paired over the "
                f"probes: the pages do not claim that the words they colour drive the output")

    @property
    def text(self) -> str:
        against = "; ".join(f"against {v.control} {v.text}" for v in self.versus)
        measured = (f"(the paired difference of AOPC comprehensiveness over the {self.probes} probes, with its 95% "
                    f"bootstrap interval: {against})")
        if self.holds:
            return (f"Removing the words integrated gradients rank highest lowers the target more than removing "
                    f"random words or the longest words {measured}: the gradients point at words the output "
                    f"depends on.")
        if self.probes < MIN_PROBES:
            return (f"Whether integrated gradients point at the words the output depends on is not tested: "
                    f"{self.probes} probe{'s' if self.probes != 1 else ''}, under the {MIN_PROBES} a comparison "
                    f"needs {measured}.")
        failed = " or ".join(v.control for v in self.versus if not v.beaten)
        return (f"Integrated gradients are not shown to point at the words the output depends on: removing the "
                f"words they rank highest does not lower the target more than removing {failed} {measured}. "
                f"Read the colours as the gradients' account of the output, not as a tested one.")


@dataclass(frozen=True)
class SentenceFaithfulness:
    """A sentence page's faithfulness section."""

    bins: tuple[int, ...]  # percent of the words
    words: tuple[int, ...]  # the words each bin removes
    n_words: int  # the sentence's words
    rankings: tuple[ProbeRanking, ...]
    verdict: Verdict


@dataclass(frozen=True)
class ModelFaithfulness:
    """The overview's faithfulness section."""

    probes: int
    rankings: tuple[RankingSummary, ...]
    comprehensive: tuple[tuple[str, ...], ...]  # the rankings' names in tie groups, most comprehensive first
    sufficient: tuple[tuple[str, ...], ...]  # the same by sufficiency, lowest (the most sufficient) first
    verdict: Verdict


def groups_text(groups: tuple[tuple[str, ...], ...]) -> str:
    """Tie groups in words: 'a; b and c (tied); d'."""
    def one(group: tuple[str, ...]) -> str:
        return group[0] if len(group) == 1 else ", ".join(group[:-1]) + f" and {group[-1]} (tied)"

    return "; ".join(one(g) for g in groups)


class FaithfulnessViews:
    """Reads the `faithfulness` table once; builds each page's part."""

    def __init__(self, rows):
        self.bins: dict[int, dict[str, list]] = defaultdict(lambda: defaultdict(list))  # sid -> ranking -> bins
        self.aopc: dict[int, dict[str, tuple[float, float]]] = defaultdict(dict)
        self.names: dict[str, str] = {}
        for r in rows:
            self.names[r.ranking] = ranking_name(r.ranking, r.layer, r.head)
            if r.k is None:
                self.aopc[r.sentence_id][r.ranking] = (r.comprehensiveness, r.sufficiency)
            else:
                self.bins[r.sentence_id][r.ranking].append(r)
        self.probes = sorted(self.aopc)
        self.order = [r for r in ORDER if r in self.names] + sorted(set(self.names) - set(ORDER))

    def _column(self, ranking: str, measure: int) -> list[float | None]:
        return [self.aopc[sid][ranking][measure] if ranking in self.aopc[sid] else None for sid in self.probes]

    def verdict(self) -> Verdict | None:
        if not self.probes or "integrated_gradients" not in self.names:
            return None
        ig = self._column("integrated_gradients", 0)
        versus = tuple(Versus(self.names[c], paired(ig, self._column(c, 0), RESAMPLES, SEED))
                       for c in CONTROLS if c in self.names)
        return Verdict(len(self.probes), versus)

    def sentence(self, sentence_id: int, n_words: int) -> SentenceFaithfulness | None:
        found = self.bins.get(sentence_id)
        if not found:
            return None
        first = sorted(next(iter(found.values())), key=lambda r: r.k)
        rankings = []
        for ranking in self.order:
            if ranking not in found:
                continue
            bins = sorted(found[ranking], key=lambda r: r.k)
            comprehensiveness, sufficiency = self.aopc[sentence_id][ranking]
            rankings.append(ProbeRanking(ranking, self.names[ranking], tuple(r.comprehensiveness for r in bins),
                                         tuple(r.sufficiency for r in bins), comprehensiveness, sufficiency))
        return SentenceFaithfulness(tuple(r.k for r in first), tuple(r.words for r in first), n_words,
                                    tuple(rankings), self.verdict())

    def model(self) -> ModelFaithfulness | None:
        if not self.probes:
            return None
        summaries, groups = [], []
        for measure in (0, 1):
            table = np.array([[np.nan if v is None else v for v in self._column(r, measure)] for r in self.order],
                             dtype=np.float64).T  # [probes, rankings]
            resampled = bootstrap_means(table, RESAMPLES, SEED)
            means = [float(np.nanmean(table[:, i])) if not np.isnan(table[:, i]).all() else None
                     for i in range(len(self.order))]
            low, high = np.nanpercentile(resampled, [2.5, 97.5], axis=0) if len(table) > 1 else (None, None)
            summaries.append([Estimate(m, None if low is None else float(low[i]), None if high is None
                                       else float(high[i])) for i, m in enumerate(means)])
            ranked = rank(means, resampled if len(table) > 1 else None, descending=measure == 0)
            groups.append(tuple(tuple(self.names[self.order[i]] for i in g) for g in ranked.groups))
        rankings = tuple(RankingSummary(r, self.names[r], summaries[0][i], summaries[1][i],
                                        sum(r in self.aopc[sid] for sid in self.probes))
                         for i, r in enumerate(self.order))
        return ModelFaithfulness(len(self.probes), rankings, groups[0], groups[1], self.verdict())
