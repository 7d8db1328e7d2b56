"""The overview's "Findings": a few sentences that state what the measured tables say about this model, each with
its numbers and a link to its evidence. Generated from the database by fixed rules; none is written by hand, and a
rule with nothing to report says so or is left out.

Each rule is a 'findings' section (unit.Section) of the analysis whose tables it reads, placed by its `order`;
this module holds the sentences' parts and the pages' own two rules:
10. kind: what kind of model this is (from the attribution targets, else `meta.causal`) and which attention rows
    its output reads, so the reader knows what [CLS]-based and last-token-based readings can mean;
20. sinks, 30. position, 40. syntax, 60. broad: the roles' (site/sections/roles.py);
50. table1: the dependency accuracy's (site/sections/depacc.py);
70. importance: the importance's (site/sections/importance.py);
80. agreement: the attributions' (site/sections/attribution.py);
90. map: the map of the heads' (site/sections/similarity.py);
100. study: the edit study's headline, where the report has one.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from ...patterns import special_names
from ...ranking import rank
from ...unit import Section
from ...vocab import head_label
from .study import StudyPage


@dataclass(frozen=True)
class Part:
    text: str
    href: str = ""  # a link to the evidence, or none


@dataclass(frozen=True)
class Finding:
    rule: str  # the rule that wrote it (see the module docstring)
    parts: tuple[Part, ...]

    @property
    def text(self) -> str:
        return "".join(p.text for p in self.parts)


def head_part(layer: int, head: int) -> Part:
    label = head_label(layer, head)
    return Part(label, f"heads/{label}.html")


def join(items: list[list[Part]], sep: str = ", ", last: str = " and ") -> list[Part]:
    out: list[Part] = []
    for i, item in enumerate(items):
        if i:
            out.append(Part(last if i == len(items) - 1 else sep))
        out += item
    return out


def and_list(items: list) -> str:
    """'a', 'a and b', 'a, b and c'."""
    items = [str(i) for i in items]
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def layers_text(layers: Counter) -> str:
    """Where counted things sit: 'layers 0, 2 and 3 (most in layer 2: 2)'; layers tied for the most are named
    together ('most in layers 1 and 2: 3 each'), and none is singled out where every layer has as many."""
    found = sorted(layers)
    where = f"layer {found[0]}" if len(found) == 1 else f"layers {and_list(found)}"
    if len(found) == 1:
        return where
    top = sorted(found[i] for i in rank([layers[layer] for layer in found]).first)  # counts: equal ones tie
    n = layers[top[0]]
    if len(top) == len(found):
        return where + f" ({n} in each)"
    return where + (f" (most in layer {top[0]}: {n})" if len(top) == 1 else
                    f" (most in layers {and_list(top)}: {n} each)")


def model_kind(meta: dict[str, str], targets: list[str], readouts: set[str]) -> Finding:
    name, arch = meta.get("model", ""), meta.get("architecture", "")
    shape = f"{meta.get('n_layers')} layers of {meta.get('n_heads')} heads"
    if any(t.startswith("class") for t in targets):
        row = "the first token's row ([CLS])" if readouts == {"first"} else "the last token's row"
        text = (f"{name} is a sequence classifier ({arch}, {shape}): its prediction is computed from {row}, so the "
                f"attributions, the agreement and the rollout read that row; a reading from any other token says "
                f"nothing about the prediction.")
    elif any(t.startswith("similarity") for t in targets) or readouts == {"mean"}:
        text = (f"{name} is an encoder whose output is the mean-pooled sentence embedding ({arch}, {shape}): no "
                f"output is computed from [CLS], so what [CLS] attends to is not what the model outputs; the "
                f"attributions, the agreement and the rollout read the mean of every token's row, as the pooling "
                f"does.")
    elif meta.get("causal") == "true":
        text = (f"{name} is a causal language model ({arch}, {shape}): each token attends only to itself and the "
                f"tokens before it, so attention to the first token is where a head can rest, and the next-token "
                f"readings come from the last token's row (or the rows that predict a continuation); there is no "
                f"[CLS].")
    else:
        text = (f"{name} is a bidirectional encoder ({arch}, {shape}) with no attribution targets in this "
                f"report.")
    return Finding("kind", (Part(text),))


def study(page: StudyPage | None) -> Finding | None:
    if page is None or not page.rows:
        return None
    row = page.rows[0]  # every edit type together
    interpretable = row.attention[0]
    if interpretable is None:
        return None
    subset = "flagged" if page.subset == "flagged" else "measured"
    return Finding("study", (
        Part(f"Edit identification (Stevens & Su): on the {row.n} {subset} edited test sentences, the final layer's "
             f"attention ranks every edited word among its top 3 in {interpretable.value:.2f} of them (random "
             f"rankings: {row.random[0].value:.2f}). "), Part("The study", "studies/edits.html"), Part(".")))


def probe_special_names(report) -> dict[str, str]:
    """The names of the first probe's first and last special tokens ('[CLS]', '[SEP]'), which the sinks are named
    after."""
    return special_names(report.store.tokens_of(report.probes[0][0])) if report.probes else {}


def kind(report) -> Finding:
    """The kind of model, from the attribution targets where the report has them, else from meta.causal."""
    targets = report.store.attribution_targets() if report.store.has_table("attribution_targets") else []
    return model_kind(report.meta, [t.target for t in targets], {t.readout for t in targets})


# the rules that are the report's own, beside those the analyses add ('findings' sections)
SECTIONS = (
    Section("findings", "kind", "", "", "", 10, kind),
    Section("findings", "study", "", "", "", 100, lambda report: study(report.study)),
)
