"""Shared fixtures: tiny random-initialised models saved to disk (no downloads), small corpora, sites built once
per test run; and the tiers every test belongs to."""

from __future__ import annotations

import contextvars
import functools
import os
import re
import shutil
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
# torch on one thread here and in the processes the tests start (the e2e command line): see pytest_configure
os.environ.setdefault("OMP_NUM_THREADS", "1")


# ---- tiers ---------------------------------------------------------------------------------------------------
# Every test is in exactly one tier: its module's (`pytestmark = pytest.mark.unit`), or the one marked on the test
# itself, which replaces its module's. A test in no tier, or marked with two, fails the collection: a new test
# cannot slip into the fast tier by default. `make test-fast` runs `unit` (pytest -m unit); `make test` every tier.
# A unit test is also held to its promise while it runs: building a whole site, loading a real model or using the
# browser fails it, whichever test or fixture does it (_guard_unit_tier, pytest_runtest_setup).
TIERS = ("unit", "build", "study", "browser", "ray", "e2e")
_TIER: contextvars.ContextVar[str | None] = contextvars.ContextVar("tier", default=None)
_BUILDING_FIXTURES: set[tuple[str, str]] = set()  # (fixture name, where it is defined) of fixtures that built a site


def tier_of(item) -> set[str]:
    return {m.name for m in item.iter_markers() if m.name in TIERS}


def pytest_configure(config):
    registered = {line.split(":")[0] for line in config.getini("markers")}
    missing = set(TIERS) - registered
    if missing:
        raise pytest.UsageError(f"tiers not registered in pyproject.toml's markers: {sorted(missing)}")
    _guard_unit_tier()
    # One torch thread in the test process: the tiny models gain nothing from a second one, and while the other core
    # is busy (the other xdist worker, another job) OpenMP's barriers make every small operation wait for it: the
    # unit tier took 63 s with torch's 2 threads and 28 s with 1 under the same load of 3, the e2e build (in a
    # process of its own, OMP_NUM_THREADS above) 135 s with 2 beside the other worker.
    import torch

    torch.set_num_threads(1)


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects: every collected test is checked, whatever is run
def pytest_collection_modifyitems(config, items):
    # a module's tier moves onto each of its tests that has none of its own, so that `-m` sees one tier per test
    by_module: dict = {}
    for item in items:
        by_module.setdefault(item.getparent(pytest.Module), []).append(item)
    for module, tests in by_module.items():
        if module is None:
            continue
        default = [m for m in module.own_markers if m.name in TIERS]
        module.own_markers[:] = [m for m in module.own_markers if m.name not in TIERS]
        for item in tests:
            if not any(m.name in TIERS for m in item.own_markers):
                for mark in default:
                    item.add_marker(mark.name)
    wrong = []
    for item in items:
        tiers = tier_of(item)
        if len(tiers) != 1:
            wrong.append(f"  {item.nodeid}: {'no tier' if not tiers else 'tiers ' + ', '.join(sorted(tiers))}")
        elif tiers == {"unit"} and "browser" in getattr(item, "fixturenames", ()):
            wrong.append(f"  {item.nodeid}: a unit test cannot use the browser")
    if wrong:
        raise pytest.UsageError(f"each test needs exactly one tier marker ({', '.join(TIERS)}; see pyproject.toml):\n"
                                + "\n".join(wrong))
    if hasattr(config, "workerinput"):  # a pytest-xdist worker: the longest groups first (see below)
        rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
        items.sort(key=lambda item: rank.get(_group_of(item.nodeid), len(rank)))  # stable within a group


# Under pytest-xdist (`make test` runs `-n 2 --dist loadfile --no-loadscope-reorder`) a worker runs whole groups: a
# module's tests (its module-scoped fixtures are built once), and the modules that name one of these session-scoped
# sites as one group, so that no site is built on both workers; the groups that take longest (measured with
# --durations) go out first so that the two workers end together, the rest in collection order. (xdist's own
# `loadgroup` cannot be used with pytest 9: it renames the tests through a private attribute pytest 9 no longer reads.)
SHARED_SITES = ("analysis_site", "svg_site", "hostile_site")
LONGEST_FIRST = ("test_gguf", "test_e2e", "hostile_site", "test_ray", "svg_site", "analysis_site", "test_cli",
                 "test_study_edits", "test_attribution", "test_archive", "test_families")
_HERE = Path(__file__).resolve().parent


@functools.cache
def _groups() -> dict[str, str]:
    """Each test module's group: its own name, or the first shared site of those its modules name together."""
    parent: dict[str, str] = {}

    def find(name: str) -> str:
        while parent.setdefault(name, name) != name:
            name = parent[name]
        return name

    modules = sorted(p.stem for p in _HERE.glob("test_*.py"))
    for module in modules:
        text = (_HERE / f"{module}.py").read_text(encoding="utf-8")
        for site in SHARED_SITES:
            if re.search(rf"\b{site}\b", text):
                parent[find(module)] = find(site)
    return {m: next((s for s in SHARED_SITES if find(s) == find(m)), m) for m in modules}


def _group_of(nodeid: str) -> str:
    module = Path(nodeid.split("::")[0]).stem
    return _groups().get(module, module)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class SharedSites(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _group_of(nodeid)

    return SharedSites(config, log)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    token = _TIER.set(next(iter(tier_of(item))))
    try:
        if _TIER.get() == "unit":
            built = [name for name, defs in item._fixtureinfo.name2fixturedefs.items()
                     if any((name, d.baseid) in _BUILDING_FIXTURES for d in defs)]
            if built:
                pytest.fail(f"a unit test uses fixtures that build a site ({', '.join(built)}): mark it `build`")
        yield
    finally:
        _TIER.reset(token)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    token = _TIER.set(next(iter(tier_of(item))))
    yield
    _TIER.reset(token)


@pytest.hookimpl(hookwrapper=True)
def pytest_fixture_setup(fixturedef, request):
    before = _BUILT.get()
    _BUILT.set(False)
    yield
    if _BUILT.get():
        _BUILDING_FIXTURES.add((fixturedef.argname, fixturedef.baseid))
    _BUILT.set(before or _BUILT.get())


_BUILT: contextvars.ContextVar[bool] = contextvars.ContextVar("built", default=False)


def _guard_unit_tier() -> None:
    """Wrap the whole build and the model loader (the same functions, called through) so that a unit test that
    builds a site or loads a real model fails, naming the tier it belongs to."""
    import reportgen.models as models

    from reportgen.config import DEFAULT_MODEL

    load_model = models.load_model

    @functools.wraps(load_model)
    def guarded_load(name, *args, **kwargs):
        loaded = load_model(name, *args, **kwargs)
        if _TIER.get() == "unit" and (name == DEFAULT_MODEL or str(name).endswith(".gguf")):
            pytest.fail(f"a unit test loaded the real model {name}: mark it `e2e`, or use a tiny model")
        return loaded

    models.load_model = guarded_load
    import reportgen.commands.build as command  # after the loader is wrapped: it imports it by name

    build = command.build

    @functools.wraps(build)
    def guarded_build(*args, **kwargs):
        summary = build(*args, **kwargs)
        _BUILT.set(True)
        if _TIER.get() == "unit":
            pytest.fail("a unit test built a whole site: mark it `build` (or a slower tier)")
        return summary

    command.build = guarded_build

SENTENCES = [
    "The cat sat on the mat.",
    "A dog chased the ball across the park.",
    "She can't believe it's already over!",
    "Paris is the capital of France.",
    "The keys to the cabinet are on the table.",
    "Why does the sun rise in the east?",
    "He gave her the tickets, and she smiled.",
    "Birds sing early in the morning.",
]


def _byte_level_tokenizer():
    """A GPT-2 style byte-level BPE tokenizer trained in memory on a few sentences."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import PreTrainedTokenizerFast

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(SENTENCES * 4, vocab_size=400, min_frequency=1,
                            special_tokens=["<|endoftext|>"], show_progress=False)
    return PreTrainedTokenizerFast(tokenizer_object=bpe._tokenizer, eos_token="<|endoftext|>",
                                   bos_token="<|endoftext|>", unk_token="<|endoftext|>", model_max_length=64)


def _save(model, tokenizer, path: Path) -> Path:
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def bert_dir(tmp_path_factory) -> Path:
    """A 2-layer, 4-head BERT with random weights and the real MiniLM tokenizer (an installed package)."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from reportgen.models import default_model_path

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(default_model_path())
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=4, intermediate_size=64, max_position_embeddings=64)
    return _save(BertModel(config), tokenizer, tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def gpt2_dir(tmp_path_factory) -> Path:
    """A 2-layer, 2-head GPT-2 with random weights and an in-memory byte-level tokenizer."""
    import torch
    from transformers import GPT2Config, GPT2Model

    torch.manual_seed(0)
    tokenizer = _byte_level_tokenizer()
    config = GPT2Config(vocab_size=len(tokenizer), n_embd=16, n_layer=2, n_head=2, n_positions=64)
    return _save(GPT2Model(config), tokenizer, tmp_path_factory.mktemp("tiny-gpt2"))


@pytest.fixture(scope="session")
def gpt2_lm_dir(tmp_path_factory) -> Path:
    """The tiny GPT-2 with its language-modelling head (a causal LM: attributions explain a next token)."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    tokenizer = _byte_level_tokenizer()
    config = GPT2Config(vocab_size=len(tokenizer), n_embd=16, n_layer=2, n_head=2, n_positions=64)
    return _save(GPT2LMHeadModel(config), tokenizer, tmp_path_factory.mktemp("tiny-gpt2-lm"))


@pytest.fixture(scope="session")
def sharp_gpt2_lm_dir(tmp_path_factory) -> Path:
    """The tiny GPT-2 LM with weights drawn 50 times wider (initializer_range 1.0): its log-probabilities turn sharply
    along the attributions' path, so that integrated gradients need more than the default 50 steps to converge on
    some probes, and more than 400 on others, as a real causal LM's do."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    tokenizer = _byte_level_tokenizer()
    config = GPT2Config(vocab_size=len(tokenizer), n_embd=16, n_layer=2, n_head=2, n_positions=64,
                        initializer_range=1.0)
    return _save(GPT2LMHeadModel(config), tokenizer, tmp_path_factory.mktemp("sharp-gpt2-lm"))


@pytest.fixture(scope="session")
def bert_classifier_dir(tmp_path_factory) -> Path:
    """The tiny BERT as a sequence classifier with three named classes."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from reportgen.models import default_model_path

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(default_model_path())
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=4, intermediate_size=64, max_position_embeddings=64, num_labels=3,
                        id2label={0: "negative", 1: "neutral", 2: "positive"},
                        label2id={"negative": 0, "neutral": 1, "positive": 2})
    return _save(BertForSequenceClassification(config), tokenizer, tmp_path_factory.mktemp("tiny-bert-cls"))


@pytest.fixture(scope="session")
def llama_dir(tmp_path_factory) -> Path:
    """A 2-layer Llama with grouped key/value heads (4 query heads, 2 key/value heads)."""
    import torch
    from transformers import LlamaConfig, LlamaModel

    torch.manual_seed(0)
    tokenizer = _byte_level_tokenizer()
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64)
    return _save(LlamaModel(config), tokenizer, tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture
def corpus_file(tmp_path) -> Path:
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(SENTENCES) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def probes_file(tmp_path) -> Path:
    path = tmp_path / "probes.txt"
    path.write_text("The dog sat on the table.\nShe gave him the keys.\n", encoding="utf-8")
    return path


# Untrusted text that must show as text everywhere: markup, script, template syntax, URLs, bidi controls,
# control characters and NUL, and a line far over the tiny models' token limit (64) and MiniLM's (512). (600 words:
# with 2,000 the dependency accuracy alone took 8.5 s of a hostile build, on a word-by-word matrix of all of them.)
HOSTILE = [
    '<script>alert("x")</script> ends here.',
    'A line with </script><img src=x onerror=alert(1)> inside.',
    'Comment <!-- open and "onmouseover=alert(1) quote.',
    "Template {{ 7*7 }} and {% if %} markers.",
    "A javascript:alert(1) link & an ampersand.",
    "Right-to-left \u202eoverride\u202c and \u2066isolate\u2069 marks.",
    "Control \x01 characters \x1b[31m and a NUL \x00 here.",
    "Long " + "word " * 600 + "end.",
]

# "unbelievably" is several model tokens: word-level attention differs from token-level attention
SPLIT_WORD_PROBES = "The dog sat on the unbelievably comfortable table.\nShe gave him the keys.\n"


def build_small_site(folder: Path, model_dir: Path, probes: str = SPLIT_WORD_PROBES, sentences=SENTENCES,
                     tuning=None, summaries: list | None = None, **options) -> Path:
    """Build a site from a tiny model, the given corpus sentences and probes into folder/site; `tuning`: the corpus
    pass's Tuning; `summaries`: a list the build's Summary is appended to."""
    from reportgen.commands.build import build
    from reportgen.analyses.registry import load_config
    from reportgen.corpus_pass.spec import Tuning

    folder.mkdir(parents=True, exist_ok=True)
    corpus, probes_file, out = folder / "corpus.txt", folder / "probes.txt", folder / "site"
    corpus.write_text("\n".join(sentences) + "\n", encoding="utf-8")
    probes_file.write_text(probes, encoding="utf-8")
    summary = build(load_config(None, model=str(model_dir), corpus=(corpus,), probes=probes_file, out=out, **options),
                    tuning=tuning or Tuning())
    if summaries is not None:
        summaries.append(summary)
    return out


@pytest.fixture
def old_site(tmp_path) -> Path:
    """A previous site that a failed command must leave as it was."""
    out = tmp_path / "site"
    out.mkdir()
    (out / "index.html").write_text("previous report", encoding="utf-8")
    return out


def assert_clean_failure(result, *needles: str) -> str:
    """A click result that is a user error: exit 2, one line `reportgen: error: ...` holding every needle, no
    traceback. Returns the line."""
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("reportgen: error: ")
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def site_files(site: Path) -> dict[str, bytes]:
    """Every file of a site by its path in it, but the database (compare its contents: `table_contents`) and
    assets/timings.js (this build's timings)."""
    return {p.relative_to(site).as_posix(): p.read_bytes() for p in site.rglob("*")
            if p.is_file() and p.name not in ("report.duckdb", "timings.js")}


def query(store, sql: str, params=()) -> list[tuple]:
    """Rows of an ad-hoc SQL query on an open Store (the store itself holds only the report's own reads)."""
    return store.con.execute(sql, list(params)).fetchall()


def table_contents(db: Path, tables) -> dict[str, list[tuple]]:
    """Every row of each table, sorted."""
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        return {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in tables}


@pytest.fixture(scope="session")
def hostile_site(tmp_path_factory, bert_dir) -> Path:
    """A site built from hostile text: every line of HOSTILE and the plain SENTENCES in the corpus, every hostile line
    but the one over the limit as a probe (each probe's copy in the corpus is its best match): for the pages'
    markup (test_injection) and what a browser shows (test_browser)."""
    return build_small_site(tmp_path_factory.mktemp("hostile"), bert_dir, "\n".join(HOSTILE[:-1]) + "\n",
                            HOSTILE + SENTENCES, top_k=4)


@pytest.fixture(scope="session")
def svg_site(tmp_path_factory, bert_dir):
    """(site, the build's Summary) of the tiny BERT on SENTENCES and SPLIT_WORD_PROBES, top 3, with every chart also
    as an svg figure: for rendering again from the database (test_render) and the sentence views (test_sentence_views)."""
    summaries: list = []
    site = build_small_site(tmp_path_factory.mktemp("svg-site"), bert_dir, top_k=3, figures="svg", summaries=summaries)
    return site, summaries[0]


# The head analysis and its pages on a dozen plain sentences (enough dependents per relation for dep_accuracy rows
# with min_dep_support = 2): one site for the overview, findings and drawn-chart tests.
ANALYSIS_SENTENCES = [
    "The cat sat on the mat.", "A dog chased the red ball in the park.", "She gave him the keys to the car.",
    "They will visit the old castle tomorrow.", "My brother plays the guitar every evening.",
    "The children were playing quietly in the garden.", "He quickly finished his homework before dinner.",
    "The weather has been cold and wet all week.", "We bought fresh bread at the small bakery.",
    "The teacher explained the problem to the class.", "Birds sing loudly in the early morning.",
    "The train arrived late because of the snow.",
]


@pytest.fixture(scope="session")
def analysis_site(tmp_path_factory, bert_dir) -> Path:
    return build_small_site(tmp_path_factory.mktemp("analysis"), bert_dir, sentences=ANALYSIS_SENTENCES, top_k=3,
                            min_dep_support=2)


def site_rows(site: Path, sql: str) -> list[tuple]:
    """Rows of a query on a built site's database."""
    from reportgen.store import Store

    with Store(site / "report.duckdb", read_only=True) as store:
        return query(store, sql)


# Browser tests: Debian's Chromium through Playwright (installed by `make test`)

CHROMIUM = os.environ.get("REPORTGEN_CHROMIUM", "/usr/bin/chromium")


def wait_for(page, expression: str, arg=None, timeout: float = 30.0) -> None:
    """Poll a JavaScript expression (or a function of `arg`) until it is truthy. Playwright's wait_for_function
    compiles its predicate inside the page, which the pages' Content-Security-Policy (no eval) may refuse;
    page.evaluate goes through the browser's debugging protocol, which the policy does not govern."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression, arg):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for: {expression}")
        page.wait_for_timeout(50)


def axe_problems(page) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now."""
    from axe_playwright_python.sync_playwright import Axe

    # preload off: axe would fetch the style sheets, which the page's Content-Security-Policy rightly blocks
    found = Axe().run(page, options={"resultTypes": ["violations"], "preload": False}).response["violations"]
    return [f"{v['impact']} {v['id']}: {v['help']} at {[n['target'] for n in v['nodes'][:3]]}" for v in found
            if v["impact"] in ("serious", "critical")]


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} not found: `make test` installs Debian's chromium (apt-get install chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


VIEWPORT = {"width": 1300, "height": 1000}
CHARTS_DRAWN = "document.querySelectorAll('.chart').length === document.querySelectorAll('.chart svg').length"


def _watch(page, problems: list[str]) -> None:
    """Record on `problems` every console error, page error, request that leaves file:// and dialog (dismissed, so
    that the page goes on) of `page`."""
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("request", lambda r: problems.append(f"request {r.url}") if not r.url.startswith("file://") else None)
    page.on("dialog", lambda d: (problems.append(f"dialog {d.message}"), d.dismiss()))


@contextmanager
def browser_pages(browser):
    """A function that opens a page by its path, each in a tab of its own (for tests that keep several pages open);
    on leaving, no console error and no request left file://."""
    context = browser.new_context(viewport=VIEWPORT)
    problems: list[str] = []

    def page_at(path: Path):
        page = context.new_page()
        _watch(page, problems)
        page.goto(path.as_uri())
        wait_for(page, CHARTS_DRAWN)
        return page

    yield page_at
    context.close()
    assert problems == []


@pytest.fixture(scope="session")
def tab(browser):
    """One browser tab that the tests which use one page at a time open their pages in, one after the other: a
    navigation in the same tab costs a tiny site's page 0.5-0.6 s, a new tab 1.2-1.5 s (a new renderer process,
    which compiles the Vega bundle again; measured on 2026-12-06). A navigation replaces the document, its script
    state and its focus; the viewport and the mouse are set again for each page."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    problems: list[str] = []
    _watch(page, problems)
    yield page, problems
    context.close()


@contextmanager
def tab_pages(tab, viewport: dict | None = None):
    """browser_pages in the shared tab (`tab`): a function that opens a page by its path in it, at `viewport`
    (default VIEWPORT); the page it returns is good until the next one is opened. On leaving, no console error and
    no request left file:// while it was used."""
    page, problems = tab
    problems.clear()

    def page_at(path: Path):
        page.mouse.move(0, 0)  # no hover carried over onto the next page
        page.set_viewport_size(viewport or VIEWPORT)
        page.goto(path.as_uri())
        wait_for(page, CHARTS_DRAWN)
        return page

    yield page_at
    assert problems == []


# Every drawn item of one view: its mark type, mark name and role, position and size, its datum's plain values
# and, inside a facet, the facet's datum.
DRAWN_JS = """async (id) => {
  const view = await window.reportgenViews[id];
  const out = [];
  function plain(d) {
    const o = {};
    for (const k of Object.keys(d || {})) {
      const v = d[k];
      if (v === null || ["string", "number", "boolean"].includes(typeof v)) { o[k] = v; }
    }
    return o;
  }
  function walk(mark, facet) {
    for (const item of mark.items || []) {
      if (mark.marktype === "group") {
        const d = plain(item.datum);
        for (const child of item.items || []) { walk(child, Object.keys(d).length ? d : facet); }
      } else {
        out.push({mark: mark.marktype, name: mark.name || "", role: mark.role || "", x: item.x, y: item.y,
                  width: item.width === undefined ? null : item.width, datum: plain(item.datum),
                  facet: facet, text: item.text === undefined ? null : String(item.text)});
      }
    }
  }
  walk(view.scenegraph().root, null);
  return out;
}"""


def drawn(page, chart: str, name: str | None = None) -> list[dict]:
    """The data marks of one chart (axes, legends and titles left out), of one mark name if given."""
    return [i for i in page.evaluate(DRAWN_JS, chart) if i["role"] == "mark" and (name is None or i["name"] == name)]

