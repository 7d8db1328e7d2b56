"""End-to-end: the real command line on the real default model, a few hundred corpus sentences."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest
from bs4 import BeautifulSoup
from conftest import site_files

from reportgen.corpus import default_corpus
from reportgen.store import COLUMNS

pytestmark = pytest.mark.e2e

LIMIT = 300


def run_cli(*args: str, flags: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *flags, "-m", "reportgen", *args], capture_output=True, text=True,
                          timeout=900)


def imported_modules(stderr: str) -> set[str]:
    """The modules a process run with `-X importtime` imported, from the lines it writes on stderr."""
    return {line.rsplit("|", 1)[1].strip() for line in stderr.splitlines() if line.startswith("import time:")}


def build_args(out: Path) -> tuple[str, ...]:
    """The build's command line: the defaults, but for the attributions' steps (8 instead of 50: about half of
    the build; Captum's delta is the completeness gap whatever the steps), 2 sentences for the importance and 20
    for the control model (no test here reads either: the importance is checked against hooks on tiny models in
    test_importance and on a built site in test_importance_claims, the control model on the tiny BERT in
    test_claims_pages; 10 and 100 cost 6.7 s more of this build on 2026-12-06)."""
    config = out.parent / "cheap.toml"
    config.write_text("attribution_steps = 8\ncontrol_sentences = 20\n", encoding="utf-8")
    return ("build", "--limit", str(LIMIT), "--out", str(out), "--config", str(config), "--importance-sentences",
            "2", "--quiet")


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    out = tmp_path_factory.mktemp("e2e") / "site"
    # -X importtime: the modules the build imports, on stderr (test_without_ray_the_build_does_not_import_it)
    result = run_cli(*build_args(out), flags=("-X", "importtime"))
    assert result.returncode == 0, "\n".join(line for line in result.stderr.splitlines()
                                             if not line.startswith("import time:"))[-3000:]
    return out, result


def soup(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def test_summary_line(built):
    out, result = built
    assert f"{LIMIT:,} corpus sentences" in result.stdout
    assert str(out) in result.stdout


def test_without_ray_the_build_does_not_import_it(built):
    """A build without --ray never imports Ray (an extra that may be absent, and seconds of imports)."""
    _, result = built
    imported = imported_modules(result.stderr)
    assert {"torch", "spacy", "reportgen.commands.build"} <= imported  # the list is complete enough to tell
    assert [m for m in imported if m == "ray" or m.startswith("ray.")] == []


def test_database_tables_and_contents(built):
    out, _ = built
    con = duckdb.connect(str(out / "report.duckdb"), read_only=True)
    tables = {t for (t,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert {"meta", "sentences", "words", "tokens", "neighbours", "attention", "head_stats"} <= tables
    for table, cols in COLUMNS.items():
        got = [c for (c,) in con.execute("SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                                         "ORDER BY ordinal_position", [table]).fetchall()]
        assert got == cols, table
    meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
    assert (meta["n_layers"], meta["n_heads"], meta["d_model"], meta["top_k"]) == ("6", "12", "384", "50")
    n_corpus = con.execute("SELECT count(*) FROM sentences WHERE role = 'corpus'").fetchone()[0]
    assert n_corpus == LIMIT
    probes = [line for line in (default_corpus()[0].parent / "probes.txt").read_text().splitlines() if line.strip()]
    assert con.execute("SELECT count(*) FROM sentences WHERE role = 'probe'").fetchone()[0] == len(probes)
    # every word annotated, every non-special token aligned
    assert con.execute("SELECT count(*) FROM words WHERE pos IS NULL OR dep IS NULL").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM tokens WHERE NOT is_special AND word_idx IS NULL").fetchone()[0] == 0
    # 50 matches per probe token and space: embedding + 12 heads + whole layer, 6 layers
    counts = {c for (c,) in con.execute("SELECT count(*) FROM neighbours GROUP BY sentence_id, token_idx").fetchall()}
    assert counts == {50 * 6 * 14}
    # matches are corpus tokens, never probes, and ranks are sorted by score
    assert con.execute("SELECT count(*) FROM neighbours n JOIN sentences s ON s.sentence_id = n.match_sentence_id "
                       "WHERE s.role <> 'corpus'").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM neighbours a JOIN neighbours b USING (sentence_id, token_idx, space, "
                       "layer, head) WHERE b.rank = a.rank + 1 AND b.score > a.score + 1e-9").fetchone()[0] == 0
    # attention rows of a probe sum to 1
    sums = con.execute("SELECT min(s), max(s) FROM (SELECT sum(weight) s FROM attention "
                       "GROUP BY sentence_id, layer, head, from_token_idx)").fetchone()
    assert sums[0] == pytest.approx(1, abs=1e-4) and sums[1] == pytest.approx(1, abs=1e-4)
    stats = {s for (s,) in con.execute("SELECT DISTINCT stat FROM head_stats").fetchall()}
    assert {"entropy", "self", "prev", "next", "first", "punct"} <= stats
    assert con.execute("SELECT count(*) FROM head_stats WHERE stat = 'entropy'").fetchone()[0] == 72


def test_index_links_every_head_and_resolves(built):
    out, _ = built
    page = soup(out / "index.html")
    links = {a["href"] for a in page.select("#head-grid a[href^='heads/']")}
    assert links == {f"heads/L{l}H{h}.html" for l in range(6) for h in range(12)}
    for href in links:
        assert (out / href).is_file(), href
    facts = dict(zip([dt.get_text() for dt in page.select("dl.facts dt")],
                     [dd.get_text() for dd in page.select("dl.facts dd")]))
    assert facts["layers"] == "6" and facts["heads per layer"] == "12" and facts["hidden size"] == "384"
    assert facts["corpus sentences"] == f"{LIMIT:,}"
    assert len(page.select("ol.probes li")) == 14


def _page_data(page: BeautifulSoup, path: Path) -> dict:
    """A head or layer page's data: what it carries, with the match lists of the data file it names (beside the
    page, loaded by the page script when a token is first opened)."""
    data = json.loads(page.select_one("script#page-data").string)
    script = (path.parent / data["matches"]).read_text(encoding="ascii")
    prefix = f'(window.reportgenLayers = window.reportgenLayers || {{}})["{Path(data["matches"]).name}"] = '
    assert script.startswith(prefix) and script.endswith(";\n")
    return data | {"spaces": json.loads(script.removeprefix(prefix).removesuffix(";\n"))}


def _contexts(out: Path) -> dict:
    script = (out / "assets" / "contexts.js").read_text(encoding="ascii")
    return json.loads(script.removeprefix("window.reportgenContexts = ").removesuffix(";\n"))


def test_head_page_carries_the_histograms(built):
    out, _ = built
    page = soup(out / "heads" / "L2H5.html")
    assert page.select_one("h1").get_text().startswith("Head L2H5")
    con = duckdb.connect(str(out / "report.duckdb"), read_only=True)
    rows = con.execute(
        "SELECT w.pos, a.is_special, n.match_max_attended_token_idx - n.match_token_idx FROM neighbours n "
        "JOIN tokens t ON t.sentence_id = n.match_sentence_id AND t.token_idx = n.match_token_idx "
        "JOIN words w ON w.sentence_id = t.sentence_id AND w.word_idx = t.word_idx "
        "JOIN tokens a ON a.sentence_id = n.match_sentence_id AND a.token_idx = n.match_max_attended_token_idx "
        "WHERE n.space = 'context' AND n.layer = 2 AND n.head = 5").fetchall()
    n_tokens = con.execute("SELECT count(*) FROM tokens JOIN sentences USING (sentence_id) "
                           "WHERE role = 'probe' AND NOT is_special").fetchone()[0]
    assert len(rows) == 50 * n_tokens
    # the statistics strips and the dependency accuracy, three charts of aggregates (matched, attended,
    # offsets) besides the 14 heatmaps, each with its caption
    assert len(page.select("script[data-chart]")) == 2 + 14 + 3
    figures = page.select("figure.histograms")
    assert [f.select_one("figcaption strong").get_text() for f in figures] == [
        "Matched tokens", "Tokens the matches attend to most", "Where the matches attend"]
    captions = [li.get_text() for f in figures for li in f.select("ul.caption li")]
    assert len(captions) == 4 + 4 + 1
    pos = Counter(p for p, _, _ in rows)
    assert captions[0].startswith(f"POS of the matched tokens ({len(rows):,} matches): ")
    top, n = pos.most_common(1)[0]
    assert f"{top} {n:,} (" in captions[0]
    offsets = Counter("special" if special else "further" if abs(d) > 3 else f"{d:+d}" if d else "0"
                      for _, special, d in rows)
    for bucket, n in offsets.items():
        assert f"{bucket} {n:,} (" in captions[-1]
    # the one-line summary names the offsets over-represented against where all corpus tokens attend most
    base = dict(con.execute("SELECT category, n FROM base_counts WHERE population = 'attended' AND layer = 2 "
                            "AND head = 5 AND facet = 'offset'").fetchall())
    population = sum(base.values())
    assert population == con.execute("SELECT count(*) FROM tokens JOIN sentences USING (sentence_id) "
                                     "WHERE role = 'corpus' AND NOT is_special").fetchone()[0]
    found = sorted((b for b, n in offsets.items() if n >= 5 and n >= 0.1 * len(rows)
                    and n / len(rows) / round(base.get(b, 0) / population, 5) >= 2), key=lambda b: (-offsets[b], b))
    summary = page.select_one("p#summary").get_text()
    top = max(base, key=lambda b: (base[b], b))
    assert summary.startswith(f"In this head, {int(100 * base[top] / population + 0.5)}% of the {population:,} corpus "
                              f"tokens (special tokens left out) attend most to ")
    summary = summary.split(" the matches of all probe tokens: ")[1]
    if found:
        n = offsets[found[0]]
        assert summary.startswith(f"{int(100 * n / len(rows) + 0.5)}% ({n:,}/{len(rows):,}; corpus ")
    else:
        assert summary.startswith("no clear preference in where they attend;")
    # every probe token can be picked, and lists its one-line summary
    assert len(page.select("#token-select option")) == 1 + n_tokens
    assert len(page.select("details.token .line:not(.warning)")) == n_tokens
    # links to the neighbouring heads and layers, and up to the overview
    nav = {a.get_text(): a["href"] for a in page.select("nav.pager a")}
    assert nav["overview"] == "../index.html" and nav["← L2H4"] == "L2H4.html" and nav["L2H6 →"] == "L2H6.html"
    assert nav["L1H5 (previous layer)"] == "L1H5.html" and nav["L3H5 (next layer)"] == "L3H5.html"


def test_head_page_lists_all_k_matches_of_every_token(built):
    out, _ = built
    data = _page_data(soup(out / "heads" / "L2H5.html"), out / "heads" / "L2H5.html")
    con = duckdb.connect(str(out / "report.duckdb"), read_only=True)
    rows = con.execute("SELECT sentence_id, token_idx, rank, match_sentence_id, match_token_idx, "
                       "match_max_attended_token_idx, score FROM neighbours "
                       "WHERE space = 'context' AND layer = 2 AND head = 5").fetchall()
    lists = data["spaces"]["context"]
    assert {len(v) for v in lists.values()} == {4 * 50}
    contexts = _contexts(out)
    for sid, idx, rank, m_sid, m_tok, att, score in rows:
        assert lists[f"{sid}:{idx}"][4 * rank:4 * rank + 4] == [m_sid, m_tok, att, round(score * 1000)]
    sid, idx, rank, m_sid, m_tok, att, score = min(rows)
    text, toks, _words = contexts["sentences"][str(m_sid)]
    start, end = con.execute("SELECT char_start, char_end FROM tokens WHERE sentence_id = ? AND token_idx = ?",
                             [m_sid, m_tok]).fetchone()
    assert text[toks[m_tok][0]:toks[m_tok][1]] == text[start:end]


def test_head_pages_stay_light(built):
    out, result = built
    sizes = {p.name: p.stat().st_size for p in (out / "heads").glob("*.html")}
    largest = max(sizes, key=sizes.get)
    # under 400 KB: the match lists (some 130 KB on the largest page) load from the data file beside the page
    # when a token is first opened
    assert sizes[largest] < 400 * 1024, (largest, sizes[largest])
    assert f"largest head page heads/{largest} {sizes[largest] / 1024:.0f} KB" in result.stdout


class _References(HTMLParser):
    """A page's references (a[href], script[src], link[href]) and element ids, read by the standard library's
    HTML parser without building a tree (BeautifulSoup over the same parser took 3 times as long on 94 pages)."""

    WHERE = {"a": "href", "script": "src", "link": "href"}

    def __init__(self, text: str):
        super().__init__()
        self.refs: list[str] = []
        self.ids: set[str] = set()
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        found = dict(attrs)
        if found.get("id") is not None:
            self.ids.add(found["id"])
        if tag in self.WHERE and found.get(self.WHERE[tag]) is not None:
            self.refs.append(found[self.WHERE[tag]])


def test_every_local_reference_resolves_and_nothing_is_remote(built):
    out, _ = built
    pages = list(out.rglob("*.html"))
    assert len(pages) > 90
    for path in pages:
        page = _References(path.read_text(encoding="utf-8"))
        assert page.refs, path
        for ref in page.refs:
            assert not ref.startswith(("http:", "https:", "//")), (path, ref)
            if ref.startswith("#"):  # the skip link and the contents: an element of the same page
                assert ref[1:] in page.ids, (path, ref)
            else:
                assert (path.parent / ref.split("#")[0]).resolve().is_file(), (path, ref)
    assert (out / "assets" / "vega.js").stat().st_size > 500_000


def test_layer_and_about_pages(built):
    out, _ = built
    layer = soup(out / "layers" / "L3.html")
    assert len(layer.select("section.probe")) == 14
    assert [s["data-space"] for s in layer.select("section.analysis")] == ["embedding", "context"]
    assert len(layer.select("figure.histograms ul.caption")) == 6
    assert set(_page_data(layer, out / "layers" / "L3.html")["spaces"]) == {"embedding", "context"}
    about = soup(out / "about.html")
    text = about.get_text()
    assert "wikipedia.txt" in text and "CC BY-SA" in text and "probes.txt" in text
    import hashlib
    digest = hashlib.sha256(default_corpus()[0].read_bytes()).hexdigest()
    assert digest in text


def test_writing_the_site_again_from_its_database_gives_the_same_bytes(built, tmp_path):
    """The real model's report written again from its database by `reportgen render`, in a process of its own (its
    own hash seed, a pool of render processes: the site has more than POOL_PAGES pages): every page, data file and
    asset byte-identical. That a rebuild gives equal tables and identical pages is checked on the tiny BERT
    (test_render.test_builds_in_other_folders_from_other_working_directories_are_identical), and across processes
    against the committed golden site (test_golden); a second build of this report took 35 s."""
    out, _ = built
    again = tmp_path / "again"
    result = run_cli("render", str(out / "report.duckdb"), "--out", str(again), "--quiet")
    assert result.returncode == 0, result.stderr
    files, want = site_files(again), site_files(out)  # every file but the database and the build's timings
    assert sorted(files) == sorted(want) and len(want) > 100
    for name, content in want.items():
        assert files[name] == content, name


def test_sentence_views_render_one_mark_per_token(built):
    """Each view of a probe's page drawn by vl-convert: the head view writes every token in both columns, the
    model view one cell per stored weight shown, the neuron view one softmax value per key token."""
    import re

    import vl_convert

    out, _ = built
    page = soup(out / "sentences" / "1.html")
    specs = {s["data-chart"]: json.loads(s.string) for s in page.select("script[data-chart]")}
    assert set(specs) == {"attribution-chart", "head-view", "model-view", "neuron-view"}
    # the attribution chart: one bar per word in each of its two panels
    n_words = duckdb.connect(str(out / "report.duckdb"), read_only=True).execute(
        "SELECT count(*) FROM words WHERE sentence_id = 1").fetchone()[0]
    svg = vl_convert.vegalite_to_svg(specs["attribution-chart"])
    assert svg.count('aria-roledescription="bar"') == 2 * n_words
    # the head and model views draw from the same attention rows, carried once by the page
    shared = json.loads(page.select_one("script#sentence-attention").string)
    for name in ("head-view", "model-view"):
        assert page.select_one(f'script[data-chart="{name}"]')["data-shared"] == "sentence-attention"
        assert "attention" not in specs[name]["datasets"]
        specs[name]["datasets"].update(shared)
    con = duckdb.connect(str(out / "report.duckdb"), read_only=True)
    n = con.execute("SELECT count(*) FROM tokens WHERE sentence_id = 1").fetchone()[0]
    labels = [u["t"] for u in specs["head-view"]["datasets"]["units"] if u["lv"] == "tokens"]
    assert len(labels) == n
    svg = vl_convert.vegalite_to_svg(specs["head-view"])
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    assert all(texts.count(label) == 2 for label in labels)
    svg = vl_convert.vegalite_to_svg(specs["model-view"])
    cells = sum(len(r["j"]) for r in specs["model-view"]["datasets"]["attention"] if r["lv"] == "tokens")
    group = re.findall(r'<g class="mark-rect role-mark[^"]*"[^>]*>(.*?)</g>', svg, re.S)
    assert sum(g.count("<path") for g in group) == cells > 6 * 12 * n
    svg = vl_convert.vegalite_to_svg(specs["neuron-view"])
    softmax = [float(x) for x in re.findall(r"<text[^>]*>(\d\.\d{3})</text>", svg)]
    weights = [w for (w,) in con.execute("SELECT weight FROM attention WHERE sentence_id = 1 AND layer = 0 "
                                         "AND head = 0 AND from_token_idx = 0 ORDER BY to_token_idx").fetchall()]
    assert softmax == pytest.approx(weights, abs=2e-3) and len(softmax) == n
