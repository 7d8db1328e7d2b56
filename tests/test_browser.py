"""The built pages in a real browser: Debian's Chromium driven by Playwright, pages opened from file://.

`make test` installs Chromium (apt-get) and Playwright; the path can be changed with REPORTGEN_CHROMIUM.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import SENTENCES, browser_pages, build_small_site, tab_pages
from conftest import axe_problems as _axe_problems
from conftest import wait_for as _wait


pytestmark = pytest.mark.browser

K = 12
@pytest.fixture(scope="module")
def site(tmp_path_factory, bert_dir):
    return build_small_site(tmp_path_factory.mktemp("browser"), bert_dir, top_k=K, shown_matches=5)


@pytest.fixture
def open_page(tab, site):
    """Open a page of the site (in the shared tab: the page is good until the next one is opened); after the test,
    no console error and no request left file://."""
    with tab_pages(tab) as page_at:
        yield lambda rel, root=None: page_at((root or site) / rel)


def _visible_rows(details):
    return details.locator("table.matches tbody tr:not(.full):visible")


def _token_counts(site, key: str, facet: str) -> dict[str, int]:
    """One probe token's POS (or other facet) counts of its L1H2 matches, straight from the database."""
    from reportgen.store import Store

    sid, idx = map(int, key.split(":"))
    with Store(site / "report.duckdb", read_only=True) as store:
        return {cat: n for s, i, f, cat, n in store.annotation_counts("context", 1, 2, attended=False)
                if (s, i, f) == (sid, idx, facet)}


def test_head_page_draws_every_chart(open_page):
    page = open_page("heads/L1H2.html")
    charts = page.locator(".chart")
    # statistics strips, dependency accuracy, 3 histogram charts, one heatmap per probe
    assert charts.count() == 2 + 3 + page.locator("section.probe").count()
    assert page.locator("#statistics-strips svg").count() == page.locator("#dep-accuracy svg").count() == 1
    for i in range(charts.count()):
        assert charts.nth(i).locator("svg .mark-rect path, svg .mark-rect rect, svg path").count() > 0
        assert charts.nth(i).get_attribute("role") in ("figure", "graphics-document")  # vega-embed sets the latter
        assert len(charts.nth(i).get_attribute("aria-label")) > 20


def test_opening_a_token_shows_its_concordance_and_its_own_histograms(open_page, site):
    page = open_page("heads/L1H2.html")
    details = page.locator("details.token").nth(2)
    key = details.get_attribute("data-key")
    details.locator("summary").click()
    _wait(page, "document.querySelectorAll('details[open] .strip svg').length > 0 && "
                           "document.querySelectorAll('details[open] .token-chart svg').length === 3")
    # the concordance: the best `shown_matches` of all K, one line each, the whole matched word marked
    assert _visible_rows(details).count() == 5
    assert details.locator("table.matches tbody tr:not(.full)").count() == K
    assert details.locator("table.matches tbody tr:not(.full) td.word mark").count() == K
    assert details.locator(".status").text_content() == f"showing 5 of {K} matching ({K} in all)"
    assert details.locator(".strip svg .mark-rect path").count() >= 2 * K
    # its histograms beside the list: the same counts as the database, with base rates
    caption = details.locator("aside.token-histograms ul.caption li").first.text_content()
    counts = _token_counts(site, key, "pos")
    assert caption.startswith(f"POS of the matched tokens ({K} matches): ")
    for cat, n in counts.items():
        assert f" {cat} {n} (" in caption and "corpus" in caption
    # the probe token's own POS and dependency are drawn in another colour where its matches have them
    own = details.get_attribute("data-pos"), details.get_attribute("data-dep")
    shared = int(own[0] in counts) + int(own[1] in _token_counts(site, key, "dep"))
    drawn = details.locator("aside.token-histograms .token-chart").first.locator('svg path[fill="#c2410c"]')
    assert drawn.count() == shared
    box = details.locator("aside.token-histograms").bounding_box()
    table = details.locator("table.matches").bounding_box()
    assert box["x"] > table["x"] and box["y"] < table["y"] + table["height"]  # beside the list, not far away
    # the page's own histograms still show all probe tokens
    assert page.locator("figure.histograms .chosen-token").first.text_content() == "all probe tokens"


def test_picker_switches_the_page_histograms_to_one_token(open_page, site):
    page = open_page("heads/L1H2.html")
    caption = page.locator("section.analysis figure.histograms ul.caption li").first
    all_tokens = caption.text_content()
    chart_all = page.locator("#context-matched svg").text_content()
    key = page.locator("details.token").nth(1).get_attribute("data-key")
    page.select_option("#token-select", key)
    # the token's matches load from the page's data file the first time: the captions change once they are in
    _wait(page, "before => before !== document.querySelector("
                "'section.analysis figure.histograms ul.caption li').textContent", arg=all_tokens)
    assert caption.text_content().startswith(f"POS of the matched tokens ({K} matches): ")
    for cat, n in _token_counts(site, key, "pos").items():
        assert f" {cat} {n} (" in caption.text_content()
    _wait(page, "before => before !== document.querySelector('#context-matched svg').textContent",
                           arg=chart_all)
    page.select_option("#token-select", "all")
    assert caption.text_content() == all_tokens
    _wait(page, "before => before === document.querySelector('#context-matched svg').textContent",
                           arg=chart_all)


def test_a_later_choice_of_the_picker_is_not_drawn_over_by_an_earlier_one(open_page, site):
    page = open_page("heads/L1H2.html")
    caption = page.locator("section.analysis figure.histograms ul.caption li").first
    all_tokens = caption.text_content()
    key = page.locator("details.token").nth(1).get_attribute("data-key")
    # one token, then all tokens at once, while the token's matches are still loading
    page.evaluate("""key => {
        const select = document.getElementById('token-select');
        for (const value of [key, 'all']) {
            select.value = value;
            select.dispatchEvent(new Event('change'));
        }
    }""", key)
    # once the matches are in (an opened token's list draws from the same load, after the earlier choice's)
    page.locator("details.token").nth(1).locator("summary").click()
    _wait(page, "document.querySelectorAll('details[open] .match-lists table').length > 0")
    assert page.locator("#token-select").input_value() == "all"
    assert caption.text_content() == all_tokens


def test_concordance_marks_the_word_the_piece_and_the_attended_token(open_page):
    page = open_page("heads/L0H1.html")
    for details in page.locator("details.token").all():
        details.locator("summary").click()
    _wait(page, "document.querySelectorAll('details[open] .strip svg').length > 0")
    rows = page.locator("table.matches tbody tr:not(.full)")
    # somewhere a matched token is a piece of a longer word: the word is marked, the piece inside it
    pieces = page.locator("td.word mark b.piece")
    assert pieces.count() > 0
    word = pieces.first.locator("xpath=..").text_content()
    assert len(word) > len(pieces.first.text_content())
    # the attended token is boxed with an outline, which shows on punctuation too
    boxed = page.locator("table.matches span.attended").first
    assert page.evaluate("e => getComputedStyle(e).outlineStyle", boxed.element_handle()) == "solid"
    # the whole sentence on demand, and hidden again
    row = rows.first
    full = row.locator("xpath=following-sibling::tr[1]")
    assert full.is_hidden()
    row.locator("button.full-toggle").click()
    assert full.is_visible() and row.locator("button.full-toggle").get_attribute("aria-expanded") == "true"
    left, center, right = (row.locator(f"td.{c}").text_content() for c in ("left", "word", "right"))
    assert (left.lstrip("…") + center + right.rstrip("…")) in full.text_content()
    row.locator("button.full-toggle").click()
    assert full.is_hidden()


def test_filters_redraw_the_strip_and_the_histograms(open_page):
    page = open_page("heads/L0H0.html")
    details = page.locator("details.token").first
    details.locator("summary").click()
    _wait(page, "document.querySelectorAll('details[open] .token-chart svg').length === 3")
    details.locator("button", has_text="show all").click()
    assert _visible_rows(details).count() == K
    pos_select = details.locator("form.filters select").nth(0)
    options = [o for o in pos_select.locator("option").all_text_contents() if o != "any"]
    assert options
    for pos in options:
        pos_select.select_option(pos)
        rows = _visible_rows(details)
        n = rows.count()
        assert n >= 1
        assert set(rows.locator("td.pos").all_text_contents()) == {pos}
        assert re.fullmatch(rf"showing {n} of {n} matching \({K} in all\)", details.locator(".status").text_content())
        # the histograms count only the kept matches; the strip has one column per kept match
        caption = details.locator("aside.token-histograms ul.caption li").first
        _wait(page, "want => document.querySelector('details[open] aside.token-histograms ul.caption li')"
                               ".textContent.startsWith(want)",
                               arg=f"POS of the matched tokens ({n} match{'' if n == 1 else 'es'}): {pos} {n} (")
        assert caption.text_content().count(" (") == 2  # one category only: "(n matches)" and its share
        _wait(page, 
            "n => { const s = document.querySelector('details[open] .strip svg');"
            " return s && s.querySelectorAll('.mark-rect path').length <= 3 * n &&"
            " s.querySelectorAll('.mark-rect path').length >= n; }", arg=n)
    pos_select.select_option("")
    dep_select = details.locator("form.filters select").nth(1)
    dep = [o for o in dep_select.locator("option").all_text_contents() if o != "any"][0]
    dep_select.select_option(dep)
    assert set(_visible_rows(details).locator("td.dep").all_text_contents()) == {dep}
    # the strip's tooltip names the token
    page.locator("details[open] .strip svg .mark-rect path").first.hover()
    tooltip = page.locator("#vg-tooltip-element.visible")
    tooltip.wait_for()
    assert "token" in tooltip.inner_text()


def test_contents_links_land_below_the_sticky_picker(open_page):
    page = open_page("heads/L1H2.html")
    links = page.locator("nav.toc a")
    # statistics, importance, dependency accuracy, attention and gradients, the analysis, one per probe
    assert links.count() == 5 + page.locator("section.probe").count()
    page.locator("nav.toc a[href='#s1']").click()
    page.wait_for_timeout(300)
    picker = page.locator("#token-picker").bounding_box()
    heading = page.locator("#s1 h2").bounding_box()
    assert heading["y"] >= picker["y"] + picker["height"] - 1


def test_layer_page_lists_both_spaces(open_page):
    page = open_page("layers/L1.html")
    assert page.locator("section.analysis").count() == 2
    details = page.locator("details.token").first
    details.locator("summary").click()  # the match lists load from the page's data file
    _wait(page, "document.querySelectorAll('details.token .match-list').length === 2")
    assert details.locator(".match-list").count() == 2
    assert details.locator(".match-list h4").all_text_contents() == [
        "Embedding space: the layer's output", "Context space, all heads"]


SCREENSHOTS = Path(__file__).resolve().parent.parent / "test-output" / "screenshots"


@pytest.mark.parametrize("rel", ["index.html", "heads/L1H2.html", "layers/L1.html", "sentences/0.html",
                                 "about.html"])
def test_every_page_type_passes_axe_core(open_page, rel):
    """axe-core (run in the page through axe-playwright-python) finds no serious or critical violation, on the
    page as loaded and, on head and layer pages, with a token's concordance and histograms open. Then the page, a
    token opened, is photographed for a person to look at: test-output/screenshots/ (the same page: opening each
    page again for its picture cost 13 s of the suite)."""
    page = open_page(rel)
    assert _axe_problems(page) == []
    if page.locator("details.token").count():
        page.locator("details.token summary").first.click()
        _wait(page, "document.querySelectorAll('details[open] .token-chart svg').length >= 3")
        assert _axe_problems(page) == []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / (rel.replace("/", "-").removesuffix(".html") + ".png")
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000


def test_skip_link_and_tokens_work_from_the_keyboard(open_page):
    page = open_page("heads/L1H2.html")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#main"
    summary = page.locator("details.token summary").first
    summary.focus()
    page.keyboard.press("Enter")
    _wait(page, "document.querySelectorAll('details[open] table.matches').length === 1")
    # the picker is a native select: the keyboard changes it
    page.locator("#token-select").focus()
    page.keyboard.press("ArrowDown")
    assert page.locator("#token-select").input_value() != "all"


def test_overview_statistic_menu_and_tooltips(open_page):
    page = open_page("index.html")
    chart = page.locator("#overview svg")
    before = chart.inner_html()
    menu = page.locator("#overview-statistic")
    options = menu.locator("option").all()
    assert len(options) > 3
    menu.select_option(index=2)
    _wait(page, "before => document.querySelector('#overview svg').innerHTML !== before", arg=before)
    # a tooltip shows on a cell, styled by style.css (no style element is allowed by the page's policy)
    page.locator("#overview svg .mark-rect path").first.hover()
    tooltip = page.locator("#vg-tooltip-element.visible")
    tooltip.wait_for()
    assert "head" in tooltip.inner_text()
    assert page.evaluate("getComputedStyle(document.getElementById('vg-tooltip-element')).position") == "fixed"


def test_sentence_page_views_draw_and_respond(open_page):
    page = open_page("sentences/0.html")
    assert page.locator("#head-view svg").count() == 1
    assert page.locator("#model-view svg .mark-rect path").count() > 0
    lines = page.locator("#head-view svg .mark-rule line")
    first = lines.count()
    assert first > 0
    # the level radio switches tokens to words; the layer slider to another layer
    page.locator("#head-view input[type=radio][value=words]").check()
    _wait(page, f"document.querySelectorAll('#head-view svg .mark-rule line').length !== {first}")
    page.locator("#head-view input[type=range]").first.fill("1")
    page.wait_for_timeout(300)
    before = lines.count()
    assert before > 0
    # pointing at a token on the left keeps only its lines
    page.locator("#head-view svg .mark-text text").first.hover()
    page.wait_for_timeout(300)
    assert 0 < lines.count() < before
    # the neuron view: another query token gives other softmax numbers
    numbers = page.locator("#neuron-view svg").text_content()
    page.locator("#neuron-view select").select_option(index=2)
    _wait(page, "before => document.querySelector('#neuron-view svg').textContent !== before",
                           arg=numbers)


_NEURON_NUMBERS = ("[...document.querySelectorAll('#neuron-view svg .mark-text text')]"
                   ".map(t => t.textContent).join(' ')")


def _numbers(text: str) -> list[float]:
    return [float(x) for x in re.findall(r"-?\d+\.\d+", text)]


def test_neuron_view_loads_the_picked_layer_from_its_data_file(open_page, site):
    """The page carries layer 0's query and key vectors; picking layer 1 loads sentences/0/neuron-L1.js and the
    chart shows what the same chart drawn by vl-convert from that file's rows shows (scores and softmax)."""
    import json

    import vl_convert
    from bs4 import BeautifulSoup

    page = open_page("sentences/0.html")
    assert page.evaluate("typeof window.reportgenLayers") == "undefined"  # nothing loaded up front
    spec = json.loads(BeautifulSoup((site / "sentences" / "0.html").read_text(), "html.parser")
                      .select_one('script[data-chart="neuron-view"]').string)

    def expected(layer: int) -> list[float]:
        text = (site / "sentences" / "0" / f"neuron-L{layer}.js").read_text()
        rows = json.loads(text[text.index("] = ") + 4 : text.rindex(";")])
        assert rows and {r["l"] for r in rows} == {layer}
        drawn = json.loads(json.dumps(spec))
        drawn["datasets"]["vectors"] = rows
        for param in drawn["params"]:
            if param["name"] == "layer":
                param["value"] = layer
        return _numbers(" ".join(re.findall(r"<text[^>]*>([^<]*)</text>", vl_convert.vegalite_to_svg(drawn))))

    assert _numbers(page.evaluate(_NEURON_NUMBERS)) == expected(0)
    assert expected(1) != expected(0)
    page.locator("#neuron-view input[type=range]").first.fill("1")
    _wait(page, "() => !!(window.reportgenLayers && window.reportgenLayers['neuron-L1.js'])")
    _wait(page, f"want => JSON.stringify(({_NEURON_NUMBERS}).match(/-?\\d+\\.\\d+/g).map(Number)) === "
                "JSON.stringify(want)", expected(1))
    page.locator("#neuron-view input[type=range]").first.fill("0")  # back, from the file already loaded
    _wait(page, f"want => JSON.stringify(({_NEURON_NUMBERS}).match(/-?\\d+\\.\\d+/g).map(Number)) === "
                "JSON.stringify(want)", expected(0))


def test_hostile_text_shows_as_text_in_a_real_browser(open_page, hostile_site):
    """The pages of a site built from hostile text, every page but the head pages after the first and last of
    them (one template and one script with other numbers; test_injection reads the markup of every page): no
    dialog, no console error, no request (the fixture checks), and the payloads read as text, in the page and in
    the match lists drawn by the script."""
    pages = sorted(p.relative_to(hostile_site).as_posix() for p in hostile_site.rglob("*.html"))
    heads = [p for p in pages if p.startswith("heads/")]
    assert len(pages) > 10 and len(heads) > 2
    pages = [p for p in pages if p not in heads[1:-1]]
    seen = ""
    for rel in pages:
        page = open_page(rel, hostile_site)
        for details in page.locator("details.token").all()[:3]:
            details.locator("summary").click()
        # hovering marks shows tooltips, which carry token text
        marks = [m for m in page.locator(".chart svg .mark-rect path").all()[:6]
                 if (box := m.bounding_box()) and box["width"] > 0 and box["height"] > 0]  # not a bar of 0
        for mark in marks[:3]:
            mark.hover(force=True)
        seen += page.locator("body").inner_text()
        # every chart is drawn with marks, not just an empty frame
        assert page.evaluate("""Array.from(document.querySelectorAll('.chart')).filter(
            c => !c.querySelector('svg .role-mark > *')).length""") == 0, rel
        assert page.evaluate("document.querySelectorAll('img, iframe, object, embed').length") == 0
    for payload in ('<script>alert("x")</script>', "</script><img src=x onerror=alert(1)>", "{{ 7*7 }}",
                    '"onmouseover=alert(1)', "javascript:alert(1)", "\u202eoverride"):
        assert payload in seen, payload


# ---- the index page's overview -------------------------------------------------------------------


def _legend_title(page) -> str:
    return page.evaluate("(document.querySelector('#overview svg .role-legend-title text') || {}).textContent || ''")


def test_overview_menu_names_the_chosen_statistic_in_the_legend(open_page):
    from reportgen.site.charts.overview import stat_title

    page = open_page("index.html")
    menu = page.locator("#overview-statistic")
    first, chosen = menu.input_value(), "prev"
    assert first != chosen and _legend_title(page) == stat_title(first)
    menu.select_option(chosen)
    _wait(page, "want => { const t = document.querySelector('#overview svg .role-legend-title text');"
                           " return t && t.textContent === want; }", arg=stat_title(chosen))
    assert "previous token" in _legend_title(page) and "0–1" in _legend_title(page)
    assert "previous token" in page.locator("#overview").get_attribute("aria-label")
    assert page.locator("#overview svg").count() == 1  # the chart was replaced, not added to
    # the menu is a native select: the keyboard changes the statistic too
    menu.focus()
    page.keyboard.press("ArrowDown")
    following = menu.input_value()
    assert following != chosen
    _wait(page, "want => { const t = document.querySelector('#overview svg .role-legend-title text');"
                           " return t && t.textContent === want; }", arg=stat_title(following))


def test_overview_tooltip_names_head_statistic_and_value(open_page, site):
    from reportgen.store import Store

    page = open_page("index.html")
    page.locator("#overview-statistic").select_option("first")
    _wait(page, "() => { const t = document.querySelector('#overview svg .role-legend-title text');"
                           " return t && t.textContent.includes('first token'); }")
    with Store(site / "report.duckdb", read_only=True) as store:
        stored = {f"L{layer}H{head}": value for layer, head, stat, value in store.head_stats() if stat == "first"}
    cells = page.locator("#overview svg .mark-rect.role-mark path")  # the cells, not the legend's gradient
    assert cells.count() == len(stored)
    for i in (0, cells.count() - 1):
        cells.nth(i).hover()
        tooltip = page.locator("#vg-tooltip-element.visible")
        tooltip.wait_for()
        text = tooltip.inner_text()
        label = re.search(r"L\d+H\d+", text).group(0)
        assert "first: mean attention to the first token" in text
        assert f"{stored[label]:.3f}" in text, (text, stored[label])
        page.mouse.move(0, 0)


# ---- sentence pages of a model with 12 heads and a long sentence ---------------------------------------

LONG_PROBE = ("The committee, after weeks of unbelievably heated debate, finally agreed that the old railway station "
              "by the river should become a public library with a small garden for the children.")


@pytest.fixture(scope="module")
def wide_site(tmp_path_factory):
    """A 2-layer BERT with 12 heads (as MiniLM's layers), random weights and MiniLM's tokenizer, on a long probe."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from reportgen.models import default_model_path

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(default_model_path())
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=48, num_hidden_layers=2,
                        num_attention_heads=12, intermediate_size=64, max_position_embeddings=128)
    model_dir = tmp_path_factory.mktemp("bert-12-heads")
    BertModel(config).save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    return build_small_site(tmp_path_factory.mktemp("wide"), model_dir, LONG_PROBE + "\n", SENTENCES, top_k=2)


@pytest.fixture(scope="module")
def wide_page(browser, wide_site):
    """The wide site's sentence page, opened once for the five tests below (drawing its model view of 12 heads
    takes seconds): each test leaves the views as it found them (the head view at token level, every head and
    token), but the last, which follows a link away; no console error or request in all of them (the fixture)."""
    with browser_pages(browser) as page_at:
        page = page_at(wide_site / "sentences/0.html")
        page.set_viewport_size({"width": 1400, "height": 1000})
        yield page


def _head_view_rows(wide_site) -> list[dict]:
    from reportgen.site.views.common import Report
    from reportgen.site.views.sentence import sentence_page
    from reportgen.store import Store

    with Store(wide_site / "report.duckdb", read_only=True) as store:
        return sentence_page(Report(store, 5), 0).head_view["datasets"]["attention"]


def test_model_view_of_12_heads_fits_a_1400_px_window(wide_page):
    assert len(LONG_PROBE.split()) >= 28
    page = wide_page
    svg = page.locator("#model-view svg").bounding_box()
    assert svg["x"] >= 0 and svg["x"] + svg["width"] <= 1400
    # every head's column is drawn inside the window: the grid's last column header reads 11
    headers = page.locator("#model-view svg .role-column-header text")
    assert headers.count() == 12
    last = headers.last.bounding_box()
    assert last["x"] + last["width"] <= 1400 and headers.last.text_content() == "11"
    # neither the page nor the chart's own box scrolls sideways
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    assert page.evaluate("(e => e.scrollWidth <= e.clientWidth)(document.querySelector('.chart-scroll'))")


def test_head_view_menus_work_from_the_keyboard(wide_page, wide_site):
    page = wide_page
    lines = page.locator("#head-view svg .mark-rule line")
    every = lines.count()
    rows = [r for r in _head_view_rows(wide_site) if r["lv"] == "tokens" and r["l"] == 0]
    assert every == sum(len(r["j"]) for r in rows) > 0
    # from the layer slider, Tab reaches the head menu; the keyboard picks head 0: only its lines are left
    page.locator("#head-view input[type=range]").focus()
    for _ in range(4):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.name") == "head":
            break
    assert page.evaluate("document.activeElement.name") == "head"
    page.keyboard.press("ArrowDown")
    head0 = sum(len(r["j"]) for r in rows if r["h"] == 0)
    _wait(page, f"document.querySelectorAll('#head-view svg .mark-rule line').length === {head0}")
    # the next Tab is the token menu (the word menu is hidden at token level): token 0's lines of head 0
    assert page.locator("#head-view select[name=from_word]").is_hidden()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.name") == "from_token"
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.selectedOptions[0].textContent") == "0 [CLS]"
    token0 = sum(len(r["j"]) for r in rows if r["h"] == 0 and r["i"] == 0)
    assert 0 < token0 < head0
    _wait(page, f"document.querySelectorAll('#head-view svg .mark-rule line').length === {token0}")
    for menu in ("from_token", "head"):  # back to every head and token, as the next test finds the page
        page.locator(f"#head-view select[name={menu}]").select_option(index=0)
    _wait(page, f"document.querySelectorAll('#head-view svg .mark-rule line').length === {every}")


def test_head_view_shrinks_to_the_words_and_names_them_in_its_menu(wide_page):
    from reportgen.site.charts.sentence import UNIT_STEP

    page = wide_page
    units = page.locator("#head-view svg .mark-text").first.locator("text")
    n_tokens = units.count()
    height = page.locator("#head-view svg").bounding_box()["height"]
    page.locator("#head-view input[type=radio][value=words]").check()
    _wait(page, f"document.querySelector('#head-view svg .mark-text').querySelectorAll('text').length"
                           f" < {n_tokens}")
    n_words = units.count()
    _wait(page, f"document.querySelector('#head-view svg').getBoundingClientRect().height < {height}")
    shrunk = page.locator("#head-view svg").bounding_box()["height"]
    assert shrunk == pytest.approx(height - UNIT_STEP * (n_tokens - n_words), abs=2)
    # the last word sits at the bottom of the drawing: no empty area under it
    last = units.last.bounding_box()
    plot = page.locator("#head-view svg .mark-rule").bounding_box()
    assert last["y"] + last["height"] >= plot["y"] + plot["height"] - UNIT_STEP
    # the word menu replaces the token menu and lists the words
    assert page.locator("#head-view select[name=from_token]").is_hidden()
    menu = page.locator("#head-view select[name=from_word]")
    assert menu.is_visible()
    options = menu.locator("option").all_text_contents()
    assert options[0] == "all" and len(options) == n_words + 1 and "7 unbelievably" in options
    page.locator("#head-view input[type=radio][value=tokens]").check()  # back to tokens, for the next test
    _wait(page, f"document.querySelector('#head-view svg .mark-text').querySelectorAll('text').length"
                f" === {n_tokens}")


def test_model_view_tooltip_names_the_tokens(wide_page):
    page = wide_page
    labels = page.locator("#head-view svg .mark-text").first.locator("text").all_text_contents()
    page.locator("#model-view svg .mark-rect.role-mark path").first.hover()
    tooltip = page.locator("#vg-tooltip-element.visible")
    tooltip.wait_for()
    text = tooltip.inner_text()
    assert re.search(r"from\s*0 \[CLS\]", text), text
    assert any(re.search(rf"to\s*{re.escape(label)}(\s|$)", text) for label in labels), text
    # the head view's lines name their tokens too
    page.mouse.move(0, 0)
    page.locator("#head-view svg .mark-rule line").first.hover(force=True)
    _wait(page, "document.querySelector('#vg-tooltip-element.visible') && "
                           "/from\\s*\\d+ \\S/.test(document.querySelector('#vg-tooltip-element').innerText)")


def test_table_of_heads_links_every_head_and_layer(wide_page):
    """Last of the wide page's tests: it follows a link away from the page."""
    page = wide_page
    table = page.locator("table.sentence-heads")
    assert table.locator("tbody tr").count() == 2 and table.locator("thead th").count() == 13
    cells = table.locator("tbody td a")
    assert cells.count() == 24
    assert cells.nth(13).get_attribute("href") == "../heads/L1H1.html#s0"
    from reportgen.vocab import ROLE_CODES  # the roles' short names, without syntax

    codes = "|".join(c for r, c in ROLE_CODES.items() if r != "syntax")
    assert re.fullmatch(rf"({codes}) \d\.\d\d", cells.nth(13).text_content())
    table.locator("tbody th a").nth(1).click()
    page.wait_for_url("**/layers/L1.html")


# ---- the head analysis on the overview ------------------------------------------------------------------

def test_table_of_heads_sorts_by_a_statistic_and_filters(open_page, site):
    from reportgen.store import Store

    with Store(site / "report.duckdb", read_only=True) as store:
        prev = {f"L{layer}H{head}": value for layer, head, stat, value in store.head_stats() if stat == "prev"}
        roles = {f"L{r.layer}H{r.head}": r.role for r in store.head_roles()}
    page = open_page("index.html")
    table = page.locator("#head-grid")
    heads = table.locator("tbody tr th a")
    assert heads.all_text_contents() == sorted(prev, key=lambda k: [int(x) for x in re.findall(r"\d+", k)])
    button = table.locator("thead button", has_text=re.compile(r"^prev$"))
    button.click()  # a number column: highest first on the first press
    assert button.locator("xpath=..").get_attribute("aria-sort") == "descending"
    want = sorted(prev, key=lambda k: (-prev[k], k))
    got = heads.all_text_contents()
    assert [round(prev[k], 9) for k in got] == [round(prev[k], 9) for k in want]
    button.click()  # again: lowest first
    assert button.locator("xpath=..").get_attribute("aria-sort") == "ascending"
    assert [round(prev[k], 9) for k in heads.all_text_contents()] == [round(prev[k], 9) for k in reversed(want)]
    role_button = table.locator("thead button", has_text=re.compile(r"^role$"))
    role_button.click()  # a text column: from A
    assert role_button.locator("xpath=..").get_attribute("aria-sort") == "ascending"
    shown_roles = [r.locator("td").first.text_content() for r in table.locator("tbody tr").all()]
    assert shown_roles == sorted(shown_roles)
    # the role column holds each head's stored role
    for row in table.locator("tbody tr").all()[:3]:
        label = row.locator("th a").text_content()
        assert row.locator("td").first.text_content() == roles[label]
    # the filter keeps the rows that contain every word typed, and says how many
    # (a row holds its head and its most similar head)
    with Store(site / "report.duckdb", read_only=True) as store:
        nearest = {f"L{layer}H{head}": f"L{nl}H{nh}" for layer, head, nl, nh, _ in store.nearest_heads()}
    page.locator("#heads-filter").fill("L1H")
    visible = [r for r in table.locator("tbody tr").all() if r.is_visible()]
    want = sorted(k for k in prev if k.startswith("L1H") or nearest[k].startswith("L1H"))
    assert sorted(r.locator("th a").text_content() for r in visible) == want
    assert page.locator("#heads-shown").text_content() == f"{len(visible)} of {len(prev)} heads"
    page.locator("#heads-filter").fill("")
    assert page.locator("#heads-shown").text_content() == f"{len(prev)} of {len(prev)} heads"

    def kept(text: str) -> list[str]:
        page.locator("#heads-filter").fill(text)
        return sorted(r.locator("th a").text_content() for r in table.locator("tbody tr").all() if r.is_visible())

    # fields: L1 is layer 1 (not L1H... of another layer's most similar head), L1H2 that head, role: a role
    assert kept("L1") == sorted(k for k in prev if k.startswith("L1H"))
    assert kept("L1H2") == ["L1H2"]
    some_role = roles["L0H0"]
    assert kept(f"role:{some_role}") == sorted(k for k, r in roles.items() if r == some_role)
    assert kept(f"L0 role:{some_role}") == sorted(k for k, r in roles.items() if r == some_role and k[:2] == "L0")
    assert "role:syntax" in page.locator("#heads-filter").get_attribute("placeholder")
    page.locator("#heads-filter").fill("")
    # the header stays in view while the table scrolls in its box
    box = page.locator(".table-scroll.tall")
    box.evaluate("b => { b.style.maxHeight = '120px'; b.scrollTop = b.scrollHeight; }")
    assert box.evaluate("b => b.scrollTop") > 100  # the caption and the first rows have scrolled away
    header = table.locator("thead th").first
    assert abs(header.bounding_box()["y"] - box.bounding_box()["y"]) < 2


def test_head_map_has_a_point_per_head_that_opens_its_page(open_page, site):
    from reportgen.store import Store

    with Store(site / "report.duckdb", read_only=True) as store:
        n = len(store.head_map())
    page = open_page("index.html")
    points = page.locator("#head-map svg .mark-symbol.role-mark path")  # not the legend's symbols
    assert n > 0 and points.count() == n
    points.first.hover()
    tooltip = page.locator("#vg-tooltip-element.visible")
    tooltip.wait_for()
    assert re.search(r"head\s*L\d+H\d+", tooltip.inner_text())
    label = re.search(r"L\d+H\d+", tooltip.inner_text()).group(0)
    points.first.click()
    page.wait_for_url(f"**/heads/{label}.html")
    assert page.locator("#role").is_visible()


@pytest.mark.build
def test_a_site_rendered_from_its_database_is_the_site_these_tests_open(site, tmp_path):
    """`reportgen render` output is this module's site byte for byte (but the database, left where it is, and the
    build's timings), so every check of this module holds for it: every page type draws its charts in Chromium
    from file://, with no console error and no request outside file://, and passes axe-core. (Opening its pages
    again took 7 s; a rendered site differing from the build in one byte now fails.)"""
    from conftest import site_files

    from reportgen.progress import Progress
    from reportgen.commands.render import render_database

    out = tmp_path / "rendered"
    render_database(site / "report.duckdb", out, None, Progress())
    files, want = site_files(out), site_files(site)
    assert sorted(files) == sorted(want)
    for name, content in want.items():
        assert files[name] == content, name


@pytest.mark.parametrize("rel", ["index.html", "heads/L1H2.html", "layers/L1.html", "sentences/0.html", "about.html"])
def test_no_page_is_wider_than_a_phone(tab, site, rel):
    """At 390 px wide every page fits the window: wide tables and charts scroll inside their own box."""
    with tab_pages(tab, viewport={"width": 390, "height": 844}) as page_at:
        page = page_at(site / rel)
        assert page.evaluate("window.innerWidth") == 390
        if rel.startswith(("heads/", "layers/")):  # with a concordance open
            page.locator("details.token summary").first.click()
            _wait(page, "document.querySelector('details.token .match-lists table') !== null")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_match_lists_load_from_the_file_beside_the_page(open_page, site):
    """A head page carries no match lists: they load from heads/L1H2/matches.js the first time a token is opened,
    and the concordance lists every stored match."""
    page = open_page("heads/L1H2.html")
    assert "spaces" not in page.evaluate("JSON.parse(document.getElementById('page-data').textContent)")
    assert page.evaluate("(window.reportgenLayers || {})['matches.js'] === undefined")
    page.locator("details.token summary").first.click()
    _wait(page, "document.querySelector('details.token .match-lists table') !== null")
    assert page.evaluate("Array.isArray(window.reportgenLayers['matches.js'] && "
                         "Object.values(window.reportgenLayers['matches.js'].context)[0])")
    rows = page.locator("details.token").first.locator("table.matches tbody tr:not(.full)")
    assert rows.count() == K

