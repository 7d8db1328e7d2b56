"""Which heads matter, on the pages: a head page's importance (with its role beside it), the overview's section
with its heatmap, the importance column of the table of heads, and its Finding."""

from __future__ import annotations

from ...unit import Section
from ..views.importance import HeadImportanceView, ModelImportance
from ..views.summary import Finding, Part
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



def importance_finding(found: ModelImportance | None) -> Finding | None:
    if found is None or not found.most:
        return None
    top = found.most[0]
    parts = [Part(f"Removing one head at a time (over the first {found.sentences} corpus sentences; {found.measure}): "
                  f"removing "), Part(top.label, top.href), Part(f" changes the output most ({top.text}); the least "
                                                                  f"important is "),
             Part(found.least[0].label, found.least[0].href), Part(f" ({found.least[0].text})")]
    if found.correlation is not None:
        parts.append(Part(f"; the gradient proxy ranks the heads as the ablation does at Spearman's rho "
                          f"{found.correlation:.2f}"))
    return Finding("importance", tuple(parts + [Part(". "), Part("Which heads matter", "#importance"), Part(".")]))


SECTIONS = (
    Section("head", "importance", "Importance: removing the head", TEMPLATE, "head", 20, head_view),
    Section("index", "importance", "Which heads matter", TEMPLATE, "index", 60, model_view,
            figures=lambda v: [("importance-chart", v.chart)] if v.chart else []),
    Section("heads-column", "importance", "", "", "", 10, column),
    Section("findings", "importance", "", "", "", 70, lambda r: importance_finding(model_view(r))),
)
