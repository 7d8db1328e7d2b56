"""The study page, studies/edits.html: Stevens & Su's measure for the report's model, beside the paper's figures."""

from __future__ import annotations

from dataclasses import dataclass

from ...vocab import ALL_EDITS, EDIT_LABELS, MEASURES, PAPER, STUDY, head_label, layer_label
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
    """One edit type's figures: the paper's source (final-layer [CLS] attention summed over heads) for every
    measure, integrated gradients and random rankings for 'interpretable', the best single head."""

    edit_type: str
    n: int
    attention: tuple[Cell, ...]  # one per MEASURES
    gradients: Cell | None
    random: tuple[Cell, ...]  # one per MEASURES
    best_head: str
    best_head_cell: Cell | None


@dataclass(frozen=True)
class ExampleWord:
    before: str
    text: str
    gold: bool
    top: bool  # among the top 3 by final-layer [CLS] attention


@dataclass(frozen=True)
class StudyExample:
    edit_type: str
    predicted: str
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
    measures: tuple[str, ...]
    paper: tuple[tuple[str, float, float], ...]
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
    counts: dict[str, int] = {}
    for r in store.study_figures(STUDY):
        found[(r.edit_type, r.source, r.layer, r.head, r.measure)] = Cell(r.value, r.ci_low, r.ci_high)
        counts[r.edit_type] = r.n
    kinds = [ALL_EDITS] + sorted(k for k in counts if k != ALL_EDITS)
    n_layers = 1 + max((k[2] for k in found if k[1] == "head"), default=0)
    n_heads = 1 + max((k[3] for k in found if k[1] == "head"), default=0)
    rows = []
    for kind in kinds:
        heads = [(cell.value, l, h, cell) for (k, s, l, h, m), cell in found.items()
                 if k == kind and s == "head" and m == "interpretable"]
        best = min(heads, key=lambda r: (-r[0], r[1], r[2]), default=None)
        rows.append(TypeRow(
            kind, counts[kind],
            tuple(found[(kind, "cls_sum", n_layers - 1, None, m)] for m in MEASURES),
            found.get((kind, "integrated_gradients", None, None, "interpretable")),
            tuple(found[(kind, "random", None, None, m)] for m in MEASURES),
            head_label(best[1], best[2]) if best else "", best[3] if best else None))
    heads = sorted(((cell.value, l, h) for (k, s, l, h, m), cell in found.items()
                    if k == ALL_EDITS and s == "head" and m == "interpretable"), key=lambda r: (-r[0], r[1], r[2]))
    layers = tuple((f"layer {l}", f"../layers/{layer_label(l)}.html",
                    found[(ALL_EDITS, "layer", l, None, "interpretable")].text)
                   for l in range(n_layers) if (ALL_EDITS, "layer", l, None, "interpretable") in found)
    examples: list[StudyExample] = []
    per_type: dict[str, int] = {}
    for example in store.study_examples(STUDY):
        kind, text = example.edit_type, example.text
        if per_type.get(kind, 0) >= EXAMPLES_PER_TYPE:
            continue
        per_type[kind] = per_type.get(kind, 0) + 1
        words, at = [], 0
        for w in store.study_words(STUDY, example.example_id):
            words.append(ExampleWord(text[at:w.char_start], w.text, bool(w.gold), w.attention_rank < 3))
            at = w.char_end
        examples.append(StudyExample(kind, EDIT_LABELS.get(example.predicted, "not predicted"), tuple(words),
                                     text[at:], all(w.top for w in words if w.gold)))
    examples.sort(key=lambda e: kinds.index(e.edit_type) if e.edit_type in kinds else len(kinds))
    shown = {"accuracy": "accuracy", "f1": "F1 (edited = positive)", "precision": "precision", "recall": "recall",
             "n_train": "training sentences", "n_validation": "validation sentences", "n_test": "test sentences",
             "n_measured": "edited test sentences measured", "epochs": "epochs"}
    return StudyPage(
        "../", f"Edit identification (Stevens & Su 2020) · {meta.get('model', '')}",
        tuple((label, f"{metrics[k]:.3f}" if k in ("accuracy", "f1", "precision", "recall") else f"{int(metrics[k]):,}")
              for k, label in shown.items() if k in metrics),
        tuple((k.removeprefix(f"study.{STUDY}."), v) for k, v in sorted(meta.items())
              if k.startswith(f"study.{STUDY}.")),
        tuple(rows), MEASURES, PAPER,
        heatmap([(l, h, v) for v, l, h in heads], n_layers, n_heads),
        tuple((head_label(l, h), f"../heads/{head_label(l, h)}.html",
               found[(ALL_EDITS, "head", l, h, "interpretable")].text)
              for _, l, h in heads[:BEST]),
        layers, tuple(examples))
