"""The study page, studies/edits.html: Stevens & Su's measure for the report's model, beside the paper's figures."""

from __future__ import annotations

from dataclasses import dataclass

from ...vocab import (
    ALL_EDITS,
    EDIT_LABELS,
    EDIT_TYPES,
    MEASURES,
    PAPER,
    STUDY,
    head_label,
    layer_label,
)
from ..charts.study import heatmap

EXAMPLES_PER_TYPE = 2
BEST = 5


@dataclass(frozen=True)
class Cell:
    value: float
    low: float
    high: float

    @property
    def text(self) -> str:
        return f"{self.value:.2f} [{self.low:.2f}, {self.high:.2f}]"


@dataclass(frozen=True)
class TypeRow:
    """One edit type's figures on the flagged sentences: the paper's source (final-layer read-out attention summed
    over heads) for every measure, integrated gradients and random rankings, the best single head; and the
    paper's source on every measured sentence, flagged or not."""

    edit_type: str
    n: int  # sentences of the page's subset (flagged ones)
    attention: tuple[Cell, ...]  # one per MEASURES
    gradients: Cell | None
    random: tuple[Cell, ...]  # one per MEASURES
    best_head: str
    best_head_cell: Cell | None
    all_n: int  # every measured edited sentence
    all_attention: Cell | None  # interpretable, on all of them


@dataclass(frozen=True)
class PaperRow:
    """One of our edit types beside the paper's figure for the same kind of edit, where it has one."""

    edit_type: str
    ours: Cell | None  # interpretable, flagged sentences
    ours_random: Cell | None
    n: int
    theirs: str  # their edit type, or '' where the paper has none
    bert: float | None
    random: float | None


@dataclass(frozen=True)
class ExampleWord:
    before: str
    text: str
    gold: bool
    top: bool  # among the top 3 by final-layer read-out attention


@dataclass(frozen=True)
class StudyExample:
    edit_type: str
    predicted: str
    flagged: bool  # the classifier predicted it edited: counted in the page's figures (else only in 'all')
    words: tuple[ExampleWord, ...]
    tail: str
    interpretable: bool


@dataclass(frozen=True)
class StudyPage:
    root: str
    title: str
    metrics: tuple[tuple[str, str], ...]
    provenance: tuple[tuple[str, str], ...]
    rows: tuple[TypeRow, ...]
    subset: str  # the sentences the figures are over: 'flagged' (as the paper), or 'all' where none was flagged
    measures: tuple[str, ...]
    paper: tuple[PaperRow, ...]
    chart: dict
    best: tuple[tuple[str, str, str], ...]  # (head, href, figure)
    layers: tuple[tuple[str, str, str], ...]  # (layer, href, figure)
    examples: tuple[StudyExample, ...]


def study_page(store, meta: dict[str, str]) -> StudyPage | None:
    if not store.has_table("study_metrics"):
        return None
    metrics = store.study_metrics(STUDY)
    if not metrics:
        return None
    found: dict[tuple, Cell] = {}
    counts: dict[tuple[str, str], int] = {}
    for r in store.study_figures(STUDY):
        found[(r.subset, r.edit_type, r.source, r.layer, r.head, r.measure)] = Cell(r.value, r.ci_low, r.ci_high)
        counts[(r.subset, r.edit_type)] = r.n
    shown_subset = "flagged" if any(s == "flagged" for s, _ in counts) else "all"
    kinds = [ALL_EDITS] + sorted({k for _, k in counts if k != ALL_EDITS},
                                 key=lambda k: (k not in EDIT_TYPES, EDIT_TYPES.index(k) if k in EDIT_TYPES else 0, k))
    n_layers = 1 + max((k[3] for k in found if k[2] == "head"), default=0)
    n_heads = 1 + max((k[4] for k in found if k[2] == "head"), default=0)
    cls = lambda subset, kind, m: found.get((subset, kind, "cls_sum", n_layers - 1, None, m))  # noqa: E731
    rows, paper = [], []
    for kind in kinds:
        heads = [(cell.value, l, h, cell) for (sub, k, s, l, h, m), cell in found.items()
                 if sub == shown_subset and k == kind and s == "head" and m == "interpretable"]
        best = min(heads, key=lambda r: (-r[0], r[1], r[2]), default=None)
        if (shown_subset, kind) in counts:
            rows.append(TypeRow(
                kind, counts[(shown_subset, kind)], tuple(cls(shown_subset, kind, m) for m in MEASURES),
                found.get((shown_subset, kind, "integrated_gradients", None, None, "interpretable")),
                tuple(found[(shown_subset, kind, "random", None, None, m)] for m in MEASURES),
                head_label(best[1], best[2]) if best else "", best[3] if best else None,
                counts.get(("all", kind), 0), cls("all", kind, "interpretable")))
        if kind != ALL_EDITS:
            theirs, bert, random = PAPER.get(kind, ("", None, None))
            paper.append(PaperRow(kind, cls(shown_subset, kind, "interpretable"),
                                  found.get((shown_subset, kind, "random", None, None, "interpretable")),
                                  counts.get((shown_subset, kind), 0), theirs, bert, random))
    heads = sorted(((cell.value, l, h) for (sub, k, s, l, h, m), cell in found.items()
                    if sub == shown_subset and k == ALL_EDITS and s == "head" and m == "interpretable"),
                   key=lambda r: (-r[0], r[1], r[2]))
    layer_cell = lambda l: found.get((shown_subset, ALL_EDITS, "layer", l, None, "interpretable"))  # noqa: E731
    layers = tuple((f"layer {l}", f"../layers/{layer_label(l)}.html", layer_cell(l).text)
                   for l in range(n_layers) if layer_cell(l) is not None)
    examples: list[StudyExample] = []
    per_type: dict[str, int] = {}
    # flagged sentences first (those the figures are over), then in the stored order
    for example in sorted(store.study_examples(STUDY), key=lambda e: e.predicted != 1):
        kind, text = example.edit_type, example.text
        if per_type.get(kind, 0) >= EXAMPLES_PER_TYPE:
            continue
        per_type[kind] = per_type.get(kind, 0) + 1
        words, at = [], 0
        for w in store.study_words(STUDY, example.example_id):
            words.append(ExampleWord(text[at:w.char_start], w.text, bool(w.gold), w.attention_rank < 3))
            at = w.char_end
        examples.append(StudyExample(kind, EDIT_LABELS.get(example.predicted, "not predicted"),
                                     example.predicted == 1, tuple(words),
                                     text[at:], all(w.top for w in words if w.gold)))
    examples.sort(key=lambda e: kinds.index(e.edit_type) if e.edit_type in kinds else len(kinds))
    shown = {"accuracy": "accuracy", "f1": "F1 (edited = positive)", "precision": "precision", "recall": "recall",
             "n_train": "training sentences", "n_validation": "validation sentences", "n_test": "test sentences",
             "n_measured": "edited test sentences measured",
             "n_flagged": "of them flagged as edited by the classifier", "epochs": "epochs"}
    best_heads = tuple((head_label(l, h), f"../heads/{head_label(l, h)}.html",
                        found[(shown_subset, ALL_EDITS, "head", l, h, "interpretable")].text)
                       for _, l, h in heads[:BEST])
    return StudyPage(
        "../", f"Edit identification (Stevens & Su 2020) · {meta.get('model', '')}",
        tuple((label, f"{metrics[k]:.3f}" if k in ("accuracy", "f1", "precision", "recall") else f"{int(metrics[k]):,}")
              for k, label in shown.items() if k in metrics),
        tuple((k.removeprefix(f"study.{STUDY}."), v) for k, v in sorted(meta.items())
              if k.startswith(f"study.{STUDY}.")),
        tuple(rows), shown_subset, MEASURES, tuple(paper),
        heatmap([(l, h, v) for v, l, h in heads], n_layers, n_heads), best_heads, layers, tuple(examples))
