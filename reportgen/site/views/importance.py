"""Which heads matter, on the pages: the overview's heatmap, the heads ranked with their ties, the references that
give the ablation a scale and the proxies' agreement with the ablation; a head page's importance with its interval
and rank (or its tie), its proxies, its effect on each probe, beside its role."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from ...store import schema
from ...vocab import head_label, layer_label, ordinal
from ..charts import overview as charts

SHOWN = 5  # the most and least important heads named on the overview (a cut that extends over a tie)
NAMED = 8  # the heads a head page names as tied with it, at most

# the proxies the overview compares with the ablation: (method, what it is)
PROXIES = (
    ("gradient_token_normalised", "Michel et al.'s I_h as their code computes it: |dL/dxi| per token, averaged over "
                                  "the tokens, divided by its layer's L2 norm"),
    ("gradient_token", "the same without the per-layer normalisation"),
    ("gradient", "reportgen's: |dL/dxi| per sentence, averaged over the sentences, not normalised"),
    ("gradient_normalised", "reportgen's, divided by its layer's L2 norm"),
)
PAPERS = PROXIES[0][0]  # Michel et al.'s own


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
class Reference:
    """A value on the ablation's measure that gives it a scale."""

    label: str  # 'two different sentences'
    definition: str  # what it is, in words
    value: Effect


@dataclass(frozen=True)
class ProxyAgreement:
    """One variant of the gradient proxy and its rank correlation with the ablation."""

    method: str
    about: str
    correlation: float | None  # Spearman's rho over the heads ablated; None where undefined


@dataclass(frozen=True)
class HeadImportanceView:
    """A head page's importance section."""

    measure: str  # what the value is, in words
    value: Effect | None  # over the corpus sentences, with its interval; None where not ablated exactly
    rank: str  # 'the 3rd most important of the 72 heads ablated', or its tie
    gradient: Effect | None  # reportgen's proxy (|.| per sentence)
    papers: Effect | None  # Michel et al.'s I_h (|.| per token, normalised per layer)
    flips: float | None  # a classifier's share of sentences whose prediction flips
    probes: tuple[Effect, ...]  # per probe
    sentences: str  # how many corpus sentences
    layer: Effect | None  # its whole layer removed, for scale
    references: tuple[Reference, ...]
    role: str = ""  # the head's role with its evidence, where it has one


@dataclass(frozen=True)
class ModelImportance:
    """The overview's section."""

    chart: dict | None
    measure: str
    exact: str  # which heads were ablated exactly
    sentences: str
    most: tuple[tuple[Effect, ...], ...]  # the tie groups from the top, cut after SHOWN heads at the end of a group
    least: tuple[tuple[Effect, ...], ...]  # from the bottom (the least important first), none of `most`
    first: tuple[Effect, ...]  # the most important head, or the heads tied for it
    last: tuple[Effect, ...]  # the least important head, or the heads tied for it
    separated: bool  # whether any two heads are told apart (more than one tie group)
    layers: tuple[Effect, ...]  # every head of the layer removed at once
    references: tuple[Reference, ...]
    proxies: tuple[ProxyAgreement, ...]
    compared: int  # heads in those correlations
    every: tuple[Effect, ...]  # the heatmap's text alternative

    @property
    def correlation(self) -> float | None:
        """Michel et al.'s own proxy's rank correlation with the ablation."""
        return next((p.correlation for p in self.proxies if p.method == PAPERS), None)

    @property
    def by_head(self) -> dict[str, Effect]:
        """Each head's importance by its label, for the table of heads."""
        return {e.label: e for e in self.every}


def spearman(pairs: list[tuple[float, float]]) -> float | None:
    """Spearman's rho of the pairs; None for fewer than 3 or a constant side (a head mask that changes nothing)."""
    from scipy.stats import spearmanr

    if len(pairs) < 3 or len({a for a, _ in pairs}) < 2 or len({b for _, b in pairs}) < 2:
        return None
    return float(spearmanr(*zip(*pairs)).statistic)


def names(labels: list[str], most: int = NAMED) -> str:
    """'L1H6', 'L1H6 and L1H9', 'L1H6, L1H9 and L1H2', or the first `most` and how many more."""
    if len(labels) > most:
        return ", ".join(labels[:most]) + f" and {len(labels) - most} more"
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]


def rank_words(rank: int, tied: list[str], n: int) -> str:
    """A head's place among the n heads ranked: 'the 3rd most important of the 72 heads ablated', or with the
    heads tied with it (no paired test over the same sentences separates them) the places they share."""
    of = f"of the {n} heads ablated"
    if not tied:
        if rank == 1:
            return f"the most important {of}"
        return f"the least important {of}" if rank == n else f"the {ordinal(rank)} most important {of}"
    end = rank + len(tied)
    where = " (the most important)" if rank == 1 else " (the least important)" if end == n else ""
    return (f"tied with {names(tied)} for places {rank} to {end} {of}{where}: no paired test over the same "
            f"sentences separates them")


class ImportanceViews:
    """Reads the importance rows once; builds the overview's and every head page's part."""

    def __init__(self, store, meta: dict[str, str], n_layers: int, n_heads: int, roles: dict):
        self.n_layers, self.n_heads, self.meta, self.roles = n_layers, n_heads, meta, roles
        self.corpus: dict[tuple[str, int, int | None], tuple[float, float | None, float | None]] = {}
        self.rank: dict[tuple[int, int], int] = {}
        self.probe: dict[tuple[int, int | None], dict[int, float]] = defaultdict(dict)
        for r in (store.head_importance() if store.has_table("head_importance") else ()):
            if r.scope == "corpus":
                self.corpus[(r.method, r.layer, r.head)] = (r.value, r.ci_low, r.ci_high)
                if r.method == "ablation" and r.head is not None and r.rank is not None:
                    self.rank[(r.layer, r.head)] = r.rank
            elif r.method == "ablation":
                self.probe[(r.layer, r.head)][r.sentence_id] = r.value
        self.ablated = sorted(((v[0], l, h) for (m, l, h), v in self.corpus.items() if m == "ablation"
                               and h is not None), key=lambda f: (self.rank.get((f[1], f[2]), 0), -f[0], f[1], f[2]))
        groups: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for _, l, h in self.ablated:
            groups[self.rank.get((l, h), 0)].append((l, h))
        self.groups = [groups[r] for r in sorted(groups)]  # tie groups, the most important first
        self.references = tuple(
            Reference("two different sentences", r.definition, Effect(r.reference, "", r.value, r.ci_low, r.ci_high))
            for r in store.rows(schema.IMPORTANCE_REFERENCE))

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

    def _cut(self, groups: list[list[tuple[int, int]]]) -> tuple[tuple[Effect, ...], ...]:
        """The groups up to the one that holds the SHOWN-th head (ranking.Ranking.top)."""
        out: list[tuple[Effect, ...]] = []
        count = 0
        for group in groups:
            if count >= SHOWN:
                break
            out.append(tuple(self._effect("ablation", l, h) for l, h in group))
            count += len(group)
        return tuple(out)

    def model(self) -> ModelImportance | None:
        if not self.present:
            return None
        values = [(l, h, v) for v, l, h in self.ablated]
        chart = charts.overview("importance", values, self.n_layers, self.n_heads, self.roles,
                                title=f"importance: {self.meta.get('importance_measure', '')}", digits=6,
                                value_format=".3g", log=True)
        proxies = tuple(ProxyAgreement(m, about, spearman(
            [(v, self.corpus[(m, l, h)][0]) for v, l, h in self.ablated if (m, l, h) in self.corpus]))
            for m, about in PROXIES if any(k[0] == m for k in self.corpus))
        compared = sum(1 for _, l, h in self.ablated if ("gradient", l, h) in self.corpus)
        most = self._cut(self.groups)
        shown = {e.label for group in most for e in group}
        least = self._cut([list(reversed(g)) for g in reversed(self.groups)
                           if not any(head_label(l, h) in shown for l, h in g)])
        first, last = (self._cut([g])[0] for g in (self.groups[0], list(reversed(self.groups[-1]))))
        separated = len(self.groups) > 1
        return ModelImportance(
            chart, self.meta.get("importance_measure", ""), self.meta.get("importance_exact", ""), self._sentences(),
            most if separated else (), least if separated else (), first, last, separated,
            tuple(e for layer in range(self.n_layers) if (e := self._effect("ablation", layer, None)) is not None),
            self.references, proxies, compared,
            tuple(e for layer in range(self.n_layers) for head in range(self.n_heads)
                  if (e := self._effect("ablation", layer, head)) is not None))

    def head(self, layer: int, head: int) -> HeadImportanceView | None:
        if not self.present:
            return None
        value = self._effect("ablation", layer, head, "../")
        if value is not None and (layer, head) in self.rank:
            group = next(g for g in self.groups if (layer, head) in g)
            rank = rank_words(self.rank[(layer, head)], [head_label(*k) for k in group if k != (layer, head)],
                              len(self.ablated))
        else:
            rank = "not ablated exactly: the gradient proxy ranks it neither among the highest nor the lowest"
        flips = self.corpus.get(("flip", layer, head))
        probes = tuple(Effect(f"sentence {sid}", f"../sentences/{sid}.html", v)
                       for sid, v in sorted(self.probe.get((layer, head), {}).items()))
        return HeadImportanceView(self.meta.get("importance_measure", ""), value, rank,
                                  self._effect("gradient", layer, head, "../"),
                                  self._effect(PAPERS, layer, head, "../"), flips[0] if flips else None, probes,
                                  self._sentences(), self._effect("ablation", layer, None, "../"), self.references,
                                  self.roles.get((layer, head), ("", ""))[1])
