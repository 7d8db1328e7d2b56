"""The DuckDB file: every SQL statement reportgen runs lives in this package (schema, writes, reads). Data go in as
parameters or Arrow tables; reads come back as named rows (store/rows.py)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from ..errors import InputError
from .matches import MatchReads
from .reads import Reads
from .schema import COLUMNS, SCHEMA, SCHEMA_VERSION, STUDY_TABLES, StoreWriteError
from .writes import StudiesNotCopied, Writes

__all__ = ["COLUMNS", "SCHEMA", "SCHEMA_VERSION", "STUDY_TABLES", "Store", "StoreWriteError", "StudiesNotCopied",
           "open_report"]


class Store(Writes, Reads, MatchReads):
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


def open_report(db: Path) -> Store:
    """The database, read-only, checked: a DuckDB file that reportgen wrote, of this schema version."""
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
