"""The built pages in a real browser: Debian's Chromium driven by Playwright, pages opened from file://.

`make test` installs Chromium (apt-get) and Playwright; the path can be changed with REPORTGEN_CHROMIUM.
"""

from __future__ import annotations

import os
import re
import shutil

import pytest
from conftest import build_small_site


pytestmark = pytest.mark.browser

K = 12
CHROMIUM = os.environ.get("REPORTGEN_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="module")
def site(tmp_path_factory, bert_dir):
    return build_small_site(tmp_path_factory.mktemp("browser"), bert_dir, top_k=K, shown_matches=5)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} not found: `make test` installs Debian's chromium (apt-get install chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def open_page(browser, site, request):
    """Open a page of the site; after the test, no console error and no request left file://."""
    context = browser.new_context(viewport={"width": 1300, "height": 1000})
    problems: list[str] = []

    def page_at(rel: str):
        page = context.new_page()
        page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.on("request", lambda r: problems.append(f"request {r.url}") if not r.url.startswith("file://") else None)
        page.on("dialog", lambda d: problems.append(f"dialog {d.message}"))
        page.goto((site / rel).as_uri())
        page.wait_for_function("document.querySelectorAll('.chart').length === "
                               "document.querySelectorAll('.chart svg').length")
        return page

    yield page_at
    context.close()
    assert problems == []


def _visible_rows(details):
    return details.locator("table.matches tbody tr:visible")


def test_head_page_draws_every_chart(open_page):
    page = open_page("heads/L1H2.html")
    charts = page.locator(".chart")
    assert charts.count() == 3 + page.locator("section.probe").count()
    for i in range(charts.count()):
        assert charts.nth(i).locator("svg .mark-rect path, svg .mark-rect rect, svg path").count() > 0


def test_opening_a_token_lists_its_matches_and_picks_its_histograms(open_page, site):
    page = open_page("heads/L1H2.html")
    caption = page.locator("figure.histograms ul.caption li").first
    assert "(" in caption.text_content()
    all_tokens = caption.text_content()
    chart_all = page.locator("#context-matched svg").text_content()
    details = page.locator("details.token").nth(2)
    key = details.get_attribute("data-key")
    details.locator("summary").click()
    # the list: the best `shown_matches` of all K, the strip chart, the highlighted match
    page.wait_for_function("document.querySelectorAll('details[open] .strip svg').length > 0")
    assert _visible_rows(details).count() == 5
    assert details.locator("table.matches tbody tr").count() == K
    assert details.locator("table.matches tbody tr mark").count() == K
    assert details.locator(".status").text_content() == f"showing 5 of {K} matching ({K} in all)"
    assert details.locator(".strip svg .mark-rect path").count() >= 2 * K
    # the token is picked: the select, the chart captions and the chart's own data follow
    assert page.locator("#token-select").input_value() == key
    assert caption.text_content() != all_tokens
    assert caption.text_content().startswith(f"POS of the matched tokens ({K} matches): ")
    page.wait_for_function("before => before !== document.querySelector('#context-matched svg').textContent",
                           arg=chart_all)
    # back to all probe tokens
    page.select_option("#token-select", "all")
    assert caption.text_content() == all_tokens
    page.wait_for_function("before => before === document.querySelector('#context-matched svg').textContent",
                           arg=chart_all)
    assert page.locator("figure.histograms .chosen-token").first.text_content() == "all probe tokens"


def test_match_list_filters_by_pos_and_dependency(open_page):
    page = open_page("heads/L0H0.html")
    details = page.locator("details.token").first
    details.locator("summary").click()
    details.locator("button", has_text="show all").click()
    assert _visible_rows(details).count() == K
    pos_select = details.locator("form.filters select").nth(0)
    options = [o for o in pos_select.locator("option").all_text_contents() if o != "any"]
    assert options
    for pos in options:
        pos_select.select_option(pos)
        rows = _visible_rows(details)
        assert rows.count() >= 1
        assert set(rows.locator("td:nth-child(4)").all_text_contents()) == {pos}
        assert re.fullmatch(rf"showing {rows.count()} of {rows.count()} matching \({K} in all\)",
                            details.locator(".status").text_content())
    pos_select.select_option("")
    dep_select = details.locator("form.filters select").nth(1)
    dep = [o for o in dep_select.locator("option").all_text_contents() if o != "any"][0]
    dep_select.select_option(dep)
    assert set(_visible_rows(details).locator("td:nth-child(5)").all_text_contents()) == {dep}


def test_layer_page_lists_both_spaces(open_page):
    page = open_page("layers/L1.html")
    assert page.locator("section.analysis").count() == 2
    details = page.locator("details.token").first
    details.locator("summary").click()
    assert details.locator(".match-list").count() == 2
    assert details.locator(".match-list h4").all_text_contents() == [
        "Embedding space: the layer's output", "Context space, all heads"]


def test_screenshots(open_page, tmp_path_factory):
    """One picture per page type with a token opened, for a person to look at (kept in pytest's tmp folder)."""
    shots = tmp_path_factory.mktemp("screenshots")
    for rel in ("index.html", "heads/L1H2.html", "layers/L1.html", "about.html"):
        page = open_page(rel)
        if page.locator("details.token").count():
            page.locator("details.token summary").first.click()
        path = shots / (rel.replace("/", "-").removesuffix(".html") + ".png")
        page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 10_000


def test_sentence_page_views_draw_and_respond(open_page):
    page = open_page("sentences/0.html")
    assert page.locator("#head-view svg").count() == 1
    assert page.locator("#model-view svg .mark-rect path").count() > 0
    lines = page.locator("#head-view svg .mark-rule line")
    first = lines.count()
    assert first > 0
    # the level radio switches tokens to words; the layer slider to another layer
    page.locator("#head-view input[type=radio][value=words]").check()
    page.wait_for_function(f"document.querySelectorAll('#head-view svg .mark-rule line').length !== {first}")
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
    page.wait_for_function("before => document.querySelector('#neuron-view svg').textContent !== before",
                           arg=numbers)
