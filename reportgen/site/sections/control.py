"""The control model on the pages (analyses/control.py): the overview's section that says what it is and how many
heads of each role it has beside the model's, the table of heads' column with each head's control figure and
verdict, and the statistics and roles of head pages (placed there by the headstats and roles sections, which read
the control's figures with theirs)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from ...store.checks import CONTROL_ROLES
from ...unit import Section
from ...vocab import ROLES
from .readers import head_analyses
from .roles import Column

TEMPLATE = "sections/control.html"


@dataclass(frozen=True)
class ControlSummary:
    """The overview's control section."""

    sentences: str  # how many corpus sentences it was measured on ('1,000')
    init: str  # the initialisation in words
    seed: str
    roles: tuple[tuple[str, int, int | None, int], ...]  # role, heads in the model, of them claimed, in the control
    cells: tuple[int, int, int] | None  # Table 1 cells: claimed, significant held out, all (relations but 'all')


def summary(report) -> ControlSummary | None:
    control = Counter(r.role for r in report.store.rows(CONTROL_ROLES))
    if not control:
        return None
    analyses = head_analyses(report)
    model = Counter(role for role, _ in analyses.roles.values())
    claimed = Counter(role for key, (role, _) in analyses.roles.items() if analyses.checks[key].claimed)
    roles = tuple((r, model[r], None if r == "mixed" else claimed[r], control[r]) for r in ROLES
                  if model[r] or control[r])
    cells = [c for row in analyses.table1 if row.relation != "all" for c in row.cells]
    table1 = (sum(bool(c.claimed) for c in cells), sum(c.held is not None and c.held.significant for c in cells),
              len(cells)) if cells else None
    meta = report.meta
    return ControlSummary(f"{int(meta.get('control_sentences_measured', '0')):,}", meta.get("control_init", ""),
                          meta.get("option.control_seed", "0"), roles, table1)


def column(report) -> Column | None:
    """The table of heads' column: each head's role in the random model, its figure and the verdict."""
    checks = head_analyses(report).checks
    if not any(c.control_role for c in checks.values()):
        return None
    return Column("random model", {f"L{layer}H{head}": ("" if c.control_value is None else f"{c.control_value:.6f}",
                                                        c.control_text)
                                   for (layer, head), c in sorted(checks.items())})


SECTIONS = (
    Section("index", "control", "The control: a random model", TEMPLATE, "index", 45, summary),
    Section("heads-column", "control", "", "", "", 5, column),
)
