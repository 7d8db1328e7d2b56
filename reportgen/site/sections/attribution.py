"""The attributions on the pages: a sentence page's words coloured by integrated gradients with the rollout, the
heads that agree and the baselines, a head page's agreement over the probes against the best baseline, a layer
page's rollout, the overview's agreement section with its heatmap, and its Finding."""

from __future__ import annotations

from dataclasses import replace

from ...unit import Section
from ...vocab import MIN_PROBES, head_label
from ..views.attribution import Agreement, HeadAgreement, ModelAgreement, SentenceAttribution
from ..views.baselines import BaselineViews
from ..views.summary import Finding, Part, join
from . import cached
from .readers import attributions, faithfulness

TEMPLATE = "sections/attribution.html"
NAMED = 5  # agreeing heads the Finding names, the cut extended over a tie


def baselines(report) -> BaselineViews:
    return cached(report, "baselines", lambda: BaselineViews(report.store, attributions(report).probes))


def sentence_view(report, sentence_id: int) -> SentenceAttribution | None:
    text = dict(report.probes)[sentence_id]
    found = attributions(report).sentence(sentence_id, text, report.store.tokens_of(sentence_id),
                                          report.store.words_of(sentence_id, sentence_id),
                                          f"../heads/{head_label('{l}', '{h}')}.html#s{sentence_id}")
    if found is None:
        return None
    verdict = faithfulness(report).verdict()
    return replace(found, baselines=baselines(report).on(sentence_id),
                   faithfulness=verdict.text if verdict is not None else "")


def head_view(report, layer: int, head: int) -> HeadAgreement | None:
    found = attributions(report).head(layer, head)
    return None if found is None else replace(found, versus=baselines(report).versus("attention", layer, head))


def layer_view(report, layer: int) -> HeadAgreement | None:
    found = attributions(report).layer(layer)
    return None if found is None else replace(found, versus=baselines(report).versus("rollout", layer, None))


def model_view(report) -> ModelAgreement | None:
    views, base = attributions(report), baselines(report)
    found = views.model()
    if found is None:
        return None
    every = []
    for key in sorted(views.head_means):  # the order of `every`
        versus = base.versus("attention", *key)
        every.append("" if versus is None else
                     ("agrees: " if versus.agrees else "") + "; ".join(f"{t.text} against {t.baseline}"
                                                                      for t in versus.against))
    return replace(found, baselines=base.means, best_baselines=base.best,
                   agreeing=base.agreeing(views.head_means, views.groups()), every_versus=tuple(every))


def finding(report):
    views = attributions(report)
    return agreement(model_view(report), views.word_share())


def _named(a: Agreement) -> list[Part]:
    return [Part(a.label, a.href), Part(f" ({a.text})")]


def agreement(model: ModelAgreement | None, share: float | None) -> Finding | None:
    if model is None or share is None:
        return None
    parts = [Part(f"On average {share:.0%} of the read-out's attention reaches the probes' words (the rest goes to "
                  f"special tokens). ")]
    if not model.best_baselines:
        parts.append(Part("No baseline that needs no attention could be compared with the gradients. "))
    else:
        best = model.best_baselines
        tied = ", tied where no paired test over the probes separates them," if len(best) > 1 else ""
        parts.append(Part(f"Without attention, the best of {len(model.baselines)} baselines{tied} reach"
                          f"{'es' if len(best) == 1 else ''} a mean Spearman's rho with |integrated gradients| of "
                          + " and ".join(f"{b.text} ({b.label})" for b in best) + ". "))
        if model.probes < MIN_PROBES:
            parts.append(Part(f"With {model.probes} probes, under the {MIN_PROBES} a comparison needs, no head is "
                              f"claimed to agree with the gradients beyond the baselines. "))
        elif not model.agreeing:
            parts.append(Part("No head agrees with the gradients more than the best baseline in a paired test over "
                              "the probes: attention that follows the gradients is not told apart here from "
                              f"{' and '.join(b.label for b in best)}. "))
        else:
            count = sum(len(g) for g in model.agreeing)
            shown = []
            for g in model.agreeing:  # the first NAMED heads, the cut extended over a tie
                if sum(len(s) for s in shown) >= NAMED:
                    break
                shown.append(g)
            groups = [join([_named(a) for a in g]) + ([Part(" (tied)")] if len(g) > 1 else []) for g in shown]
            rest = count - sum(len(g) for g in shown)
            order = "; by mean rho, tied where not separated" if count > 1 else ""
            parts += ([Part(f"{count} head{'s' if count != 1 else ''} agree{'s' if count == 1 else ''} with the "
                            f"gradients more than the best baseline does, in a paired test over the probes{order}: ")]
                      + join(groups, "; ", "; ") + [Part(f"{f', and {rest} more' if rest else ''}. ")])
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
