"""Clark et al.'s Table 1 with its best head picked on data it is not scored on, and against the control model.

Table 1 names, per relation and direction, the most accurate of every head: a maximum over L x H heads, which
scored on the sentences it was picked on is biased upwards (a head can lead by noise). Here the sentence blocks
(sentence id modulo BLOCKS) are split by parity: the blocks of even number select (the most accurate head, ties to
the lowest layer then head, and the best fixed offset), the blocks of odd number score. The held-out margin is the
selected head's accuracy less the selected offset's on the scoring half, with a paired bootstrap of the scoring
half's blocks (BOOTSTRAP resamples, seed BOOTSTRAP_SEED): its 95% percentile interval, and its interval
Bonferroni-corrected over the cells of Table 1 (m: every relation but `all`, both directions; margin -/+ z se, z the
normal quantile at 1 - 0.05/(2m)). The cell is significant where that corrected interval lies above 0: the
selection never saw the sentences that decide it, and the correction covers every cell tested.

The control: the control model's most accurate head for the cell (over its own sentences, the corpus's first ones)
and its margin over its own best offset. The cell is claimed where it is significant held out and its held-out
margin lies above the control's by a one-sided z-test at 0.05, Bonferroni-corrected over the same cells
(checks.above_control). Where the report has no control, `claimed` is NULL.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..vocab import DIRECTIONS
from .base import resample_weights
from .checks import ControlFigures, above_control, control_figures
from .depacc import LEVEL, OFFSETS, DepAccuracy, DepResult, family


@dataclass(frozen=True)
class HeldOut:
    """One Table 1 cell picked on the selection half and scored on the other."""

    layer: int
    head: int
    offset: int
    support: int
    accuracy: float
    baseline: float
    low: float
    high: float
    low_corrected: float
    high_corrected: float
    se: float

    @property
    def margin(self) -> float:
        return self.accuracy - self.baseline


def held_out(result: DepResult, d: int, cells: int) -> HeldOut | None:
    """The cell of direction `d` of one relation, held out (see the module's docstring); None where either half
    holds none of its dependents."""
    counts = result.counts
    select = counts.blocks % 2 == 0
    score = ~select
    if not counts.support[select].sum() or not counts.support[score].sum():
        return None
    n_layers, n_heads = result.accuracy.shape[:2]
    picked = counts.correct[:, :, d][..., select].sum(-1).reshape(-1)
    layer, head = divmod(int(np.argmax(picked)), n_heads)  # the first largest: lowest layer, then head
    rates = counts.by_offset[:, select].sum(-1)
    offset = max(range(len(OFFSETS)), key=lambda o: (rates[o], OFFSETS[o]))  # ties: the larger offset
    support = counts.support[score]
    correct = counts.correct[layer, head, d][score].astype(np.float64)
    base = counts.by_offset[offset][score].astype(np.float64)
    total = int(support.sum())
    weights = resample_weights(len(support))
    with np.errstate(invalid="ignore", divide="ignore"):
        n = weights @ support
        margins = (weights @ correct - weights @ base) / n
    tails = [100 * (1 - LEVEL) / 2, 100 * (1 + LEVEL) / 2]
    low, high = np.nanpercentile(margins, tails)
    se = float(np.nanstd(margins, ddof=1))
    accuracy, baseline = float(correct.sum() / total), float(base.sum() / total)
    half = result.z(cells) * se
    return HeldOut(layer, head, OFFSETS[offset], total, accuracy, baseline, float(low), float(high),
                   accuracy - baseline - half, accuracy - baseline + half, se)


def control_best(control: ControlFigures | None, relation: str, direction: str) -> tuple | None:
    """(layer, head, margin, se) of the control model's most accurate head for a cell (ties: the lowest layer, then
    head), or None."""
    if control is None:
        return None
    found = [(accuracy, -layer, -head, margin, se) for (layer, head, r, dr), (accuracy, margin, se)
             in control.dep.items() if r == relation and dr == direction]
    if not found:
        return None
    _, layer, head, margin, se = max(found, key=lambda f: f[:3])
    return -layer, -head, margin, se


def table1_rows(results: dict[str, DepResult], control: ControlFigures | None) -> list[tuple]:
    """The dep_table1 rows: every relation of `results` (DepAccuracy.results()) in both directions."""
    cells = family(results)
    rows = []
    for relation, result in results.items():
        for d, direction in enumerate(DIRECTIONS):
            cell = held_out(result, d, cells)
            if cell is None:
                continue
            significant = cell.low_corrected > 0
            other = control_best(control, relation, direction)
            claimed = None if other is None else bool(
                significant and above_control(cell.margin, cell.se, other[2], other[3], cells))
            rows.append((relation, direction, cell.layer, cell.head, cell.offset, cell.support, cell.accuracy,
                         cell.baseline, cell.margin, cell.low, cell.high, cell.low_corrected, cell.high_corrected,
                         bool(significant), bool(cell.high_corrected < 0), *(other or (None,) * 4), claimed))
    return rows


def table1(accumulators, store) -> dict[str, list[tuple]]:
    """The derived analysis: dep_table1 from the corpus pass's dependency counts and the control model's stored
    figures."""
    dep = next(a for a in accumulators if isinstance(a, DepAccuracy))
    return {"dep_table1": table1_rows(dep.results(), control_figures(store))}
