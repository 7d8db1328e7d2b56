"""An analysis added from outside reportgen's code, entirely in this file: its options, its corpus-pass accumulator,
its table and its head-page section, registered once (one entry added to the registry's). The command line takes
its option, the TOML validation knows it, the build writes its table (checked against a direct computation), the
about page lists its setting, and every head page shows its section with an entry in the table of contents."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from click.testing import CliRunner
from conftest import SENTENCES

from reportgen.analyses.registry import UNITS, load_config
from reportgen.cli import make_cli
from reportgen.errors import ConfigError
from reportgen.options import option
from reportgen.store import Table
from reportgen.unit import Section, Unit

pytestmark = pytest.mark.build

PEAK = Table("head_peak", "each head's largest attention weight over the corpus, and whether it reaches peak_floor", (
    ("layer", "INTEGER", "the block"), ("head", "INTEGER", "the head"),
    ("peak", "DOUBLE", "the largest weight it gives, over every real corpus token"),
    ("above", "BOOLEAN", "whether peak is at least peak_floor hundredths")))


@dataclass(frozen=True)
class PeakOptions:
    peak_floor: int = option(50, "A head's peak counts as high from this many hundredths on (default: 50).",
                             minimum=1)


class Peak:
    """The largest attention weight each head gives, over every corpus token: a max, so shards merge exactly."""

    timing = ""

    def __init__(self, n_layers: int, n_heads: int, floor: int):
        self.peak = [[0.0] * n_heads for _ in range(n_layers)]
        self.floor = floor

    @classmethod
    def create(cls, inputs, options: PeakOptions, device) -> Peak:
        return cls(inputs.n_layers, inputs.n_heads, options.peak_floor)

    def update(self, batch) -> None:
        real = batch.info.on(batch.device, "mask", lambda: batch.info.mask)  # [B, T]: the real tokens, not padding
        found = (batch.attention * real[:, None, :, None]).amax(dim=(0, 2, 3)).tolist()  # [H]
        row = self.peak[batch.layer]
        for h, value in enumerate(found):
            row[h] = max(row[h], value)

    def merge(self, other: Peak) -> None:
        self.peak = [[max(a, b) for a, b in zip(mine, theirs)] for mine, theirs in zip(self.peak, other.peak)]

    def tables(self) -> dict[str, list[tuple]]:
        return {"head_peak": [(layer, head, value, value * 100 >= self.floor)
                              for layer, row in enumerate(self.peak) for head, value in enumerate(row)]}


@dataclass(frozen=True)
class PeakView:
    peak: float
    above: bool


def head_peak(report, layer: int, head: int) -> PeakView | None:
    found = report.store.rows(PEAK, layer=layer, head=head)
    return PeakView(found[0].peak, found[0].above) if found else None


TEMPLATE = ('{% macro head(v) %}<section id="peak">\n  <h2>Peak attention</h2>\n  <p class="peak">'
            '{{ "%.4f"|format(v.peak) }}{% if v.above %} (high){% endif %}</p>\n</section>\n{% endmacro %}\n')
UNIT = Unit("peak", "each head's largest attention weight", options=PeakOptions, tables=(PEAK,), accumulator=Peak,
            sections=(Section("head", "peak", "Peak attention", "sections/peak.html", "head", 25, head_peak),),
            templates={"sections/peak.html": TEMPLATE})
REGISTERED = UNITS + (UNIT,)


@pytest.mark.unit
def test_its_option_is_on_the_command_line_and_in_the_toml_validation(tmp_path):
    result = CliRunner().invoke(make_cli(REGISTERED), ["build", "--help"])
    assert result.exit_code == 0 and "--peak-floor" in result.output and "hundredths" in result.output
    assert "--peak-floor" not in CliRunner().invoke(make_cli(UNITS), ["build", "--help"]).output
    toml = tmp_path / "reportgen.toml"
    toml.write_text("peak-floor = 0\ntop_k = 0\n", encoding="utf-8")
    with pytest.raises(ConfigError) as bad:
        load_config(toml, REGISTERED)
    assert "peak_floor: must be at least 1, got 0" in str(bad.value) and "top_k" in str(bad.value)
    toml.write_text("peak_floor = 30\n", encoding="utf-8")
    assert load_config(toml, REGISTERED)["peak_floor"] == 30
    with pytest.raises(ConfigError, match="unknown key 'peak_floor'"):
        load_config(toml, UNITS)  # not registered: not an option


@pytest.fixture(scope="module")
def built(tmp_path_factory, bert_dir) -> Path:
    folder = tmp_path_factory.mktemp("peak")
    corpus, probes = folder / "corpus.txt", folder / "probes.txt"
    corpus.write_text("\n".join(SENTENCES) + "\n", encoding="utf-8")
    probes.write_text("The dog sat on the table.\nShe gave him the keys.\n", encoding="utf-8")
    result = CliRunner().invoke(make_cli(REGISTERED), [
        "build", "--model", str(bert_dir), "--corpus", str(corpus), "--probes", str(probes),
        "--out", str(folder / "site"), "--top-k", "3", "--importance-sentences", "2", "--attribution-steps", "4",
        "--peak-floor", "20", "--quiet"])
    assert result.exit_code == 0, result.output
    return folder / "site"


def _direct_peaks(model_dir: Path) -> dict[tuple[int, int], float]:
    """The largest attention weight of each head over the corpus sentences, one sentence at a time."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModel.from_pretrained(model_dir, attn_implementation="eager").eval()
    peaks: dict[tuple[int, int], float] = {}
    with torch.no_grad():
        for text in SENTENCES:
            out = model(**tokenizer(text, return_tensors="pt"), output_attentions=True)
            for layer, att in enumerate(out.attentions):
                for head in range(att.shape[1]):
                    key = (layer, head)
                    peaks[key] = max(peaks.get(key, 0.0), float(att[0, head].max()))
    return peaks


def test_its_table_holds_what_a_direct_computation_gives(built, bert_dir):
    from reportgen.store import Store

    with Store(built / "report.duckdb", read_only=True) as store:
        rows = store.rows(PEAK)
        meta = store.meta()
    direct = _direct_peaks(bert_dir)
    assert len(rows) == len(direct) == 8
    for r in rows:
        assert r.peak == pytest.approx(direct[(r.layer, r.head)], abs=1e-5)
        assert r.above == (r.peak * 100 >= 20)
    assert meta["option.peak_floor"] == "20"


def test_its_section_is_on_every_head_page_with_an_entry_in_the_contents(built):
    from reportgen.store import Store

    with Store(built / "report.duckdb", read_only=True) as store:
        peaks = {(r.layer, r.head): r for r in store.rows(PEAK)}
    about = BeautifulSoup((built / "about.html").read_text(encoding="utf-8"), "html.parser")
    options = {dt.get_text(): dt.find_next_sibling("dd").get_text() for dt in about.select("dl#options dt")}
    assert options["peak_floor"] == "20"
    for (layer, head), row in peaks.items():
        page = BeautifulSoup((built / "heads" / f"L{layer}H{head}.html").read_text(encoding="utf-8"), "html.parser")
        shown = page.select_one("section#peak p.peak").get_text()
        assert shown == f"{row.peak:.4f}" + (" (high)" if row.above else "")
        contents = [a["href"] for a in page.select("nav.toc a")]
        # placed by its order (25): after the importance section (20), before the dependency accuracy (30)
        assert contents.index("#peak") == contents.index("#syntax") - 1
        ids = [node["id"] for node in page.find_all(id=True) if node["id"] in ("importance", "peak", "syntax")]
        assert ids == ["importance", "peak", "syntax"]


@pytest.mark.unit
def test_the_registry_pickles_after_its_tables_were_read():
    """Render processes are sent the analyses' entries: a table's row type, made at run time once its rows were
    read, must not stop them from being pickled."""
    import pickle

    for unit in REGISTERED[:-1]:  # the shipped ones (this file's own holds lambdas, and renders in one process)
        for table in unit.tables:
            assert table.row_type._fields == tuple(table.columns)
    again = pickle.loads(pickle.dumps(UNITS))
    assert [u.name for u in again] == [u.name for u in UNITS]
    assert again[0].tables[0].row_type._fields == tuple(UNITS[0].tables[0].columns)
