"""Reads that several analyses' sections share, made once per report (sections.cached): the head statistics, the
head analysis (roles, dependency accuracy, the nearest heads and the map), the attributions, the faithfulness test
and the importance. Each returns what the report's database holds; a database without an analysis's tables gives
empty reads."""

from __future__ import annotations

from collections import defaultdict

from ...store.schema import FAITHFULNESS
from ...vocab import MOVED_STATS, NORM_STATS, STATS
from ..views.attribution import AttributionViews
from ..views.faithfulness import FaithfulnessViews
from ..views.headanalysis import HeadAnalyses
from ..views.importance import ImportanceViews
from . import cached


def stats(report) -> dict[tuple[int, int], dict[str, float]]:
    """(layer, head) -> statistic -> value."""

    def read() -> dict[tuple[int, int], dict[str, float]]:
        out: dict[tuple[int, int], dict[str, float]] = defaultdict(dict)
        if report.store.has_table("head_stats"):
            for r in report.store.head_stats():
                out[(r.layer, r.head)][r.stat] = r.value
        return out

    return cached(report, "stats", read)


def stat_names(report) -> list[str]:
    """The statistics the database has: vocab.STATS' order, then any it does not list (a newer build's); the
    shares by norm and what attention moves are shown on the head pages beside their shares by weight instead."""
    found = {s for values in stats(report).values() for s in values} - set(NORM_STATS) - set(MOVED_STATS)
    return [s for s in STATS if s in found] + sorted(found - set(STATS))


def head_analyses(report) -> HeadAnalyses:
    return cached(report, "head_analyses", lambda: HeadAnalyses(report.store, report.meta, stats(report),
                                                                report.n_layers, report.n_heads))


def attributions(report) -> AttributionViews:
    return cached(report, "attributions", lambda: AttributionViews(report.store, report.meta, report.n_layers,
                                                                   report.n_heads))


def faithfulness(report) -> FaithfulnessViews:
    return cached(report, "faithfulness", lambda: FaithfulnessViews(report.store.rows(FAITHFULNESS)))


def importance(report) -> ImportanceViews:
    return cached(report, "importance", lambda: ImportanceViews(report.store, report.meta, report.n_layers,
                                                                report.n_heads, head_analyses(report).roles))
