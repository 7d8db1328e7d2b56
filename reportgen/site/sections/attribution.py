"""The attributions on the pages: a sentence page's words coloured by integrated gradients with the rollout and the
heads that agree, a head page's agreement over the probes, a layer page's rollout, the overview's agreement
section with its heatmap, and its Finding."""

from __future__ import annotations

from ...unit import Section
from ...vocab import head_label
from ..views.attribution import HeadAgreement, ModelAgreement, SentenceAttribution
from ..views.summary import Finding, Part
from .readers import attributions

TEMPLATE = "sections/attribution.html"


def sentence_view(report, sentence_id: int) -> SentenceAttribution | None:
    text = dict(report.probes)[sentence_id]
    return attributions(report).sentence(sentence_id, text, report.store.tokens_of(sentence_id),
                                         report.store.words_of(sentence_id, sentence_id),
                                         f"../heads/{head_label('{l}', '{h}')}.html#s{sentence_id}")


def head_view(report, layer: int, head: int) -> HeadAgreement | None:
    return attributions(report).head(layer, head)


def layer_view(report, layer: int) -> HeadAgreement | None:
    return attributions(report).layer(layer)


def model_view(report) -> ModelAgreement | None:
    return attributions(report).model()


def finding(report):
    views = attributions(report)
    return agreement(views.model(), views.word_share())



def agreement(model: ModelAgreement | None, share: float | None) -> Finding | None:
    if model is None or share is None:
        return None
    parts = [Part(f"On average {share:.0%} of the read-out's attention reaches the probes' words (the rest goes to "
                  f"special tokens). ")]
    if model.best:
        top = model.best[0]
        parts += [Part("The attention that agrees most with the integrated gradients is "),
                  Part(top.label, top.href),
                  Part(f"'s (mean Spearman's rho {top.rho:+.2f} over {top.n} probe{'s' if top.n != 1 else ''}). ")]
    else:
        parts.append(Part("No head sends enough attention to the words to be compared with the gradients. "))
    return Finding("agreement", tuple(parts + [Part("Attention and gradients", "#agreement"), Part(".")]))


SECTIONS = (
    Section("sentence", "attribution", "Which words drive the output", TEMPLATE, "sentence", 10, sentence_view,
            figures=lambda v: [("attribution-chart", v.chart)]),
    Section("head", "agreement", "Attention and gradients", TEMPLATE, "head", 40, head_view),
    Section("layer", "rollout", "Rollout and gradients", TEMPLATE, "layer", 10, layer_view),
    Section("index", "agreement", "Attention and gradients", TEMPLATE, "index", 70, model_view,
            figures=lambda v: [("agreement-chart", v.chart)] if v.chart else []),
    Section("findings", "agreement", "", "", "", 80, finding),
)
