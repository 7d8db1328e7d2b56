"""The index page's overview (one heatmap per statistic, a fixed 0-1 scale for attention shares, a table of every
value) and the about page's provenance (resolved options, per-file and per-set hashes, the model's files)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import time
import tracemalloc
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from conftest import build_small_site, query

from reportgen.site.charts import overview as charts
from reportgen.analyses.search import SearchOptions
from reportgen.config import DEFAULT_MODEL, Config
from reportgen.options import option
from reportgen.vocab import STAT_DESCRIPTIONS as DESCRIPTIONS
from reportgen.vocab import MOVED_STATS, NORM_STATS, STATS
from reportgen.models import default_model_path, model_files
from reportgen.store import Store
from reportgen.site.views.about import about_page
from reportgen.site.views.common import Report

pytestmark = pytest.mark.build


@pytest.fixture(scope="module")
def built(tmp_path_factory, bert_dir) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("overview-about")
    return folder, build_small_site(folder, bert_dir, top_k=3)


def soup(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def facts(page: BeautifulSoup, selector: str) -> dict[str, str]:
    dl = page.select_one(selector)
    return dict(zip([dt.get_text() for dt in dl.select("dt")], [dd.get_text() for dd in dl.select("dd")]))


def db_rows(site: Path, sql: str) -> list[tuple]:
    with Store(site / "report.duckdb", read_only=True) as store:
        return query(store, sql)


def overview_specs(site: Path) -> dict[str, dict]:
    return json.loads(soup(site / "index.html").select_one("script#overview-specs").string)


# ---- the overview ------------------------------------------------------------------------------


def test_every_statistic_has_a_heatmap_whose_legend_names_it(built):
    _, site = built
    page = soup(site / "index.html")
    specs = overview_specs(site)
    stored = [s for (s,) in db_rows(site, "SELECT DISTINCT stat FROM head_stats")]
    # a heatmap per statistic; the shares by norm are shown on the head pages beside their shares by weight
    assert set(stored) == set(STATS) | set(NORM_STATS) | set(MOVED_STATS) and sorted(specs) == sorted(STATS)
    # the menu offers each statistic in headstats' order; the chart first drawn is the first one
    options = [o["value"] for o in page.select("select#overview-statistic option")]
    assert options == [s for s in STATS if s in specs] and set(options) == set(specs)
    assert page.select_one("label[for=overview-statistic]") is not None
    assert json.loads(page.select_one('script[data-chart="overview"]').string) == specs[options[0]]
    for stat, spec in specs.items():
        cells = spec["layer"][0]  # the coloured cells; the role labels are drawn over them
        title = cells["encoding"]["color"]["title"]
        assert DESCRIPTIONS[stat] in title and title != "value"
        assert title == charts.stat_title(stat)
        # the figure's description (its aria-label) says what it shows
        assert DESCRIPTIONS[stat] in spec["description"] and "heads" in spec["description"]
        names = {t["title"] for t in cells["encoding"]["tooltip"]}
        assert names == {"head", "statistic", "value", "role"}


def test_attention_shares_share_one_fixed_scale_and_entropy_has_its_own(built):
    _, site = built
    specs = overview_specs(site)
    shares = [s for s in specs if s in charts.SHARE_STATS]
    assert set(shares) == charts.SHARE_STATS and set(specs) - set(shares) == {"entropy", "entropy_norm", "distance"}

    def colour(stat):
        return specs[stat]["layer"][0]["encoding"]["color"]

    for stat in shares:
        assert colour(stat)["scale"]["domain"] == [0, 1], stat
        assert "0–1" in colour(stat)["title"]
    assert colour("entropy_norm")["scale"]["domain"] == [0, 1]
    for stat, unit in (("entropy", "nats"), ("distance", "tokens")):
        top = max(v for (v,) in db_rows(site, f"SELECT value FROM head_stats WHERE stat = '{stat}'"))
        assert colour(stat)["scale"]["domain"] == [0, pytest.approx(top, abs=1e-4)]
        assert unit in colour(stat)["title"]


@pytest.mark.unit
def test_a_colour_means_the_same_share_whatever_the_statistic():
    """Drawn by vl-convert: two share statistics with very different ranges get the same legend and the same
    colour for the same value; a rescaled scale (the old overview) would not."""
    import vl_convert

    low = charts.overview("prev", [(0, 0, 0.1), (0, 1, 0.4)], 1, 2)
    high = charts.overview("first", [(0, 0, 0.4), (0, 1, 0.9)], 1, 2)

    def legend_and_fills(spec: dict) -> tuple[list[str], list[str]]:
        svg = vl_convert.vegalite_to_svg(spec)
        labels = re.findall(r'role-legend-label.*?</g>', svg, re.S)[0]
        cells = re.findall(r'<g class="mark-rect role-mark[^"]*"[^>]*>(.*?)</g>', svg, re.S)[0]
        return re.findall(r">([^<]+)</text>", labels), re.findall(r'fill="([^"]+)"', cells)

    low_labels, low_fills = legend_and_fills(low)
    high_labels, high_fills = legend_and_fills(high)
    assert low_labels == high_labels and low_labels[0] in ("0", "0.0") and low_labels[-1] in ("1", "1.0")
    assert low_fills[1] == high_fills[0]  # 0.4 in both
    assert low_fills[0] != low_fills[1] != high_fills[1]


def test_the_table_holds_every_heads_every_value_from_the_database(built):
    _, site = built
    table = soup(site / "index.html").select_one("table#head-grid")
    columns = [th.get_text() for th in table.select("thead th")]
    stats = [s for s in STATS if s in overview_specs(site)]
    assert columns == ["head", "role", "stability", "evidence", *stats, "best relation", "accuracy", "best offset's",
                       "most similar head", "random model", "importance [95%]"]
    stored = {(f"L{layer}H{head}", stat): value for layer, head, stat, value in
              db_rows(site, "SELECT layer, head, stat, value FROM head_stats") if stat not in NORM_STATS + MOVED_STATS}
    roles = {f"L{layer}H{head}": (role + (" (unstable)" if stability < 0.8 else ""), f"{stability:.2f}", evidence)
             for layer, head, role, evidence, stability in
             db_rows(site, "SELECT layer, head, role, evidence, stability FROM head_roles")}
    seen = set()
    for row in table.select("tbody tr"):
        header = row.select_one("th")
        label = header.get_text()
        assert header.select_one("a")["href"] == f"heads/{label}.html" and (site / "heads" / f"{label}.html").is_file()
        cells = [td.get_text() for td in row.select("td")]
        assert len(cells) == len(columns) - 1
        assert (cells[0], cells[1][:4], cells[2]) == roles[label]
        for stat, text in zip(stats, cells[3:]):
            assert float(text) == pytest.approx(stored[(label, stat)], abs=5e-4), (label, stat)
            seen.add((label, stat))
    assert seen == set(stored)


# ---- the about page ----------------------------------------------------------------------------


def test_about_shows_the_option_values_actually_used(built, bert_dir):
    _, site = built
    page = soup(site / "about.html")
    options = facts(page, "dl#options")
    meta = dict(db_rows(site, "SELECT key, value FROM meta"))
    assert options == {k.removeprefix("option."): v for k, v in meta.items() if k.startswith("option.")}
    assert "out" not in options and "db" not in options
    assert options["model"] == bert_dir.name == meta["model"]
    assert options["corpus"] == "corpus.txt" and options["probes"] == "probes.txt"
    assert options["limit"] == "all" and options["figures"] == "none" and options["top_k"] == "3"
    assert options["max_length"] == meta["max_length"] == "64"  # the tiny model's own limit, not "(default)"
    assert options["batch_size"] == str(Config.batch_size)
    assert options["shown_matches"] == str(SearchOptions.shown_matches)
    for html in site.rglob("*.html"):
        assert "(default)" not in html.read_text(encoding="utf-8"), html


def test_no_page_and_no_meta_value_holds_an_absolute_path(built, bert_dir):
    folder, site = built
    where = [str(folder), str(bert_dir), str(folder.parent)]  # the last: the tests' temporary folder
    files = list(site.rglob("*.html")) + list((site / "assets").glob("*.js"))
    assert len(files) > 10
    for path in files:
        text = path.read_text(encoding="utf-8")
        for found in where:
            assert found not in text, (path, found)
    for key, value in db_rows(site, "SELECT key, value FROM meta"):
        assert not any(found in value for found in where), key
    for row in db_rows(site, "SELECT name, source FROM source_files"):
        assert not any(found in part for part in row for found in where), row


def test_about_lists_the_model_files_with_their_sha256(built, bert_dir):
    _, site = built
    page = soup(site / "about.html")
    rows = [[td.get_text() for td in tr.select("td")] for tr in page.select("table.files tbody tr")]
    model = {r[1]: r for r in rows if r[0] == "model"}
    assert "model.safetensors" in model and "config.json" in model
    for name, (_role, _name, sentences, sha, source, _licence) in model.items():
        assert sha == hashlib.sha256((bert_dir / name).read_bytes()).hexdigest(), name
        assert source == bert_dir.name and sentences == "–"
    # every weight file of the folder is there, and nothing from outside its top level
    weights = {p.name for p in bert_dir.iterdir() if p.suffix in (".safetensors", ".bin", ".gguf")}
    assert weights <= set(model) and all("/" not in name for name in model)
    stored = db_rows(site, "SELECT name, sha256, sentences FROM source_files WHERE role = 'model' ORDER BY name")
    assert [(n, s) for n, s, _ in stored] == sorted((n, r[3]) for n, r in model.items())
    assert all(sentences is None for _, _, sentences in stored)


def test_each_set_hash_is_the_hash_of_its_files_hashes_and_the_page_says_so(built, bert_dir):
    folder, site = built
    page = soup(site / "about.html")
    hashes = facts(page, "dl#hashes")

    def of(*paths: Path) -> str:
        return hashlib.sha256("".join(hashlib.sha256(p.read_bytes()).hexdigest() for p in paths).encode()).hexdigest()

    assert hashes["corpus_sha256"] == of(folder / "corpus.txt")
    assert hashes["probes_sha256"] == of(folder / "probes.txt")
    names = sorted(name for name, in db_rows(site, "SELECT name FROM source_files WHERE role = 'model'"))
    assert hashes["model_sha256"] == of(*(bert_dir / n for n in names))
    # the per-file value differs from the set's, and the page explains both
    assert hashes["corpus_sha256"] != hashlib.sha256((folder / "corpus.txt").read_bytes()).hexdigest()
    text = " ".join(page.get_text().split())
    assert "sha256sum FILE" in text and "differs from the per-file sha256 values" in text
    assert "written one after the other, with nothing between them" in text


# ---- the pieces, without a build -------------------------------------------------------------


@pytest.mark.unit
def test_model_files_of_the_installed_default_model_stream_quickly():
    """The default model's 90 MB of weights are hashed in chunks: quick, and never all in memory."""
    folder = default_model_path()
    tracemalloc.start()
    start = time.perf_counter()
    try:
        files = model_files(DEFAULT_MODEL)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    elapsed = time.perf_counter() - start
    weights = folder / "model.safetensors"
    assert weights.stat().st_size > 50_000_000
    assert peak < 8_000_000 and elapsed < 10, (peak, elapsed)
    found = {f.name: f for f in files}
    assert {"model.safetensors", "config.json"} <= set(found)
    assert "1_Pooling/config.json" not in found and "README.md" not in found
    assert found["model.safetensors"].sha256 == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert {(f.role, f.source, f.sentences) for f in files} == {("model", DEFAULT_MODEL, None)}
    assert found["config.json"].licence == "apache-2.0"  # from the model card's front matter


@pytest.mark.unit
def test_a_single_model_file_is_its_own_row(tmp_path):
    gguf = tmp_path / "models" / "tiny.gguf"
    gguf.parent.mkdir()
    gguf.write_bytes(b"GGUF" + bytes(range(256)) * 100)
    rows = model_files(str(gguf))
    assert [(f.role, f.name, f.sha256, f.source) for f in rows] == [
        ("model", "tiny.gguf", hashlib.sha256(gguf.read_bytes()).hexdigest(), "tiny.gguf")]


@pytest.mark.unit
def test_options_show_meanings_not_defaults_and_no_paths():
    shown = Config(out=Path("/abs/site"), db=Path("/abs/report.duckdb"), corpus=(Path("/abs/c.txt"),),
                   model="/abs/models/tiny-bert").options()
    assert "out" not in shown and "db" not in shown
    assert not any("/abs" in v or "(default)" in v for v in shown.values()), shown
    assert shown["model"] == "tiny-bert" and shown["corpus"] == "c.txt"
    assert (shown["limit"], shown["figures"], shown["probes"]) == ("all", "none", "the shipped probes")
    used = Config().options({"max_length": "256", "corpus": "a.txt, b.txt"})
    assert used["max_length"] == "256" and used["corpus"] == "a.txt, b.txt"
    assert Config(limit=100).options()["limit"] == "100"


@pytest.mark.unit
def test_an_optional_number_added_later_shows_no_limit():
    @dataclasses.dataclass(frozen=True)
    class Later:
        later_limit: int | None = option(None, "An option an analysis added later.", minimum=1)

    assert Config(analyses=(Later(),)).options()["later_limit"] == "no limit"
    assert Config(analyses=(Later(later_limit=3),)).options()["later_limit"] == "3"


@pytest.mark.unit
def test_about_of_an_older_database_hides_where_it_was_written(tmp_path):
    """A database written before `out` and `db` were left out of the meta table: the about page still omits
    them, and a missing model_sha256 reads as not recorded."""
    with Store(tmp_path / "old.duckdb") as store:
        store.create()
        store.set_meta({"model": "m", "architecture": "bert", "n_layers": "1", "n_heads": "1", "d_model": "4",
                        "d_head": "4", "max_length": "8", "top_k": "1", "schema_version": "2",
                        "corpus_sha256": "c" * 64, "probes_sha256": "p" * 64,
                        "option.out": "/home/someone/site", "option.db": "/home/someone/x.duckdb",
                        "option.top_k": "1"})
        about = about_page(Report(store, 10))
    assert dict(about.settings) == {"top_k": "1"}
    assert dict(about.hashes) == {"corpus_sha256": "c" * 64, "probes_sha256": "p" * 64,
                                  "model_sha256": "not recorded"}
