"""exBERT's aggregates over the matches of one search space, counted by DuckDB: annotation and offset counts per
probe token and over all probe tokens (GROUPING SETS), the corpus base rates, the match lists and the ties at the
cut, and the corpus sentences that the match lists show."""

from __future__ import annotations

from ..vocab import FACETS
from .match_counts import TokenCategories, categories_of
from .reads import TOKENS, WORDS
from .rows import BaseCount, CategoryCount, CutTieRow, MatchColumns, MatchRow, TextRow, TokenRow, WordRow
from .schema import CATEGORIES_SQL


class MatchReads:
    """The match reads of a Store (needs Reads' `_named` and `_columns`). Each aggregate returns rows for every
    probe token (sentence_id, token_idx) and, with both None, summed over all probe tokens: DuckDB does the grouping,
    Python only lays the rows out."""

    def annotation_counts(self, space: str, layer: int, head: int | None, attended: bool) -> list[CategoryCount]:
        """(sentence_id, token_idx, facet, category, n): POS, tag, dep and entity counts over all k matches.

        With `attended`, of the token each match attends to most instead of the matched token. Categories:
        'special' for special tokens (no word), 'none' for words outside any entity.
        """
        target = "n.match_max_attended_token_idx" if attended else "n.match_token_idx"
        return self._named(CategoryCount,
            f"WITH m AS (SELECT n.sentence_id, n.token_idx, {CATEGORIES_SQL} "
            "FROM neighbours n "
            f"JOIN tokens t ON t.sentence_id = n.match_sentence_id AND t.token_idx = {target} "
            "LEFT JOIN words w ON w.sentence_id = t.sentence_id AND w.word_idx = t.word_idx "
            "WHERE n.space = ? AND n.layer = ? AND n.head IS NOT DISTINCT FROM ?), "
            "u AS (UNPIVOT m ON pos, tag, dep, ent INTO NAME facet VALUE category) "
            "SELECT sentence_id, token_idx, facet, category, count(*) AS n FROM u "
            "GROUP BY GROUPING SETS ((sentence_id, token_idx, facet, category), (facet, category)) "
            "ORDER BY sentence_id NULLS FIRST, token_idx NULLS FIRST, facet, n DESC, category",
            (space, layer, head))

    def offset_counts(self, space: str, layer: int, head: int | None) -> list[CategoryCount]:
        """(sentence_id, token_idx, 'offset', bucket, n): offset in tokens from each match to the token it
        attends to most, bucketed '-3'..'+3' ('0': itself) and 'further'; 'special' where that token is a special token
        (such as [CLS] or [SEP]), whose position says nothing about the text."""
        return self._named(CategoryCount,
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

    def same_form(self) -> dict[tuple[str, int, int | None], tuple[int, int]]:
        """(space, layer, head) -> (matches whose matched token belongs to a word of the same form as the probe
        token's word, every match), for every space at once: the form is the word's text, case left aside; a token
        outside any word has no form."""
        found = self._rows(
            "SELECT n.space, n.layer, n.head, count(*) FILTER (WHERE lower(pw.text) = lower(mw.text)), count(*) "
            "FROM neighbours n "
            "JOIN tokens pt ON pt.sentence_id = n.sentence_id AND pt.token_idx = n.token_idx "
            "LEFT JOIN words pw ON pw.sentence_id = pt.sentence_id AND pw.word_idx = pt.word_idx "
            "JOIN tokens mt ON mt.sentence_id = n.match_sentence_id AND mt.token_idx = n.match_token_idx "
            "LEFT JOIN words mw ON mw.sentence_id = mt.sentence_id AND mw.word_idx = mt.word_idx "
            "GROUP BY n.space, n.layer, n.head ORDER BY ALL")
        return {(space, layer, head): (int(same), int(every)) for space, layer, head, same, every in found}

    def base_counts(self, population: str, layer: int | None = None,
                    head: int | None = None) -> list[BaseCount]:
        """(facet, category, n) of one base-rate population: 'matched' (no layer), or 'attended' of one head
        (head None: the mean of the layer's heads)."""
        return self._named(BaseCount, "SELECT facet, category, n FROM base_counts WHERE population = ? "
                                      "AND layer IS NOT DISTINCT FROM ? AND head IS NOT DISTINCT FROM ? "
                                      "ORDER BY facet, n DESC, category", (population, layer, head))

    def match_columns(self, space: str, layer: int, head: int | None) -> MatchColumns:
        """MatchRow's fields as columns (numpy arrays, masked where NULL): all k matches of every probe token, best
        first."""
        return self._columns(MatchColumns,
            "SELECT sentence_id, token_idx, match_sentence_id, match_token_idx, "
            "match_max_attended_token_idx AS max_attended_token_idx, score "
            "FROM neighbours WHERE space = ? AND layer = ? AND head IS NOT DISTINCT FROM ? "
            "ORDER BY sentence_id, token_idx, rank", (space, layer, head))

    def match_lists(self, space: str, layer: int, head: int | None) -> list[MatchRow]:
        """(sentence_id, token_idx, match_sentence_id, match_token_idx, max_attended_token_idx, score):
        all k matches of every probe token, best first (`match_columns` as rows)."""
        return [MatchRow._make(r) for r in zip(*(c.tolist() for c in self.match_columns(space, layer, head)))]

    def cut_ties(self, space: str, layer: int, head: int | None) -> list[CutTieRow]:
        """(sentence_id, token_idx, score, tied_kept, tied_dropped, open_ended) of the probe tokens of one space
        whose last kept score is shared with corpus contexts that were not kept."""
        return self._named(CutTieRow, "SELECT sentence_id, token_idx, score, tied_kept, tied_dropped, open_ended "
                                      "FROM cut_ties "
                                      "WHERE space = ? AND layer = ? AND head IS NOT DISTINCT FROM ? "
                                      "ORDER BY sentence_id, token_idx", (space, layer, head))

    def token_categories(self) -> TokenCategories:
        """Every token of the sentences some probe token matched, with its categories as `annotation_counts` names
        them: the lookup that match_counts counts a space's aggregates with, from its match columns."""
        found = self.con.execute(
            f"SELECT t.sentence_id, t.token_idx, t.is_special, {CATEGORIES_SQL} "
            "FROM tokens t LEFT JOIN words w ON w.sentence_id = t.sentence_id AND w.word_idx = t.word_idx "
            "WHERE t.sentence_id IN (SELECT DISTINCT match_sentence_id FROM neighbours) "
            "ORDER BY t.sentence_id, t.token_idx").fetchnumpy()
        return categories_of(found["sentence_id"], found["token_idx"], found["is_special"],
                             {facet: found[facet] for facet in FACETS})

    def matched_sentences(self) -> list[TextRow]:
        """Every corpus sentence that some probe token matched."""
        return self._named(TextRow, "SELECT sentence_id, text FROM sentences "
                                    "WHERE sentence_id IN (SELECT DISTINCT match_sentence_id FROM neighbours) "
                                    "ORDER BY sentence_id")

    def matched_tokens(self) -> list[TokenRow]:
        """Every token of those sentences, in order: what the match lists display."""
        return self._named(TokenRow, f"SELECT {TOKENS} FROM tokens "
                                     "WHERE sentence_id IN (SELECT DISTINCT match_sentence_id FROM neighbours) "
                                     "ORDER BY sentence_id, token_idx")

    def matched_words(self) -> list[WordRow]:
        """Every word of those sentences, in order: what the match lists highlight, filter on and count."""
        return self._named(WordRow, f"SELECT {WORDS} FROM words "
                                    "WHERE sentence_id IN (SELECT DISTINCT match_sentence_id FROM neighbours) "
                                    "ORDER BY sentence_id, word_idx")
