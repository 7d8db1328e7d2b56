"""The study page, studies/edits.html: Stevens & Su's measure for the report's model, beside the paper's figures."""

from __future__ import annotations

from dataclasses import dataclass

import altair as alt

from .charts import head_grid
from .studies.edits import ALL, PAPER, STUDY
from .studies.measure import MEASURES

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


def heatmap(values: list[tuple[int, int, float]], n_layers: int, n_heads: int) -> dict:
    return head_grid(
        values, n_layers, n_heads, "../heads/{label}.html",
        "share of edited sentences whose gold words are in the head's top 3",
        alt.Scale(domain=[0, 1], scheme="viridis"), "interpretable",
        f"Heatmap of every head, {n_layers} layers (rows) by {n_heads} heads (columns), coloured by the share of "
        f"edited test sentences whose gold words are all among the 3 words that head's first-token attention "
        f"ranks highest, from 0 to 1. The list beside names the best heads.")


def study_page(store, meta: dict[str, str]) -> StudyPage | None:
    if not store.has_table("study_metrics"):
        return None
    metrics = store.study_metrics(STUDY)
    if not metrics:
        return None
    found: dict[tuple, Cell] = {}
    counts: dict[str, int] = {}
    for kind, source, layer, head, measure, value, low, high, n in store.study_figures(STUDY):
        found[(kind, source, layer, head, measure)] = Cell(value, low, high)
        counts[kind] = n
    kinds = [ALL] + sorted(k for k in counts if k != ALL)
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
            f"L{best[1]}H{best[2]}" if best else "", best[3] if best else None))
    heads = sorted(((cell.value, l, h) for (k, s, l, h, m), cell in found.items()
                    if k == ALL and s == "head" and m == "interpretable"), key=lambda r: (-r[0], r[1], r[2]))
    layers = tuple((f"layer {l}", f"../layers/L{l}.html", found[(ALL, "layer", l, None, "interpretable")].text)
                   for l in range(n_layers) if (ALL, "layer", l, None, "interpretable") in found)
    labels = {0: "unedited", 1: "edited"}
    examples: list[StudyExample] = []
    per_type: dict[str, int] = {}
    for example_id, kind, predicted, text in store.study_examples(STUDY):
        if per_type.get(kind, 0) >= EXAMPLES_PER_TYPE:
            continue
        per_type[kind] = per_type.get(kind, 0) + 1
        words, at = [], 0
        for _idx, word, start, end, gold, rank in store.study_words(STUDY, example_id):
            words.append(ExampleWord(text[at:start], word, bool(gold), rank < 3))
            at = end
        examples.append(StudyExample(kind, labels.get(predicted, "not predicted"), tuple(words), text[at:],
                                     all(w.top for w in words if w.gold)))
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
        tuple((f"L{l}H{h}", f"../heads/L{l}H{h}.html", found[(ALL, "head", l, h, "interpretable")].text)
              for _, l, h in heads[:BEST]),
        layers, tuple(examples))
