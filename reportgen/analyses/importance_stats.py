"""The figures the importance analysis stores, from per-sentence values (numpy only): means with bootstrap
intervals, the heads' ranking with its ties, Michel et al.'s per-layer normalisation of the gradient proxy, and the
reference values that give the ablation a scale.

Every interval is a 95% percentile interval over RESAMPLES resamples of the sentences (seed 0), the same resampled
sentences for every head, layer and method: so the paired differences between heads that the ranking tests are
differences over the same sentences.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..ranking import rank

RESAMPLES = 1000
PROXY_METHODS = ("gradient", "gradient_normalised", "gradient_token", "gradient_token_normalised")


class Proxy(NamedTuple):
    """Michel et al.'s gradient proxy, per sentence of the sample, [S, L, H] each (and [S])."""

    sentence: np.ndarray  # |dL/dxi_h|, the absolute value of the sentence's derivative (reportgen's)
    token: np.ndarray  # the sum over the sentence's tokens of |dL/dxi_h,t| (their code's |.| per token)
    tokens: np.ndarray  # [S] the sentence's tokens (special ones included, as their `input_mask`)


def resamples(units: int, seed: int = 0) -> np.ndarray:
    """[RESAMPLES, units] the indices of each resample of `units` sentences, drawn with replacement."""
    return np.random.default_rng(seed).integers(0, units, size=(RESAMPLES, units))


def interval(resampled: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The 2.5th and 97.5th percentiles over the resamples (axis 0)."""
    return np.percentile(resampled, 2.5, axis=0), np.percentile(resampled, 97.5, axis=0)


def bootstrap(values: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean, 2.5th and 97.5th percentile of RESAMPLES resampled means) over the sentences (axis 0) of `values`
    [S, ...]; the resamples are the same for every column."""
    means = values[resamples(len(values), seed)].mean(1)
    return (values.mean(0), *interval(means))


def per_layer_normalised(values: np.ndarray) -> np.ndarray:
    """Michel et al.'s layer-wise normalisation (`classifier_eval.py`, `calculate_head_importance`): each head's
    importance divided by the L2 norm of its layer's importances, `x / (||x_layer||_2 + 1e-20)`; `values` [..., L,
    H]."""
    return values / (np.sqrt((values ** 2).sum(-1, keepdims=True)) + 1e-20)


def proxy_rows(proxy: Proxy) -> list[tuple]:
    """The `head_importance` rows of the four variants of the proxy (PROXY_METHODS), each with its interval:
    'gradient' the mean over sentences of |dL/dxi_h| (reportgen's: |.| per sentence); 'gradient_token' the sum of
    |dL/dxi_h,t| over every token of the sample divided by the number of tokens (their code: |.| per token,
    `head_importance /= tot_tokens`); each '_normalised' the same divided by its layer's L2 norm (their code, on in
    their pruning runs). A normalised variant's interval normalises each resample."""
    idx = resamples(len(proxy.sentence))
    sentence = proxy.sentence[idx].mean(1)  # [R, L, H]
    token = proxy.token[idx].sum(1) / proxy.tokens[idx].sum(1)[:, None, None]
    points = {"gradient": proxy.sentence.mean(0), "gradient_token": proxy.token.sum(0) / proxy.tokens.sum()}
    drawn = {"gradient": sentence, "gradient_token": token}
    for method in ("gradient", "gradient_token"):
        points[f"{method}_normalised"] = per_layer_normalised(points[method])
        drawn[f"{method}_normalised"] = per_layer_normalised(drawn[method])
    rows = []
    for method in PROXY_METHODS:
        low, high = interval(drawn[method])
        n_layers, n_heads = points[method].shape
        rows += [(l, h, "corpus", None, method, float(points[method][l, h]), float(low[l, h]), float(high[l, h]),
                  None) for l in range(n_layers) for h in range(n_heads)]
    return rows


def ranks(values: np.ndarray) -> list[int]:
    """Each column's rank among the columns of `values` [S, K] (sentences x items), highest mean first: 1 + the
    number of items ranked above its tie group (reportgen.ranking: an item is ranked below the one before it only
    where the paired bootstrap over the same resampled sentences separates them; tied items share a rank)."""
    means = values.mean(0)
    ranking = rank(list(means), values[resamples(len(values))].mean(1))
    return [ranking.position(i) for i in range(values.shape[1])]


def corpus_rows(keys: list, values: np.ndarray, method: str, ranked: bool = False) -> list[tuple]:
    """`head_importance` rows of one method over the corpus sample: each key's (layer, head | None) mean of
    `values` [S, K] with its interval; with `ranked`, the heads' ranks among the heads and the layers' among the
    layers (`ranks`), else none."""
    mean, low, high = bootstrap(values)
    rank_of: dict[int, int] = {}
    if ranked:
        for whole in (False, True):  # the heads, then the layers removed whole
            cols = [i for i, (_, head) in enumerate(keys) if (head is None) == whole]
            if cols:
                rank_of.update(zip(cols, ranks(values[:, cols])))
    return [(l, h, "corpus", None, method, float(mean[i]), float(low[i]), float(high[i]), rank_of.get(i))
            for i, (l, h) in enumerate(keys)]


def pairwise(kind: str, outputs: np.ndarray) -> np.ndarray:
    """[S, S] the ablation's measure between the intact outputs of two sentences of the sample: entry [i, j] is
    the change from sentence i's output to sentence j's, as if j's output were i's with heads removed. An encoder's
    outputs [S, D] (mean-pooled): 1 - cos(e_i, e_j); a classifier's logits [S, C]: the drop of i's predicted
    class's logit, logit_c(x_i) - logit_c(x_j), c = argmax logit(x_i); a causal LM's mean next-token losses [S]: the
    absolute difference |L_i - L_j| (the signed change averages to 0 over pairs; this is the losses' own spread)."""
    out = np.asarray(outputs, dtype=np.float64)
    if kind == "classifier":
        own = out.argmax(1)
        return out[np.arange(len(out)), own][:, None] - out[:, own].T
    if kind == "causal_lm":
        return np.abs(out[:, None] - out[None, :])
    unit = out / np.linalg.norm(out, axis=1, keepdims=True)
    return ((unit[:, None, :] - unit[None, :, :]) ** 2).sum(-1) / 2  # 1 - cos, exact near 0 (ablation.one_minus_cos)


def between_sentences(distances: np.ndarray) -> tuple[float, float, float] | None:
    """(mean, 2.5th, 97.5th percentile) of `distances` [S, S] (`pairwise`) over the ordered pairs of different
    sentences; the interval resamples the sentences (the same resamples as the heads') and averages over the pairs
    of different sentences in each resample (a resample of one sentence repeated has none and is left out). None
    for fewer than 2 sentences."""
    s = len(distances)
    if s < 2:
        return None
    off = ~np.eye(s, dtype=bool)
    drawn = [distances[np.ix_(i, i)][i[:, None] != i[None, :]] for i in resamples(s)]
    drawn = np.array([d.mean() for d in drawn if d.size])
    low, high = interval(drawn)
    return float(distances[off].mean()), float(low), float(high)


REFERENCE_WORDS = {
    "encoder": "1 - cos between the mean-pooled outputs of two different sentences of the sample (the mean over "
               "every pair)",
    "classifier": "the drop of one sentence's predicted class's logit when the input is another sentence of the "
                  "sample (the mean over every ordered pair)",
    "causal_lm": "the absolute difference between two different sentences' mean next-token losses (nats per token; "
                 "the mean over every pair: the intact losses' own spread)",
}


def reference_rows(kind: str, outputs: np.ndarray) -> list[tuple]:
    """The `importance_reference` rows from the sample's intact outputs: 'between_sentences' (`pairwise`,
    `between_sentences`), with its definition in words; none for fewer than 2 sentences."""
    found = between_sentences(pairwise(kind, outputs))
    words = REFERENCE_WORDS.get(kind, REFERENCE_WORDS["encoder"])
    return [] if found is None else [("between_sentences", *found, words)]
