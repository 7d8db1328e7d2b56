"""The built pages in a real browser: Debian's Chromium driven by Playwright, pages opened from file://.

`make test` installs Chromium (apt-get) and Playwright; the path can be changed with REPORTGEN_CHROMIUM.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from conftest import HOSTILE, SENTENCES, build_small_site


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

    def page_at(rel: str, root=None):
        page = context.new_page()
        page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.on("request", lambda r: problems.append(f"request {r.url}") if not r.url.startswith("file://") else None)
        page.on("dialog", lambda d: problems.append(f"dialog {d.message}"))
        page.goto(((root or site) / rel).as_uri())
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


SCREENSHOTS = Path(__file__).resolve().parent.parent / "test-output" / "screenshots"


def test_screenshots(open_page):
    """One picture per page type, a token opened, for a person to look at: test-output/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for rel in ("index.html", "heads/L1H2.html", "layers/L1.html", "sentences/0.html", "about.html"):
        page = open_page(rel)
        if page.locator("details.token").count():
            page.locator("details.token summary").first.click()
        path = SCREENSHOTS / (rel.replace("/", "-").removesuffix(".html") + ".png")
        page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 10_000


def test_overview_statistic_menu_and_tooltips(open_page):
    page = open_page("index.html")
    chart = page.locator("#overview svg")
    before = chart.inner_html()
    menu = page.locator("#overview select")
    options = menu.locator("option").all()
    assert len(options) > 3
    menu.select_option(index=2)
    page.wait_for_function("before => document.querySelector('#overview svg').innerHTML !== before", arg=before)
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


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory, bert_dir):
    return build_small_site(tmp_path_factory.mktemp("hostile"), bert_dir, "\n".join(HOSTILE[:-1]) + "\n",
                            HOSTILE + SENTENCES, top_k=4)


def test_hostile_text_shows_as_text_in_a_real_browser(open_page, hostile_site):
    """Every page of a site built from hostile text: no dialog, no console error, no request (the fixture
    checks), and the payloads read as text, in the page and in the match lists drawn by the script."""
    pages = sorted(p.relative_to(hostile_site).as_posix() for p in hostile_site.rglob("*.html"))
    assert len(pages) > 10
    seen = ""
    for rel in pages:
        page = open_page(rel, hostile_site)
        for details in page.locator("details.token").all()[:3]:
            details.locator("summary").click()
        # hovering marks shows tooltips, which carry token text
        for mark in page.locator(".chart svg .mark-rect path").all()[:3]:
            mark.hover(force=True)
        seen += page.locator("body").inner_text()
        # every chart is drawn with marks, not just an empty frame
        assert page.evaluate("""Array.from(document.querySelectorAll('.chart')).filter(
            c => !c.querySelector('svg .role-mark > *')).length""") == 0, rel
        assert page.evaluate("document.querySelectorAll('img, iframe, object, embed').length") == 0
    for payload in ('<script>alert("x")</script>', "</script><img src=x onerror=alert(1)>", "{{ 7*7 }}",
                    '"onmouseover=alert(1)', "javascript:alert(1)", "\u202eoverride"):
        assert payload in seen, payload
