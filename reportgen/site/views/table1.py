"""Clark et al.'s Table 1 as the pages show it: per relation and direction, the heads that lead in-sample (the
most accurate and those no paired test separates from it, dep_accuracy.table1_lead), the head picked on half of the
sentence blocks with its margin on the other half (dep_table1), the control model's best head, and the verdict,
with the interval it rests on."""

from __future__ import annotations

from dataclasses import dataclass

from ...vocab import (
    ALL_RELATIONS,
    DIRECTIONS,
    RELATION_GLOSSES,
    SYNTAX_FLOOR,
    SYNTAX_MARGIN,
    direction_words,
    head_label,
)
from ..links import Link

TABLE1_LEFT_OUT = ("ROOT", "punct")  # Clark et al.'s Table 1 has no row for these


@dataclass(frozen=True)
class DepRow:
    relation: str
    direction: str  # 'dependent to head'
    support: int
    accuracy: float
    baseline_offset: int
    baseline: float
    accuracy_low: float  # 95% bootstrap interval
    accuracy_high: float
    margin_low: float  # 95% bootstrap interval of the margin over the baseline
    margin_high: float
    significant: bool  # the margin's Bonferroni-corrected interval lies above 0
    margin_low_corrected: float = float("nan")  # that corrected interval, the one the verdict rests on
    margin_high_corrected: float = float("nan")
    below: bool = False  # the corrected interval lies below 0
    table1_lead: bool = False  # leads Table 1 for its relation and direction (or is tied with the head that does)
    syntax_lead: bool = False  # the head's syntax cell with the largest margin, or tied with it

    @property
    def margin(self) -> float:
        return self.accuracy - self.baseline

    @property
    def finding(self) -> bool:
        """Whether this cell earns the syntax role: significant, by at least SYNTAX_MARGIN, at SYNTAX_FLOOR."""
        return (self.relation != ALL_RELATIONS and self.significant and self.margin >= SYNTAX_MARGIN - 1e-12
                and self.accuracy >= SYNTAX_FLOOR)

    @property
    def margin_text(self) -> str:
        """The margin with its 95% interval (no verdict rests on it)."""
        return f"{self.margin:+.2f} [{self.margin_low:+.2f}, {self.margin_high:+.2f}]"

    @property
    def corrected_text(self) -> str:
        """The margin with its corrected interval, the one `verdict` rests on."""
        return f"{self.margin:+.2f} [{self.margin_low_corrected:+.2f}, {self.margin_high_corrected:+.2f}]"

    @property
    def verdict(self) -> str:
        return "significantly above" if self.significant else "significantly below" if self.below else \
            "not significant"


@dataclass(frozen=True)
class HeldOut:
    """A Table 1 cell's head picked on the selection half (even blocks) and scored on the other (odd blocks)."""

    label: str
    href: str
    offset: int
    support: int
    margin: float
    low: float  # 95% interval
    high: float
    low_corrected: float  # corrected over Table 1's cells: the interval the verdict rests on
    high_corrected: float
    significant: bool
    below: bool

    @property
    def corrected_text(self) -> str:
        return f"{self.margin:+.2f} [{self.low_corrected:+.2f}, {self.high_corrected:+.2f}]"


@dataclass(frozen=True)
class Table1Cell:
    """One direction of a Table 1 row."""

    direction: str  # in words
    leads: tuple[Link, ...]  # in-sample: the most accurate head first, then those no paired test separates from it
    row: DepRow  # the most accurate head's figures
    held: HeldOut | None  # None where a half holds none of the relation's dependents
    control: tuple[str, float] | None  # the control model's best head and its margin (None without a control)
    claimed: bool | None  # held-out significant and above the control (None without a control)

    @property
    def label(self) -> str:
        return self.leads[0].label

    @property
    def beats(self) -> bool:
        """Whether the cell's claim stands: held out significant, and above the control where there is one."""
        return self.held is not None and self.held.significant and self.claimed is not False

    @property
    def verdict(self) -> str:
        held = self.held
        if held is None:
            return "no held-out figure"
        if held.significant:
            return {True: "beats position and the random model", False: "beats position, not the random model",
                    None: "beats position"}[self.claimed]
        return "significantly below position" if held.below else "not significant"


@dataclass(frozen=True)
class Table1Row:
    """Clark et al.'s Table 1: for one relation, its cells in both directions."""

    relation: str
    gloss: str  # the relation in words (spaCy's glossary)
    support: int
    cells: tuple[Table1Cell, ...]  # per direction


@dataclass(frozen=True)
class Table1Best:
    """A Table 1 cell that names a head (shown on the head's page): in-sample among its leads, or picked on the
    selection half; with the cell's verdict and the interval it rests on."""

    relation: str
    gloss: str
    direction: str  # in words
    lead: bool  # among the in-sample leads
    tied: tuple[str, ...]  # the other in-sample leads
    picked: bool  # picked on the selection half
    verdict: str  # 'held-out margin +0.12 [+0.05, +0.19] (corrected): beats position'
    href: str  # the row of Table 1 on the overview


def table1_rows(dep: dict[tuple[int, int], list[DepRow]], held: dict) -> tuple[Table1Row, ...]:
    """Table 1 from every head's DepRows and the dep_table1 rows by (relation, direction in words): per relation
    (ROOT and punct left out, as Clark et al.'s) and direction."""
    relations: dict[str, int] = {}
    for rows in dep.values():
        for r in rows:
            relations[r.relation] = r.support
    shown = [r for r in relations if r not in TABLE1_LEFT_OUT]
    out = []
    for relation in sorted(shown, key=lambda r: (r != ALL_RELATIONS, -relations[r], r)):
        cells = []
        for direction in map(direction_words, DIRECTIONS):
            found = sorted(((-r.accuracy, layer, head, r) for (layer, head), rows in dep.items() for r in rows
                            if r.relation == relation and r.direction == direction and r.table1_lead),
                           key=lambda f: f[:3])
            if not found:  # a database without the lead flags: the most accurate head alone
                found = [min(((-r.accuracy, layer, head, r) for (layer, head), rows in dep.items() for r in rows
                              if r.relation == relation and r.direction == direction), key=lambda f: f[:3])]
            leads = tuple(Link(f"heads/{head_label(l, h)}.html", head_label(l, h)) for _, l, h, _ in found)
            stored = held.get((relation, direction))
            picked = None if stored is None else HeldOut(
                head_label(stored.selected_layer, stored.selected_head),
                f"heads/{head_label(stored.selected_layer, stored.selected_head)}.html", stored.baseline_offset,
                stored.held_out_support, stored.held_out_margin, stored.held_out_low, stored.held_out_high,
                stored.held_out_low_corrected, stored.held_out_high_corrected, stored.held_out_significant,
                stored.held_out_below)
            control = None if stored is None or stored.control_layer is None else (
                head_label(stored.control_layer, stored.control_head), stored.control_margin)
            cells.append(Table1Cell(direction, leads, found[0][3], picked, control,
                                    None if stored is None else stored.claimed))
        out.append(Table1Row(relation, RELATION_GLOSSES.get(relation, ""), relations[relation], tuple(cells)))
    return tuple(out)


def table1_best(table1: tuple[Table1Row, ...], label: str) -> tuple[Table1Best, ...]:
    """The Table 1 cells that name the head `label`, in Table 1's order."""
    out = []
    for row in table1:
        for cell in row.cells:
            leads = [link.label for link in cell.leads]
            picked = cell.held is not None and cell.held.label == label
            if label not in leads and not picked:
                continue
            verdict = cell.verdict if cell.held is None else \
                f"held-out margin {cell.held.corrected_text} (corrected): {cell.verdict}"
            out.append(Table1Best(row.relation, row.gloss, cell.direction, label in leads,
                                  tuple(x for x in leads if x != label), picked, verdict,
                                  f"../index.html#table1-{row.relation}"))
    return tuple(out)
