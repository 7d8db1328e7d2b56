"""reportgen.store.Store: the schema-v1 data contract, inserts, and parameterised queries."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import numpy as np
import pytest

from conftest import query

from reportgen.store import Store

pytestmark = pytest.mark.unit

# DESIGN.md, "Storage: the data contract (schema v1)": table -> columns in order
DESIGN_TABLES = {
    "meta": ["key", "value"],
    "sentences": ["sentence_id", "role", "source", "text", "truncated"],
    "words": ["sentence_id", "word_idx", "text", "lemma", "pos", "tag", "dep", "head_word_idx", "ent_type",
              "is_punct", "char_start", "char_end"],
    "tokens": ["sentence_id", "token_idx", "text", "word_idx", "is_special", "char_start", "char_end"],
    "neighbours": ["sentence_id", "token_idx", "space", "layer", "head", "rank", "match_sentence_id",
                   "match_token_idx", "score", "match_max_attended_token_idx"],
    "attention": ["sentence_id", "layer", "head", "from_token_idx", "to_token_idx", "weight"],
    "head_stats": ["layer", "head", "stat", "value"],
}
# README.md documents the tables beyond DESIGN's v1: provenance of the input files, and (schema v2) the
# query and key vectors of the probes for the neuron view
README_EXTRA = {"source_files": ["role", "name", "sha256", "sentences", "source", "licence"],
                "neuron": ["sentence_id", "layer", "head", "token_idx", "vector", "dim", "value"],
                # schema v3: corpus base rates, and ties at the cut of the top-k
                "base_counts": ["population", "layer", "head", "facet", "category", "n"],
                "cut_ties": ["sentence_id", "token_idx", "space", "layer", "head", "score", "tied_kept",
                             "tied_dropped", "open_ended"],
                # schema v4: Clark et al.'s head analysis (v6: bootstrap intervals and significance; v7: the
                # corrected interval, ties, and each role's stability and test against the control model)
                "dep_accuracy": ["layer", "head", "relation", "direction", "support", "accuracy", "baseline_offset",
                                 "baseline_accuracy", "accuracy_low", "accuracy_high", "margin_low", "margin_high",
                                 "significant", "margin_low_corrected", "margin_high_corrected", "below",
                                 "table1_lead", "syntax_lead", "shared"],
                "head_distance": ["layer_a", "head_a", "layer_b", "head_b", "distance"],
                "head_map": ["layer", "head", "x", "y"],
                "head_roles": ["layer", "head", "role", "evidence", "relation", "direction", "stability",
                               "role_stability", "value", "se", "rank_group", "control_role", "control_value",
                               "control_se", "claimed"],
                # schema v7: Table 1 held out, the sink rule's sensitivity, the control model
                "dep_table1": ["relation", "direction", "selected_layer", "selected_head", "baseline_offset",
                               "held_out_support", "held_out_accuracy", "held_out_baseline", "held_out_margin",
                               "held_out_low", "held_out_high", "held_out_low_corrected", "held_out_high_corrected",
                               "held_out_significant", "held_out_below", "control_layer", "control_head",
                               "control_margin", "control_se", "claimed"],
                "role_sensitivity": ["rule", "threshold", "heads"],
                "control_head_stats": ["layer", "head", "stat", "value", "se"],
                "control_dep_accuracy": ["layer", "head", "relation", "direction", "support", "accuracy",
                                         "baseline_offset", "baseline_accuracy", "margin_se"],
                "control_roles": ["layer", "head", "role", "evidence"],
                # schema v5: integrated gradients, rollout and their agreement with attention
                # (v6: the read-out rows, and the share of their attention on the words)
                "attribution_targets": ["sentence_id", "target", "description", "value", "baseline_value", "delta",
                                        "readout", "steps"],
                "class_probabilities": ["sentence_id", "class_index", "label", "probability"],
                "head_importance": ["layer", "head", "scope", "sentence_id", "method", "value", "ci_low", "ci_high",
                                    "rank"],
                "head_importance_sentences": ["layer", "head", "sentence_id", "method", "value"],
                "importance_reference": ["reference", "value", "ci_low", "ci_high", "definition"],
                "attributions": ["sentence_id", "method", "target", "token_idx", "score"],
                "attribution_agreement": ["sentence_id", "method", "layer", "head", "spearman", "n_words",
                                          "word_share"],
                # schema v7: the agreement's baselines and paired tests, and the deletion test of the explanations
                "agreement_baselines": ["sentence_id", "baseline", "spearman", "n_words"],
                "agreement_tests": ["method", "layer", "head", "baseline", "best", "n_probes", "difference", "ci_low",
                                    "ci_high", "beats"],
                # schema v8: the agreement's ranks with their ties; a causal LM's head detectors
                "agreement_ranks": ["method", "layer", "head", "n_probes", "mean", "rank"],
                "head_detectors": ["layer", "head", "detector", "source", "value", "low", "high", "se", "units"],
                "detector_roles": ["layer", "head", "role", "value", "threshold", "stability", "control_value",
                                   "claimed"],
                "detector_ablation": ["removed", "draw", "heads", "n_heads", "loss", "low", "high", "increase",
                                      "increase_low", "increase_high", "sequences"],
                # schema v9: the logit lens of causal LMs
                "logit_lens": ["sentence_id", "layer", "token_idx", "next_token_id", "next_prob", "next_rank", "kl"],
                "logit_lens_top": ["sentence_id", "layer", "token_idx", "rank", "token_id", "token", "prob"],
                "faithfulness": ["sentence_id", "ranking", "layer", "head", "k", "words", "comprehensiveness",
                                 "sufficiency"],
                # schema v5: `reportgen study edits`
                "study_metrics": ["study", "metric", "value"],
                "study_figures": ["study", "subset", "edit_type", "source", "layer", "head", "measure", "value",
                                  "ci_low", "ci_high", "n"],
                "study_examples": ["study", "example_id", "split", "edit_type", "label", "predicted", "text"],
                "study_words": ["study", "example_id", "word_idx", "text", "char_start", "char_end", "gold",
                                "attention_rank"]}

HOSTILE = [
    "'; DROP TABLE x; --",
    "Robert'); DROP TABLE sentences;--",
    'She said "hi" and \'bye\'',
    "back\\slash \\' \\\" %s %d ? $1 :name",
    "line one\nline two\r\n\ttabbed",
    "</script><script>alert(1)</script>",
    "émoji 😀 and 東京 and \u202eRTL",
    "",
    "   ",
]


@pytest.fixture(scope="module")
def created(tmp_path_factory) -> Path:
    """A database with every declared table created, once for the module."""
    path = tmp_path_factory.mktemp("created") / "report.duckdb"
    with Store(path) as s:
        s.create()
    return path


@pytest.fixture
def store(tmp_path, created):
    """A new database with every declared table: a copy of `created` (creating the tables takes 80-260 ms a test,
    the copy a tenth of that), written by this test alone."""
    shutil.copyfile(created, tmp_path / "report.duckdb")
    with Store(tmp_path / "report.duckdb") as s:
        yield s


def _columns(con, table):
    return con.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'main' AND table_name = ? ORDER BY ordinal_position", [table]).fetchall()


# ---- schema ---------------------------------------------------------------------------------


def test_create_gives_exactly_the_documented_tables(store):
    tables = {name for (name,) in store.con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'").fetchall()}
    assert tables == set(DESIGN_TABLES) | set(README_EXTRA)


@pytest.mark.parametrize("table", sorted({**DESIGN_TABLES, **README_EXTRA}))
def test_create_gives_the_documented_columns_in_order(store, table):
    want = {**DESIGN_TABLES, **README_EXTRA}[table]
    assert [name for name, _ in _columns(store.con, table)] == want


def test_column_types(store):
    types = {(t, c): ty for t in {**DESIGN_TABLES, **README_EXTRA} for c, ty in _columns(store.con, t)}
    # types DESIGN.md states
    assert types[("meta", "key")] == "VARCHAR" and types[("meta", "value")] == "VARCHAR"
    assert types[("sentences", "sentence_id")] == "INTEGER"
    for col in ("role", "source", "text"):
        assert types[("sentences", col)] == "VARCHAR"
    assert types[("sentences", "truncated")] == "BOOLEAN"
    assert types[("neighbours", "score")] == "DOUBLE"
    assert types[("head_stats", "stat")] == "VARCHAR" and types[("head_stats", "value")] == "DOUBLE"
    # integer keys everywhere; flags are booleans; weights are floating point
    for (table, col), ty in types.items():
        if col.endswith(("_id", "_idx")) or col in {"layer", "head", "rank", "char_start", "char_end"}:
            assert ty == "INTEGER", (table, col, ty)
        if col.startswith("is_"):
            assert ty == "BOOLEAN", (table, col, ty)
    assert types[("attention", "weight")] in {"DOUBLE", "FLOAT"}


def test_meta_key_is_the_primary_key(store):
    pk = store.con.execute(
        "SELECT constraint_column_names FROM duckdb_constraints() "
        "WHERE table_name = 'meta' AND constraint_type = 'PRIMARY KEY'").fetchall()
    assert pk == [(["key"],)]
    store.con.execute("INSERT INTO meta VALUES ('a', '1')")
    with pytest.raises(duckdb.ConstraintException):
        store.con.execute("INSERT INTO meta VALUES ('a', '2')")


def test_create_on_a_fresh_file_starts_empty(store):
    for table in {**DESIGN_TABLES, **README_EXTRA}:
        assert query(store, f"SELECT count(*) FROM {table}") == [(0,)]


# ---- inserts --------------------------------------------------------------------------------


def test_insert_rows_round_trip_with_nulls(store):
    rows = [
        (0, 0, "[CLS]", None, True, 0, 0),
        (0, 1, "hello", 0, False, 0, 5),
        (1, 0, "x", 3, False, 7, 8),
    ]
    store.insert("tokens", rows)
    assert query(store, "SELECT * FROM tokens ORDER BY sentence_id, token_idx") == rows


def test_insert_column_dict_with_numpy_arrays(store):
    cols = {
        "sentence_id": np.array([2, 2, 3]), "token_idx": np.array([1, 0, 4]),
        "space": ["context", "embedding", "context"], "layer": np.array([0, 1, 1], dtype=np.int64),
        "head": [None, None, 2], "rank": np.array([0, 1, 0]),
        "match_sentence_id": np.array([10, 11, 12]), "match_token_idx": np.array([5, 6, 7]),
        "score": np.array([0.5, -0.25, 2.75]), "match_max_attended_token_idx": np.array([1, 2, 3]),
    }
    store.insert("neighbours", cols)
    assert query(store, "SELECT * FROM neighbours ORDER BY sentence_id, token_idx") == [
        (2, 0, "embedding", 1, None, 1, 11, 6, -0.25, 2),
        (2, 1, "context", 0, None, 0, 10, 5, 0.5, 1),
        (3, 4, "context", 1, 2, 0, 12, 7, 2.75, 3),
    ]


def test_insert_rows_and_columns_agree(tmp_path):
    rows = [(0, 1, "probe", 0.25), (1, 0, "prev", 0.75)]
    with Store(tmp_path / "a.duckdb") as a, Store(tmp_path / "b.duckdb") as b:
        a.create()
        b.create()
        a.insert("head_stats", rows)
        b.insert("head_stats", {"stat": ["probe", "prev"], "value": [0.25, 0.75], "head": [1, 0], "layer": [0, 1]})
        assert a.head_stats() == b.head_stats() == sorted(rows)


def test_insert_of_nothing_changes_nothing(store):
    store.insert("sentences", [])
    store.insert("sentences", {"sentence_id": [], "role": [], "source": [], "text": [], "truncated": []})
    assert query(store, "SELECT count(*) FROM sentences") == [(0,)]


def test_insert_appends(store):
    store.insert("head_stats", [(0, 0, "self", 0.5)])
    store.insert("head_stats", [(0, 1, "self", 0.25)])
    assert store.head_stats() == [(0, 0, "self", 0.5), (0, 1, "self", 0.25)]


def test_data_survive_close_and_reopen_read_only(tmp_path):
    path = tmp_path / "r.duckdb"
    with Store(path) as s:
        s.create()
        s.insert("sentences", [(0, "probe", "p.txt:1", "Hello there.", False)])
        s.set_meta({"schema_version": "1"})
        s.finish()
    with Store(path, read_only=True) as s:
        assert s.sentences("probe") == [(0, "p.txt:1", "Hello there.", False)]
        assert s.meta() == {"schema_version": "1"}


# ---- hostile strings through every path -----------------------------------------------------


def test_hostile_text_is_stored_and_read_back_verbatim(store):
    store.con.execute("CREATE TABLE x (a INTEGER)")
    store.insert("sentences", [(i, "corpus", f"evil.txt:{i}", text, False) for i, text in enumerate(HOSTILE)])
    store.insert("words", [(i, 0, text, text, "X", "X", text, 0, text or None, False, 0, len(text))
                           for i, text in enumerate(HOSTILE)])
    assert [t for _, _, t, _ in store.sentences("corpus")] == HOSTILE
    assert [r[2] for r in store.words_of(0, len(HOSTILE) - 1)] == HOSTILE
    assert [r[6] for r in store.words_of(0, len(HOSTILE) - 1)] == HOSTILE
    # looking a hostile string up through a parameter finds exactly its row
    for i, text in enumerate(HOSTILE):
        assert query(store, "SELECT sentence_id FROM sentences WHERE text = ?", [text]) == [(i,)]
    # nothing was executed: the decoy table and every schema table are still there
    assert query(store, "SELECT count(*) FROM x") == [(0,)]
    assert query(store, "SELECT count(*) FROM sentences") == [(len(HOSTILE),)]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_meta_keys_and_values(store, text):
    store.set_meta({text: text, "plain": text})
    assert store.meta() == {text: text, "plain": text}
    store.set_meta({text: "replaced"})  # INSERT OR REPLACE on the primary key
    assert store.meta()[text] == "replaced"


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_strings_as_query_parameters(store, text):
    store.con.execute("CREATE TABLE x (a INTEGER)")
    store.insert("sentences", [(0, "probe", "p:1", "safe", False)])
    assert store.sentences(text) == []
    assert store.match_lists(text, 0, None) == []
    assert store.annotation_counts(text, 0, None, attended=True) == []
    assert query(store, "SELECT ?", [text]) == [(text,)]
    assert query(store, "SELECT count(*) FROM x") == [(0,)]
    assert store.sentences("probe") == [(0, "p:1", "safe", False)]


# ---- reading helpers ------------------------------------------------------------------------


def _small_report(store):
    store.insert("sentences", [(0, "probe", "p:1", "The cat.", False), (1, "corpus", "c:1", "A cat sat.", False),
                               (2, "corpus", "c:2", "It's mine.", True)])
    store.insert("words", [(1, 0, "A", "a", "DET", "DT", "det", 1, None, False, 0, 1),
                           (1, 1, "cat", "cat", "NOUN", "NN", "nsubj", 2, None, False, 2, 5),
                           (0, 1, "cat", "cat", "NOUN", "NN", "ROOT", 1, None, False, 4, 7),
                           (0, 0, "The", "the", "DET", "DT", "det", 1, None, False, 0, 3)])
    store.insert("tokens", [(0, 0, "[CLS]", None, True, 0, 0), (0, 1, "the", 0, False, 0, 3),
                            (0, 2, "cat", 1, False, 4, 7), (1, 0, "[CLS]", None, True, 0, 0),
                            (1, 1, "a", 0, False, 0, 1), (1, 2, "cat", 1, False, 2, 5)])
    store.insert("neighbours", [
        (0, 2, "context", 0, None, 1, 1, 1, 0.5, 2),
        (0, 2, "context", 0, None, 0, 1, 2, 1.5, 1),
        (0, 2, "context", 0, 3, 0, 1, 1, 0.9, None),
        (0, 2, "embedding", 0, None, 0, 1, 1, 0.7, 2),
    ])


def test_words_of_is_ordered_and_inclusive(store):
    _small_report(store)
    assert [(r[0], r[1]) for r in store.words_of(0, 1)] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert [(r[0], r[1]) for r in store.words_of(1, 1)] == [(1, 0), (1, 1)]


def test_counts(store):
    _small_report(store)
    assert store.counts()._asdict() == {"sentences": 2, "words": 2, "tokens": 3, "truncated": 1, "probes": 1,
                                        "duplicates": 0, "special_tokens": 1}
    store.insert("sentences", [(3, "corpus", "c:3", "A cat sat.", False), (4, "corpus", "c:4", "A cat sat.", False),
                               (5, "probe", "p:2", "It's mine.", False)])
    assert store.counts().duplicates == 2  # two more copies of a corpus sentence; a probe is not counted


def test_match_lists_whole_layer_is_head_null_only(store):
    _small_report(store)
    whole = store.match_lists("context", 0, None)
    assert whole == [(0, 2, 1, 2, 1, 1.5), (0, 2, 1, 1, 2, 0.5)]  # best first
    assert store.match_lists("context", 0, 3) == [(0, 2, 1, 1, None, 0.9)]
    assert [r[5] for r in store.match_lists("embedding", 0, None)] == [0.7]
    assert store.match_lists("context", 1, None) == []


def test_matched_sentences_and_tokens_are_those_of_matches(store):
    _small_report(store)
    assert store.matched_sentences() == [(1, "A cat sat.")]
    assert [(t.sentence_id, t.text, t.is_special, t.char_start, t.char_end, t.word_idx)
            for t in store.matched_tokens()] == [(1, "[CLS]", True, 0, 0, None), (1, "a", False, 0, 1, 0),
                                             (1, "cat", False, 2, 5, 1)]
    assert [(w.sentence_id, w.word_idx, w.char_start, w.char_end, w.pos)
            for w in store.matched_words()] == [(1, 0, 0, 1, "DET"), (1, 1, 2, 5, "NOUN")]
