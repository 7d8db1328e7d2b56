"""The faithfulness test on the pages: a sentence page's table of what removing each ranking's top words does to the
target, the overview's summary over the probes, and its Finding."""

from __future__ import annotations

from ...unit import Section
from ..views.faithfulness import ModelFaithfulness, SentenceFaithfulness, groups_text
from ..views.summary import Finding, Part
from .readers import faithfulness

TEMPLATE = "sections/faithfulness.html"


def sentence_view(report, sentence_id: int) -> SentenceFaithfulness | None:
    return faithfulness(report).sentence(sentence_id, len(report.store.words_of(sentence_id, sentence_id)))


def model_view(report) -> ModelFaithfulness | None:
    return faithfulness(report).model()


def finding(model: ModelFaithfulness | None) -> Finding | None:
    if model is None:
        return None
    aopc = ", ".join(f"{r.name} {r.comprehensiveness.text}" for r in model.rankings)
    parts = [Part(f"Removing each explanation's top words from the {model.probes} probes (ERASER's "
                  f"comprehensiveness, the target's fall, AOPC over 1 to 50% of the words with 95% intervals): {aopc}. "
                  f"Most comprehensive first, tied where a paired bootstrap does not separate neighbours: "
                  f"{groups_text(model.comprehensive)}. "),
             Part(model.verdict.short[0].upper() + model.verdict.short[1:] + ". ") if model.verdict else Part(""),
             Part("Do the top words matter", "#faithfulness"), Part(".")]
    return Finding("faithfulness", tuple(p for p in parts if p.text))


SECTIONS = (
    Section("sentence", "faithfulness", "Do the top words matter", TEMPLATE, "sentence", 11, sentence_view),
    Section("index", "faithfulness", "Do the top words matter", TEMPLATE, "index", 75, model_view),
    Section("findings", "faithfulness", "", "", "", 85, lambda r: finding(model_view(r))),
)
