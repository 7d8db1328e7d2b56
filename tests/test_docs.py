"""The manual (docs/): the generated reference pages are current (as datasette's `cog --check`), every table and
column of the database has its meaning, every page of the nav exists and every page is in it, and the README stays
a short entry that links to pages that exist. With mkdocs installed (`make docs`), the site builds with --strict
and loads nothing from the network."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from reportgen.analyses.registry import UNITS, tables_of
from reportgen.store.schema import CORE, KNOWN, STUDIES

TABLES = CORE + tables_of(UNITS) + STUDIES  # every table a report of the registered analyses has

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _generator():
    spec = importlib.util.spec_from_file_location("docs_generate", DOCS / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _nav_pages(nav) -> list[str]:
    """Every page file named in mkdocs.yml's nav, sections flattened."""
    pages = []
    for entry in nav:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        pages += _nav_pages(value) if isinstance(value, list) else [value]
    return pages


@pytest.mark.parametrize("path", list(_generator().PAGES))
def test_generated_page_is_current(path):
    page = _generator().PAGES[path]
    committed = (ROOT / path).read_text(encoding="utf-8") if (ROOT / path).exists() else ""
    assert committed == page(), f"{path} is stale: run `python docs/generate.py` and commit the result"


def test_every_table_and_column_has_a_description():
    assert {t.name for t in TABLES} == set(KNOWN), "store/schema.py declares a table no analysis names, or the reverse"
    for table in TABLES:
        assert table.about.strip(), f"{table.name}: say what one row is"
        empty = [name for name, sql, meaning in table.definition if not meaning.strip() or not sql.strip()]
        assert not empty, f"{table.name}: columns without a type or a meaning: {empty}"


def test_nav_and_pages_agree():
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    nav = _nav_pages(config["nav"])
    missing = [page for page in nav if not (DOCS / page).is_file()]
    assert not missing, f"pages in mkdocs.yml's nav that do not exist under docs/: {missing}"
    written = sorted(str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md"))
    assert sorted(nav) == written, f"pages under docs/ that the nav leaves out: {sorted(set(written) - set(nav))}"
    assert config["docs_dir"] == "docs" and config["site_dir"] == "docs-site" and config["strict"] is True
    assert config["theme"]["font"] is False, "no web fonts: the manual must open offline"
    assert {"search", "offline"} <= set(config["plugins"])


def test_readme_is_short_and_links_to_pages_that_exist():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 150, "README.md: at most 150 lines; the manual is docs/"
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", readme)
    local = [link for link in links if not re.match(r"[a-z]+:", link)]
    assert any(link.startswith("docs/") for link in local), "README.md should point to the manual in docs/"
    broken = [link for link in local if not (ROOT / link).exists()]
    assert not broken, f"README.md links to files that do not exist: {broken}"
    for table in TABLES:  # users query the database: the README names every table
        assert f"`{table.name}`" in readme, f"README.md does not name the table `{table.name}`"
    screenshot = ROOT / "docs" / "img" / "overview.png"
    assert screenshot.stat().st_size < 300 * 1024


@pytest.mark.skipif(importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("material") is None,
                    reason="mkdocs and mkdocs-material are not installed (make docs installs them)")
def test_docs_build_strict_and_offline(tmp_path):
    out = tmp_path / "docs-site"
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)], cwd=ROOT,
                          capture_output=True, text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"}, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "WARNING" not in done.stderr, done.stderr
    remote = []
    for page in out.rglob("*.html"):
        remote += [f"{page.relative_to(out)}: {url}" for url in re.findall(
            r"<(?:script|link|img)\b[^>]*\b(?:src|href)=\"((?:https?:)?//[^\"]*)\"", page.read_text(encoding="utf-8"))]
    assert not remote, f"the manual loads from the network: {remote[:5]}"
    assert (out / "index.html").is_file() and (out / "search" / "search_index.js").is_file()
