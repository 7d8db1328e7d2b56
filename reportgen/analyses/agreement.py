"""Attention rollout (Abnar & Zuidema 2020) and the agreement of each head's attention with the integrated
gradients, both read from the attention rows the target is computed from (the read-out):

- 'first': the first token's row ([CLS]), for a BERT-style sequence classifier, whose head reads it;
- 'last': the last token's row, for GPT-2 and Llama sequence classifiers (they pool the last non-pad token) and
  for a causal LM's next token;
- 'continuation': the mean of the rows that predict the continuation's tokens, in the attention over the probe
  followed by its continuation;
- 'mean': the mean of every row, for a mean-pooled sentence embedding (the pooling averages them).

The read-out is taken over the probe's tokens (a continuation's own columns are left out): `word_share` is the part
of it that reaches the probe's words rather than its special tokens.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..align import to_words

READOUTS = ("first", "last", "continuation", "mean")


def readout_rows(readout: str, n: int, extra: int = 0) -> list[int]:
    """The attention rows a read-out averages, for a probe of n tokens followed by `extra` continuation tokens."""
    if readout == "first":
        return [0]
    if readout == "last":
        return [n - 1]
    if readout == "continuation":
        return list(range(n - 1, n - 1 + extra))
    if readout == "mean":
        return list(range(n))
    raise ValueError(f"unknown read-out {readout!r}")


def rollout(attention: np.ndarray) -> np.ndarray:
    """Attention rollout (Abnar & Zuidema 2020) of one sentence's attention [L, H, T, T] -> [L, T, T]: entry l is
    R_l = A_l R_(l-1) with R_(-1) = I and A_l = (W_l + I) / 2, W_l the layer's attention averaged over heads (rows
    still sum to 1): how much each token's representation after layer l draws on each input token."""
    n_layers, _, t, _ = attention.shape
    eye = np.eye(t)
    flow = eye
    out = np.empty((n_layers, t, t))
    for layer in range(n_layers):
        mixed = 0.5 * attention[layer].astype(np.float64).mean(0) + 0.5 * eye
        mixed /= mixed.sum(-1, keepdims=True)
        flow = mixed @ flow
        out[layer] = flow
    return out


@dataclass(frozen=True)
class Readout:
    """The read-out of one probe: attention [L, H, n] (each head's read-out rows averaged, over the probe's n
    tokens) and flow [L, n] (the rollout up to each layer, read the same way)."""

    attention: np.ndarray
    flow: np.ndarray

    @classmethod
    def of(cls, attention: np.ndarray, rows: list[int], n: int) -> Readout:
        """From attention [L, H, T, T] (T >= n: a continuation after the probe) and the read-out rows."""
        flow = rollout(attention)
        return cls(attention[:, :, rows, :n].astype(np.float64).mean(2), flow[:, rows, :n].mean(1))


def spearman(x: np.ndarray, y: np.ndarray) -> float | None:
    """Spearman's rank correlation, None where it is undefined (under 3 values, or a constant side)."""
    from scipy.stats import spearmanr

    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return None
    rho = spearmanr(x, y).statistic
    return None if math.isnan(rho) else float(rho)


def agreement_rows(sentence_id: int, attribution: np.ndarray, read: Readout, word_of: list[int | None],
                   n_words: int, held: frozenset[int] = frozenset()) -> list[tuple]:
    """`attribution_agreement` rows of one probe: for every head, Spearman's rho over the probe's words between the
    magnitude of the word's integrated-gradient attribution and the read-out's attention to the word (the sum over
    its tokens), with the read-out's share on the words; for every layer the same with the rollout up to it. The
    `held` words (a causal model's first word, which the baseline keeps: align.held) are left out: they have
    no attribution to rank."""
    compared = [w for w in range(n_words) if w not in held]

    def words(scores: np.ndarray) -> np.ndarray:
        return to_words(scores, word_of, n_words)[compared]

    importance = np.abs(words(attribution))
    rows = []
    n_layers, n_heads = read.attention.shape[:2]
    for layer in range(n_layers):
        for head in range(n_heads):
            received = words(read.attention[layer, head])
            rows.append((sentence_id, "attention", layer, head, spearman(importance, received), len(compared),
                         float(received.sum())))
    for layer in range(n_layers):
        received = words(read.flow[layer])
        rows.append((sentence_id, "rollout", layer, None, spearman(importance, received), len(compared),
                     float(received.sum())))
    return rows
