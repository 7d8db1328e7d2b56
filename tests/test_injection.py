"""Corpus and probe text is untrusted: it shows as text on every page, never as markup or script."""

from __future__ import annotations

import json

import pytest
from bs4 import BeautifulSoup
from conftest import HOSTILE

pytestmark = pytest.mark.build

PAYLOADS = HOSTILE


def test_hostile_text_is_escaped_everywhere(hostile_site):
    """conftest.hostile_site: every hostile line in the corpus, every one but the line over the limit as a probe."""
    out = hostile_site
    pages = sorted(out.rglob("*.html"))
    assert len(pages) > 5
    seen_text = ""
    for page in pages:
        html = page.read_text(encoding="utf-8")
        soup = BeautifulSoup(html, "html.parser")
        assert soup.find("img") is None, page
        assert "Template 49" not in soup.get_text(), page  # never evaluated as a template
        for script in soup.find_all("script"):
            if script.get("src"):
                assert script["src"].split("/")[-1] in {"vega.js", "report.js", "timings.js", "contexts.js"}, page
            else:
                assert script.get("type") == "application/json", page
                json.loads(script.string)  # data only, and it is well-formed
                assert "</" not in script.string and "<!--" not in script.string, page
        for tag in soup.find_all(True):
            assert not any(attr.startswith("on") for attr in tag.attrs), (page, tag)
        # only the site's own scripts and styles may run, whatever the text contains
        (csp,) = soup.select('meta[http-equiv="Content-Security-Policy"]')
        assert "script-src 'self';" in csp["content"] and "style-src 'self';" in csp["content"], page
        assert "unsafe" not in csp["content"] and "default-src 'none'" in csp["content"], page
        seen_text += soup.get_text()
    # the match lists' sentences: one JSON literal in a script file, ASCII only, so no text can end it
    script = (out / "assets" / "contexts.js").read_text(encoding="ascii")
    prefix, suffix = "window.reportgenContexts = ", ";\n"
    assert script.startswith(prefix) and script.endswith(suffix) and script.count("\n") == 1
    contexts = json.loads(script[len(prefix):-len(suffix)])
    shown = {text for text, _tokens, _words in contexts["sentences"].values()}
    assert set(PAYLOADS) <= shown
    assert '<script>alert("x")</script>' in "".join(shown)
    for payload in PAYLOADS[:-1]:  # every probe, verbatim, as text
        assert payload in seen_text, payload
