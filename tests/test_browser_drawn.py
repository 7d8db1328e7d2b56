"""What each chart draws, read from the browser: the marks of every Vega view (window.reportgenViews, the
views' scenegraphs) on every page type, each compared with the database. A spec can be right while the drawing
is wrong (layers that bring their own data draw every row in every panel; bars stack past the axis): these tests
read the drawn items' data and their positions."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest
from conftest import browser_pages, drawn, site_rows

from reportgen.store import Store
from reportgen.vocab import ROLE_CODES

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def site(analysis_site) -> Path:
    return analysis_site


@pytest.fixture(scope="module")
def pages(browser, site):
    opened = {}
    with browser_pages(browser) as page_at:
        def open_(rel):
            if rel not in opened:
                opened[rel] = page_at(site / rel)
            return opened[rel]
        yield open_


def _rows(site: Path, sql: str) -> list[tuple]:
    return site_rows(site, sql)


def test_every_chart_of_every_page_type_draws_marks(pages):
    for rel in ("index.html", "heads/L1H2.html", "layers/L1.html", "sentences/0.html"):
        page = pages(rel)
        ids = page.evaluate("Object.keys(window.reportgenViews)")
        assert ids, rel
        for chart in ids:
            assert drawn(page, chart), (rel, chart)


def test_overview_heatmap_draws_each_heads_value_and_role_once(pages, site):
    page = pages("index.html")
    stat = page.evaluate("document.querySelector('#overview-stat') && document.querySelector('#overview-stat').value"
                         ) or "entropy"
    stored = {(l, h): v for l, h, v in _rows(site, f"SELECT layer, head, value FROM head_stats WHERE stat = '{stat}'")}
    roles = {(l, h): r for l, h, r in _rows(site, "SELECT layer, head, role FROM head_roles")}
    items = drawn(page, "overview")
    cells = [i for i in items if i["mark"] == "rect"]
    assert Counter((c["datum"]["l"], c["datum"]["h"]) for c in cells) == Counter(list(stored))  # once each
    for c in cells:
        assert c["datum"]["v"] == pytest.approx(stored[(c["datum"]["l"], c["datum"]["h"])], abs=5e-4)
    labels = sorted((i["datum"]["l"], i["datum"]["h"], i["text"]) for i in items if i["mark"] == "text")
    assert labels == sorted((l, h, ROLE_CODES[r]) for (l, h), r in roles.items())  # mixed heads too


def test_head_map_draws_one_point_per_head_where_the_database_puts_it(pages, site):
    items = drawn(pages("index.html"), "head-map")
    points = [i for i in items if i["mark"] == "symbol"]
    stored = {(l, h): (x, y) for l, h, x, y in _rows(site, "SELECT layer, head, x, y FROM head_map")}
    assert Counter((p["datum"]["l"], p["datum"]["h"]) for p in points) == Counter(list(stored))
    for p in points:
        assert (p["datum"]["x"], p["datum"]["y"]) == pytest.approx(stored[(p["datum"]["l"], p["datum"]["h"])])
    # drawn left to right and bottom to top as the coordinates go (a linear scale, y upwards)
    xs = np.array([[p["datum"]["x"], p["x"]] for p in points])
    ys = np.array([[p["datum"]["y"], p["y"]] for p in points])
    assert np.corrcoef(xs.T)[0, 1] > 0.999 and np.corrcoef(ys.T)[0, 1] < -0.999
    labels = sorted(i["text"] for i in items if i["mark"] == "text")
    assert labels == sorted(f"L{l}H{h}" for l, h in stored)  # every point labelled (a small model)


def test_agreement_heatmap_draws_each_heads_mean_rho_over_the_probes(pages, site):
    found = defaultdict(list)
    for l, h, rho in _rows(site, "SELECT layer, head, spearman FROM attribution_agreement WHERE method = 'attention' "
                                 "AND spearman IS NOT NULL AND word_share >= 0.10"):
        found[(l, h)].append(rho)
    cells = [i for i in drawn(pages("index.html"), "agreement-chart") if i["mark"] == "rect"]
    assert Counter((c["datum"]["l"], c["datum"]["h"]) for c in cells) == Counter(list(found))
    for c in cells:
        assert c["datum"]["v"] == pytest.approx(np.mean(found[(c["datum"]["l"], c["datum"]["h"])]), abs=5e-4)


def test_dependency_accuracy_draws_each_direction_in_its_own_panel_from_zero(pages, site):
    stored = {(r, d.replace("_", " ")): (a, b) for r, d, a, b in _rows(
        site, "SELECT relation, direction, accuracy, baseline_accuracy FROM dep_accuracy WHERE layer = 1 AND head = 2")}
    assert {d for _, d in stored} == {"dependent to head", "head to dependent"}
    page = pages("heads/L1H2.html")
    items = drawn(page, "dep-accuracy")
    bars = [i for i in items if i["mark"] == "rect"]
    ticks = [i for i in items if i["mark"] == "rect" and i["width"] == 2]  # mark_tick: 2 px wide
    bars = [i for i in bars if i not in ticks]
    # each relation and direction drawn once, in the panel of its direction (not every row in both panels)
    assert Counter((b["datum"]["r"], b["datum"]["d"]) for b in bars) == Counter(list(stored))
    assert all(b["facet"]["d"] == b["datum"]["d"] for b in bars + ticks)
    width = 260  # the panel's width: the accuracy axis runs 0..1 over it
    for b in bars:  # a bar from 0 to its own accuracy: not stacked on the other direction's
        accuracy, _ = stored[(b["datum"]["r"], b["datum"]["d"])]
        assert b["datum"]["a"] == pytest.approx(accuracy, abs=5e-4)
        assert b["x"] == pytest.approx(0, abs=0.01) and b["width"] == pytest.approx(width * accuracy, abs=0.2)
    assert Counter((t["datum"]["r"], t["datum"]["d"]) for t in ticks) == Counter(list(stored))
    for t in ticks:  # the best offset's tick, centred on its accuracy
        _, baseline = stored[(t["datum"]["r"], t["datum"]["d"])]
        assert t["x"] + t["width"] / 2 == pytest.approx(width * baseline, abs=0.2)


def test_statistic_strips_draw_every_heads_value_and_mark_this_head(pages, site):
    page = pages("heads/L1H2.html")
    ticks = drawn(page, "statistics-strips")
    stored = {(l, h, s): v for l, h, s, v in _rows(site, "SELECT layer, head, stat, value FROM head_stats")}
    seen = Counter()
    for t in ticks:
        d = t["datum"]
        layer, head = int(d["label"][1:].split("H")[0]), int(d["label"].split("H")[1])
        assert d["v"] == pytest.approx(stored[(layer, head, d["s"])], abs=5e-4), d
        assert d["mine"] == ((layer, head) == (1, 2))
        seen[(layer, head, d["s"])] += 1
    assert set(seen) <= set(stored) and all(n == 1 for n in seen.values())
    assert len({s for _, _, s in seen}) >= 8
    for stat in {s for _, _, s in seen}:
        assert sum(1 for key in seen if key[2] == stat) == len({(l, h) for l, h, _ in stored})


def test_head_page_attention_heatmaps_draw_the_stored_weights(pages, site):
    page = pages("heads/L1H2.html")
    ids = [i for i in page.evaluate("Object.keys(window.reportgenViews)") if i.startswith("attention-s")]
    assert ids
    for chart in ids:
        sid = int(chart.removeprefix("attention-s"))
        stored = {(f, t): w for f, t, w in _rows(site, f"SELECT from_token_idx, to_token_idx, weight FROM attention "
                                                       f"WHERE sentence_id = {sid} AND layer = 1 AND head = 2")}
        cells = drawn(page, chart)
        assert Counter((c["datum"]["i"], c["datum"]["j"]) for c in cells) == Counter(list(stored))
        for c in cells:
            assert c["datum"]["w"] == pytest.approx(stored[(c["datum"]["i"], c["datum"]["j"])], abs=5e-4)


def test_attribution_chart_draws_each_words_gradients_and_rollout(pages, site):
    page = pages("sentences/0.html")
    words = {w: t for w, t in _rows(site, "SELECT word_idx, text FROM words WHERE sentence_id = 0")}
    of = dict(_rows(site, "SELECT token_idx, word_idx FROM tokens WHERE sentence_id = 0"))
    sums = defaultdict(lambda: defaultdict(float))
    for method, idx, score in _rows(site, "SELECT method, token_idx, score FROM attributions WHERE sentence_id = 0"):
        if of[idx] is not None:
            sums[method][of[idx]] += score
    items = drawn(page, "attribution-chart")
    ig = [i for i in items if i["name"] == "concat_0_marks"]
    rollout = [i for i in items if i["name"] == "concat_1_marks"]
    assert sorted(i["datum"]["i"] for i in ig) == sorted(words) == sorted(i["datum"]["i"] for i in rollout)
    for i in ig:
        assert i["datum"]["ig"] == pytest.approx(sums["integrated_gradients"][i["datum"]["i"]], abs=5e-6)
        assert i["datum"]["w"].endswith(words[i["datum"]["i"]])
    for i in rollout:
        assert i["datum"]["r"] == pytest.approx(sums["rollout"][i["datum"]["i"]], abs=5e-6)


def test_model_view_draws_every_heads_stored_weights(pages, site):
    page = pages("sentences/0.html")
    stored = {(l, h, f, t): w for l, h, f, t, w in _rows(
        site, "SELECT layer, head, from_token_idx, to_token_idx, weight FROM attention WHERE sentence_id = 0")}
    cells = drawn(page, "model-view")
    assert cells
    for c in cells:
        d = c["datum"]
        assert d["w"] == pytest.approx(stored[(d["l"], d["h"], d["i"], d["j"])], abs=5e-4)
        assert (c["facet"]["l"], c["facet"]["h"]) == (d["l"], d["h"])  # in its own head's panel
    assert {(c["datum"]["l"], c["datum"]["h"]) for c in cells} == {(l, h) for l, h, _, _ in stored}


@pytest.mark.parametrize("rel, space, layer, head", [("heads/L1H2.html", "context", 1, 2),
                                                    ("layers/L1.html", "embedding", 1, None)])
def test_histograms_draw_the_matches_counts_of_every_probe_token(pages, site, rel, space, layer, head):
    """The page's histograms (all probe tokens): each bar's count is the number of matches in that category,
    summed over the probe tokens, from the database; bars start at 0."""
    with Store(site / "report.duckdb", read_only=True) as store:
        counts = store.annotation_counts(space, layer, head, attended=False)
    facets = ("pos", "tag", "dep", "ent")
    stored = Counter()
    for row in counts:  # the rows of every probe token together (sentence_id NULL)
        if row.sentence_id is None:
            stored[(facets.index(row.facet), row.category)] += row.n
    per_token = Counter()
    for row in counts:
        if row.sentence_id is not None:
            per_token[(facets.index(row.facet), row.category)] += row.n
    assert per_token == stored  # ... which are the sums of each token's
    bars = [b for b in drawn(pages(rel), f"{space}-matched") if b["name"].endswith("layer_0_marks")]
    assert bars and all(b["datum"]["k"] == "all" for b in bars)
    for b in bars:
        assert b["datum"]["n"] == stored[(b["datum"]["f"], b["datum"]["label"])], b["datum"]
        assert b["x"] == pytest.approx(0, abs=0.01)
    assert {b["datum"]["f"] for b in bars} == {f for f, _ in stored}


def test_importance_heatmap_draws_each_heads_ablation(pages, site):
    stored = {(l, h): v for l, h, v in _rows(site, "SELECT layer, head, value FROM head_importance WHERE scope = "
                                                   "'corpus' AND method = 'ablation' AND head IS NOT NULL")}
    cells = [i for i in drawn(pages("index.html"), "importance-chart") if i["mark"] == "rect"]
    assert Counter((c["datum"]["l"], c["datum"]["h"]) for c in cells) == Counter(list(stored))
    for c in cells:
        assert c["datum"]["v"] == pytest.approx(stored[(c["datum"]["l"], c["datum"]["h"])], rel=1e-4, abs=1e-6)
