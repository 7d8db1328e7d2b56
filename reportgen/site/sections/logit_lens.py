"""The logit lens on the sentence pages (analyses/logit_lens.py): the layers x positions grid of a probe (the
familiar logit-lens chart) and its table; a report without the lens (an encoder, a classifier, the option at 0)
says in one line why there is none."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from ...store.lens_tables import LOGIT_LENS, LOGIT_LENS_TOP
from ...unit import Section
from ..charts.lens import lens_chart

TEMPLATE = "sections/logit_lens.html"


@dataclass(frozen=True)
class LensCell:
    top: str  # the layer's most probable token
    prob: str  # its probability, '0.123'
    hit: bool  # it is the actual next token
    next: str  # the actual next token's probability and rank, '0.012, rank 7', or '' at the last token
    tops: str  # the most probable tokens with their probabilities, in words
    kl: str


@dataclass(frozen=True)
class LensRow:
    layer: str  # 'emb' or 'L3'
    cells: tuple[LensCell, ...]


@dataclass(frozen=True)
class SentenceLens:
    """A sentence page's section: the grid (chart and table, the last layer first), or `absent`, the one line that
    says why there is no lens."""

    absent: str
    positions: tuple[str, ...] = ()  # each position's token, '3 cat'
    nexts: tuple[str, ...] = ()  # the actual next token at each position ('' at the last)
    rows: tuple[LensRow, ...] = ()
    top: int = 0
    chart: dict | None = None


def layer_name(layer: int) -> str:
    return "emb" if layer < 0 else f"L{layer}"


def _absent(report) -> SentenceLens | None:
    status = report.meta.get("logit_lens")
    if status is None:  # a database from before the lens: nothing to say
        return None
    return SentenceLens(f"No logit lens: {status.removeprefix('none: ')}.")


def sentence_view(report, sentence_id: int) -> SentenceLens | None:
    store = report.store
    rows = store.rows(LOGIT_LENS, sentence_id=sentence_id)
    if not rows:
        return _absent(report)
    tops: dict = defaultdict(list)
    for r in store.rows(LOGIT_LENS_TOP, sentence_id=sentence_id):
        tops[(r.layer, r.token_idx)].append(r)
    tokens = report.probe_tokens[sentence_id]
    positions = tuple(f"{t.token_idx} {t.text}" for t in tokens)
    nexts = tuple(tokens[i + 1].text if i + 1 < len(tokens) else "" for i in range(len(tokens)))
    by_layer: dict = defaultdict(dict)
    for r in rows:
        by_layer[r.layer][r.token_idx] = r
    layers = sorted(by_layer)
    grid, cells = [], []
    for y, layer in enumerate(layers):
        line = []
        for pos in range(len(tokens)):
            r, best = by_layer[layer][pos], sorted(tops[(layer, pos)], key=lambda t: t.rank)
            first = best[0]
            nxt = "" if r.next_token_id is None else f"{r.next_prob:.3f}, rank {r.next_rank}"
            cell = LensCell(first.token, f"{first.prob:.3f}", first.token_id == r.next_token_id, nxt,
                            ", ".join(f"{t.token} {t.prob:.3f}" for t in best), f"{r.kl:.3f}")
            line.append(cell)
            cells.append({"pos": pos, "layer": y, "top": cell.top, "p": round(first.prob, 4), "hit": cell.hit,
                          "next": f"{nexts[pos]} {nxt}" if nxt else "none (the last token)", "kl": round(r.kl, 4),
                          "tops": cell.tops})
        grid.append(LensRow(layer_name(layer), tuple(line)))
    names = [layer_name(layer) for layer in layers]
    description = (f"Logit lens of sentence {sentence_id}: a grid of {len(names)} layers (rows, the embeddings at the "
                   f"bottom, the last block at the top) by {len(positions)} positions (columns); each cell shows the "
                   f"token that layer predicts most probably after the position's token, coloured by its "
                   f"probability, outlined where it is the actual next token. The table below gives the same "
                   f"numbers.")
    return SentenceLens("", positions, nexts, tuple(reversed(grid)), len(tops[(layers[0], 0)]),
                        lens_chart(cells, positions, names, description))


SECTIONS = (
    Section("sentence", "logit-lens", "What each layer predicts", TEMPLATE, "sentence", 12, sentence_view,
            figures=lambda v: [("logit-lens-chart", v.chart)] if v.chart else []),
)
