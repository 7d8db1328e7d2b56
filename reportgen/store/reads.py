"""Reading the report's tables back as named rows (store/rows.py): what the pages, the study and the archive read."""

from __future__ import annotations

from typing import Any

from ..corpus import SourceFile
from .rows import (AgreementRow, AttentionColumns, ClassProbabilityRow, Counts, DepAccuracyRow, HeadDistanceRow,
                   HeadStatRow, ImportanceRow, MapPoint, NearestHead,
                   NeuronColumns, RoleRow, ScoreRow, SentenceRow, StudyExampleRow, StudyFigureRow, StudyWordRow,
                   TargetRow, TokenRow, WordRow)
from .schema import COLUMNS, Table

WORDS = ", ".join(COLUMNS["words"])
TOKENS = ", ".join(COLUMNS["tokens"])


class Reads:
    """The reading half of a Store. Every read returns named rows, sorted so that pages are deterministic."""

    def _rows(self, sql: str, params: Any = ()) -> list[tuple]:
        return self.con.execute(sql, list(params)).fetchall()

    def _named(self, row_type, sql: str, params: Any = ()) -> list:
        """One query's rows as `row_type` (a NamedTuple, or a dataclass of the same fields)."""
        make = getattr(row_type, "_make", None) or (lambda r: row_type(*r))
        return list(map(make, self._rows(sql, params)))

    def _columns(self, columns_type, sql: str, params: Any = ()):
        """One query's result as named numpy columns (its select list names the type's fields, in order)."""
        found = self.con.execute(sql, list(params)).fetchnumpy()
        return columns_type(*(found[name] for name in columns_type._fields))

    def rows(self, table: Table, **equal: Any) -> list:
        """Every row of a table an analysis declared, as its named row type, in the order of its columns; `equal`
        keeps the rows whose columns have these values (`rows(table, layer=3, head=7)`). Empty where the database
        has no such table (a report built without the analysis)."""
        if not self.has_table(table.name):
            return []
        wrong = sorted(set(equal) - set(table.columns))
        if wrong:
            raise KeyError(f"{table.name} has no column {wrong[0]!r}")
        where = " AND ".join(f"{c} = ?" for c in equal)  # column names checked above: never data
        columns = ", ".join(table.columns)
        return self._named(table.row_type, f"SELECT {columns} FROM {table.name}"
                                           f"{' WHERE ' + where if where else ''} ORDER BY {columns}",
                           tuple(equal.values()))

    def meta(self) -> dict[str, str]:
        return dict(self._rows("SELECT key, value FROM meta ORDER BY key"))

    def has_table(self, table: str) -> bool:
        """Whether the database has this table (one written by an older reportgen may not)."""
        return bool(self._rows("SELECT 1 FROM information_schema.tables WHERE table_name = ?", (table,)))

    def schema_version(self) -> str | None:
        """The schema version the meta table records, None where it records none."""
        found = self._rows("SELECT value FROM meta WHERE key = 'schema_version'")
        return found[0][0] if found else None

    # ---- sentences, words and tokens -----------------------------------------------------------------------

    def sentences(self, role: str) -> list[SentenceRow]:
        return self._named(SentenceRow, "SELECT sentence_id, source, text, truncated FROM sentences WHERE role = ? "
                                        "ORDER BY sentence_id", (role,))

    def words_of(self, first: int, last: int) -> list[WordRow]:
        """The words of sentences first..last (inclusive), in order."""
        return self._named(WordRow, f"SELECT {WORDS} FROM words WHERE sentence_id BETWEEN ? AND ? "
                                    "ORDER BY sentence_id, word_idx", (first, last))

    def tokens_of(self, sentence_id: int) -> list[TokenRow]:
        """The tokens of one sentence, in order."""
        return self._named(TokenRow, f"SELECT {TOKENS} FROM tokens WHERE sentence_id = ? ORDER BY token_idx",
                           (sentence_id,))

    def probe_tokens(self) -> list[TokenRow]:
        """Every probe token, in order."""
        return self._named(TokenRow, f"SELECT {', '.join('t.' + c for c in COLUMNS['tokens'])} FROM tokens t "
                                     "JOIN sentences s USING (sentence_id) WHERE s.role = 'probe' "
                                     "ORDER BY t.sentence_id, t.token_idx")

    def counts(self) -> Counts:
        return Counts(*self._rows(
            "SELECT (SELECT count(*) FROM sentences WHERE role = 'corpus'), "
            "(SELECT count(*) FROM words w JOIN sentences s USING (sentence_id) WHERE s.role = 'corpus'), "
            "(SELECT count(*) FROM tokens t JOIN sentences s USING (sentence_id) WHERE s.role = 'corpus'), "
            "(SELECT count(*) FROM sentences WHERE role = 'corpus' AND truncated), "
            "(SELECT count(*) FROM sentences WHERE role = 'probe'), "
            "(SELECT count(*) - count(DISTINCT text) FROM sentences WHERE role = 'corpus'), "
            "(SELECT count(*) FROM tokens t JOIN sentences s USING (sentence_id) "
            "WHERE s.role = 'corpus' AND t.is_special)")[0])

    def word_form_counts(self) -> dict[str, int]:
        """How often each word form (the word's text, lowercased) occurs among the corpus's words."""
        return dict(self._rows("SELECT lower(w.text), count(*) FROM words w JOIN sentences s USING (sentence_id) "
                               "WHERE s.role = 'corpus' GROUP BY 1 ORDER BY 1"))

    def source_files(self) -> list[SourceFile]:
        return self._named(SourceFile, f"SELECT {', '.join(COLUMNS['source_files'])} FROM source_files "
                                       "ORDER BY role DESC, name")

    # ---- the probes' attention and vectors ------------------------------------------------------------------

    def attention(self, layer: int, head: int) -> AttentionColumns:
        """One head's attention on every probe."""
        return self._columns(AttentionColumns, f"SELECT {', '.join(COLUMNS['attention'])} FROM attention "
                                               "WHERE layer = ? AND head = ? "
                                               "ORDER BY sentence_id, from_token_idx, to_token_idx", (layer, head))

    def sentence_attention(self, sentence_id: int) -> AttentionColumns:
        """One probe's attention, every layer and head."""
        return self._columns(AttentionColumns, f"SELECT {', '.join(COLUMNS['attention'])} FROM attention "
                                               "WHERE sentence_id = ? "
                                               "ORDER BY layer, head, from_token_idx, to_token_idx", (sentence_id,))

    def neuron(self, sentence_id: int) -> NeuronColumns:
        """One probe's query and key vectors, by layer, head, token, query before key, dimension."""
        return self._columns(NeuronColumns, f"SELECT {', '.join(COLUMNS['neuron'])} FROM neuron WHERE sentence_id = ? "
                                            "ORDER BY layer, head, token_idx, vector DESC, dim", (sentence_id,))

    # ---- the head analysis ----------------------------------------------------------------------------------

    def head_stats(self) -> list[HeadStatRow]:
        return self._named(HeadStatRow, "SELECT layer, head, stat, value FROM head_stats ORDER BY layer, head, stat")

    def head_roles(self) -> list[RoleRow]:
        return self._named(RoleRow, f"SELECT {', '.join(COLUMNS['head_roles'])} FROM head_roles ORDER BY layer, head")

    def dep_accuracy(self) -> list[DepAccuracyRow]:
        """Every dep_accuracy row, by layer, head, relation ('all' first), direction."""
        return self._named(DepAccuracyRow, f"SELECT {', '.join(COLUMNS['dep_accuracy'])} FROM dep_accuracy "
                                           "ORDER BY layer, head, relation <> 'all', relation, direction")

    def head_map(self) -> list[MapPoint]:
        return self._named(MapPoint, "SELECT layer, head, x, y FROM head_map ORDER BY layer, head")

    def head_distances(self) -> list[HeadDistanceRow]:
        """Every pair of heads' distance (both orders)."""
        return self._named(HeadDistanceRow, "SELECT layer_a, head_a, layer_b, head_b, distance FROM head_distance "
                                            "ORDER BY layer_a, head_a, layer_b, head_b")

    def nearest_heads(self) -> list[NearestHead]:
        """Each head's nearest other head and their distance; of equally near heads the first in layer and head
        order."""
        return self._named(NearestHead,
                           "SELECT layer_a, head_a, arg_min([layer_b, head_b], [distance, layer_b, head_b])[1], "
                           "arg_min([layer_b, head_b], [distance, layer_b, head_b])[2], min(distance) "
                           "FROM head_distance GROUP BY layer_a, head_a ORDER BY layer_a, head_a")

    # ---- attributions ---------------------------------------------------------------------------------------

    def attribution_targets(self) -> list[TargetRow]:
        return self._named(TargetRow, f"SELECT {', '.join(COLUMNS['attribution_targets'])} "
                                      "FROM attribution_targets ORDER BY sentence_id")

    def attribution_scores(self) -> list[ScoreRow]:
        return self._named(ScoreRow, "SELECT sentence_id, method, token_idx, score FROM attributions "
                                     "ORDER BY sentence_id, method, token_idx")

    def head_importance(self) -> list[ImportanceRow]:
        """Every head's (and layer's) importance rows (none for a report built without them)."""
        if not self.has_table("head_importance"):
            return []
        return self._named(ImportanceRow, f"SELECT {', '.join(COLUMNS['head_importance'])} FROM head_importance "
                                          "ORDER BY scope, method, sentence_id NULLS FIRST, layer, head NULLS FIRST")

    def class_probabilities(self) -> list[ClassProbabilityRow]:
        """A classifier's probability of every class on each probe (none for other models, or older reports)."""
        if not self.has_table("class_probabilities"):
            return []
        return self._named(ClassProbabilityRow, "SELECT sentence_id, class_index, label, probability FROM "
                                                "class_probabilities ORDER BY sentence_id, class_index")

    def attribution_agreement(self) -> list[AgreementRow]:
        return self._named(AgreementRow, f"SELECT {', '.join(COLUMNS['attribution_agreement'])} FROM "
                                         "attribution_agreement ORDER BY sentence_id, method, layer, head")

    # ---- studies --------------------------------------------------------------------------------------------

    def study_metrics(self, study: str) -> dict[str, float]:
        return dict(self._rows("SELECT metric, value FROM study_metrics WHERE study = ? ORDER BY metric", (study,)))

    def study_figures(self, study: str) -> list[StudyFigureRow]:
        return self._named(StudyFigureRow,
                           "SELECT subset, edit_type, source, layer, head, measure, value, ci_low, ci_high, n FROM "
                           "study_figures WHERE study = ? ORDER BY subset, edit_type, source, layer, head, measure",
                           (study,))

    def study_examples(self, study: str) -> list[StudyExampleRow]:
        """The measured examples (those with words)."""
        return self._named(StudyExampleRow,
                           "SELECT e.example_id, e.edit_type, e.predicted, e.text FROM study_examples e WHERE "
                           "e.study = ? AND EXISTS (SELECT 1 FROM study_words w WHERE w.study = e.study AND "
                           "w.example_id = e.example_id) ORDER BY e.example_id", (study,))

    def study_words(self, study: str, example_id: int) -> list[StudyWordRow]:
        return self._named(StudyWordRow,
                           "SELECT word_idx, text, char_start, char_end, gold, attention_rank FROM study_words "
                           "WHERE study = ? AND example_id = ? ORDER BY word_idx", (study, example_id))
