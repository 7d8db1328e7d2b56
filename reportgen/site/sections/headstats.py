"""The head statistics on the pages: a head page's statistics among every head's (with the shares by what attention
moves), and the overview's heatmaps, one per statistic, each cell labelled with its head's role."""

from __future__ import annotations

from dataclasses import dataclass

from ...unit import Section
from ...vocab import MOVED_GROUPS, MOVED_SUFFIX, ROLE_CODES, ROLES, STAT_DESCRIPTIONS
from ..charts import overview as charts
from ..views.headanalysis import ROLE_MEANINGS, NormShare, StatRank
from .readers import head_analyses, stat_names, stats

TEMPLATE = "sections/headstats.html"


@dataclass(frozen=True)
class Moved:
    """What a head's attention moves from a group of keys, in the hidden state's units (Kobayashi et al.'s figures:
    the mean over query tokens of the sum over the group's keys of |alpha_ij f(x_j)|)."""

    name: str  # as in head_stats.stat: 'first_moved'
    description: str
    value: float


@dataclass(frozen=True)
class HeadStatistics:
    """A head page's statistics: its value and rank of each, every head's as strips, the shares by norm, and what
    attention moves in norm units."""

    label: str
    ranks: tuple[StatRank, ...]
    strips: dict | None  # chart of every head's statistics, this head's highlighted
    by_norm: tuple[NormShare, ...]  # each share by weight beside its share of what attention moves
    moved: tuple[Moved, ...] = ()  # Kobayashi et al.'s absolute norms (`<share>_moved`)


@dataclass(frozen=True)
class Statistic:
    """One head statistic of the overview: its menu entry, its table column and its heatmap."""

    name: str  # as in head_stats.stat
    description: str
    scale: str  # 'share of attention, 0–1', or its unit (entropy: 'nats')
    title: str  # the legend's title: the description with the scale
    chart: dict  # the heatmap of every head coloured by this statistic, its legend naming it


@dataclass(frozen=True)
class Glance:
    """The overview's heatmaps, one per statistic (a menu picks the one shown), with the key of the roles that
    label their cells."""

    statistics: tuple[Statistic, ...]  # in vocab.STATS order; the first is shown first
    role_key: tuple[tuple[str, str, str], ...]  # (code, role, meaning) of the heatmap's cell labels

    @property
    def overview_chart(self) -> dict:
        """The heatmap shown first (and written with --figures)."""
        return self.statistics[0].chart

    @property
    def overview_specs(self) -> dict[str, dict]:
        """Every statistic's heatmap by name, for the page script that swaps them."""
        return {s.name: s.chart for s in self.statistics}


def statistics(report) -> tuple[Statistic, ...]:
    """Every statistic of the overview, with its heatmap (read once per report)."""
    from . import cached

    def make() -> tuple[Statistic, ...]:
        found, roles = stats(report), head_analyses(report).roles
        return tuple(
            Statistic(s, STAT_DESCRIPTIONS.get(s, s), charts.stat_scale(s), charts.stat_title(s),
                      charts.overview(s, [(layer, head, values[s]) for (layer, head), values in sorted(found.items())
                                          if s in values], report.n_layers, report.n_heads, roles))
            for s in stat_names(report) or ["entropy"])

    return cached(report, "statistics", make)


def head_view(report, layer: int, head: int) -> HeadStatistics:
    part = head_analyses(report).head(layer, head, stat_names(report))
    mine = stats(report).get((layer, head), {})
    moved = tuple(Moved(n, STAT_DESCRIPTIONS.get(n, n), mine[n]) for g in MOVED_GROUPS
                  if (n := f"{g}{MOVED_SUFFIX}") in mine)
    return HeadStatistics(part.label, part.ranks, part.strips, part.by_norm, moved)


def glance(report) -> Glance:
    return Glance(statistics(report), tuple((ROLE_CODES[r], r, ROLE_MEANINGS[r]) for r in ROLES))


SECTIONS = (
    Section("head", "statistics", "Statistics over the corpus", TEMPLATE, "head", 10, head_view,
            figures=lambda v: [("statistics-strips", v.strips)] if v.strips is not None else []),
    Section("index", "glance", "Every head at a glance", TEMPLATE, "index", 20, glance,
            figures=lambda v: [("overview", v.overview_chart)]),
)
