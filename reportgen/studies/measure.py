"""Stevens & Su's (2020) interpretability measure of a word ranking against the gold (edited) words of an example,
its random baseline and bootstrap intervals. Usable on any scores: attention, attributions, anything per word.

For one example with gold words G (|G| = k) and words ranked by score (highest first; equal scores in sentence
order, so a ranking is always defined):

- interpretable: every gold word is among the top 3 (impossible where k > 3, as in the paper);
- exact match: the top k words are exactly G;
- Jaccard: |top k & G| / |top k | G| >= 0.5.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..vocab import MEASURES
TOP = 3
JACCARD = 0.5
BOOTSTRAP = 1000  # resamples of the examples for each figure's interval
RANDOM_SEEDS = 100  # random rankings of every example for the baseline
SEED = 0


def ranking(scores: np.ndarray) -> np.ndarray:
    """Word indexes from the highest score to the lowest; equal scores in sentence order."""
    scores = np.asarray(scores, dtype=np.float64)
    return np.lexsort((np.arange(len(scores)), -scores))


def judge(scores: np.ndarray, gold: set[int] | frozenset[int]) -> tuple[bool, bool, bool]:
    """(interpretable, exact match, Jaccard >= 0.5) of one example's word scores against its gold words."""
    if not gold:
        raise ValueError("an example needs at least one gold word")
    order = ranking(scores)
    k = len(gold)
    top_k = set(order[:k].tolist())
    interpretable = set(gold) <= set(order[:TOP].tolist())
    jaccard = len(top_k & gold) / len(top_k | gold)
    return interpretable, top_k == set(gold), jaccard >= JACCARD


@dataclass(frozen=True)
class Figure:
    """A share of examples with its 95% interval."""

    value: float
    low: float
    high: float
    n: int


def bootstrap_indexes(n: int, seed: int = SEED, resamples: int = BOOTSTRAP) -> np.ndarray:
    """[resamples, n] example indexes drawn with replacement: one draw shared by every figure over the same
    examples (a paired bootstrap, so sources are compared on the same resamples)."""
    return np.random.default_rng(seed).integers(0, n, size=(resamples, n))


def share(hits: np.ndarray, resampled: np.ndarray | None = None) -> Figure:
    """The share of True in `hits` [n], with the 2.5 and 97.5 percentiles of its bootstrap resamples."""
    hits = np.asarray(hits, dtype=np.float64)
    n = len(hits)
    if n == 0:
        return Figure(float("nan"), float("nan"), float("nan"), 0)
    idx = bootstrap_indexes(n) if resampled is None else resampled
    means = hits[idx].mean(1)
    low, high = np.percentile(means, [2.5, 97.5])
    return Figure(float(hits.mean()), float(low), float(high), n)


def judge_all(scores: list[np.ndarray], golds: list[frozenset[int]]) -> np.ndarray:
    """[n examples, 3] booleans: the three measures of every example."""
    return np.array([judge(s, g) for s, g in zip(scores, golds)], dtype=bool).reshape(-1, len(MEASURES))


def random_baseline(n_words: list[int], golds: list[frozenset[int]], seeds: int = RANDOM_SEEDS,
                    seed: int = SEED) -> list[Figure]:
    """The measures of random rankings of the same words, one per measure: the mean over `seeds` random
    rankings of every example, with the 2.5 and 97.5 percentiles over the seeds."""
    rng = np.random.default_rng(seed)
    per_seed = np.zeros((seeds, len(MEASURES)))
    for s in range(seeds):
        scores = [rng.random(n) for n in n_words]
        per_seed[s] = judge_all(scores, golds).mean(0) if golds else np.nan
    out = []
    for m in range(len(MEASURES)):
        low, high = np.percentile(per_seed[:, m], [2.5, 97.5]) if golds else (np.nan, np.nan)
        out.append(Figure(float(per_seed[:, m].mean()), float(low), float(high), len(golds)))
    return out
