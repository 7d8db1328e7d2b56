"""The head detectors on a built tiny causal-LM site (a GPT-2 with its LM head): head pages and the overview against
the database; the same database with induction heads and their ablation added, rendered again, gives the Finding,
the table of removals and the table of heads' column; an encoder's report shows none of it."""

from __future__ import annotations

import shutil

import duckdb
import pytest
from bs4 import BeautifulSoup
from click.testing import CliRunner
from conftest import build_small_site

from reportgen.cli import main

pytestmark = pytest.mark.build


@pytest.fixture(scope="module")
def lm_site(tmp_path_factory, gpt2_lm_dir):
    return build_small_site(tmp_path_factory.mktemp("detectors"), gpt2_lm_dir, top_k=3, importance_sentences=2,
                            attribution_steps=4, control_sentences=4, detector_sequences=6, detector_min_tokens=4,
                            detector_max_tokens=8, detector_sentences=6)


def _page(path):
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def test_head_pages_show_each_score_as_stored(lm_site):
    con = duckdb.connect(str(lm_site / "report.duckdb"), read_only=True)
    rows = con.execute("SELECT layer, head, detector, source, value, low, high FROM head_detectors").fetchall()
    assert {r[3] for r in rows} == {"repeated", "corpus", "control", "weights"}
    assert {r[2] for r in rows} == {"induction", "previous_token", "duplicate_token", "copying"}
    names = {"induction": "induction (prefix matching)", "previous_token": "previous token",
             "duplicate_token": "duplicate token", "copying": "copying (OV circuit)"}
    column = {"repeated": 1, "weights": 1, "corpus": 2, "control": 3}
    for layer, head in {(r[0], r[1]) for r in rows}:
        page = _page(lm_site / "heads" / f"L{layer}H{head}.html")
        table = {tr.th.get_text(): [td.get_text() for td in tr.find_all("td")]
                 for tr in page.select("section#detectors table#detector-scores tbody tr")}
        for _, _, detector, source, value, low, high in (r for r in rows if r[:2] == (layer, head)):
            shown = f"{value:.4f}" if low is None else f"{value:.4f} [{low:.4f}, {high:.4f}]"
            assert table[names[detector]][column[source] - 1] == shown
        assert "#detectors" in [a["href"] for a in page.select("nav.toc a")]
    index = _page(lm_site / "index.html")
    assert index.select_one("section#detectors") is not None


def test_induction_heads_and_their_ablation_reach_the_finding_and_the_overview(lm_site, tmp_path):
    db = tmp_path / "report.duckdb"
    shutil.copy(lm_site / "report.duckdb", db)
    con = duckdb.connect(str(db))
    con.execute("DELETE FROM detector_roles")
    con.execute("INSERT INTO detector_roles VALUES (1, 0, 'induction', 0.81, 0.4, 0.97, 0.05, true), "
                "(0, 1, 'induction', 0.45, 0.4, 0.6, 0.43, false), (1, 0, 'copying', 0.9, 0.5, NULL, 0.1, true)")
    con.execute("DELETE FROM detector_ablation")
    con.execute("INSERT INTO detector_ablation VALUES ('intact', NULL, '', 0, 1.5, 1.4, 1.6, 0, 0, 0, 8), "
                "('head', NULL, 'L1H0', 1, 3.25, 3.0, 3.5, 1.75, 1.5, 2.0, 8), "
                "('candidates', NULL, 'L1H0', 1, 3.25, 3.0, 3.5, 1.75, 1.5, 2.0, 8), "
                "('random_draw', 0, 'L1H1', 1, 1.6, 1.5, 1.7, 0.1, 0.05, 0.15, 8), "
                "('random', NULL, '', 1, 1.6, 1.6, 1.6, 0.1, 0.1, 0.1, 8)")
    con.close()
    out = tmp_path / "site"
    result = CliRunner().invoke(main, ["render", str(db), "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    index = _page(out / "index.html")
    finding = index.select_one('section#findings li[data-rule="detectors"]').get_text()
    assert "L1H0 (0.8100)" in finding and "L0H1" not in finding  # L0H1 is not claimed: as high in the random model
    assert "from 1.500 to 3.250 nats per token (+1.750 [+1.500, +2.000])" in finding
    assert "against +0.100 (from +0.100 to +0.100 over the draws)" in finding
    removals = [[c.get_text() for c in tr.find_all(["th", "td"])]
                for tr in index.select("section#detectors table#detector-ablation tbody tr")]
    assert removals[0] == ["nothing (the intact model)", "", "1.5000 [1.4000, 1.6000]", "–"]
    assert removals[1] == ["one induction head", "L1H0", "3.2500 [3.0000, 3.5000]", "+1.7500 [+1.5000, +2.0000]"]
    roles = {tr.th.get_text(): tr.find_all("td")[0].get_text()
             for tr in index.select("section#detectors table#detector-role-heads tbody tr")}
    assert roles["induction (prefix matching)"] == "L1H0 (0.8100)" and roles["previous token"] == "none"
    head = _page(out / "heads" / "L1H0.html")
    assert "3.2500 [3.0000, 3.5000] nats per token" in head.select_one("#detector-ablation").get_text()
    assert [dt.get_text() for dt in head.select("#detector-roles dt")] == ["copying (OV circuit) (claimed)",
                                                                           "induction (prefix matching) (claimed)"]
    other = _page(out / "heads" / "L0H1.html").select_one("#detector-roles dd").get_text()
    assert "not significantly lower: not claimed" in other


def test_an_encoder_report_shows_no_detectors(analysis_site):
    index = (analysis_site / "index.html").read_text(encoding="utf-8")
    assert 'id="detectors"' not in index and 'data-rule="detectors"' not in index
    assert 'id="detectors"' not in (analysis_site / "heads" / "L0H0.html").read_text(encoding="utf-8")
