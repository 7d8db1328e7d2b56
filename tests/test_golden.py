"""The golden mini-site: a tiny random-initialised BERT, a dozen sentences, two probes. Every page and the
page data are compared with the copy committed under tests/golden/, so any change to what the site says or
how it is marked up shows as a diff.

Regenerate on purpose (after checking the change is wanted) with:

    REPORTGEN_REGENERATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_golden.py

Numbers are compared to within rounding (floating point may differ in the last bit between machines);
library versions on the about page are not compared. Everything else must be identical.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from conftest import SENTENCES

from reportgen.commands.build import build
from reportgen.analyses.registry import load_config

pytestmark = pytest.mark.build

GOLDEN = Path(__file__).parent / "golden"
EXTRA = ["Attention is all you need, they said.", "Nobody expected the storm to last a week.",
         "The museum reopened after the long renovation.", "Can you hear the trains from your window?"]
PROBES = "She gave him the keys.\nThe dog sat on the unbelievably comfortable table.\n"
NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e-?\d+)?")
VERSIONS = re.compile(r"(<dt>\w+_version</dt><dd>)[^<]*(</dd>)")


def _site_files(root: Path) -> dict[str, str]:
    # the pages, the corpus contexts, the sentences' per-layer data (the neuron view's vectors) and the head and
    # layer pages' match lists
    files = (sorted(root.rglob("*.html")) + [root / "assets" / "contexts.js"] + sorted(root.glob("sentences/*/*.js"))
             + sorted(root.glob("heads/*/*.js")) + sorted(root.glob("layers/*/*.js")))
    return {p.relative_to(root).as_posix(): p.read_text(encoding="utf-8") for p in files}


@pytest.fixture(scope="module")
def built(tmp_path_factory, bert_dir) -> Path:
    work = tmp_path_factory.mktemp("golden")
    shutil.copytree(bert_dir, work / "tiny-bert")
    (work / "corpus.txt").write_text("\n".join(SENTENCES + EXTRA) + "\n", encoding="utf-8")
    (work / "probes.txt").write_text(PROBES, encoding="utf-8")
    here = Path.cwd()
    before = os.environ.get("SOURCE_DATE_EPOCH")
    os.chdir(work)  # relative paths: the options shown on the about page do not depend on where tests run
    os.environ["SOURCE_DATE_EPOCH"] = "1700000000"
    try:
        build(load_config(None, model="tiny-bert", corpus=(Path("corpus.txt"),), probes=Path("probes.txt"),
                          out=Path("site"), top_k=3))
    finally:
        os.chdir(here)
        if before is None:
            del os.environ["SOURCE_DATE_EPOCH"]
        else:
            os.environ["SOURCE_DATE_EPOCH"] = before
    site = work / "site"
    if os.environ.get("REPORTGEN_REGENERATE_GOLDEN"):
        shutil.rmtree(GOLDEN, ignore_errors=True)
        for rel, text in _site_files(site).items():
            (GOLDEN / rel).parent.mkdir(parents=True, exist_ok=True)
            (GOLDEN / rel).write_text(text, encoding="utf-8")
    return site


def _same(rel: str, got: str, want: str) -> None:
    got, want = VERSIONS.sub(r"\1\2", got), VERSIONS.sub(r"\1\2", want)
    assert NUMBER.sub("#", got) == NUMBER.sub("#", want), f"{rel} differs from tests/golden/{rel}"
    for a, b in zip(NUMBER.findall(got), NUMBER.findall(want)):
        if a != b:
            assert abs(float(a) - float(b)) <= max(1.0 if "." not in b else 0.002, 1e-3 * abs(float(b))), (rel, a, b)


def test_golden_site_is_unchanged(built):
    got, want = _site_files(built), _site_files(GOLDEN)
    assert sorted(got) == sorted(want)
    for rel in want:
        _same(rel, got[rel], want[rel])


@pytest.mark.unit
def test_golden_comparison_allows_only_rounding():
    _same("x", "<p>weight 0.5004, rank 7</p>", "<p>weight 0.5, rank 7</p>")
    for got in ("<p>weight 0.6, rank 7</p>", "<p>weight 0.5, rank 9</p>", "<p>weight 0.5, rank 7.</p>",
                "<b>weight 0.5, rank 7</b>"):
        with pytest.raises(AssertionError):
            _same("x", got, "<p>weight 0.5, rank 7</p>")
