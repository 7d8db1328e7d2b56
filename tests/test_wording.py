"""The words on every page of a built site: no count with the wrong number ('1 heads'), no '1st highest' or
'6th highest of the 6' (a place that has a word of its own), no sentence run into the next ('offset.The'). The
committed golden site is scanned (fast) and the shared analysis site (a build); each pattern is first shown to
catch the slip it names."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

GOLDEN = Path(__file__).parent / "golden"
BLOCKS = ("p", "li", "dd", "dt", "td", "th", "h1", "h2", "h3", "caption", "figcaption", "summary", "span",
          "strong", "a", "title")
PLURALS = ("heads", "layers", "sentences", "probes", "words", "matches", "contexts", "relations", "cells", "tokens",
           "others", "baselines", "corpus sentences", "corpus contexts", "more heads")
SLIPS = {
    "a count of one with a plural noun": re.compile(r"(?<![\d.,])\b1 (?:" + "|".join(PLURALS) + r")\b"),
    "'1st highest' for 'highest'": re.compile(r"\b1st (?:highest|lowest|most|least)\b"),
    "'the 6th highest of the 6' for 'the lowest'": re.compile(r"\b(\d+)(?:st|nd|rd|th) highest of (?:the )?\1\b"),
    "'of the 1 heads'": re.compile(r"\bof the 1 \w+s\b"),
    "a sentence run into the next": re.compile(r"[a-z]{2}\.[A-Z][a-z]"),
}


def slips(text: str) -> list[tuple[str, str]]:
    return [(name, m.group(0)) for name, pattern in SLIPS.items() for m in pattern.finditer(text)]


@pytest.mark.unit
def test_each_pattern_catches_its_slip():
    assert slips("tied with 1 others") and slips("from 1 sentences") and slips("1 heads agree")
    assert slips("the 1st highest of 8") and slips("the 6th highest of the 6 layers")
    assert slips("the best fixed offset.The gradient proxy")
    assert not slips("1 head, 2 heads, the highest of the 6 layers, the 3rd highest of the 6, 0.1 heads. The end")
    assert not slips("1,200 sentences and 21 heads; e.g. L1H2; report.duckdb")


def page_texts(site: Path):
    """(page, text) of every element that holds words, each on its own (a page's text run together would join
    the end of one paragraph to the start of the next)."""
    for path in sorted(site.rglob("*.html")):
        page = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
        for script in page.find_all(["script", "style"]):
            script.decompose()
        for element in page.find_all(BLOCKS):
            yield path.relative_to(site), " ".join(s for s in element.find_all(string=True, recursive=False))
            yield path.relative_to(site), element.get_text()


def _scan(site: Path) -> list[tuple]:
    found = set()
    for page, text in page_texts(site):
        for slip in slips(text):
            found.add((str(page), *slip))
    return sorted(found)


@pytest.mark.unit
def test_no_page_of_the_golden_site_has_a_wording_slip():
    assert GOLDEN.is_dir()
    assert _scan(GOLDEN) == []


@pytest.mark.build
def test_no_page_of_a_built_site_has_a_wording_slip(analysis_site):
    assert _scan(analysis_site) == []
