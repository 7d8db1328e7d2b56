"""`reportgen archive` and `reportgen verify`: a deterministic archive of a report and its inputs, and a check that
passes on a fresh archive, fails with exit 1 on an edited page and with exit 2 on a damaged file."""

from __future__ import annotations

import gzip
import io
import json
import tarfile

import pytest
from click.testing import CliRunner
from conftest import assert_clean_failure, build_small_site

from reportgen.cli import main

pytestmark = pytest.mark.build


@pytest.fixture(scope="module")
def report(tmp_path_factory, bert_dir):
    folder = tmp_path_factory.mktemp("archive")
    build_small_site(folder, bert_dir)
    return folder  # corpus.txt, probes.txt, site/


def _archive(report, out, *extra) -> object:
    return CliRunner().invoke(main, ["archive", str(report / "site"), "-o", str(out), "--corpus",
                                     str(report / "corpus.txt"), "--probes", str(report / "probes.txt"), *extra])


def _members(path) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(path, "r:gz") as tar:
        return {m.name: m for m in tar.getmembers()}


def test_an_archive_made_twice_is_byte_identical_and_holds_everything(report, tmp_path):
    first, second = tmp_path / "a.tar.gz", tmp_path / "b.tar.gz"
    assert _archive(report, first).exit_code == 0
    result = _archive(report, second)
    assert result.exit_code == 0, result.output
    assert first.read_bytes() == second.read_bytes()
    members = _members(first)
    names = {n.removeprefix("report/") for n, m in members.items() if m.isfile()}
    assert {"site/index.html", "site/report.duckdb", "inputs/corpus/corpus.txt", "inputs/probes/probes.txt",
            "config.json", "environment.txt", "CITATION.cff", "MANIFEST.sha256"} <= names
    assert "site/assets/timings.js" not in names
    assert list(members) == sorted(members)
    assert {(m.uid, m.gid, m.uname, m.gname, m.mtime) for m in members.values()} == {(0, 0, "", "", 0)}
    assert {m.mode for m in members.values() if m.isfile()} == {0o644}
    with tarfile.open(first, "r:gz") as tar:
        manifest = tar.extractfile("report/MANIFEST.sha256").read().decode()
        config = json.loads(tar.extractfile("report/config.json").read())
        environment = tar.extractfile("report/environment.txt").read().decode()
    assert "site/index.html" in manifest and "# input corpus corpus.txt sha256 " in manifest
    assert config["top_k"] == 50 and "out" not in config and str(report) not in json.dumps(config)
    assert environment.startswith("python 3.") and "\nduckdb==" in environment
    with gzip.open(first) as gz:  # no name and no time in gzip's header
        gz.read(1)
    assert first.read_bytes()[4:8] == b"\0\0\0\0"


def test_verify_passes_on_a_fresh_archive_rebuilt_and_re_rendered(report, tmp_path, bert_dir):
    path = tmp_path / "r.tar.gz"
    assert _archive(report, path).exit_code == 0
    rendered = CliRunner().invoke(main, ["verify", str(path), "--pages-only", "--quiet"])
    assert rendered.exit_code == 0, rendered.output
    assert "identical  site/index.html" in rendered.output and "0 differ" in rendered.output
    rebuilt = CliRunner().invoke(main, ["verify", str(path), "--model", str(bert_dir), "--quiet"])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "rebuilt from the inputs" in rebuilt.output and "0 differ" in rebuilt.output


def _edited(path, out, name, change) -> None:
    """A copy of the archive with one file changed (its manifest line kept)."""
    with tarfile.open(path, "r:gz") as tar:
        members = [(m, tar.extractfile(m).read() if m.isfile() else None) for m in tar.getmembers()]
    with tarfile.open(out, "w:gz") as tar:
        for member, data in members:
            if member.name == f"report/{name}":
                data = change(data)
                member.size = len(data)
            tar.addfile(member, io.BytesIO(data) if data is not None else None)


def test_verify_fails_with_exit_1_and_the_first_differing_line_when_a_page_was_edited(report, tmp_path):
    path, edited = tmp_path / "r.tar.gz", tmp_path / "edited.tar.gz"
    assert _archive(report, path).exit_code == 0
    _edited(path, edited, "site/heads/L0H1.html", lambda d: d.replace(b"<h1>", b"<h1>Edited ", 1))
    result = CliRunner().invoke(main, ["verify", str(edited), "--pages-only", "--quiet"])
    assert result.exit_code == 1, result.output
    assert "DIFFERS    site/heads/L0H1.html: line " in result.output and "Edited" in result.output
    assert "1 differ" in result.output


def test_verify_of_a_truncated_or_altered_archive_exits_2(report, tmp_path):
    path = tmp_path / "r.tar.gz"
    assert _archive(report, path).exit_code == 0
    truncated = tmp_path / "t.tar.gz"
    truncated.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    result = CliRunner().invoke(main, ["verify", str(truncated), "--pages-only", "--quiet"])
    assert result.exit_code == 2
    assert_clean_failure(result, str(truncated))
    altered = tmp_path / "altered.tar.gz"
    _edited(path, altered, "inputs/corpus/corpus.txt", lambda d: d + b"One more sentence.\n")
    result = CliRunner().invoke(main, ["verify", str(altered), "--quiet"])
    assert_clean_failure(result, "inputs/corpus/corpus.txt", "sha256")


def test_no_corpus_keeps_the_hashes_and_verifies_pages_only(report, tmp_path):
    path = tmp_path / "n.tar.gz"
    result = _archive(report, path, "--no-corpus")
    assert result.exit_code == 0, result.output
    with tarfile.open(path, "r:gz") as tar:
        names = tar.getnames()
        manifest = tar.extractfile("report/MANIFEST.sha256").read().decode()
    assert not any("/inputs/" in n for n in names)
    assert "# input corpus corpus.txt sha256 " in manifest
    assert CliRunner().invoke(main, ["verify", str(path), "--pages-only", "--quiet"]).exit_code == 0
    assert_clean_failure(CliRunner().invoke(main, ["verify", str(path), "--quiet"]), "--pages-only")


def test_archiving_with_another_corpus_file_is_a_one_line_error(report, tmp_path):
    other = tmp_path / "corpus.txt"
    other.write_text("Not the corpus the report was built from.\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["archive", str(report / "site"), "-o", str(tmp_path / "x.tar.gz"),
                                       "--corpus", str(other), "--probes", str(report / "probes.txt")])
    assert_clean_failure(result, "corpus.txt", "sha256")
    assert not (tmp_path / "x.tar.gz").exists()
