"""Which heads matter, on the pages: the overview's heatmap, ranks and the proxy's agreement with the ablation; a
head page's importance with its interval and rank, its proxy, its effect on each probe, beside its role."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from ...vocab import head_label, layer_label
from ..charts import overview as charts
from .headanalysis import ordinal

SHOWN = 5  # the most and least important heads named on the overview


@dataclass(frozen=True)
class Effect:
    label: str  # L3H7, 'layer 3' or 'sentence 4'
    href: str
    value: float
    low: float | None = None
    high: float | None = None

    @property
    def text(self) -> str:
        shown = f"{self.value:.3g}"
        return shown + (f" [{self.low:.3g}, {self.high:.3g}]" if self.low is not None else "")


@dataclass(frozen=True)
class HeadImportanceView:
    """A head page's importance section."""

    measure: str  # what the value is, in words
    value: Effect | None  # over the corpus sentences, with its interval; None where not ablated exactly
    rank: str  # 'the 3rd most important of 72 heads'
    gradient: Effect | None
    flips: float | None  # a classifier's share of sentences whose prediction flips
    probes: tuple[Effect, ...]  # per probe
    sentences: str  # how many corpus sentences
    role: str = ""  # the head's role with its evidence, where it has one


@dataclass(frozen=True)
class ModelImportance:
    """The overview's section."""

    chart: dict | None
    measure: str
    exact: str  # which heads were ablated exactly
    sentences: str
    most: tuple[Effect, ...]
    least: tuple[Effect, ...]
    layers: tuple[Effect, ...]  # every head of the layer removed at once
    correlation: float | None  # Spearman's rho between the proxy and the ablation over the heads ablated
    compared: int  # heads in that correlation
    every: tuple[Effect, ...]  # the heatmap's text alternative

    @property
    def by_head(self) -> dict[str, Effect]:
        """Each head's importance by its label, for the table of heads."""
        return {e.label: e for e in self.every}


class ImportanceViews:
    """Reads the importance rows once; builds the overview's and every head page's part."""

    def __init__(self, store, meta: dict[str, str], n_layers: int, n_heads: int, roles: dict):
        self.n_layers, self.n_heads, self.meta, self.roles = n_layers, n_heads, meta, roles
        self.corpus: dict[tuple[str, int, int | None], tuple[float, float | None, float | None]] = {}
        self.probe: dict[tuple[int, int | None], dict[int, float]] = defaultdict(dict)
        for r in (store.head_importance() if store.has_table("head_importance") else ()):
            if r.scope == "corpus":
                self.corpus[(r.method, r.layer, r.head)] = (r.value, r.ci_low, r.ci_high)
            elif r.method == "ablation":
                self.probe[(r.layer, r.head)][r.sentence_id] = r.value
        self.ablated = sorted(((v[0], l, h) for (m, l, h), v in self.corpus.items() if m == "ablation"
                               and h is not None), key=lambda f: (-f[0], f[1], f[2]))
        self.rank = {(l, h): i + 1 for i, (_, l, h) in enumerate(self.ablated)}

    @property
    def present(self) -> bool:
        return bool(self.ablated)

    def _effect(self, method: str, layer: int, head: int | None, root: str = "") -> Effect | None:
        found = self.corpus.get((method, layer, head))
        if found is None:
            return None
        label = head_label(layer, head) if head is not None else f"layer {layer}"
        href = f"{root}heads/{label}.html#importance" if head is not None else f"{root}layers/{layer_label(layer)}.html"
        return Effect(label, href, *found)

    def _sentences(self) -> str:
        return self.meta.get("importance_sentences_measured", self.meta.get("option.importance_sentences", ""))

    def model(self) -> ModelImportance | None:
        if not self.present:
            return None
        from scipy.stats import spearmanr

        values = [(l, h, v) for v, l, h in self.ablated]
        chart = charts.overview("importance", values, self.n_layers, self.n_heads, self.roles,
                                title=f"importance: {self.meta.get('importance_measure', '')}", digits=6,
                                value_format=".3g")
        pairs = [(v, self.corpus[("gradient", l, h)][0]) for v, l, h in self.ablated
                 if ("gradient", l, h) in self.corpus]
        # undefined (None) for fewer than 3 heads or a constant side (a head mask that changes nothing)
        constant = len(pairs) < 3 or len({a for a, _ in pairs}) < 2 or len({b for _, b in pairs}) < 2
        rho = None if constant else float(spearmanr(*zip(*pairs)).statistic)
        effects = [self._effect("ablation", l, h) for _, l, h in self.ablated]
        return ModelImportance(
            chart, self.meta.get("importance_measure", ""), self.meta.get("importance_exact", ""), self._sentences(),
            tuple(effects[:SHOWN]), tuple(reversed(effects[-SHOWN:])),
            tuple(e for layer in range(self.n_layers) if (e := self._effect("ablation", layer, None)) is not None),
            rho, len(pairs),
            tuple(e for layer in range(self.n_layers) for head in range(self.n_heads)
                  if (e := self._effect("ablation", layer, head)) is not None))

    def head(self, layer: int, head: int) -> HeadImportanceView | None:
        if not self.present:
            return None
        value = self._effect("ablation", layer, head, "../")
        rank = (f"the {ordinal(self.rank[(layer, head)])} most important of the {len(self.ablated)} heads ablated"
                if value is not None else "not ablated exactly: the gradient proxy ranks it neither among the "
                                          "highest nor the lowest")
        flips = self.corpus.get(("flip", layer, head))
        probes = tuple(Effect(f"sentence {sid}", f"../sentences/{sid}.html", v)
                       for sid, v in sorted(self.probe.get((layer, head), {}).items()))
        return HeadImportanceView(self.meta.get("importance_measure", ""), value, rank,
                                  self._effect("gradient", layer, head, "../"), flips[0] if flips else None, probes,
                                  self._sentences(), self.roles.get((layer, head), ("", ""))[1])
