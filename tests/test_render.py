"""`reportgen render DB`: the site from the database alone equals the build's, byte for byte; bad databases are
one-line errors that leave the site as it was."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner
from conftest import assert_clean_failure, build_small_site, site_files

from reportgen.cli import main
from reportgen.store import SCHEMA_VERSION

pytestmark = pytest.mark.build


@pytest.fixture(scope="module")
def built(svg_site):
    return svg_site[0]  # the tiny BERT's site with svg figures (conftest), shared with test_sentence_views


def test_render_from_the_database_alone_equals_the_build(svg_site, tmp_path, monkeypatch):
    """The database file alone, rendered with no model, gives the build's site byte for byte, data files and svg
    figures included; and it is written by a pool of two render processes (each with its own read-only connection)
    where the build wrote its fewer than POOL_PAGES pages in its own process, so the same bytes also show that pages
    do not depend on which process wrote them. (One render for both claims: each writes the figures again.)"""
    import concurrent.futures

    import reportgen.commands.render as render_command
    import reportgen.models
    import reportgen.site.render as site_render

    built, summary = svg_site
    assert len(summary.page_sizes) < site_render.POOL_PAGES  # the build: one process
    pools, sizes = [], []

    def no_model(*_a, **_k):
        raise AssertionError("render must not load a model")

    class Pool(concurrent.futures.ProcessPoolExecutor):
        def __init__(self, workers, **kwargs):
            pools.append(workers)
            super().__init__(workers, **kwargs)

    monkeypatch.setattr(reportgen.models, "load_model", no_model)
    monkeypatch.setattr(site_render, "POOL_PAGES", 1)  # the render: a pool, of two processes whatever the machine
    monkeypatch.setattr(site_render, "usable_cores", lambda: 2)
    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", Pool)
    real_render = render_command.render
    monkeypatch.setattr(render_command, "render", lambda *a, **k: sizes.append(real_render(*a, **k)) or sizes[-1])
    db = tmp_path / "sent" / "report.duckdb"  # what a reader receives: the database file alone
    db.parent.mkdir()
    shutil.copyfile(built / "report.duckdb", db)
    result = CliRunner().invoke(main, ["render", str(db), "--out", str(tmp_path / "again"), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "Rendered" in result.output
    assert pools == [2]
    # the pages' sizes as the build's process counted them, in its order
    assert sizes == [summary.page_sizes] and list(sizes[0]) == list(summary.page_sizes)
    again = tmp_path / "again"
    files = site_files(built)  # every file of the built site but its database and its build timings
    assert len(summary.page_sizes) == len(list(built.rglob("*.html")))
    assert any(name.startswith("figures/") and name.endswith(".svg") for name in files)  # as the build: svg figures
    assert any("/neuron-L" in name for name in files)  # and the neuron view's data files
    assert sorted(site_files(again)) == sorted(files)
    for name, content in site_files(again).items():
        assert content == files[name], name
    assert not (again / "report.duckdb").exists()  # the database stays where it was


def test_render_in_place_keeps_the_database_in_the_site(bert_dir, tmp_path):
    """On a site of its own without figures: writing the svg site's figures again took 10 s of the 11.8 s this test
    took, and that the figures are written as the build wrote them is the test above."""
    built = build_small_site(tmp_path / "built", bert_dir, top_k=2)
    site = tmp_path / "site"
    shutil.copytree(built, site)
    (site / "index.html").write_text("edited", encoding="utf-8")
    result = CliRunner().invoke(main, ["render", str(site / "report.duckdb"), "--out", str(site), "--quiet"])
    assert result.exit_code == 0, result.output
    assert site_files(site) == site_files(built)
    assert (site / "report.duckdb").read_bytes() == (built / "report.duckdb").read_bytes()


def test_another_schema_version_is_a_one_line_error_naming_both(built, tmp_path, old_site):
    db = tmp_path / "old.duckdb"
    shutil.copyfile(built / "report.duckdb", db)
    with duckdb.connect(str(db)) as con:
        con.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    result = CliRunner().invoke(main, ["render", str(db), "--out", str(old_site), "--quiet"])
    line = assert_clean_failure(result, "schema version 3", f"version {SCHEMA_VERSION}")
    assert str(db) in line
    assert (old_site / "index.html").read_text(encoding="utf-8") == "previous report"


@pytest.mark.unit
@pytest.mark.parametrize("content", [None, b"not a database at all", b""])
def test_a_missing_or_foreign_file_is_a_one_line_error(tmp_path, old_site, content):
    db = tmp_path / "x.duckdb"
    if content is not None:
        db.write_bytes(content)
    result = CliRunner().invoke(main, ["render", str(db), "--out", str(old_site), "--quiet"])
    assert_clean_failure(result, str(db))
    assert (old_site / "index.html").read_text(encoding="utf-8") == "previous report"
    assert [p.name for p in old_site.parent.iterdir() if ".building" in p.name] == []


def test_a_bad_figures_value_is_a_one_line_error(built, tmp_path):
    result = CliRunner().invoke(main, ["render", str(built / "report.duckdb"), "--out", str(tmp_path / "s"),
                                       "--figures", "gif", "--quiet"])
    assert_clean_failure(result, "--figures gif")


def test_builds_in_other_folders_from_other_working_directories_are_identical(tmp_path, bert_dir, monkeypatch):
    """The same inputs built into two folders, from two working directories, with relative and absolute paths:
    byte-identical sites, databases with equal contents, and no absolute path of either build anywhere."""
    from conftest import SENTENCES, SPLIT_WORD_PROBES

    from reportgen.commands.build import build
    from reportgen.analyses.registry import load_config

    inputs = tmp_path / "inputs"
    inputs.mkdir()
    (inputs / "corpus.txt").write_text("\n".join(SENTENCES) + "\n", encoding="utf-8")
    (inputs / "probes.txt").write_text(SPLIT_WORD_PROBES, encoding="utf-8")
    model = tmp_path / "models" / "tiny"
    shutil.copytree(bert_dir, model)
    monkeypatch.chdir(inputs)  # relative paths
    build(load_config(None, model="../models/tiny", corpus=(Path("corpus.txt"),), probes=Path("probes.txt"),
                      out="../first/site"))
    elsewhere = tmp_path / "a" / "b"
    elsewhere.mkdir(parents=True)
    monkeypatch.chdir(elsewhere)  # absolute paths, another working directory
    build(load_config(None, model=str(model), corpus=(inputs / "corpus.txt",), probes=inputs / "probes.txt",
                      out=tmp_path / "second" / "out"))
    first, second = tmp_path / "first" / "site", tmp_path / "second" / "out"
    assert site_files(first) == site_files(second)
    with duckdb.connect(str(first / "report.duckdb"), read_only=True) as a, \
            duckdb.connect(str(second / "report.duckdb"), read_only=True) as b:
        tables = [t for (t,) in a.execute("SELECT table_name FROM information_schema.tables ORDER BY 1").fetchall()]
        for table in tables:
            assert (a.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()
                    == b.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()), table
        text = " ".join(str(v) for t in tables for row in a.execute(f"SELECT * FROM {t}").fetchall() for v in row
                        if isinstance(v, str))
    for where in (str(tmp_path), str(inputs), str(elsewhere)):
        assert where not in text
        assert all(where.encode() not in content for content in site_files(first).values())


def test_every_page_has_a_description_and_open_graph_tags_and_only_relative_links(built):
    from bs4 import BeautifulSoup

    pages = sorted(built.rglob("*.html"))
    assert len(pages) > 10
    for path in pages:
        page = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
        title = page.title.get_text()
        description = page.select_one('meta[name="description"]')["content"]
        assert title in description and len(description) > len(title) + 30, path
        assert page.select_one('meta[property="og:title"]')["content"] == title
        assert page.select_one('meta[property="og:description"]')["content"] == description
        assert page.select_one('meta[property="og:type"]')["content"] == "website"
        for tag, attr in (("a", "href"), ("link", "href"), ("script", "src")):
            for element in page.find_all(tag):
                target = element.get(attr)
                if target and not (tag == "a" and re.match(r"^https?://", target)):  # links out to papers are fine
                    assert not re.match(r"^(/|[a-z]+:)", target), (path, target)  # relative: file:// and any host


def test_the_charts_of_a_page_of_each_kind_are_valid_vega_lite(built):
    """Pages are built with Altair's validation at construction off (charts.base.unchecked): every chart spec of
    one page of each kind (the pages of a kind share their chart code) is checked here against the Vega-Lite schema
    instead."""
    import json

    from altair.utils.schemapi import validate_jsonschema
    from altair.vegalite.v6.schema.core import load_schema

    schema = load_schema()
    chart = re.compile(r'<script type="application/json" data-chart="([^"]+)"[^>]*>(.*?)</script>', re.S)
    kinds = set()
    pages = sorted(built.glob("*.html")) + [sorted(folder.glob("*.html"))[0] for folder in sorted(built.iterdir())
                                            if folder.is_dir() and any(folder.glob("*.html"))]
    for page in pages:
        for _, text in chart.findall(page.read_text(encoding="utf-8")):
            validate_jsonschema(json.loads(text), schema)
            kinds.add(page.relative_to(built).parts[0] if page.parent != built else page.name)
    assert {"index.html", "heads", "layers", "sentences"} <= kinds
