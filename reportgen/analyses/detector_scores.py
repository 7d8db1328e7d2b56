"""The head detectors' scores from attention patterns and weights, and the roles they earn (analyses/detectors.py
runs the model and says which definitions these are and where they differ from their authors').

Patterns: one sequence's attention [L, H, T, T] (rows attend). A repeated sequence is `offset` tokens (a BOS or
none) followed by N tokens x_0..x_{N-1} and the same N tokens again; the second copy is positions
offset + N .. offset + 2N - 1. For each position i of the second copy:
- induction (prefix matching): A[i, i - N + 1], attention to the token after the token's first occurrence;
- duplicate token: A[i, i - N], attention to the token's first occurrence;
and for every position i >= 1, previous token: A[i, i - 1]. Each is averaged over those positions.

On natural text (a corpus sentence), the patterns are TransformerLens's detection patterns: for a query i whose
token occurs earlier in the sentence at positions j < i (special tokens left out), duplicate token: the sum of
A[i, j] over those j; induction: the sum of A[i, j + 1]; each averaged over the queries that have an earlier
occurrence; previous token as above over every position i >= 1.
"""

from __future__ import annotations

import numpy as np

from .checks import above_control
from .importance_stats import interval, resamples

DETECTORS = ("induction", "previous_token", "duplicate_token")
# the score a role needs: induction and duplicate-token heads put most of their attention on one earlier token
# where a uniform head gives ~1/T (T ~ 40 here); previous-token as Clark et al.'s positional heads (0.5); copying:
# more than three quarters of the OV circuit's eigenvalue mass positive (sum/|sum| = 0.5)
THRESHOLDS = {"induction": 0.4, "previous_token": 0.5, "duplicate_token": 0.4, "copying": 0.5}


def repeated_scores(attention: np.ndarray, offset: int, n: int) -> dict[str, np.ndarray]:
    """The three scores [L, H] of one repeated sequence's attention [L, H, T, T] (T = offset + 2n)."""
    second = np.arange(offset + n, offset + 2 * n)
    every = np.arange(1, attention.shape[-1])
    return {"induction": attention[..., second, second - n + 1].mean(-1),
            "previous_token": attention[..., every, every - 1].mean(-1),
            "duplicate_token": attention[..., second, second - n].mean(-1)}


def earlier_occurrences(ids: list[int], special: set[int]) -> list[list[int]]:
    """For each position, the earlier positions holding the same token (special tokens have none)."""
    seen: dict[int, list[int]] = {}
    out: list[list[int]] = []
    for i, t in enumerate(ids):
        if t in special:
            out.append([])
            continue
        out.append(list(seen.get(t, [])))
        seen.setdefault(t, []).append(i)
    return out


def natural_scores(attention: np.ndarray, ids: list[int], special: set[int]) -> dict[str, np.ndarray] | None:
    """The three scores [L, H] of one sentence's attention [L, H, T, T] on its natural repeats (TransformerLens's
    patterns, averaged over the queries that have an earlier occurrence); None where no token repeats."""
    earlier = earlier_occurrences(ids, special)
    queries = [i for i, js in enumerate(earlier) if js]
    if not queries:
        return None
    pattern = np.zeros((2,) + attention.shape[-2:])  # duplicate, induction: 1 where the pattern expects attention
    for i in queries:
        for j in earlier[i]:
            pattern[0, i, j] = 1
            pattern[1, i, j + 1] = 1
    rows = attention[..., queries, :]  # [L, H, Q, T]
    every = np.arange(1, attention.shape[-1])
    return {"induction": (rows * pattern[1, queries]).sum(-1).mean(-1),
            "previous_token": attention[..., every, every - 1].mean(-1),
            "duplicate_token": (rows * pattern[0, queries]).sum(-1).mean(-1)}


def summarise(per_unit: np.ndarray, seed: int) -> tuple[np.ndarray, ...]:
    """(mean, low, high, se, resampled means [R, L, H]) over the units (axis 0) of per_unit [S, L, H]."""
    drawn = per_unit[resamples(len(per_unit), seed)].mean(1)
    low, high = interval(drawn)
    return per_unit.mean(0), low, high, drawn.std(0, ddof=1), drawn


def score_rows(per_unit: dict[str, np.ndarray], source: str, seed: int) -> tuple[list[tuple], dict]:
    """head_detectors rows of one source from each detector's per-unit scores [S, L, H], and each detector's
    (mean, low, high, se, resampled) for the roles."""
    rows, summaries = [], {}
    for name in DETECTORS:
        values = per_unit[name]
        if not len(values):
            continue
        mean, low, high, se, _drawn = summaries[name] = summarise(values, seed)
        rows += [(layer, head, name, source, float(mean[layer, head]), float(low[layer, head]),
                  float(high[layer, head]), float(se[layer, head]), len(values))
                 for layer in range(mean.shape[0]) for head in range(mean.shape[1])]
    return rows, summaries


def copying_score(circuit: np.ndarray) -> float:
    """Elhage et al.'s positive-eigenvalue fraction sum(lambda) / sum(|lambda|) of a matrix whose nonzero eigenvalues
    are the OV circuit's (complex eigenvalues come in conjugate pairs: their sum is real)."""
    eig = np.linalg.eigvals(circuit.astype(np.float64))
    size = np.abs(eig).sum()
    return float(eig.sum().real / size) if size > 0 else 0.0


def role_rows(model: dict, control: dict, copying: np.ndarray | None,
              control_copying: np.ndarray | None) -> list[tuple]:
    """detector_roles rows: every head whose repeated-sequence score reaches its detector's threshold, with its
    stability over the resamples and its test against the same head of the control. `model`, `control`: detector
    -> (mean, low, high, se, resampled) as score_rows gives them."""
    rows = []
    for name in DETECTORS:
        if name not in model:
            continue
        mean, _, _, se, drawn = model[name]
        threshold = THRESHOLDS[name]
        heads = [tuple(int(x) for x in k) for k in np.argwhere(mean >= threshold)]
        for layer, head in heads:
            stable = float((drawn[:, layer, head] >= threshold).mean())
            other = control.get(name)
            claimed = other is not None and above_control(
                float(mean[layer, head]), float(se[layer, head]), float(other[0][layer, head]),
                float(other[3][layer, head]), len(heads))
            rows.append((layer, head, name, float(mean[layer, head]), threshold, stable,
                         None if other is None else float(other[0][layer, head]), bool(claimed)))
    if copying is not None:
        threshold = THRESHOLDS["copying"]
        ceiling = None if control_copying is None else float(control_copying.max())
        for layer, head in (tuple(int(x) for x in k) for k in np.argwhere(copying >= threshold)):
            value = float(copying[layer, head])
            rows.append((layer, head, "copying", value, threshold, None,
                         None if control_copying is None else float(control_copying[layer, head]),
                         ceiling is not None and value > ceiling))
    return sorted(rows)
