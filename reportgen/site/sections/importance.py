"""Which heads matter, on the pages: a head page's importance (with its role beside it), the overview's section
with its heatmap, the importance column of the table of heads, and its Finding."""

from __future__ import annotations

from ...unit import Section
from ..views import summary
from ..views.importance import HeadImportanceView, ModelImportance
from .readers import importance
from .roles import Column

TEMPLATE = "sections/importance.html"


def head_view(report, layer: int, head: int) -> HeadImportanceView | None:
    return importance(report).head(layer, head)


def model_view(report) -> ModelImportance | None:
    return importance(report).model()


def column(report) -> Column | None:
    found = model_view(report)
    if found is None:
        return None
    return Column("importance [95%]", {label: (f"{e.value:.9g}", e.text) for label, e in found.by_head.items()})


SECTIONS = (
    Section("head", "importance", "Importance: removing the head", TEMPLATE, "head", 20, head_view),
    Section("index", "importance", "Which heads matter", TEMPLATE, "index", 60, model_view,
            figures=lambda v: [("importance-chart", v.chart)] if v.chart else []),
    Section("heads-column", "importance", "", "", "", 10, column),
    Section("findings", "importance", "", "", "", 70, lambda r: summary.importance(model_view(r))),
)
