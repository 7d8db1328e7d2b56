"""index.html: the model card, the layers x heads overview (one heatmap per statistic), the head analysis
(table of heads, Table 1, the map), the agreement with the gradients, the probe list and the studies."""

from __future__ import annotations

from dataclasses import dataclass

from ...vocab import ROLE_CODES, ROLES, STAT_DESCRIPTIONS
from ..charts import overview as charts
from .attribution import ModelAgreement
from .common import Link, Report
from ...patterns import special_names
from .headanalysis import ROLE_MEANINGS, HeadOverview
from .importance import ModelImportance
from .summary import Finding, findings


@dataclass(frozen=True)
class Statistic:
    """One head statistic of the overview: its menu entry, its table column and its heatmap."""

    name: str  # as in head_stats.stat
    description: str
    scale: str  # 'share of attention, 0–1', or its unit (entropy: 'nats')
    title: str  # the legend's title: the description with the scale
    chart: dict  # the heatmap of every head coloured by this statistic, its legend naming it


@dataclass(frozen=True)
class IndexPage:
    """index.html: the model card, the layers x heads overview (one heatmap per statistic, a menu picks the one
    shown; the same numbers as a table) and the probe list."""

    root: str
    title: str
    model: tuple[tuple[str, str], ...]
    corpus: tuple[tuple[str, str], ...]
    statistics: tuple[Statistic, ...]  # in vocab.STATS order; the first is shown first
    heads: HeadOverview  # the table of heads, Table 1, the map
    probes: tuple[tuple[int, str], ...]
    agreement: ModelAgreement | None = None  # attention against integrated gradients, every head
    studies: tuple[Link, ...] = ()  # the study pages the report has
    findings: tuple[Finding, ...] = ()  # the written summary that opens the page (views/summary.py)
    toc: tuple[Link, ...] = ()  # the page's sections
    role_key: tuple[tuple[str, str, str], ...] = ()  # (code, role, meaning) of the heatmap's cell labels
    importance: ModelImportance | None = None  # which heads matter: ablation and the gradient proxy

    @property
    def overview_chart(self) -> dict:
        """The heatmap shown first (and written with --figures)."""
        return self.statistics[0].chart

    @property
    def overview_specs(self) -> dict[str, dict]:
        """Every statistic's heatmap by name, for the page script that swaps them."""
        return {s.name: s.chart for s in self.statistics}


def index_page(report: Report) -> IndexPage:
    m = report.meta
    counts = report.store.counts()
    model = (("model", m["model"]), ("architecture", m["architecture"]), ("layers", m["n_layers"]),
             ("heads per layer", m["n_heads"]), ("hidden size", m["d_model"]), ("head size", m["d_head"]),
             ("token limit", m["max_length"]))
    corpus = (("corpus sentences", f"{counts.sentences:,}"), ("corpus words", f"{counts.words:,}"),
              ("corpus tokens (special tokens included)", f"{counts.tokens:,}"),
              ("of them special tokens ([CLS], [SEP], ...)", f"{counts.special_tokens:,}"),
              ("truncated sentences", str(counts.truncated)),
              ("repeated sentences (kept)", str(counts.duplicates)),
              ("probe sentences", str(counts.probes)), ("matches kept per token and space", m["top_k"]))
    stats, names = report.stats, report.stat_names
    roles = report.head_analyses.roles
    statistics = tuple(
        Statistic(s, STAT_DESCRIPTIONS.get(s, s), charts.stat_scale(s), charts.stat_title(s),
                  charts.overview(s, [(layer, head, values[s]) for (layer, head), values in sorted(stats.items())
                                      if s in values], report.n_layers, report.n_heads, roles))
        for s in names or ["entropy"])
    heads = report.head_analyses.overview(names, counts.sentences)
    agreement = report.attributions.model()
    targets = report.attributions.targets
    importance = report.importance.model()
    written = findings(m, [t.target for t in targets.values()], {t.readout for t in targets.values()}, heads,
                       stats, special_names(report.store.tokens_of(report.probes[0][0])) if report.probes else {},
                       agreement, report.attributions.word_share(), report.study, importance)
    sections = [("#findings", "Findings"), ("#model", "Model and data"), ("#glance", "Every head at a glance"),
                ("#roles", "Roles and the table of heads"), ("#table1", "Table 1: dependency relations"),
                ("#head-map-section", "Map of the heads"), ("#importance", "Which heads matter"),
                ("#agreement", "Attention and gradients"),
                ("#studies", "Studies"), ("#probes", "Probe sentences")]
    present = {"#table1": bool(heads.table1), "#head-map-section": heads.map is not None,
               "#agreement": agreement is not None, "#studies": report.study is not None,
               "#importance": importance is not None}
    toc = tuple(Link(href, label) for href, label in sections if present.get(href, True))
    return IndexPage("", f"reportgen · {m['model']}", model, corpus, statistics, heads, tuple(report.probes),
                     agreement,
                     (Link("studies/edits.html", "Is the attention interpretable? Edit identification "
                                                 "(Stevens & Su 2020)"),) if report.study else (),
                     written, toc, tuple((ROLE_CODES[r], r, ROLE_MEANINGS[r]) for r in ROLES), importance)
