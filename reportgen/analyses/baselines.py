"""Baselines for the agreement of attention with the integrated gradients: rankings of a probe's words that need no
attention, given the same Spearman's rho with |integrated gradients| as each head's (analyses/agreement.py), so that
a head is said to agree with the gradients only where it agrees more than they do.

- `length`: the word's length in characters;
- `rarity`: how rare the word's form (lowercased) is among the corpus's words, log((N + 1) / (c + 1)) for a form
  seen c times in the N words of the corpus: an inverse frequency over word occurrences (only its order counts);
- `position`: the word's index in the probe;
- `uniform`: the word's number of tokens, which attention spread evenly over the tokens gives a word once merged
  (the sum over its tokens).

The corpus's word counts are known only after the corpus pass, so this is a derived analysis of the attribution
unit, reading the stored `words`, `tokens`, `attributions` and `attribution_agreement`. Each head (and the rollout
up to each layer) is then compared with each baseline over the probes where both are defined and the head is
compared (agreement.py's word-share floor): the mean of the paired differences with its 95% percentile interval
over bootstrap resamples of those probes; the head beats the baseline where reportgen.ranking separates it (the
interval above 0) over at least MIN_PROBES probes. The best baselines are the first tie group of the baselines
ranked by mean rho over the probes (paired resamples); a head agrees with the gradients where it beats each of them.

The heads are also ranked among themselves by mean rho (`agreement_ranks`), and the rollout's layers among
themselves: over the same bootstrap resamples of the probes, a head ranks below the one before it only where the
paired difference of their means is separated from 0 (reportgen.ranking), so the pages name a tie, not a leader,
where the probes cannot tell heads apart.
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from ..align import held, held_words, to_words
from ..ranking import bootstrap_means, paired, rank
from ..vocab import MIN_PROBES, WORD_SHARE_FLOOR
from .agreement import spearman

BASELINES = ("length", "rarity", "position", "uniform")
RESAMPLES = 1000
SEED = 0


def word_values(texts: list[str], tokens_per_word: np.ndarray, counts: dict[str, int],
                total: int) -> dict[str, np.ndarray]:
    """Each baseline's value for each word of one probe (see the module's docstring)."""
    return {"length": np.array([len(t) for t in texts], dtype=np.float64),
            "rarity": np.array([math.log((total + 1) / (counts.get(t.lower(), 0) + 1)) for t in texts]),
            "position": np.arange(len(texts), dtype=np.float64),
            "uniform": np.asarray(tokens_per_word, dtype=np.float64)}


def baseline_rows(sentence_id: int, importance: np.ndarray, values: dict[str, np.ndarray]) -> list[tuple]:
    """`agreement_baselines` rows of one probe: rho between |integrated gradients| per word and each baseline."""
    return [(sentence_id, name, spearman(importance, values[name]), len(importance)) for name in BASELINES]


def best_baselines(per_probe: dict[str, list[float | None]]) -> tuple[str, ...]:
    """The baselines tied for the highest mean rho over the probes (paired bootstrap over the probes)."""
    names = [b for b in BASELINES if any(v is not None for v in per_probe[b])]
    if not names:
        return ()
    table = np.array([[np.nan if v is None else v for v in per_probe[b]] for b in names], dtype=np.float64).T
    means = [float(np.nanmean(table[:, i])) for i in range(len(names))]
    ranking = rank(means, bootstrap_means(table, RESAMPLES, SEED) if len(table) > 1 else None)
    return tuple(names[i] for i in ranking.first)


def comparison_rows(agreement: list, per_probe: dict[str, list[float | None]], probes: list[int]) -> list[tuple]:
    """`agreement_tests` rows: every head (and the rollout up to every layer) of `agreement` (AgreementRow) against
    every baseline, with `per_probe` each baseline's rho on `probes` in order."""
    at = {sid: i for i, sid in enumerate(probes)}
    rho: dict[tuple[str, int, int | None], list[float | None]] = defaultdict(lambda: [None] * len(probes))
    for r in agreement:
        if r.sentence_id in at and (r.method == "rollout" or r.word_share >= WORD_SHARE_FLOOR):
            rho[(r.method, r.layer, r.head)][at[r.sentence_id]] = r.spearman
    best = best_baselines(per_probe)
    rows = []
    for (method, layer, head), values in sorted(rho.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] or 0)):
        for name in BASELINES:
            test = paired(values, per_probe[name], RESAMPLES, SEED)
            rows.append((method, layer, head, name, name in best, test.n, test.difference, test.low, test.high,
                         test.above and test.n >= MIN_PROBES))
    return rows


def rank_rows(agreement: list, probes: list[int]) -> list[tuple]:
    """`agreement_ranks` rows: each head's (method 'attention') and each layer's rollout's mean rho over the probes
    where it is compared, with its rank among the heads (or layers) and its ties (see the module's docstring)."""
    at = {sid: i for i, sid in enumerate(probes)}
    keys = sorted({(r.method, r.layer, r.head) for r in agreement}, key=lambda k: (k[0], k[1], k[2] or 0))
    column = {k: i for i, k in enumerate(keys)}
    table = np.full((len(probes), len(keys)), np.nan)
    for r in agreement:
        if (r.sentence_id in at and r.spearman is not None
                and (r.method == "rollout" or r.word_share >= WORD_SHARE_FLOOR)):
            table[at[r.sentence_id], column[(r.method, r.layer, r.head)]] = r.spearman
    counts = (~np.isnan(table)).sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, np.nansum(table, 0) / np.maximum(counts, 1), np.nan)
    rank_of: dict[int, int] = {}
    for method in ("attention", "rollout"):
        cols = [i for i, k in enumerate(keys) if k[0] == method]
        if cols:
            drawn = bootstrap_means(table[:, cols], RESAMPLES, SEED) if len(probes) > 1 else None
            ranking = rank([float(means[i]) for i in cols], drawn)
            rank_of.update((cols[i], ranking.position(i)) for i in ranking.order)
    return [(method, layer, head, int(counts[i]), None if np.isnan(means[i]) else float(means[i]), rank_of.get(i))
            for i, (method, layer, head) in enumerate(keys)]


def agreement_baselines(state, store) -> dict[str, list[tuple]]:
    """The attribution unit's derived tables, after the corpus pass (see the module's docstring)."""
    if not store.has_table("attributions"):
        return {}
    scores: dict[int, dict[int, float]] = defaultdict(dict)
    for r in store.attribution_scores():
        if r.method == "integrated_gradients":
            scores[r.sentence_id][r.token_idx] = r.score
    counts = store.word_form_counts()
    total = sum(counts.values())
    probes = sorted(scores)
    causal = store.meta().get("causal") == "true"
    rows = []
    for sid in probes:
        tokens = store.tokens_of(sid)
        texts = [w.text for w in store.words_of(sid, sid)]
        word_of = [None if t.is_special else t.word_idx for t in tokens]
        importance = np.abs(to_words(np.array([scores[sid].get(t.token_idx, 0.0) for t in tokens]), word_of,
                                     len(texts)))
        per_word = to_words(np.ones(len(tokens)), word_of, len(texts))
        # the words the attribution baseline keeps are left out, as in attribution_agreement
        left_out = held_words(word_of, held([t.is_special for t in tokens], causal))
        compared = [w for w in range(len(texts)) if w not in left_out]
        values = word_values(texts, per_word, counts, total)
        rows += baseline_rows(sid, importance[compared], {name: v[compared] for name, v in values.items()})
    per_probe = {name: [r[2] for r in rows if r[1] == name] for name in BASELINES}
    agreement = store.attribution_agreement()
    return {"agreement_baselines": rows, "agreement_tests": comparison_rows(agreement, per_probe, probes),
            "agreement_ranks": rank_rows(agreement, probes)}
