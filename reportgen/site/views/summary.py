"""The overview's "Findings": a few sentences that state what the measured tables say about this model, each with
its numbers and a link to its evidence. Generated from the database by fixed rules (the README lists them); none is
written by hand, and a rule with nothing to report says so or is left out.

The rules, in the order the sentences appear:
1. kind: what kind of model this is (from the attribution targets, else `meta.causal`) and which attention rows
   its output reads, so the reader knows what [CLS]-based and last-token-based readings can mean;
2. sinks: the heads whose role is a sink (first, last, special, punct), by what they attend to, and their layers,
   and how many of them take less than MOVES_LITTLE of what their attention moves from the sink (by norm);
3. position: the previous-, next-token and self heads, each with its share of attention;
4. syntax: the heads with the syntax role (a significant margin over position), the LARGEST with the biggest margins;
5. table1: how many of Table 1's relation-direction cells have a best head significantly above position;
6. broad: the broad and mixed heads;
7. importance: the head whose removal changes the output most and the one that changes it least (the ablation over
   the first corpus sentences), and the gradient proxy's rank correlation with the ablation;
8. agreement: the head whose attention agrees most with the integrated gradients (mean rho over the probes where it
   is compared) and the mean share of the read-out's attention that reaches the words;
9. map: how faithful the map of the heads is (Spearman's rho of its distances with the measured ones);
10. study: the edit study's headline, where the report has one.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from ...patterns import special_names
from ...unit import Section
from ...vocab import head_label
from .attribution import ModelAgreement
from .headanalysis import HeadOverview
from .importance import ModelImportance
from .study import StudyPage

LARGEST = 3  # syntax heads named with their margins
SINKS = ("first", "last", "special", "punct")
SINK_WORDS = {"special": "special tokens together", "punct": "punctuation"}


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


def _head(layer: int, head: int) -> Part:
    label = head_label(layer, head)
    return Part(label, f"heads/{label}.html")


def _join(items: list[list[Part]], sep: str = ", ", last: str = " and ") -> list[Part]:
    out: list[Part] = []
    for i, item in enumerate(items):
        if i:
            out.append(Part(last if i == len(items) - 1 else sep))
        out += item
    return out


def _layers(layers: Counter) -> str:
    found = sorted(layers)
    where = (f"layer {found[0]}" if len(found) == 1 else
             f"layers {', '.join(map(str, found[:-1]))} and {found[-1]}")
    top, n = min(layers.items(), key=lambda kv: (-kv[1], kv[0]))
    return where + (f" (most in layer {top}: {n})" if len(found) > 1 else "")


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


MOVES_LITTLE = 0.10  # a sink that moves less than this share of its row's total from its sink, by norm


def sinks(overview: HeadOverview, names: dict[str, str],
          stats: dict[tuple[int, int], dict[str, float]] | None = None) -> Finding:
    heads = [h for h in overview.heads if h.role in SINKS]
    total = len(overview.heads)
    if not heads:
        return Finding("sinks", (Part(f"None of the {total} heads is a sink: none gives more than 0.6 of its "
                                      f"attention to the first or last token, special tokens or punctuation. "),
                                 Part("Roles", "#roles"), Part(".")))
    by = Counter(h.role for h in heads)
    kinds = [[Part(f"{by[r]} to {names.get(r) or SINK_WORDS.get(r, r + ' token')}")] for r in SINKS if by[r]]
    parts = [Part(f"{len(heads)} of the {total} heads are sinks, giving more than 0.6 of their attention to one "
                  f"place: ")] + _join(kinds) + [Part(f"; they sit in {_layers(Counter(h.layer for h in heads))}")]
    moved = [(stats or {}).get((h.layer, h.head), {}).get(f"{h.role}_by_norm") for h in heads]
    if all(m is not None for m in moved):  # the corpus pass measured what attention moves
        little = sum(m < MOVES_LITTLE for m in moved)
        parts.append(Part(f"; {little} of them take less than {MOVES_LITTLE:.2f} of what their attention moves "
                          f"from that place (weighting each weight by the norm of the vector it moves)"))
    parts += [Part(". "), Part("Roles", "#roles"), Part(".")]
    return Finding("sinks", tuple(parts))


def positional(overview: HeadOverview, stats: dict[tuple[int, int], dict[str, float]]) -> Finding:
    groups = []
    for role, stat, words in (("previous", "prev", "previous-token"), ("next", "next", "next-token"),
                              ("self", "self", "self")):
        heads = [h for h in overview.heads if h.role == role]
        if heads:
            items = [[_head(h.layer, h.head), Part(f" ({stats[(h.layer, h.head)][stat]:.2f} of its attention)")]
                     for h in heads]
            groups.append([Part(f"{words} head{'s' if len(heads) > 1 else ''} ")] + _join(items))
    if not groups:
        return Finding("position", (Part("No head gives more than half of its attention to the previous token, "
                                         "the next token or the token itself."),))
    return Finding("position", tuple([Part("Positional: ")] + _join(groups, "; ", "; and ") + [Part(".")]))


def syntax(overview: HeadOverview) -> Finding:
    heads = [h for h in overview.heads if h.role == "syntax" and h.best is not None]
    if not heads:
        return Finding("syntax", (Part("No head predicts the heads of any dependency relation significantly better "
                                       "than the best fixed offset by 0.10 or more. "),
                                  Part("Table 1", "#table1"), Part(".")))
    best = sorted(heads, key=lambda h: (-h.best.margin, h.layer, h.head))[:LARGEST]
    items = [[_head(h.layer, h.head), Part(" on "), Part(h.best.relation, f"{h.href}#syntax"),
              Part(f" ({h.best.direction}, {h.best.accuracy:.2f} against {h.best.baseline:.2f} for the best "
                   f"offset)")] for h in best]
    return Finding("syntax", tuple(
        [Part(f"{len(heads)} head{'s beat' if len(heads) > 1 else ' beats'} position significantly on some "
              f"dependency relation (the syntax role); {'the largest margins' if len(heads) > 1 else 'its margin'}: ")]
        + _join(items) + [Part(".")]))


def table1(overview: HeadOverview) -> Finding | None:
    cells = [c for row in overview.table1 if row.relation != "all" for c in row.cells]
    if not cells:
        return None
    beat = sum(c.row.significant for c in cells)
    return Finding("table1", (Part(f"In Table 1, the best head beats the best fixed offset significantly in {beat} "
                                   f"of the {len(cells)} relation-direction cells; in the others its margin over "
                                   f"position is not significant. "), Part("Table 1", "#table1"), Part(".")))


def broad(overview: HeadOverview) -> Finding:
    counts = Counter(h.role for h in overview.heads)
    return Finding("broad", (Part(f"{counts['broad']} head{'s' if counts['broad'] != 1 else ''} attend broadly "
                                  f"(normalised entropy at least 0.85) and {counts['mixed']} "
                                  f"{'are' if counts['mixed'] != 1 else 'is'} mixed (no rule applies). "),
                             Part("Roles", "#roles"), Part(".")))


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


def head_map(overview: HeadOverview) -> Finding | None:
    if overview.map is None:
        return None
    m = overview.map
    return Finding("map", (Part(f"The map of the heads keeps the order of the measured distances at Spearman's rho "
                                f"{m.correlation:.2f} (Kruskal's stress {m.stress:.2f}): "),
                           Part("read it as a sketch", "#head-map-section"), Part(", not as a measurement.")))


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


def importance(found: ModelImportance | None) -> Finding | None:
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
