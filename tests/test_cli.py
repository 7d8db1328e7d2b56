"""The command line: instant help, one-line errors with exit code 2, and an untouched earlier site."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import assert_clean_failure

from reportgen.cli import main

pytestmark = pytest.mark.unit


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def test_help_is_instant_and_imports_nothing_heavy():
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", "import sys; from reportgen.cli import main; "
                             "sys.argv = ['reportgen', '--help']\ntry:\n main()\nexcept SystemExit: pass\n"
                             "print(sorted(m for m in ('torch', 'transformers', 'spacy', 'altair', 'duckdb') "
                             "if m in sys.modules))"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "build" in result.stdout
    assert result.stdout.strip().endswith("[]")
    assert time.perf_counter() - start < 10


def test_build_help_lists_the_contract_options():
    result = invoke("build", "--help")
    for option in ("--model", "--corpus", "--probes", "--out", "--db", "--top-k", "--limit", "--batch-size",
                   "--config"):
        assert option in result.output



def assert_untouched(out: Path) -> None:
    assert (out / "index.html").read_text(encoding="utf-8") == "previous report"
    assert sorted(p.name for p in out.parent.iterdir() if p.name.startswith(".site")) == []


def test_missing_corpus_file(old_site, probes_file, bert_dir):
    result = invoke("build", "--model", str(bert_dir), "--corpus", "no/such/file.txt", "--probes",
                    str(probes_file), "--out", str(old_site))
    assert_clean_failure(result, "no/such/file.txt", "not found")
    assert_untouched(old_site)


def test_empty_corpus(old_site, probes_file, bert_dir, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n", encoding="utf-8")
    result = invoke("build", "--model", str(bert_dir), "--corpus", str(empty), "--probes", str(probes_file),
                    "--out", str(old_site))
    assert_clean_failure(result, str(empty), "no corpus sentences")
    assert_untouched(old_site)


def test_unknown_model_path(old_site, corpus_file, probes_file, tmp_path):
    result = invoke("build", "--model", str(tmp_path / "nowhere"), "--corpus", str(corpus_file), "--probes",
                    str(probes_file), "--out", str(old_site))
    assert_clean_failure(result, "nowhere", "not a model directory")
    assert_untouched(old_site)


def test_unsupported_architecture_lists_supported(old_site, corpus_file, probes_file, tmp_path):
    from transformers import T5Config

    folder = tmp_path / "t5"
    T5Config(d_model=8, num_layers=1, num_heads=2, d_kv=4, d_ff=8, vocab_size=10).save_pretrained(folder)
    result = invoke("build", "--model", str(folder), "--corpus", str(corpus_file), "--probes", str(probes_file),
                    "--out", str(old_site))
    assert_clean_failure(result, "'t5'", "bert", "gpt2", "llama")
    assert_untouched(old_site)


def test_probe_longer_than_the_model_limit(old_site, corpus_file, bert_dir, tmp_path):
    probes = tmp_path / "long.txt"
    probes.write_text("A short probe.\n" + "word " * 200 + "\n", encoding="utf-8")
    result = invoke("build", "--model", str(bert_dir), "--corpus", str(corpus_file), "--probes", str(probes),
                    "--out", str(old_site))
    assert_clean_failure(result, "long.txt:2", "limit of 64")
    assert_untouched(old_site)


def test_bad_options_are_reported_together(old_site, tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text('top-k = 0\nlimit = -1\ncolour = "red"\n', encoding="utf-8")
    result = invoke("build", "--config", str(config), "--out", str(old_site))
    assert_clean_failure(result, "top_k", "limit", "colour")
    assert_untouched(old_site)


def test_bad_head_analysis_keys_exit_2(old_site, tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text('min_dep_support = 0\nsimilarity-sentences = "all"\n', encoding="utf-8")
    result = invoke("build", "--config", str(config), "--out", str(old_site))
    assert_clean_failure(result, "min_dep_support", "similarity_sentences", str(config))
    assert_untouched(old_site)


def test_top_k_zero_on_the_command_line(old_site):
    assert_clean_failure(invoke("build", "--top-k", "0", "--out", str(old_site)), "top_k")


def test_output_folder_that_is_a_file(tmp_path):
    target = tmp_path / "file"
    target.write_text("x", encoding="utf-8")
    assert_clean_failure(invoke("build", "--out", str(target)), str(target), "not a directory")
    assert target.read_text(encoding="utf-8") == "x"


@pytest.mark.build
def test_successful_build_replaces_the_old_site(old_site, corpus_file, probes_file, bert_dir):
    result = invoke("build", "--model", str(bert_dir), "--corpus", str(corpus_file), "--probes", str(probes_file),
                    "--out", str(old_site), "--top-k", "3")
    assert result.exit_code == 0, result.output
    assert "8 corpus sentences" in result.output
    assert "previous report" not in (old_site / "index.html").read_text(encoding="utf-8")
    assert (old_site / "heads" / "L1H3.html").is_file()
    assert [p.name for p in old_site.parent.iterdir() if p.name.startswith(".site")] == []


@pytest.mark.build
def test_a_failure_while_building_leaves_the_old_site(old_site, corpus_file, probes_file, bert_dir, monkeypatch):
    import reportgen.commands.build

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(reportgen.commands.build, "render", broken)  # a fault injected at the command line
    result = invoke("build", "--model", str(bert_dir), "--corpus", str(corpus_file), "--probes", str(probes_file),
                    "--out", str(old_site))
    assert result.exit_code != 0
    assert_untouched(old_site)


@pytest.mark.build
def test_config_file_and_database_elsewhere(tmp_path, corpus_file, probes_file, bert_dir):
    import duckdb

    config = tmp_path / "report.toml"
    config.write_text(f'model = "{bert_dir}"\ncorpus = ["{corpus_file}"]\nprobes = "{probes_file}"\n'
                      'top-k = 2\nlimit = 3\n', encoding="utf-8")
    out, db = tmp_path / "site", tmp_path / "data" / "r.duckdb"
    result = invoke("build", "--config", str(config), "--out", str(out), "--db", str(db), "--top-k", "4")
    assert result.exit_code == 0, result.output
    assert not (out / "report.duckdb").exists()
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT value FROM meta WHERE key = 'top_k'").fetchone()[0] == "4"  # the command line wins
    assert con.execute("SELECT count(*) FROM sentences WHERE role = 'corpus'").fetchone()[0] == 3
    assert con.execute("SELECT max(rank) FROM neighbours").fetchone()[0] == 3
    assert [p.name for p in db.parent.iterdir()] == ["r.duckdb"]


@pytest.mark.parametrize("value", ["pdf", "SVG", ""])
def test_unknown_figure_format_is_one_line_error(old_site, value):
    result = invoke("build", "--out", str(old_site), "--figures", value)
    assert_clean_failure(result, "figures", "svg, png")
    assert_untouched(old_site)


@pytest.mark.build
def test_repeated_sentences_are_kept_and_counted(tmp_path, corpus_file, probes_file, bert_dir):
    lines = corpus_file.read_text(encoding="utf-8").splitlines()
    corpus = tmp_path / "repeats.txt"
    corpus.write_text("\n".join(lines + lines[:2] + [""]) + "\n", encoding="utf-8")
    out = tmp_path / "site"
    result = invoke("build", "--model", str(bert_dir), "--corpus", str(corpus), "--probes", str(probes_file),
                    "--out", str(out), "--top-k", "2")
    assert result.exit_code == 0, result.output
    assert f"{len(lines) + 2} corpus sentences" in result.output and "2 repeated (kept)" in result.output
    assert "repeated sentences (kept)" in (out / "index.html").read_text(encoding="utf-8")


@pytest.mark.build
def test_source_date_epoch_sets_the_date_shown(tmp_path, corpus_file, probes_file, bert_dir, monkeypatch):
    args = ("build", "--model", str(bert_dir), "--corpus", str(corpus_file), "--probes", str(probes_file),
            "--top-k", "2")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    assert invoke(*args, "--out", str(tmp_path / "a")).exit_code == 0
    about = (tmp_path / "a" / "about.html").read_text(encoding="utf-8")
    assert "2023-11-14 22:13:20 UTC" in about
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    assert invoke(*args, "--out", str(tmp_path / "b")).exit_code == 0
    assert "not recorded (set SOURCE_DATE_EPOCH" in (tmp_path / "b" / "about.html").read_text(encoding="utf-8")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "index.html").write_text("previous report", encoding="utf-8")
    result = invoke(*args, "--out", str(tmp_path / "c"))
    assert_clean_failure(result, "SOURCE_DATE_EPOCH", "yesterday")
    assert_untouched(tmp_path / "c")


@pytest.mark.build
@pytest.mark.parametrize("fault,code,needle", [
    (KeyboardInterrupt(), 130, "interrupted"),
    (OSError(28, "No space left on device"), 2, "No space left on device"),
])
def test_interrupt_or_full_disk_mid_build_keeps_the_old_site_and_a_rerun_works(
        fault, code, needle, old_site, corpus_file, probes_file, bert_dir, monkeypatch):
    import reportgen.site.render

    args = ("build", "--model", str(bert_dir), "--corpus", str(corpus_file), "--probes", str(probes_file),
            "--out", str(old_site), "--top-k", "2")
    real = reportgen.site.render.write_contexts

    def fail_late(*a, **kw):  # the pages are written, the site is not complete yet
        raise fault

    monkeypatch.setattr(reportgen.site.render, "write_contexts", fail_late)
    result = invoke(*args)
    assert result.exit_code == code, result.output
    assert needle in result.output and "Traceback" not in result.output
    assert_untouched(old_site)
    monkeypatch.setattr(reportgen.site.render, "write_contexts", real)
    assert invoke(*args).exit_code == 0
    assert (old_site / "sentences" / "0.html").is_file()


def test_limit_below_one_on_the_command_line(old_site):
    assert_clean_failure(invoke("build", "--limit", "-1", "--out", str(old_site)), "limit")
    assert_untouched(old_site)


@pytest.mark.build
def test_a_build_off_a_terminal_logs_its_progress_as_plain_lines(tmp_path, bert_dir, corpus_file, probes_file):
    """Without a terminal (a log file, CI), each stage says it starts and ends on stderr, as plain lines."""
    result = CliRunner().invoke(main, ["build", "--model", str(bert_dir), "--corpus", str(corpus_file), "--probes",
                                       str(probes_file), "--out", str(tmp_path / "site"), "--top-k", "2",
                                       "--importance-sentences", "2", "--attribution-steps", "2"])
    assert result.exit_code == 0, result.output
    logged = [line for line in result.stderr.splitlines() if line.startswith("reportgen: ")]
    for stage in ("annotate", "attribute", "faithfulness", "control", "importance", "encode", "render"):
        assert any(line.startswith(f"reportgen: {stage} 0/") for line in logged), stage
        assert any(line.startswith(f"reportgen: {stage} ") and " done in " in line for line in logged), stage
    assert "\x1b[" not in result.stderr  # no terminal control codes in a log
    assert result.stdout.startswith("Built ")
