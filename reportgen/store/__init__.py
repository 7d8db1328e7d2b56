"""The DuckDB file: every SQL statement reportgen runs lives in this package (schema, writes, reads). Data go in as
parameters or Arrow tables; reads come back as named rows (store/rows.py). DuckDB and Arrow are imported when a
database is opened, not with the package: the command line's help and the table declarations need neither."""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from .matches import MatchReads
from .reads import Reads
from .schema import COLUMNS, CORE, SCHEMA_VERSION, STUDIES, STUDY_TABLES, Table
from .writes import StudiesNotCopied, Writes

__all__ = ["COLUMNS", "CORE", "SCHEMA_VERSION", "STUDIES", "STUDY_TABLES", "Store", "StoreWriteError",
           "StudiesNotCopied", "Table", "open_report"]


def __getattr__(name: str):
    if name == "StoreWriteError":  # the database file could not be written (full disk, no permission)
        import duckdb

        return duckdb.IOException
    raise AttributeError(name)


class Store(Writes, Reads, MatchReads):
    """One open DuckDB file."""

    def __init__(self, path: Path, read_only: bool = False):
        import duckdb

        self.path = path
        self.con = duckdb.connect(str(path), read_only=read_only)
        self.known_columns: dict[str, list[str]] = {}

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_report(db: Path) -> Store:
    """The database, read-only, checked: a DuckDB file that reportgen wrote, of this schema version."""
    import duckdb

    if not db.is_file():
        raise InputError(f"{db}: no such database; give the report.duckdb of a report (reportgen build writes one)")
    try:
        store = Store(db, read_only=True)
        found = store.schema_version()
    except duckdb.Error as exc:
        raise InputError(f"{db}: not a reportgen database ({str(exc).splitlines()[0]}); give the report.duckdb "
                         f"that reportgen build wrote") from None
    if found is None:
        store.close()
        raise InputError(f"{db}: not a reportgen database (no schema version); give the report.duckdb that "
                         f"reportgen build wrote")
    if found != SCHEMA_VERSION:
        store.close()
        raise InputError(f"{db}: schema version {found}, but this reportgen reads version {SCHEMA_VERSION}; "
                         f"rebuild the report with this reportgen, or render it with the reportgen that built it")
    return store
