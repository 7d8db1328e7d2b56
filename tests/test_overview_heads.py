"""The overview's head analysis as the reader sees it, each number against the database: Table 1 (the best head of
each relation and direction, its ties, the margin and its interval, bold only where significant, the glosses),
the best relation of the table of heads (significant cells only), and the map of the heads (its fit to the
measured distances computed here, its text alternative)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from bs4 import BeautifulSoup
from conftest import site_rows
from scipy.stats import spearmanr

from reportgen.vocab import RELATION_GLOSSES

pytestmark = pytest.mark.build



@pytest.fixture(scope="module")
def site(analysis_site) -> Path:
    return analysis_site


def _rows(site: Path, sql: str) -> list[tuple]:
    return site_rows(site, sql)


def _page(site: Path, rel: str = "index.html") -> BeautifulSoup:
    return BeautifulSoup((site / rel).read_text(encoding="utf-8"), "html.parser")


def test_table1_shows_the_best_head_its_ties_margin_interval_and_bold_only_where_significant(site):
    cells = defaultdict(list)
    for row in _rows(site, "SELECT relation, direction, layer, head, support, accuracy, baseline_offset, "
                           "baseline_accuracy, margin_low, margin_high, significant FROM dep_accuracy"):
        cells[(row[0], row[1])].append(row)
    expected = {}
    for (relation, direction), found in cells.items():
        if relation in ("ROOT", "punct"):
            continue
        best = max(r[5] for r in found)
        heads = sorted((r for r in found if r[5] == best), key=lambda r: (r[2], r[3]))
        expected[(relation, direction)] = heads
    table = _page(site).select_one("table.table1")
    assert table is not None
    shown = 0
    for tr in table.select("tbody tr"):
        th = tr.select_one("th")
        relation = th.contents[0].strip()
        gloss = th.select_one(".gloss")
        assert (gloss.get_text() if gloss else "") == (f"({RELATION_GLOSSES[relation]})"
                                                       if relation in RELATION_GLOSSES else "")
        tds = tr.select("td")
        for i, direction in enumerate(("dependent_to_head", "head_to_dependent")):
            head_cell, accuracy, baseline, margin = tds[1 + 4 * i: 5 + 4 * i]
            heads = expected.pop((relation, direction))
            first = heads[0]
            links = [a.get_text() for a in head_cell.select("a")]
            assert links == [f"L{r[2]}H{r[3]}" for r in heads], (relation, direction)  # the best, then its ties
            assert accuracy.get_text() == f"{first[5]:.2f}"
            assert baseline.get_text() == f"{first[7]:.2f} ({first[6]:+d})"
            assert margin.get_text() == (f"{first[5] - first[7]:+.2f} [{first[8]:+.2f}, {first[9]:+.2f}]")
            assert ("beats" in (margin.get("class") or [])) == bool(first[10])
            assert ("beats" in (accuracy.get("class") or [])) == bool(first[10])
            shown += 1
    assert shown and not expected  # every relation with a row in the database, and nothing else
    assert "significant" in _page(site).select_one("#table1-legend").get_text()


def test_best_relation_of_the_table_of_heads_is_a_significant_cell_or_none(site):
    significant = defaultdict(list)
    for layer, head, relation, direction, accuracy, baseline in _rows(
            site, "SELECT layer, head, relation, direction, accuracy, baseline_accuracy FROM dep_accuracy "
                  "WHERE significant AND relation NOT IN ('all') AND accuracy - baseline_accuracy >= 0.10"):
        significant[f"L{layer}H{head}"].append((relation, direction.replace("_", " ")))
    table = _page(site).select_one("table#head-grid")
    columns = [th.get_text() for th in table.select("thead th")]
    at = columns.index("best relation") - 1
    for tr in table.select("tbody tr"):
        label = tr.select_one("th").get_text()
        best = tr.select("td")[at].get_text()
        if significant.get(label):
            assert tuple(best.split(", ")) in significant[label], label
        else:
            assert best == "none", label


def test_the_map_states_its_fit_to_the_measured_distances_and_lists_its_points(site):
    points = _rows(site, "SELECT layer, head, x, y FROM head_map ORDER BY layer, head")
    index = {(l, h): i for i, (l, h, _, _) in enumerate(points)}
    measured = np.zeros((len(points), len(points)))
    for la, ha, lb, hb, d in _rows(site, "SELECT layer_a, head_a, layer_b, head_b, distance FROM head_distance"):
        measured[index[(la, ha)], index[(lb, hb)]] = d
    xy = np.array([[x, y] for _, _, x, y in points])
    drawn_pairs, measured_pairs, squared, total = [], [], 0.0, 0.0
    for i in range(len(points)):
        for j in range(i + 1, len(points)):
            drawn = float(np.hypot(*(xy[i] - xy[j])))
            drawn_pairs.append(drawn)
            measured_pairs.append(measured[i, j])
            squared += (drawn - measured[i, j]) ** 2
            total += measured[i, j] ** 2
    rho = spearmanr(drawn_pairs, measured_pairs).statistic
    stress = (squared / total) ** 0.5
    page = _page(site)
    fit = page.select_one("#map-fit").get_text()
    assert f"at {rho:.2f}" in fit and f"stress of {stress:.2f}" in fit
    rows = [[c.get_text() for c in tr.select("th, td")] for tr in page.select("#map-table tbody tr")]
    roles = dict(((l, h), r) for l, h, r in _rows(site, "SELECT layer, head, role FROM head_roles"))
    assert [r[:4] for r in rows] == [[f"L{l}H{h}", f"{x:.3f}", f"{y:.3f}", roles[(l, h)]] for l, h, x, y in points]


def test_head_pages_show_each_share_by_weight_and_by_what_it_moves(site):
    stored = {(l, h, s): v for l, h, s, v in _rows(site, "SELECT layer, head, stat, value FROM head_stats")}
    for layer, head in ((0, 0), (1, 2)):
        rows = [[c.get_text() for c in tr.select("th, td")]
                for tr in _page(site, f"heads/L{layer}H{head}.html").select("table.by-norm tbody tr")]
        shares = [s for s in ("self", "prev", "next", "first", "last", "special", "punct")
                  if (layer, head, f"{s}_by_norm") in stored]
        assert len(shares) >= 6 and [r[0].split(":")[0] for r in rows] == shares
        for share, row in zip(shares, rows):
            assert row[1] == f"{stored[(layer, head, share)]:.3f}"
            assert row[2] == f"{stored[(layer, head, share + '_by_norm')]:.3f}"
            every = [v for (l, h, s), v in stored.items() if s == share + "_by_norm"]
            # ranked as the page shows the values, to 3 decimals (headanalysis.rank_text: equal shown, equal rank)
            above = sum(round(v, 3) > round(stored[(layer, head, share + "_by_norm")], 3) for v in every)
            assert row[3].startswith(("highest", "lowest", f"{above + 1}", "equal"))
