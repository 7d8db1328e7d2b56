"""reportgen.config.load_config: TOML and command-line options, validated up front, every error at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from reportgen.analyses.registry import UNITS, load_config, options_of
from reportgen.config import DEFAULT_MODEL, Config
from reportgen.errors import ConfigError, ReportgenError

pytestmark = pytest.mark.unit


def _toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "reportgen.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _error(*args, **kwargs) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_defaults_without_file_or_overrides(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = load_config(None)
    assert config == Config(analyses=tuple(options() for options in options_of(UNITS)))
    assert config.model == DEFAULT_MODEL and config["top_k"] == 50 and config.out == Path("site")
    assert config.db_path == Path("site") / "report.duckdb"


def test_cli_style_none_means_not_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = load_config(None, model=None, corpus=(), probes=None, out=None, db=None, top_k=None, limit=None,
                         batch_size=None)
    assert config == load_config(None)


@pytest.mark.parametrize("sep", ["-", "_"])
def test_toml_keys_with_dashes_or_underscores(tmp_path, sep):
    path = _toml(tmp_path, f"""
model = "some/model"
top{sep}k = 7
batch{sep}size = 3
limit = 11
max{sep}length = 128
shown{sep}matches = 4
corpus = ["a.txt", "b"]
probes = "p.txt"
out = "{(tmp_path / 'out').as_posix()}"
db = "x.duckdb"
""")
    config = load_config(path)
    assert config.model == "some/model"
    assert (config["top_k"], config.batch_size, config.limit, config.max_length, config["shown_matches"]) == \
        (7, 3, 11, 128, 4)
    assert config.corpus == (Path("a.txt"), Path("b"))
    assert config.probes == Path("p.txt")
    assert config.out == tmp_path / "out"
    assert config.db_path == Path("x.duckdb")


def test_corpus_as_a_single_string(tmp_path):
    config = load_config(_toml(tmp_path, 'corpus = "one.txt"\n'))
    assert config.corpus == (Path("one.txt"),)


def test_cli_overrides_win(tmp_path):
    path = _toml(tmp_path, 'top-k = 7\nlimit = 11\nmodel = "file-model"\ncorpus = ["file.txt"]\nbatch_size = 2\n')
    config = load_config(path, top_k=3, model="cli-model", corpus=(Path("cli.txt"),), limit=None, batch_size=None)
    assert config["top_k"] == 3
    assert config.model == "cli-model"
    assert config.corpus == (Path("cli.txt"),)
    # not given on the command line: the file's values stay
    assert config.limit == 11 and config.batch_size == 2


def test_cli_override_replaces_a_bad_file_value(tmp_path):
    config = load_config(_toml(tmp_path, "top_k = 0\n"), top_k=5)
    assert config["top_k"] == 5


def test_cli_values_are_validated_too(tmp_path):
    message = _error(None, top_k=0, limit=-1)
    assert "top_k" in message and "limit" in message


@pytest.mark.parametrize("line, key", [
    ("top_k = 0", "top_k"), ("top-k = -3", "top_k"), ("limit = -1", "limit"), ("limit = 0", "limit"),
    ("batch_size = 0", "batch_size"), ("max_length = 1", "max_length"), ("shown_matches = 0", "shown_matches"),
    ('top_k = "5"', "top_k"), ("top_k = 5.0", "top_k"), ("top_k = true", "top_k"), ("limit = [1]", "limit"),
    ("model = 3", "model"), ('model = ""', "model"), ("corpus = 3", "corpus"), ("corpus = [1, 2]", "corpus"),
    ("probes = 1", "probes"), ('out = ""', "out"), ("db = false", "db"),
    ("min_dep_support = 0", "min_dep_support"), ('min-dep-support = "100"', "min_dep_support"),
    ("min_dep_support = 1.5", "min_dep_support"), ("similarity_sentences = 0", "similarity_sentences"),
    ("similarity-sentences = -5", "similarity_sentences"), ("similarity_sentences = false", "similarity_sentences"),
])
def test_bad_value_names_the_key_and_the_value(tmp_path, line, key):
    path = _toml(tmp_path, line + "\n")
    message = _error(path)
    assert str(path) in message
    assert key in message
    assert line.split("=", 1)[1].strip().strip('"').lower() in message.lower()  # Python's repr is fine


def test_unknown_key(tmp_path):
    path = _toml(tmp_path, "top_k = 5\ncolour = \"red\"\n")
    message = _error(path)
    assert "colour" in message
    assert "top-k" in message or "top_k" in message  # the known keys are listed


def test_unknown_key_is_not_applied_silently_as_a_known_one(tmp_path):
    message = _error(_toml(tmp_path, "topk = 5\n"))
    assert "topk" in message


def test_every_bad_key_and_value_reported_at_once(tmp_path):
    path = _toml(tmp_path, 'top_k = 0\nlimit = -1\nbatch-size = "big"\nwhatever = 1\nmodel = 5\n')
    message = _error(path)
    for part in ("top_k", "limit", "batch_size", "whatever", "model"):
        assert part in message, part
    assert message.count(";") >= 4  # five separate complaints in one message


def test_out_path_that_is_an_existing_file(tmp_path):
    existing = tmp_path / "site"
    existing.write_text("I am a file")
    message = _error(None, out=existing)
    assert str(existing) in message


def test_out_path_that_is_an_existing_directory_is_fine(tmp_path):
    (tmp_path / "site").mkdir()
    assert load_config(None, out=tmp_path / "site").out == tmp_path / "site"


def test_out_file_reported_together_with_other_errors(tmp_path):
    existing = tmp_path / "site"
    existing.write_text("I am a file")
    path = _toml(tmp_path, f'top_k = 0\nout = "{existing.as_posix()}"\n')
    message = _error(path)
    assert "top_k" in message and str(existing) in message


def test_unknown_key_is_reported_as_written(tmp_path):
    assert "colour-name" in _error(_toml(tmp_path, 'colour-name = "red"\n'))


def test_missing_config_file(tmp_path):
    missing = tmp_path / "nope.toml"
    assert str(missing) in _error(missing)


def test_invalid_toml(tmp_path):
    path = _toml(tmp_path, "top_k = = 3\n")
    message = _error(path)
    assert str(path) in message and "TOML" in message


def test_config_error_is_a_reportgen_error():
    assert issubclass(ConfigError, ReportgenError)


def test_same_key_with_dash_and_underscore_is_reported(tmp_path):
    message = _error(_toml(tmp_path, "top-k = 3\ntop_k = 4\n"))
    assert "top" in message
