"""Which heads matter, on the pages: a head page's importance (with its role beside it), the overview's section
with its heatmap, the importance column of the table of heads, and its Finding."""

from __future__ import annotations

from ...unit import Section
from ..views.importance import NAMED, PAPERS, HeadImportanceView, ModelImportance
from ..views.summary import Finding, Part, join
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


def _group(effects, words: str) -> list[Part]:
    """'L5H3 changes the output most (0.0546 [0.0499, 0.0597])', or the heads tied for it with their range."""
    if len(effects) == 1:
        e = effects[0]
        return [Part(e.label, e.href), Part(f" {words[0]} ({e.text})")]
    shown = list(effects)[:NAMED]
    heads = join([[Part(e.label, e.href)] for e in shown], last=" and " if len(effects) == len(shown) else ", ")
    more = [] if len(effects) == len(shown) else [Part(f" and {len(effects) - len(shown)} more")]
    values = sorted(e.value for e in effects)
    return heads + more + [Part(f" are tied as {words[1]} (from {values[0]:.3g} to {values[-1]:.3g}: no paired test "
                                f"over the same sentences separates them)")]


def importance_finding(found: ModelImportance | None) -> Finding | None:
    if found is None or not found.first:
        return None
    parts = [Part(f"Removing one head at a time (over the first {found.sentences} corpus sentences; "
                  f"{found.measure}): ")]
    if found.separated:
        parts += _group(found.first, ("changes the output most", "the most important"))
        parts.append(Part("; "))
        parts += _group(found.last, ("changes it least", "least important"))
    else:
        parts.append(Part(f"no paired test over the same sentences separates any two of the {len(found.every)} "
                          f"heads, so none is ranked above another"))
    scale = next((r for r in found.references if r.value.label == "between_sentences"), None)
    if scale is not None:
        parts.append(Part(f"; for scale, two different sentences of the sample differ by {scale.value.text} on "
                          f"the same measure"))
    rho = {p.method: p.correlation for p in found.proxies}
    if rho.get(PAPERS) is not None:
        parts.append(Part(f"; Michel et al.'s gradient proxy as their code computes it (|.| per token, normalised "
                          f"per layer) ranks the heads as the ablation does at Spearman's rho {rho[PAPERS]:.2f}"))
        if rho.get("gradient") is not None:
            parts.append(Part(f" (reportgen's, |.| per sentence and not normalised: {rho['gradient']:.2f})"))
    return Finding("importance", tuple(parts + [Part(". "), Part("Which heads matter", "#importance"), Part(".")]))


SECTIONS = (
    Section("head", "importance", "Importance: removing the head", TEMPLATE, "head", 20, head_view),
    Section("index", "importance", "Which heads matter", TEMPLATE, "index", 60, model_view,
            figures=lambda v: [("importance-chart", v.chart)] if v.chart else []),
    Section("heads-column", "importance", "", "", "", 10, column),
    Section("findings", "importance", "", "", "", 70, lambda r: importance_finding(model_view(r))),
)
