"""Rankings a reader can cite: an item is ranked above the next only where a paired test separates them.

Items (heads, layers, relations) are ordered by their point values; walking down the order, the next item starts a
new group only when the paired difference between it and the item before it is significant: over the same
resamples (bootstrap resamples of the same sentences, blocks or probes for every item), the difference's percentile
interval at `level` lies on one side of 0. Otherwise it is tied with the item before it, and ties chain: a group
holds the items no test separates from their neighbours. Without resamples (counts, exact values), items are tied
where their values are equal within `tolerance` (relative).

"The most important" is then the first group: a leader where it has one item, a tie to be named where it has more;
"the five most important" is cut at the end of the group that holds the fifth (the cut never falls inside a tie).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

LEVEL = 0.95  # of the paired difference's interval that separates two neighbours


@dataclass(frozen=True)
class Ranking:
    """Items in rank order (indices into the values ranked), in tie groups."""

    groups: tuple[tuple[int, ...], ...]

    @property
    def order(self) -> tuple[int, ...]:
        return tuple(i for group in self.groups for i in group)

    @property
    def first(self) -> tuple[int, ...]:
        """The items at the top: one leader, or the items tied for it."""
        return self.groups[0] if self.groups else ()

    @property
    def last(self) -> tuple[int, ...]:
        """The items at the bottom: one, or those tied for it."""
        return self.groups[-1] if self.groups else ()

    def top(self, k: int) -> tuple[int, ...]:
        """The first k items, extended to the end of the tie that the k-th item belongs to."""
        out: list[int] = []
        for group in self.groups:
            if len(out) >= k:
                break
            out += group
        return tuple(out)

    def bottom(self, k: int) -> tuple[int, ...]:
        """The last k items (lowest first), extended over the tie that the k-th from the bottom belongs to."""
        out: list[int] = []
        for group in reversed(self.groups):
            if len(out) >= k:
                break
            out += reversed(group)
        return tuple(out)

    def group_of(self, item: int) -> tuple[int, ...]:
        return next(g for g in self.groups if item in g)

    def position(self, item: int) -> int:
        """1 + the number of items ranked above the item's group (tied items share the better position)."""
        before = 0
        for group in self.groups:
            if item in group:
                return before + 1
            before += len(group)
        raise KeyError(item)


def rank(values: Sequence[float], resampled: np.ndarray | None = None, descending: bool = True,
         level: float = LEVEL, tolerance: float = 1e-9) -> Ranking:
    """The ranking of `values` (one per item; NaN or None items are left out), highest first where `descending`.
    `resampled` [R, items]: each item's value on R paired resamples (the same resample for every item), from which
    neighbours are separated; None: neighbours are tied only where their values are equal within `tolerance`."""
    point = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    sign = -1.0 if descending else 1.0
    valid = [i for i in range(len(point)) if not np.isnan(point[i])]
    order = sorted(valid, key=lambda i: (sign * point[i], i))
    tail = (1 - level) / 2
    groups: list[list[int]] = []
    for i in order:
        if groups:
            before = groups[-1][-1]
            if resampled is None:
                scale = max(abs(point[before]), abs(point[i]), 1.0)
                apart = abs(point[before] - point[i]) > tolerance * scale
            else:
                diff = -sign * (resampled[:, before] - resampled[:, i])  # > 0 where `before` ranks higher
                diff = diff[~np.isnan(diff)]
                apart = len(diff) > 0 and float(np.quantile(diff, tail)) > 0
            if not apart:
                groups[-1].append(i)
                continue
        groups.append([i])
    return Ranking(tuple(tuple(g) for g in groups))


def bootstrap_means(per_unit: np.ndarray, resamples: int = 1000, seed: int = 0) -> np.ndarray:
    """[resamples, items] the items' means over units (sentences, probes) resampled with replacement, the same
    units for every item: the paired resamples `rank` separates neighbours with. `per_unit` [units, items]; NaN
    (an item undefined on a unit) is left out of that item's mean."""
    units = per_unit.shape[0]
    if units == 0:
        return np.full((resamples, per_unit.shape[1]), np.nan)
    idx = np.random.default_rng(seed).integers(0, units, size=(resamples, units))
    drawn = per_unit[idx]  # [resamples, units, items]
    counts = (~np.isnan(drawn)).sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, np.nansum(drawn, axis=1) / counts, np.nan)


@dataclass(frozen=True)
class Paired:
    """One item against another over the units (sentences, probes) where both are defined: the mean of the paired
    differences a - b, its percentile interval at `level` over bootstrap resamples of those units (None under 2
    units), and whether `rank` separates them: a above b, or a below b (neither: tied)."""

    n: int
    difference: float | None
    low: float | None
    high: float | None
    above: bool
    below: bool


def paired(a: Sequence[float | None], b: Sequence[float | None], resamples: int = 1000, seed: int = 0,
           level: float = LEVEL) -> Paired:
    """a against b, each one value per unit (None or NaN: undefined there), paired over the units where both are
    defined (see Paired); the interval is the one `rank` decides by."""
    pairs = np.array([(x, y) for x, y in zip(a, b) if x is not None and y is not None
                      and not (np.isnan(x) or np.isnan(y))], dtype=np.float64).reshape(-1, 2)
    if len(pairs) == 0:
        return Paired(0, None, None, None, False, False)
    difference = float((pairs[:, 0] - pairs[:, 1]).mean())
    if len(pairs) < 2:
        return Paired(1, difference, None, None, False, False)
    resampled = bootstrap_means(pairs, resamples, seed)
    tail = (1 - level) / 2
    low, high = (float(v) for v in np.quantile(resampled[:, 0] - resampled[:, 1], [tail, 1 - tail]))
    first = rank(pairs.mean(0), resampled, level=level).first
    return Paired(len(pairs), difference, low, high, first == (0,), first == (1,))
