"""Sentence pages: bertviz's head, model and neuron views as Altair specs, word-level attention, and figure
export through vl-convert."""

from __future__ import annotations

import re

import numpy as np
import pytest
import vl_convert
from altair.utils.schemapi import validate_jsonschema
from altair.vegalite.v6.schema.core import load_schema
from bs4 import BeautifulSoup
from conftest import build_small_site

from reportgen.analyses.registry import UNITS
from reportgen.store import Store
from reportgen.align import attention_to_words, word_units
from reportgen.site.render import render
from reportgen.site.views.common import Report
from reportgen.site.views.sentence import sentence_page

pytestmark = pytest.mark.build


@pytest.fixture(scope="module")
def gpt2_svg_site(tmp_path_factory, gpt2_dir):
    """(site, the build's Summary) of the tiny GPT-2, top 3, with svg figures."""
    summaries = []
    out = build_small_site(tmp_path_factory.mktemp("sentences"), gpt2_dir, top_k=3, figures="svg",
                           summaries=summaries)
    return out, summaries[0]


@pytest.fixture(scope="module", params=["bert_dir", "gpt2_dir"])
def built(request):
    """(site, its store, its Report, the build's Summary): top 3 with svg figures; the BERT's is conftest.svg_site."""
    out, summary = request.getfixturevalue("svg_site" if request.param == "bert_dir" else "gpt2_svg_site")
    store = Store(out / "report.duckdb", read_only=True)
    yield out, store, Report(store, 10), summary
    store.close()


def _attention(store: Store, views: Report, sid: int) -> np.ndarray:
    n = len(store.tokens_of(sid))
    att = np.zeros((views.n_layers, views.n_heads, n, n))
    found = store.sentence_attention(sid)
    for layer, head, i, j, w in zip(found.layer, found.head, found.from_token_idx, found.to_token_idx, found.weight):
        att[layer, head, i, j] = w
    return att


@pytest.mark.unit
def test_merge_to_words_sums_targets_and_averages_sources():
    rng = np.random.default_rng(1)
    att = rng.random((2, 3, 5, 5))
    att /= att.sum(-1, keepdims=True)
    units = [0, 1, 1, 2, 3]  # tokens 1 and 2 are one word
    merged = attention_to_words(att, units, max(units) + 1)
    assert merged.shape == (2, 3, 4, 4)
    np.testing.assert_allclose(merged.sum(-1), 1)
    for u in range(4):
        for v in range(4):
            src = [i for i, x in enumerate(units) if x == u]
            dst = [j for j, x in enumerate(units) if x == v]
            want = np.mean([att[..., i, dst].sum(-1) for i in src], axis=0)
            np.testing.assert_allclose(merged[..., u, v], want)


def test_word_units_group_pieces_and_keep_special_tokens_alone(built):
    _out, store, _views, _summary = built
    text = "The dog sat on the unbelievably comfortable table."
    tokens = store.tokens_of(0)
    units, labels, pieces = word_units(text, tokens, store.words_of(0, 0))
    words = [w.text for w in store.words_of(0, 0)]
    assert [lab for lab in labels if lab in words] == words  # every word once, in order
    assert len(units) == len(tokens) and units == sorted(units)
    for t, unit in zip(tokens, units):
        if t.is_special:
            assert labels[unit] == t.text and units.count(unit) == 1
    assert any(word == "unbelievably" for word, _ in pieces)  # split into several tokens


def test_view_specs_validate_against_the_vega_lite_schema(built):
    _out, _store, views, _summary = built
    page = sentence_page(views, 0)
    schema = load_schema()
    for spec in (page.head_view, page.model_view, page.neuron_view):
        validate_jsonschema(spec, schema)


def test_head_view_svg_has_one_text_mark_per_token_in_each_column(built):
    _out, store, views, _summary = built
    page = sentence_page(views, 1)
    svg = vl_convert.vegalite_to_svg(page.head_view)
    labels = [lab for lv, lab in ((u["lv"], u["t"]) for u in page.head_view["datasets"]["units"]) if lv == "tokens"]
    assert len(labels) == len(store.tokens_of(1))
    texts = [" ".join(t.split()) for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg)]
    for label in labels:  # SVG text collapses whitespace
        assert texts.count(" ".join(label.replace("&", "&amp;").split())) == 2, label  # left and right column
    # one line per stored weight above the floor, at the first layer shown
    rows = [r for r in page.head_view["datasets"]["attention"] if r["lv"] == "tokens" and r["l"] == 0]
    group = re.search(r'<g class="mark-rule role-mark[^"]*"[^>]*>(.*?)</g>', svg, re.S).group(1)
    assert group.count("<line") == sum(len(r["j"]) for r in rows) > 0


def test_causal_head_view_never_looks_ahead(built):
    _out, _store, views, _summary = built
    rows = sentence_page(views, 0).head_view["datasets"]["attention"]
    if views.meta["causal"] == "true":
        assert all(j <= r["i"] for r in rows for j in r["j"])
    else:  # an encoder attends both ways
        assert any(j > r["i"] for r in rows for j in r["j"])


def test_word_level_rows_are_the_merged_attention(built):
    _out, store, views, _summary = built
    page = sentence_page(views, 0)
    units, _labels, _pieces = word_units(views.probes[0][1], store.tokens_of(0), store.words_of(0, 0))
    merged = attention_to_words(_attention(store, views, 0), units, max(units) + 1)
    for r in page.head_view["datasets"]["attention"]:
        if r["lv"] == "words":
            for j, w in zip(r["j"], r["w"]):
                assert w == pytest.approx(merged[r["l"], r["h"], r["i"], j], abs=1e-3)


def test_neuron_view_softmax_is_the_stored_attention(built):
    """vl-convert runs the chart's own transforms: the softmax it prints for layer 0, head 0, query 0 are the
    attention weights of the database."""
    _out, store, views, _summary = built
    page = sentence_page(views, 1)
    svg = vl_convert.vegalite_to_svg(page.neuron_view)
    shown = [float(x) for x in re.findall(r"<text[^>]*>(\d\.\d{3})</text>", svg)]
    att = _attention(store, views, 1)[0, 0, 0]
    allowed = att[: 1] if views.meta["causal"] == "true" else att
    assert shown == pytest.approx(list(allowed), abs=2e-3)


def test_model_view_links_every_cell_to_its_head_page(built):
    out, _store, views, _summary = built
    spec = sentence_page(views, 0).model_view
    svg = vl_convert.vegalite_to_svg(spec)
    n = len(views.probe_tokens[0])
    assert svg.count("<path") >= views.n_layers * views.n_heads * n  # at least one rect per cell row
    href = [t["calculate"] for t in spec["transform"] if t.get("as") == "href"][0]
    assert "../heads/L" in href and "#s0" in href


def test_model_view_draws_weights_under_the_floor_as_zero_not_as_holes(built):
    """Weights under ATTENTION_FLOOR are left out of the data; every cell's background is the colour Vega draws for
    weight 0, so the grid has no white holes."""
    import json

    from reportgen.site.charts.sentence import ZERO_FILL

    zero = vl_convert.vegalite_to_svg(json.dumps({
        "data": {"values": [{"w": 0}]}, "mark": "rect",
        "encoding": {"color": {"field": "w", "type": "quantitative", "scale": {"domain": [0, 1], "scheme": "blues"}}}}))
    r, g, b = (int(ZERO_FILL[i:i + 2], 16) for i in (1, 3, 5))
    assert f"rgb({r}, {g}, {b})" in zero  # ZERO_FILL is what Vega draws for weight 0
    _out, _store, views, _summary = built
    svg = vl_convert.vegalite_to_svg(sentence_page(views, 0).model_view)
    backgrounds = re.findall(rf'<path[^>]*fill="{ZERO_FILL}"', svg, flags=re.I)
    assert len(backgrounds) >= views.n_layers * views.n_heads  # one per cell: under every left-out weight


def test_sentence_pages_are_linked_and_figures_written(built):
    out, _store, views, _summary = built
    index = BeautifulSoup((out / "index.html").read_text(encoding="utf-8"), "html.parser")
    assert {a["href"] for a in index.select("ol.probes a")} == {"sentences/0.html", "sentences/1.html"}
    page = BeautifulSoup((out / "sentences" / "1.html").read_text(encoding="utf-8"), "html.parser")
    headings = [h.get_text() for h in page.select("h2")]
    assert headings[0] == "Which words drive the output" and headings[1].startswith("Do the top words matter")
    assert headings[2:6] == ["Head view", "Model view", "Heads on this sentence", "Neuron view"]
    links = {a["href"] for a in page.select("a.figure-link")}
    assert links == {f"../figures/s1-{name}.svg" for name in ("attribution-chart", "head-view", "model-view",
                                                               "neuron-view")}
    for html in out.rglob("*.html"):
        for a in BeautifulSoup(html.read_text(encoding="utf-8"), "html.parser").select("a.figure-link"):
            target = (html.parent / a["href"]).resolve()
            assert target.is_file() and target.read_text(encoding="utf-8").startswith("<svg"), (html, a["href"])
    assert (out / "figures" / "L1H0-attention-s0.svg").is_file()
    assert (out / "figures" / "index-overview.svg").is_file()
    assert (out / "figures" / "L0-embedding-matched.svg").is_file()


def test_png_figures_are_the_svg_figures_as_png(tmp_path, gpt2_svg_site):
    """The same report's figures as png: one per svg figure, the pages linking them. (That svg figures are the same
    bytes when the same report is written again, by a pool of render processes: test_render's
    test_render_from_the_database_alone_equals_the_build; that a rebuild gives the same report:
    test_render.test_builds_in_other_folders_...) On the GPT-2's site, the smaller (44 figures against the BERT's
    68; vl-convert draws a png in about a third of a second)."""
    from reportgen.progress import Progress

    site, _ = gpt2_svg_site
    with Store(site / "report.duckdb", read_only=True) as store:
        render(store, tmp_path / "png", Progress(), UNITS, "png")
    svgs = sorted(p.name for p in (site / "figures").iterdir())
    pngs = sorted(p.name for p in (tmp_path / "png" / "figures").iterdir())
    assert pngs == [name.removesuffix(".svg") + ".png" for name in svgs]
    assert all((tmp_path / "png" / "figures" / n).read_bytes().startswith(b"\x89PNG") for n in pngs)
    html = (tmp_path / "png" / "sentences" / "0.html").read_text(encoding="utf-8")
    assert 'href="../figures/s0-head-view.png"' in html


def _relative_luminance(colour: str) -> float:
    """WCAG 2.1's relative luminance of an sRGB colour '#rrggbb'."""
    channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


@pytest.mark.unit
def test_head_colours_have_3_to_1_contrast_on_white_and_differ():
    from reportgen.site.charts.sentence import HEAD_COLOURS, head_colours

    for colour in HEAD_COLOURS:
        assert (1.0 + 0.05) / (_relative_luminance(colour) + 0.05) >= 3.0, colour
    assert len(set(HEAD_COLOURS)) == len(HEAD_COLOURS) == 12
    assert head_colours(14)[12:] == list(HEAD_COLOURS[:2])


@pytest.mark.unit
def test_model_view_cells_fit_the_content_width_until_their_smallest_size():
    from reportgen.site.charts.sentence import (CONTENT_WIDTH, MODEL_VIEW_CELL, MODEL_VIEW_MARGIN, MODEL_VIEW_SPACING,
                                                model_view_cell)

    for heads in (1, 9, 12, 16, 32):
        for units in (3, 30, 200):
            cell = model_view_cell(heads, units)
            assert MODEL_VIEW_CELL[0] <= cell <= MODEL_VIEW_CELL[1]
            grid = heads * cell + (heads - 1) * MODEL_VIEW_SPACING + MODEL_VIEW_MARGIN
            assert grid <= CONTENT_WIDTH or cell == MODEL_VIEW_CELL[0], (heads, units, cell)
    assert model_view_cell(12, 40) > model_view_cell(32, 40) == MODEL_VIEW_CELL[0]
    assert model_view_cell(1, 10) == 80 and model_view_cell(1, 3) == MODEL_VIEW_CELL[0]  # 8 px per unit


@pytest.mark.unit
@pytest.mark.parametrize("causal", [False, True])
def test_sentence_shares_match_a_direct_count_and_the_head_statistics(causal):
    """One sentence's shares and normalised entropy, as loops; and the same numbers as HeadStats gives for a corpus of
    that one sentence (one definition of what each pattern measures)."""
    from reportgen.analyses.base import feed, plain_info
    from reportgen.analyses.headstats import HeadStats
    from reportgen.patterns import sentence_shares

    rng = np.random.default_rng(3)
    n = 6
    att = rng.random((2, 3, n, n)) ** 4
    if causal:
        att = np.tril(att)
    att /= att.sum(-1, keepdims=True)
    special = np.array([True, False, False, False, False, True])
    punct = np.array([False, False, False, False, True, False])
    found = sentence_shares(att, special, punct, causal)
    for layer in range(2):
        for head in range(3):
            a = att[layer, head]
            keys = [i + 1 if causal else n for i in range(n)]
            direct = {
                "prev": np.mean([a[i, i - 1] for i in range(1, n)]),
                "self": np.mean([a[i, i] for i in range(n)]),
                "next": np.mean([a[i, i + 1] for i in range(n - 1)]),
                "first": np.mean(a[:, 0]),
                "last": np.mean(a[:, n - 1]),
                "special": np.mean([a[i, special].sum() for i in range(n)]),
                "punct": np.mean([a[i, punct].sum() for i in range(n)]),
                "entropy_norm": np.mean([(-sum(p * np.log(p) for p in a[i] if p > 0) / np.log(keys[i])
                                          if keys[i] > 1 else 0.0) for i in range(n)]),
            }
            for stat, value in direct.items():
                assert found[stat][layer, head] == pytest.approx(value), (stat, layer, head)
    stats = HeadStats(2, 3)
    feed([stats], att[:, None].astype(np.float32), plain_info(np.ones((1, n), bool), special[None], punct[None],
                                                             causal))
    for stat, values in stats.means().items():
        if stat in found:
            np.testing.assert_allclose(values, found[stat], rtol=1e-5, atol=1e-6, err_msg=stat)


def test_the_sentence_table_names_patterns_as_the_roles_do(built):
    """Each cell of 'Heads on this sentence' is patterns.describe of the head's shares on the sentence, computed
    here from the attention table: the overview's role names and thresholds (a [CLS] sink is 'first', not
    'special', whatever the order the groups overlap in)."""
    from reportgen.patterns import describe, headline, sentence_shares
    from reportgen.vocab import ROLE_CODES

    out, store, views, _summary = built
    causal = views.meta["causal"] == "true"
    for sid, _text in views.probes:
        att = _attention(store, views, sid)
        tokens = store.tokens_of(sid)
        punct_words = {w.word_idx for w in store.words_of(sid, sid) if w.is_punct}
        special = np.array([t.is_special for t in tokens])
        punct = np.array([not t.is_special and t.word_idx in punct_words for t in tokens])
        shares = sentence_shares(att, special, punct, causal)
        names = {"first": tokens[0].text} if tokens[0].is_special else {}
        if any(t.is_special for t in tokens[1:]):
            names["last"] = [t for t in tokens[1:] if t.is_special][-1].text
        page = BeautifulSoup((out / "sentences" / f"{sid}.html").read_text(encoding="utf-8"), "html.parser")
        cells = page.select("table.sentence-heads tbody tr")
        for layer, row in enumerate(cells):
            for head, link in enumerate(row.select("td a")):
                value = {s: float(v[layer, head]) for s, v in shares.items()}
                role, evidence = describe(value, names)
                assert link.get_text() == f"{ROLE_CODES[role]} {headline(role, value):.2f}"
                assert link["title"] == evidence
    # a sink on [CLS] is named first, as the roles name it, though special tokens (with [CLS]) hold as much
    value = {"self": 0.0, "prev": 0.0, "next": 0.0, "first": 0.9, "last": 0.05, "special": 0.95, "punct": 0.0,
             "entropy_norm": 0.1}
    assert describe(value, {"first": "[CLS]"})[0] == "first"


def test_neuron_vectors_come_one_layer_per_data_file(built):
    """The page carries the first layer's query and key vectors; sentences/<id>/neuron-L<l>.js holds each layer's,
    as the database's neuron table has them (rounded to 3 decimals), and nothing else."""
    import json

    out, store, views, _summary = built
    for sid, _text in views.probes:
        page = BeautifulSoup((out / "sentences" / f"{sid}.html").read_text(encoding="utf-8"), "html.parser")
        chart = page.select_one("#neuron-view")
        assert chart["data-layer-files"] == f"{sid}/neuron-L{{l}}.js"
        spec = json.loads(page.select_one('script[data-chart="neuron-view"]').string)
        want: dict = {}
        found = store.neuron(sid)
        for layer, head, t, vector, dim, value in zip(found.layer.tolist(), found.head.tolist(),
                                                      found.token_idx.tolist(), found.vector.tolist(),
                                                      found.dim.tolist(), found.value.tolist()):
            want.setdefault((layer, head, t, vector[0]), {})[dim] = round(value, 3)
        files = sorted((out / "sentences" / str(sid)).glob("neuron-L*.js"))
        assert [f.name for f in files] == sorted(f"neuron-L{layer}.js" for layer in range(views.n_layers))
        for layer in range(views.n_layers):
            text = (out / "sentences" / str(sid) / f"neuron-L{layer}.js").read_text(encoding="ascii")
            assert text.startswith("(window.reportgenLayers = window.reportgenLayers || {})"
                                   f'["neuron-L{layer}.js"] = ')
            rows = json.loads(text[text.index("] = ") + 4 : text.rindex(";")])
            got = {(r["l"], r["h"], r["t"], r["v"]): r["x"] for r in rows}
            assert got == {k: [v[d] for d in sorted(v)] for k, v in want.items() if k[0] == layer}
            if layer == 0:
                assert spec["datasets"]["vectors"] == rows


def test_statistics_strips_draw_labels_that_do_not_collide():
    """Each strip's axis labels, as vl-convert draws them, are few and apart (the widest label's width at least between
    two), whatever the range of the values: a strip of shares in [0, 0.7] once drew 15 labels 30 px apart."""
    import json

    import numpy as np

    from reportgen.site.charts.heads import stat_strips

    rng = np.random.default_rng(0)
    ranges = {"entropy": (0.5, 3.6), "next": (0.0, 0.71), "self": (0.0944, 0.0956), "distance": (0.0, 13.4),
              "first": (0.0001, 0.0012)}
    values = {s: [float(v) for v in np.round(rng.uniform(low, high, 72), 4)] for s, (low, high) in ranges.items()}
    svg = vl_convert.vegalite_to_svg(json.dumps(stat_strips(list(values), values, 3, 12, "strips")))
    axes = re.findall(r'<g class="mark-text role-axis-label"[^>]*>(.*?)</g>', svg, re.S)
    assert len(axes) == len(values)
    for axis in axes:
        drawn = [(float(x), text) for tag, x, text in
                 re.findall(r'(<text[^>]*transform="translate\(([-\d.]+),[-\d.]+\)"[^>]*>)([^<]*)</text>', axis)
                 if 'opacity="0"' not in tag]  # a label Vega hides to avoid an overlap is not drawn
        assert 2 <= len(drawn) <= 8, drawn
        widest = 6.5 * max(len(t) for _, t in drawn)  # 10 px labels: at most 6.5 px a character
        assert all(b - a >= widest for (a, _), (b, _) in zip(drawn, drawn[1:])), drawn


@pytest.mark.unit
def test_the_neuron_views_rounding_is_pythons_round():
    """views.sentence.rounded (numpy's multiply, rint and divide, Python where the product is near a half) equals
    round(x, 3) written out, value for value and sign of zero: on halves and near-halves whose binary value is just
    above or below (2.675, 1.0005, 0.0015), negatives, zeros, large values, non-finite ones and 200,000 draws at
    the scale of query and key vectors."""
    import math

    from reportgen.site.views.sentence import rounded

    hard = [2.675, -2.675, 1.0005, 0.0015, 0.0005, -0.0005, 0.0004, -0.0004, 0.5, 1.5, 2.5, -0.0, 0.0, 1e-320,
            123456.0005, 9.9995, 4503599627370495.5, 1e300, 1e306, -1.7e308, math.inf, -math.inf, math.nan]
    hard += [math.nextafter(x, math.inf) for x in hard[:12]] + [math.nextafter(x, -math.inf) for x in hard[:12]]
    rng = np.random.default_rng(0)
    draws = np.concatenate([rng.normal(0, 3, 200_000), rng.integers(-5000, 5000, 20_000) / 1000 + 0.0005,
                            np.array(hard)])
    got = rounded(draws, 3)
    want = [round(x, 3) for x in draws.tolist()]
    assert len(got) == len(want)
    for g, w, x in zip(got, want, draws.tolist()):
        assert (g == w and math.copysign(1, g) == math.copysign(1, w)) or (math.isnan(g) and math.isnan(w)), x
