"""The DuckDB file: schema v5 and every SQL statement reportgen runs. Data go in as parameters or Arrow tables."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

SCHEMA_VERSION = "5"
StoreWriteError = duckdb.IOException  # the database file could not be written (full disk, no permission)

SCHEMA = {
    "meta": "key VARCHAR PRIMARY KEY, value VARCHAR",
    "sentences": "sentence_id INTEGER, role VARCHAR, source VARCHAR, text VARCHAR, truncated BOOLEAN",
    "words": ("sentence_id INTEGER, word_idx INTEGER, text VARCHAR, lemma VARCHAR, pos VARCHAR, tag VARCHAR, "
              "dep VARCHAR, head_word_idx INTEGER, ent_type VARCHAR, is_punct BOOLEAN, "
              "char_start INTEGER, char_end INTEGER"),
    "tokens": ("sentence_id INTEGER, token_idx INTEGER, text VARCHAR, word_idx INTEGER, is_special BOOLEAN, "
               "char_start INTEGER, char_end INTEGER"),
    "neighbours": ("sentence_id INTEGER, token_idx INTEGER, space VARCHAR, layer INTEGER, head INTEGER, "
                   "rank INTEGER, match_sentence_id INTEGER, match_token_idx INTEGER, score DOUBLE, "
                   "match_max_attended_token_idx INTEGER"),
    "attention": ("sentence_id INTEGER, layer INTEGER, head INTEGER, from_token_idx INTEGER, "
                  "to_token_idx INTEGER, weight DOUBLE"),
    "head_stats": "layer INTEGER, head INTEGER, stat VARCHAR, value DOUBLE",
    "neuron": ("sentence_id INTEGER, layer INTEGER, head INTEGER, token_idx INTEGER, vector VARCHAR, dim INTEGER, "
               "value DOUBLE"),
    "source_files": ("role VARCHAR, name VARCHAR, sha256 VARCHAR, sentences INTEGER, source VARCHAR, "
                     "licence VARCHAR"),
    # corpus base rates: how often each category occurs among all non-special corpus tokens ('matched', layer
    # and head NULL) and among the tokens they attend to most ('attended', per head; head NULL = the mean of
    # the layer's heads); facets pos, tag, dep, ent, and offset for 'attended'
    "base_counts": ("population VARCHAR, layer INTEGER, head INTEGER, facet VARCHAR, category VARCHAR, "
                    "n BIGINT"),
    # where the k-th score of a probe token's matches is tied with corpus contexts that were not kept
    "cut_ties": ("sentence_id INTEGER, token_idx INTEGER, space VARCHAR, layer INTEGER, head INTEGER, "
                 "score DOUBLE, tied_kept INTEGER, tied_dropped BIGINT"),
    # Clark et al.'s dependency accuracy per head, relation ('all': every arc) and direction, with the best
    # fixed-offset baseline
    "dep_accuracy": ("layer INTEGER, head INTEGER, relation VARCHAR, direction VARCHAR, support BIGINT, "
                     "accuracy DOUBLE, baseline_offset INTEGER, baseline_accuracy DOUBLE"),
    # the mean Jensen-Shannon distance between two heads' attention over the sample sentences (both orders)
    "head_distance": "layer_a INTEGER, head_a INTEGER, layer_b INTEGER, head_b INTEGER, distance DOUBLE",
    # the heads laid out in 2-D by multidimensional scaling of head_distance
    "head_map": "layer INTEGER, head INTEGER, x DOUBLE, y DOUBLE",
    "head_roles": "layer INTEGER, head INTEGER, role VARCHAR, evidence VARCHAR",
    # what each probe's attributions explain: f at the input and at the baseline, Captum's convergence delta
    "attribution_targets": ("sentence_id INTEGER, target VARCHAR, description VARCHAR, value DOUBLE, "
                            "baseline_value DOUBLE, delta DOUBLE"),
    # a score per probe token: integrated gradients, or the rollout from the target position after the last layer
    "attributions": "sentence_id INTEGER, method VARCHAR, target VARCHAR, token_idx INTEGER, score DOUBLE",
    # Spearman's rho over a probe's words between |integrated gradients| and the attention from the target
    # position: per head ('attention'), or per layer for the rollout up to that layer ('rollout', head NULL)
    "attribution_agreement": ("sentence_id INTEGER, method VARCHAR, layer INTEGER, head INTEGER, spearman DOUBLE, "
                              "n_words INTEGER"),
    # `reportgen study edits` (Stevens & Su 2020): the classifier's test metrics, every interpretability figure,
    # the examples, and the words of the measured ones with their gold flag and attention rank
    "study_metrics": "study VARCHAR, metric VARCHAR, value DOUBLE",
    "study_figures": ("study VARCHAR, edit_type VARCHAR, source VARCHAR, layer INTEGER, head INTEGER, "
                      "measure VARCHAR, value DOUBLE, ci_low DOUBLE, ci_high DOUBLE, n INTEGER"),
    "study_examples": ("study VARCHAR, example_id INTEGER, split VARCHAR, edit_type VARCHAR, label INTEGER, "
                       "predicted INTEGER, text VARCHAR"),
    "study_words": ("study VARCHAR, example_id INTEGER, word_idx INTEGER, text VARCHAR, char_start INTEGER, "
                    "char_end INTEGER, gold BOOLEAN, attention_rank INTEGER"),
}
STUDY_TABLES = ("study_metrics", "study_figures", "study_examples", "study_words")
COLUMNS = {table: [c.strip().split()[0] for c in ddl.split(",") if not c.strip().startswith("PRIMARY")]
           for table, ddl in SCHEMA.items()}
class Store:
    """One open DuckDB file."""

    def __init__(self, path: Path, read_only: bool = False):
        self.path = path
        self.con = duckdb.connect(str(path), read_only=read_only)

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- writing -------------------------------------------------------------------------

    def create(self) -> None:
        for table, ddl in SCHEMA.items():
            self.con.execute(f"CREATE TABLE {table} ({ddl})")  # table names are constants, not data

    def insert(self, table: str, rows: Sequence[Sequence[Any]] | dict[str, Sequence[Any]]) -> None:
        """Bulk-insert rows (tuples in column order) or columns (name -> values) through Arrow."""
        cols = COLUMNS[table]
        if not isinstance(rows, dict):
            if not rows:
                return
            rows = {c: [r[i] for r in rows] for i, c in enumerate(cols)}
        arrow = pa.table({c: rows[c] for c in cols})
        if arrow.num_rows == 0:
            return
        self.con.register("incoming", arrow)
        try:
            self.con.execute(f"INSERT INTO {table} SELECT {', '.join(cols)} FROM incoming")
        finally:
            self.con.unregister("incoming")

    def ensure_tables(self, tables: Iterable[str]) -> None:
        """Create any of these tables the file lacks (a database written by an older reportgen)."""
        for table in tables:
            self.con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({SCHEMA[table]})")

    def delete_study(self, table: str, study: str) -> None:
        self.con.execute(f"DELETE FROM {table} WHERE study = ?", [study])  # table: one of STUDY_TABLES

    def copy_studies(self, old: Path) -> bool:
        """The study tables of the database a previous build wrote at `old`, where it was built from the same
        model and corpus (the same model_sha256 and corpus_sha256 as this one's meta). True if copied."""
        mine = self.meta()
        self.con.execute("ATTACH ? AS previous (READ_ONLY)", [str(old)])
        try:
            found = {name for (name,) in self.rows(
                "SELECT table_name FROM information_schema.tables WHERE table_catalog = 'previous'")}
            if not set(STUDY_TABLES) <= found or "meta" not in found:
                return False
            theirs = dict(self.rows("SELECT key, value FROM previous.meta"))
            keys = ("model_sha256", "corpus_sha256")
            if any(theirs.get(k) != mine.get(k) or k not in mine for k in keys):
                return False
            for table in STUDY_TABLES:
                cols = ", ".join(COLUMNS[table])
                self.con.execute(f"INSERT INTO {table} SELECT {cols} FROM previous.{table} ORDER BY ALL")
            self.set_meta({k: v for k, v in theirs.items() if k.startswith("study.")})
            return True
        finally:
            self.con.execute("DETACH previous")

    def study_metrics(self, study: str) -> dict[str, float]:
        return dict(self.rows("SELECT metric, value FROM study_metrics WHERE study = ? ORDER BY metric", (study,)))

    def study_figures(self, study: str) -> list[tuple]:
        """(edit_type, source, layer, head, measure, value, ci_low, ci_high, n) of one study."""
        return self.rows("SELECT edit_type, source, layer, head, measure, value, ci_low, ci_high, n FROM "
                         "study_figures WHERE study = ? ORDER BY edit_type, source, layer, head, measure", (study,))

    def study_examples(self, study: str) -> list[tuple]:
        """(example_id, edit_type, predicted, text) of the measured examples (those with words)."""
        return self.rows("SELECT e.example_id, e.edit_type, e.predicted, e.text FROM study_examples e WHERE "
                         "e.study = ? AND EXISTS (SELECT 1 FROM study_words w WHERE w.study = e.study AND "
                         "w.example_id = e.example_id) ORDER BY e.example_id", (study,))

    def study_words(self, study: str, example_id: int) -> list[tuple]:
        """(word_idx, text, char_start, char_end, gold, attention_rank) of one measured example."""
        return self.rows("SELECT word_idx, text, char_start, char_end, gold, attention_rank FROM study_words "
                         "WHERE study = ? AND example_id = ? ORDER BY word_idx", (study, example_id))

    def set_meta(self, values: dict[str, str]) -> None:
        self.con.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", sorted(values.items()))

    def finish(self) -> None:
        """Flush everything into the file. Rows are inserted in key order, so equal inputs give equal contents."""
        self.con.execute("CHECKPOINT")

    # ---- reading -------------------------------------------------------------------------

    def rows(self, sql: str, params: Iterable[Any] = ()) -> list[tuple]:
        return self.con.execute(sql, list(params)).fetchall()

    def meta(self) -> dict[str, str]:
        return dict(self.rows("SELECT key, value FROM meta ORDER BY key"))

    def words_of(self, first: int, last: int) -> list[tuple]:
        """Word rows of sentences first..last (inclusive), in order."""
        return self.rows(f"SELECT {', '.join(COLUMNS['words'])} FROM words "
                         "WHERE sentence_id BETWEEN ? AND ? ORDER BY sentence_id, word_idx", (first, last))

    def sentences(self, role: str) -> list[tuple[int, str, str, bool]]:
        return self.rows("SELECT sentence_id, source, text, truncated FROM sentences WHERE role = ? "
                         "ORDER BY sentence_id", (role,))

    def counts(self) -> dict[str, int]:
        row = self.rows(
            "SELECT (SELECT count(*) FROM sentences WHERE role = 'corpus'), "
            "(SELECT count(*) FROM words w JOIN sentences s USING (sentence_id) WHERE s.role = 'corpus'), "
            "(SELECT count(*) FROM tokens t JOIN sentences s USING (sentence_id) WHERE s.role = 'corpus'), "
            "(SELECT count(*) FROM sentences WHERE role = 'corpus' AND truncated), "
            "(SELECT count(*) FROM sentences WHERE role = 'probe'), "
            "(SELECT count(*) - count(DISTINCT text) FROM sentences WHERE role = 'corpus')")[0]
        return dict(zip(("sentences", "words", "tokens", "truncated", "probes", "duplicates"), row))

    def probe_tokens(self) -> list[tuple]:
        """(sentence_id, token_idx, text, is_special, char_start, char_end, pos, dep) of every probe token, in
        order."""
        return self.rows(
            "SELECT t.sentence_id, t.token_idx, t.text, t.is_special, t.char_start, t.char_end, w.pos, w.dep "
            "FROM tokens t "
            "JOIN sentences s USING (sentence_id) "
            "LEFT JOIN words w ON w.sentence_id = t.sentence_id AND w.word_idx = t.word_idx "
            "WHERE s.role = 'probe' ORDER BY t.sentence_id, t.token_idx")

    def attention(self, layer: int, head: int) -> list[tuple[int, int, int, float]]:
        """(sentence_id, from, to, weight) of one head on every probe."""
        return self.rows("SELECT sentence_id, from_token_idx, to_token_idx, weight FROM attention "
                         "WHERE layer = ? AND head = ? ORDER BY sentence_id, from_token_idx, to_token_idx",
                         (layer, head))

    # ---- exBERT's aggregates over the matches of one space -----------------------------------
    # Each returns rows for every probe token (sentence_id, token_idx) and, with both NULL, summed over all
    # probe tokens: DuckDB does the grouping (GROUPING SETS), Python only lays the rows out.

    def annotation_counts(self, space: str, layer: int, head: int | None, attended: bool) -> list[tuple]:
        """(sentence_id, token_idx, facet, category, n): POS, tag, dep and entity counts over all k matches.

        With `attended`, of the token each match attends to most instead of the matched token. Categories:
        'special' for special tokens (no word), 'none' for words outside any entity.
        """
        target = "n.match_max_attended_token_idx" if attended else "n.match_token_idx"
        return self.rows(
            "WITH m AS (SELECT n.sentence_id, n.token_idx, "
            "coalesce(w.pos, 'special') AS pos, coalesce(w.tag, 'special') AS tag, "
            "coalesce(w.dep, 'special') AS dep, "
            "CASE WHEN w.word_idx IS NULL THEN 'special' ELSE coalesce(w.ent_type, 'none') END AS ent "
            "FROM neighbours n "
            f"JOIN tokens t ON t.sentence_id = n.match_sentence_id AND t.token_idx = {target} "
            "LEFT JOIN words w ON w.sentence_id = t.sentence_id AND w.word_idx = t.word_idx "
            "WHERE n.space = ? AND n.layer = ? AND n.head IS NOT DISTINCT FROM ?), "
            "u AS (UNPIVOT m ON pos, tag, dep, ent INTO NAME facet VALUE category) "
            "SELECT sentence_id, token_idx, facet, category, count(*) AS n FROM u "
            "GROUP BY GROUPING SETS ((sentence_id, token_idx, facet, category), (facet, category)) "
            "ORDER BY sentence_id NULLS FIRST, token_idx NULLS FIRST, facet, n DESC, category",
            (space, layer, head))

    def offset_counts(self, space: str, layer: int, head: int | None) -> list[tuple]:
        """(sentence_id, token_idx, 'offset', bucket, n): offset in tokens from each match to the token it
        attends to most, bucketed '-3'..'+3' ('0': itself) and 'further'; 'special' where that token is a special token
        (such as [CLS] or [SEP]), whose position says nothing about the text."""
        return self.rows(
            "WITH d AS (SELECT n.sentence_id, n.token_idx, a.is_special AS special, "
            "n.match_max_attended_token_idx - n.match_token_idx AS d FROM neighbours n "
            "JOIN tokens a ON a.sentence_id = n.match_sentence_id AND a.token_idx = n.match_max_attended_token_idx "
            "WHERE n.space = ? AND n.layer = ? AND n.head IS NOT DISTINCT FROM ?) "
            "SELECT sentence_id, token_idx, 'offset' AS facet, "
            "CASE WHEN special THEN 'special' WHEN abs(d) > 3 THEN 'further' "
            "WHEN d > 0 THEN '+' || d ELSE CAST(d AS VARCHAR) END AS bucket, "
            "count(*) AS n FROM d "
            "GROUP BY GROUPING SETS ((sentence_id, token_idx, bucket), (bucket)) "
            "ORDER BY sentence_id NULLS FIRST, token_idx NULLS FIRST, bucket",
            (space, layer, head))

    def fill_matched_base_counts(self) -> None:
        """The 'matched' base rates: categories of every non-special corpus token, the search's candidates
        (categories as in `annotation_counts`)."""
        self.con.execute(
            "INSERT INTO base_counts WITH m AS (SELECT coalesce(w.pos, 'special') AS pos, "
            "coalesce(w.tag, 'special') AS tag, coalesce(w.dep, 'special') AS dep, "
            "CASE WHEN w.word_idx IS NULL THEN 'special' ELSE coalesce(w.ent_type, 'none') END AS ent "
            "FROM tokens t JOIN sentences s USING (sentence_id) "
            "LEFT JOIN words w ON w.sentence_id = t.sentence_id AND w.word_idx = t.word_idx "
            "WHERE s.role = 'corpus' AND NOT t.is_special), "
            "u AS (UNPIVOT m ON pos, tag, dep, ent INTO NAME facet VALUE category) "
            "SELECT 'matched', NULL, NULL, facet, category, count(*) FROM u "
            "GROUP BY facet, category ORDER BY facet, category")

    def base_counts(self, population: str, layer: int | None = None,
                    head: int | None = None) -> list[tuple[str, str, int]]:
        """(facet, category, n) of one base-rate population: 'matched' (no layer), or 'attended' of one head
        (head None: the mean of the layer's heads)."""
        return self.rows("SELECT facet, category, n FROM base_counts WHERE population = ? "
                         "AND layer IS NOT DISTINCT FROM ? AND head IS NOT DISTINCT FROM ? "
                         "ORDER BY facet, n DESC, category", (population, layer, head))

    def match_lists(self, space: str, layer: int, head: int | None) -> list[tuple]:
        """(sentence_id, token_idx, match_sentence_id, match_token_idx, max_attended_token_idx, score):
        all k matches of every probe token, best first."""
        return self.rows(
            "SELECT sentence_id, token_idx, match_sentence_id, match_token_idx, match_max_attended_token_idx, score "
            "FROM neighbours WHERE space = ? AND layer = ? AND head IS NOT DISTINCT FROM ? "
            "ORDER BY sentence_id, token_idx, rank",
            (space, layer, head))

    def cut_ties(self, space: str, layer: int, head: int | None) -> list[tuple[int, int, float, int, int]]:
        """(sentence_id, token_idx, score, tied_kept, tied_dropped) of the probe tokens of one space whose last
        kept score is shared with corpus contexts that were not kept."""
        return self.rows("SELECT sentence_id, token_idx, score, tied_kept, tied_dropped FROM cut_ties "
                         "WHERE space = ? AND layer = ? AND head IS NOT DISTINCT FROM ? "
                         "ORDER BY sentence_id, token_idx", (space, layer, head))

    def matched_sentences(self) -> list[tuple[int, str]]:
        """(sentence_id, text) of every corpus sentence that some probe token matched."""
        return self.rows("SELECT sentence_id, text FROM sentences "
                         "WHERE sentence_id IN (SELECT DISTINCT match_sentence_id FROM neighbours) "
                         "ORDER BY sentence_id")

    def matched_tokens(self) -> list[tuple]:
        """(sentence_id, piece, is_special, char_start, char_end, word_idx) of every token of those sentences,
        in order: what the match lists display."""
        return self.rows(
            "SELECT sentence_id, text, is_special, char_start, char_end, word_idx FROM tokens "
            "WHERE sentence_id IN (SELECT DISTINCT match_sentence_id FROM neighbours) "
            "ORDER BY sentence_id, token_idx")

    def matched_words(self) -> list[tuple]:
        """(sentence_id, word_idx, char_start, char_end, pos, tag, dep, ent_type) of every word of those
        sentences, in order: what the match lists highlight, filter on and count."""
        return self.rows(
            "SELECT sentence_id, word_idx, char_start, char_end, pos, tag, dep, ent_type FROM words "
            "WHERE sentence_id IN (SELECT DISTINCT match_sentence_id FROM neighbours) "
            "ORDER BY sentence_id, word_idx")

    # ---- one probe sentence at every layer and head (the sentence pages) ------------------------

    def tokens_of(self, sentence_id: int) -> list[tuple]:
        """(token_idx, piece, word_idx, is_special, char_start, char_end) of one sentence, in order."""
        return self.rows("SELECT token_idx, text, word_idx, is_special, char_start, char_end FROM tokens "
                         "WHERE sentence_id = ? ORDER BY token_idx", (sentence_id,))

    def sentence_attention(self, sentence_id: int) -> list[tuple[int, int, int, int, float]]:
        """(layer, head, from, to, weight) of one probe, every layer and head."""
        return self.rows("SELECT layer, head, from_token_idx, to_token_idx, weight FROM attention "
                         "WHERE sentence_id = ? ORDER BY layer, head, from_token_idx, to_token_idx", (sentence_id,))

    def neuron(self, sentence_id: int) -> list[tuple[int, int, int, str, int, float]]:
        """(layer, head, token_idx, vector, dim, value) of one probe's query and key vectors."""
        return self.rows("SELECT layer, head, token_idx, vector, dim, value FROM neuron WHERE sentence_id = ? "
                         "ORDER BY layer, head, token_idx, vector DESC, dim", (sentence_id,))

    def head_stats(self) -> list[tuple[int, int, str, float]]:
        return self.rows("SELECT layer, head, stat, value FROM head_stats ORDER BY layer, head, stat")

    def has_table(self, table: str) -> bool:
        """Whether the database has this table (one written by an older reportgen may not)."""
        return bool(self.rows("SELECT 1 FROM information_schema.tables WHERE table_name = ?", (table,)))

    def attribution_targets(self) -> list[tuple[int, str, str, float, float, float]]:
        return self.rows("SELECT sentence_id, target, description, value, baseline_value, delta "
                         "FROM attribution_targets ORDER BY sentence_id")

    def attribution_scores(self) -> list[tuple[int, str, int, float]]:
        """(sentence_id, method, token_idx, score) of every probe."""
        return self.rows("SELECT sentence_id, method, token_idx, score FROM attributions "
                         "ORDER BY sentence_id, method, token_idx")

    def attribution_agreement(self) -> list[tuple[int, str, int, int | None, float | None]]:
        """(sentence_id, method, layer, head, spearman) of every probe."""
        return self.rows("SELECT sentence_id, method, layer, head, spearman FROM attribution_agreement "
                         "ORDER BY sentence_id, method, layer, head")

    def head_roles(self) -> list[tuple[int, int, str, str]]:
        """(layer, head, role, evidence) of every head."""
        return self.rows("SELECT layer, head, role, evidence FROM head_roles ORDER BY layer, head")

    def dep_accuracy(self) -> list[tuple]:
        """Every dep_accuracy row, by layer, head, relation ('all' first), direction."""
        return self.rows(f"SELECT {', '.join(COLUMNS['dep_accuracy'])} FROM dep_accuracy "
                         "ORDER BY layer, head, relation <> 'all', relation, direction")

    def head_map(self) -> list[tuple[int, int, float, float]]:
        return self.rows("SELECT layer, head, x, y FROM head_map ORDER BY layer, head")

    def nearest_heads(self) -> list[tuple[int, int, int, int, float]]:
        """(layer, head, its nearest other head's layer and head, their distance) for every head; of equally
        near heads the first in layer and head order."""
        return self.rows(
            "SELECT layer_a, head_a, arg_min([layer_b, head_b], [distance, layer_b, head_b])[1], "
            "arg_min([layer_b, head_b], [distance, layer_b, head_b])[2], min(distance) "
            "FROM head_distance GROUP BY layer_a, head_a ORDER BY layer_a, head_a")

    def source_files(self) -> list[tuple]:
        return self.rows(f"SELECT {', '.join(COLUMNS['source_files'])} FROM source_files ORDER BY role DESC, name")
