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


def _verdict(significant, below, claimed):
    if significant:
        return {True: "beats position and the random model", False: "beats position, not the random model",
                None: "beats position"}[claimed]
    return "significantly below position" if below else "not significant"


def test_table1_shows_the_leading_heads_the_held_out_pick_the_control_and_the_deciding_interval(site):
    leads = defaultdict(list)
    for row in _rows(site, "SELECT relation, direction, layer, head, support, accuracy, baseline_offset, "
                           "baseline_accuracy, margin_low, margin_high FROM dep_accuracy WHERE table1_lead"):
        leads[(row[0], row[1])].append(row)
    held = {(r[0], r[1]): r for r in _rows(site, "SELECT relation, direction, selected_layer, selected_head, "
                                                 "held_out_margin, held_out_low_corrected, held_out_high_corrected, "
                                                 "held_out_significant, held_out_below, control_layer, control_head, "
                                                 "control_margin, claimed FROM dep_table1")}
    expected = {k: sorted(v, key=lambda r: (-r[5], r[2], r[3])) for k, v in leads.items()
                if k[0] not in ("ROOT", "punct")}
    table = _page(site).select_one("table.table1")
    assert table is not None
    shown, relation = 0, None
    for tr in table.select("tbody tr"):
        th = tr.select_one("th")
        tds = tr.select("td")
        if th is not None:  # a relation's first row: its name, gloss and arcs
            relation = th.contents[0].strip()
            gloss = th.select_one(".gloss")
            assert (gloss.get_text() if gloss else "") == (f"({RELATION_GLOSSES[relation]})"
                                                           if relation in RELATION_GLOSSES else "")
            tds = tds[1:]
        direction = tds[0].get_text().replace(" ", "_")
        heads = expected.pop((relation, direction))
        first = heads[0]
        assert [a.get_text() for a in tds[1].select("a")] == [f"L{r[2]}H{r[3]}" for r in heads]  # the lead, its ties
        assert tds[2].get_text() == f"{first[5]:.2f}"
        assert tds[3].get_text() == f"{first[7]:.2f} ({first[6]:+d})"
        assert tds[4].get_text() == f"{first[5] - first[7]:+.2f} [{first[8]:+.2f}, {first[9]:+.2f}]"
        h = held.get((relation, direction))
        if h is None:  # a half of the blocks holds none of its dependents
            assert [td.get_text() for td in tds[5:9]] == ["–", "–", "–", "no held-out figure"]
            shown += 1
            continue
        assert tds[5].get_text() == f"L{h[2]}H{h[3]}"
        # the interval shown beside the verdict is the corrected one the verdict rests on
        assert tds[6].get_text() == f"{h[4]:+.2f} [{h[5]:+.2f}, {h[6]:+.2f}]"
        assert h[7] == (h[5] > 0) and h[8] == (h[6] < 0)
        assert tds[7].get_text() == (f"L{h[9]}H{h[10]}: {h[11]:+.2f}" if h[9] is not None else "–")
        assert tds[8].get_text() == _verdict(h[7], h[8], h[12])
        bold = bool(h[7]) and h[12] is not False
        assert ("beats" in (tds[8].get("class") or [])) == bold == ("beats" in (tds[6].get("class") or []))
        shown += 1
    assert shown and not expected  # every relation with a row in the database, and nothing else
    assert "corrected" in _page(site).select_one("#table1-legend").get_text()


def test_best_relation_of_the_table_of_heads_is_a_leading_syntax_cell_or_none(site):
    leading = defaultdict(list)
    for layer, head, relation, direction, accuracy, baseline in _rows(
            site, "SELECT layer, head, relation, direction, accuracy, baseline_accuracy FROM dep_accuracy "
                  "WHERE significant AND syntax_lead AND relation NOT IN ('all') AND accuracy - baseline_accuracy "
                  ">= 0.10 - 1e-12 AND accuracy >= 0.30"):
        leading[f"L{layer}H{head}"].append((accuracy - baseline, relation, direction.replace("_", " ")))
    table = _page(site).select_one("table#head-grid")
    columns = [th.get_text() for th in table.select("thead th")]
    at = columns.index("best relation") - 1
    for tr in table.select("tbody tr"):
        label = tr.select_one("th").get_text()
        best = tr.select("td")[at].get_text()
        if leading.get(label):
            cells = sorted(leading[label], key=lambda c: (-c[0], c[1], c[2]))
            text = f"{cells[0][1]}, {cells[0][2]}"
            if len(cells) > 1:
                text += " (tied: " + "; ".join(f"{r}, {d}" for _, r, d in cells[1:]) + ")"
            assert best == text, label
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
    shown = [[f"L{l}H{h}", f"{x:.3f}", f"{y:.3f}", roles[(l, h)]] for l, h, x, y in points]
    assert [r[:4] for r in rows] == [[c.replace("-0.000", "0.000") for c in row] for row in shown]  # no -0.000


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


@pytest.mark.parametrize("rel", ["index.html", "heads/L0H0.html", "heads/L1H3.html", "layers/L1.html"])
def test_the_table_of_contents_lists_the_sections_in_the_page_order(site, rel):
    page = _page(site, rel)
    listed = [a["href"].removeprefix("#") for a in page.select("nav.toc a")]
    assert len(listed) >= 4 and len(set(listed)) == len(listed)
    anchors = [node for node in page.find_all(id=True) if node["id"] in listed]
    assert [node["id"] for node in anchors] == listed  # every entry is on the page, in the order it appears
