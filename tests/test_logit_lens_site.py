"""The logit lens on built sites: a tiny causal LM's sentence pages show the grid (its table and its chart's data)
with the database's numbers; an encoder's sentence pages say in one line why there is no lens."""

from __future__ import annotations

import json
from collections import defaultdict

import duckdb
import pytest
from bs4 import BeautifulSoup
from conftest import build_small_site

pytestmark = pytest.mark.build


@pytest.fixture(scope="module")
def lm_site(tmp_path_factory, gpt2_lm_dir):
    return build_small_site(tmp_path_factory.mktemp("lens"), gpt2_lm_dir, top_k=3, importance_sentences=0,
                            attribution_steps=4, control_sentences=0, detector_sequences=0, logit_lens=3)


def _page(path):
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def _label(layer: int) -> str:
    return "emb" if layer < 0 else f"L{layer}"


def test_sentence_pages_show_the_databases_lens(lm_site):
    con = duckdb.connect(str(lm_site / "report.duckdb"), read_only=True)
    lens = con.execute("SELECT sentence_id, layer, token_idx, next_prob, next_rank, kl, next_token_id "
                       "FROM logit_lens").fetchall()
    tops = defaultdict(list)
    for sid, layer, pos, rank, token_id, token, prob in con.execute(
            "SELECT sentence_id, layer, token_idx, rank, token_id, token, prob FROM logit_lens_top "
            "ORDER BY ALL").fetchall():
        tops[(sid, layer, pos)].append((rank, token_id, token, prob))
    n_layers = int(con.execute("SELECT value FROM meta WHERE key = 'n_layers'").fetchone()[0])
    probes = [r[0] for r in con.execute("SELECT sentence_id FROM sentences WHERE role = 'probe'").fetchall()]
    assert {r[0] for r in lens} == set(probes) and {r[1] for r in lens} == set(range(-1, n_layers))
    assert all(len(v) == 3 and [t[0] for t in v] == [1, 2, 3] for v in tops.values())
    for sid in probes:
        page = _page(lm_site / "sentences" / f"{sid}.html")
        table = page.select_one("section#logit-lens table#logit-lens-table")
        body = {tr.th.get_text(): tr.find_all("td") for tr in table.select("tbody tr")}
        # the last block first, the embeddings last
        assert list(body) == [_label(layer) for layer in range(n_layers - 1, -2, -1)]
        mine = [r for r in lens if r[0] == sid]
        assert len(mine) == (n_layers + 1) * len(table.select("thead tr")[0].find_all("th")[1:])
        for _, layer, pos, next_prob, next_rank, _, next_id in mine:
            cell = body[_label(layer)][pos]
            _, token_id, token, prob = tops[(sid, layer, pos)][0]
            assert cell.get_text(" ").startswith(f"{token} {prob:.3f}")
            assert (cell.strong is not None) == (token_id == next_id)
            small = cell.small.get_text() if cell.small else ""
            assert small == ("" if next_prob is None else f"{next_prob:.3f}, rank {next_rank}")
        chart = json.loads(page.select_one('script[data-chart="logit-lens-chart"]').string)
        values = next(layer["data"]["values"] for layer in chart["layer"] if "data" in layer) \
            if "data" not in chart else chart["data"]["values"]
        drawn = {(v["y"], int(v["x"].split(" ")[0])): v for v in values}
        assert len(drawn) == len(mine)
        for _, layer, pos, _, _, kl, next_id in mine:
            v = drawn[(_label(layer), pos)]
            _, token_id, token, prob = tops[(sid, layer, pos)][0]
            assert (v["top"], v["p"], v["kl"], v["hit"]) == (token, round(prob, 4), round(kl, 4), token_id == next_id)


def test_an_encoders_sentence_pages_say_why_there_is_no_lens(analysis_site):
    page = _page(next((analysis_site / "sentences").glob("*.html")))
    line = page.select_one("p#logit-lens").get_text()
    assert line.startswith("No logit lens: the model has no language-modelling head")
    assert page.select_one("section#logit-lens") is None
    con = duckdb.connect(str(analysis_site / "report.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM logit_lens").fetchone() == (0,)


def test_the_chart_is_valid_vega_lite_and_draws_one_cell_and_one_label_per_layer_and_position(lm_site):
    import re

    import vl_convert
    from altair.utils.schemapi import validate_jsonschema
    from altair.vegalite.v6.schema.core import load_schema

    con = duckdb.connect(str(lm_site / "report.duckdb"), read_only=True)
    n = con.execute("SELECT count(*) FROM logit_lens WHERE sentence_id = 0").fetchone()[0]
    tops = [t for (t,) in con.execute("SELECT token FROM logit_lens_top WHERE sentence_id = 0 AND rank = 1 "
                                      "ORDER BY layer, token_idx").fetchall()]
    page = _page(lm_site / "sentences" / "0.html")
    spec = json.loads(page.select_one('script[data-chart="logit-lens-chart"]').string)
    validate_jsonschema(spec, load_schema())
    svg = vl_convert.vegalite_to_svg(spec)
    cells = re.search(r'<g class="mark-rect role-mark layer_0_marks"[^>]*>(.*?)</g>', svg, re.S).group(1)
    assert len(re.findall(r"<path", cells)) == n  # the first layer: every cell
    text = re.search(r'<g class="mark-text role-mark[^"]*"[^>]*>(.*?)</g>', svg, re.S).group(1)
    labels = [" ".join(t.split()) for t in re.findall(r"<text[^>]*>([^<]*)</text>", text)]
    cut = [t if len(t) <= 8 else t[:7] + "…" for t in tops]
    assert sorted(labels) == sorted(" ".join(t.replace("&", "&amp;").replace("<", "&lt;").split()) for t in cut)
