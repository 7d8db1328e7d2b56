"""spaCy beside the model: a large corpus is annotated in a process of its own, window by window ahead of the
encoding; the report is the same as when each window is annotated in the build's own process."""

from __future__ import annotations

import pytest
from conftest import SENTENCES, build_small_site, table_contents

from reportgen.corpus_pass.annotator import Annotator
from reportgen.corpus_pass.spec import Tuning

pytestmark = pytest.mark.build

TABLES = ("words", "tokens", "sentences", "neighbours", "head_stats", "base_counts", "dep_accuracy", "cut_ties")


BESIDE = Tuning(annotate_beside=1, annotators=2, window_batches=4)


@pytest.fixture(scope="module")
def both(tmp_path_factory, bert_dir):
    """Sites built with annotation in this process and in two spaCy processes beside it (every corpus beside, and
    windows of 1 x 4 sentences, so that several windows are annotated ahead, in turn by each process)."""
    sentences = SENTENCES * 8
    summaries = []
    here = build_small_site(tmp_path_factory.mktemp("here"), bert_dir, sentences=sentences, batch_size=1,
                            summaries=summaries)
    beside = build_small_site(tmp_path_factory.mktemp("beside"), bert_dir, sentences=sentences, batch_size=1,
                              tuning=BESIDE, summaries=summaries)
    assert [s.annotators for s in summaries] == [0, 2]
    return here, beside, len(sentences)


def test_annotation_beside_the_model_gives_the_same_report(both):
    here, beside, n = both
    assert n > (Annotator.AHEAD + 2) * BESIDE.window_batches  # more windows than the annotators work ahead
    got, want = table_contents(beside / "report.duckdb", TABLES), table_contents(here / "report.duckdb", TABLES)
    for table in TABLES:
        assert got[table] == want[table], table
    pages = sorted(p.relative_to(here) for p in here.rglob("*.html"))
    assert pages == sorted(p.relative_to(beside) for p in beside.rglob("*.html"))
    for page in pages:
        assert (here / page).read_bytes() == (beside / page).read_bytes(), page


def test_a_failing_annotation_stops_the_build_and_keeps_the_old_site(tmp_path, bert_dir):
    """An error in the spaCy process reaches the build, which stops and leaves the previous site as it was."""
    old = build_small_site(tmp_path, bert_dir)
    before = {p.relative_to(old): p.read_bytes() for p in old.rglob("*") if p.is_file()}
    failing = Tuning(annotate_beside=1, annotate=failing_annotation)  # what the spaCy process runs
    with pytest.raises(RuntimeError, match="spaCy failed"):
        build_small_site(tmp_path, bert_dir, sentences=SENTENCES * 4, batch_size=1, tuning=failing)
    assert {p.relative_to(old): p.read_bytes() for p in old.rglob("*") if p.is_file()} == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".site")] == []  # no staging left


def failing_annotation(window, nlp):
    """Run in the spaCy process in place of the annotation (found there by this module's name)."""
    raise RuntimeError(f"spaCy failed on sentence {window[0][0]}")


def test_a_spacy_process_that_dies_stops_the_build_with_one_line(tmp_path, bert_dir):
    """A spaCy process killed mid-corpus (out of memory, say) is noticed: the build stops with a one-line error
    instead of waiting for it forever, and leaves no staging behind."""
    from reportgen.errors import ModelError

    dying = Tuning(annotate_beside=1, annotate=dying_annotation)
    with pytest.raises(ModelError, match=r"the spaCy process stopped \(exit code 3\)"):
        build_small_site(tmp_path, bert_dir, sentences=SENTENCES * 4, batch_size=1, tuning=dying)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".site")] == []


def dying_annotation(window, nlp):
    """Run in the spaCy process: it ends the process at once, as the system would kill it."""
    import os

    os._exit(3)


@pytest.mark.unit
def test_spacy_processes_beside_the_model_as_the_device_allows():
    from reportgen.corpus_pass.spec import MAX_ANNOTATORS, annotator_processes

    assert annotator_processes("cpu", 2) == annotator_processes("cpu", 64) == 1  # the model's threads take the rest
    assert annotator_processes("cuda", 2) == 1
    assert annotator_processes("cuda:0", 16) == MAX_ANNOTATORS == 8
    assert annotator_processes("mps", 4) == 3
