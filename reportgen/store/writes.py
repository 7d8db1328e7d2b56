"""Writing the database: the tables, bulk inserts through Arrow, meta, the study tables and the matched base
rates (counted in SQL from the stored tokens and words)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from .schema import ANALYSES, CATEGORIES_SQL, COLUMNS, CORE, SCHEMA_VERSION, STUDIES, STUDY_TABLES, Table


class StudiesNotCopied(Exception):
    """A previous database's studies that a rebuild cannot carry over (written with another schema)."""


class Writes:
    """The writing half of a Store (`self.con`: an open DuckDB connection; `self.known_columns`: each table's columns
    once looked up)."""

    def create(self, tables: Iterable[Table] | None = None) -> None:
        """The tables every report has, the study tables, and `tables`: the analyses' own, in registry order (None:
        every table declared in store/schema.py, for a database made by hand)."""
        tables = ANALYSES if tables is None else tuple(tables)
        for table in CORE + tables + STUDIES:
            self.con.execute(f"CREATE TABLE {table.name} ({table.ddl})")  # table names are constants, not data

    def _columns_of(self, table: str) -> list[str]:
        """A table's columns in their order, as the database has them (any table an analysis declared)."""
        known = self.known_columns
        if table not in known:
            found = [name for (name,) in self.con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ? AND table_catalog = "
                "current_database() ORDER BY ordinal_position", [table]).fetchall()]
            if not found:
                raise KeyError(f"no table {table!r} in the database")
            known[table] = found
        return known[table]

    def insert(self, table: str, rows: Sequence[Sequence[Any]] | dict[str, Sequence[Any]]) -> None:
        """Bulk-insert rows (tuples in column order) or columns (name -> values) through Arrow."""
        import pyarrow as pa

        cols = self._columns_of(table)
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

    def insert_tables(self, tables: dict[str, Any]) -> None:
        """Insert several tables' rows ({table: rows or columns}), in the dict's order."""
        for table, rows in tables.items():
            self.insert(table, rows)

    def ensure_tables(self, tables: Iterable[Table]) -> None:
        """Create any of these tables the file lacks (a database written by an older reportgen)."""
        for table in tables:
            self.con.execute(f"CREATE TABLE IF NOT EXISTS {table.name} ({table.ddl})")

    def delete_study(self, table: str, study: str) -> None:
        self.con.execute(f"DELETE FROM {table} WHERE study = ?", [study])  # table: one of STUDY_TABLES

    def copy_studies(self, old: Path) -> bool:
        """The study tables of the database a previous build wrote at `old`, where it was built from the same
        model and corpus (the same model_sha256 and corpus_sha256 as this one's meta). True if copied."""
        mine = self.meta()
        self.con.execute("ATTACH ? AS previous (READ_ONLY)", [str(old)])
        try:
            found = {name for (name,) in self._rows(
                "SELECT table_name FROM information_schema.tables WHERE table_catalog = 'previous'")}
            if not set(STUDY_TABLES) <= found or "meta" not in found:
                return False
            theirs = dict(self._rows("SELECT key, value FROM previous.meta"))
            keys = ("model_sha256", "corpus_sha256")
            if any(theirs.get(k) != mine.get(k) or k not in mine for k in keys):
                return False
            if theirs.get("schema_version") != SCHEMA_VERSION:
                if any(self._rows(f"SELECT 1 FROM previous.{table} LIMIT 1") for table in STUDY_TABLES):
                    raise StudiesNotCopied(f"its studies were written with schema version "
                                           f"{theirs.get('schema_version')}, this build writes {SCHEMA_VERSION}")
                return False
            for table in STUDY_TABLES:
                cols = ", ".join(COLUMNS[table])
                self.con.execute(f"INSERT INTO {table} SELECT {cols} FROM previous.{table} ORDER BY ALL")
            self.set_meta({k: v for k, v in theirs.items() if k.startswith("study.")})
            return True
        finally:
            self.con.execute("DETACH previous")

    def set_meta(self, values: dict[str, str]) -> None:
        if not values:  # DuckDB refuses executemany over no rows
            return
        self.con.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", sorted(values.items()))

    def fill_matched_base_counts(self) -> None:
        """The 'matched' base rates: categories of every non-special corpus token, the search's candidates
        (categories as in `annotation_counts`)."""
        self.con.execute(
            f"INSERT INTO base_counts WITH m AS (SELECT {CATEGORIES_SQL} "
            "FROM tokens t JOIN sentences s USING (sentence_id) "
            "LEFT JOIN words w ON w.sentence_id = t.sentence_id AND w.word_idx = t.word_idx "
            "WHERE s.role = 'corpus' AND NOT t.is_special), "
            "u AS (UNPIVOT m ON pos, tag, dep, ent INTO NAME facet VALUE category) "
            "SELECT 'matched', NULL, NULL, facet, category, count(*) FROM u "
            "GROUP BY facet, category ORDER BY facet, category")

    def finish(self) -> None:
        """Flush everything into the file. Rows are inserted in key order, so equal inputs give equal contents."""
        self.con.execute("CHECKPOINT")
