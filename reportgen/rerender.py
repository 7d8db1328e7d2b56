"""`reportgen render DB`: the site written again from a database alone (no model, no spaCy), atomically.

Its pages are those the build wrote: the same views of the same tables through the same templates. A reader who
was sent the `.duckdb` file, or an author who changed a template, gets the pages without running the model.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError


@dataclass
class Rendered:
    out: Path
    db: Path
    pages: dict[str, int]
    seconds: float


def open_report(db: Path):
    """The database, read-only, checked: a DuckDB file that reportgen wrote, of this schema version."""
    import duckdb

    from .store import SCHEMA_VERSION, Store

    if not db.is_file():
        raise InputError(f"{db}: no such database; give the report.duckdb of a report (reportgen build writes one)")
    try:
        store = Store(db, read_only=True)
        found = store.rows("SELECT value FROM meta WHERE key = 'schema_version'")
    except duckdb.Error as exc:
        raise InputError(f"{db}: not a reportgen database ({str(exc).splitlines()[0]}); give the report.duckdb "
                         f"that reportgen build wrote") from None
    if not found:
        store.close()
        raise InputError(f"{db}: not a reportgen database (no schema version); give the report.duckdb that "
                         f"reportgen build wrote")
    if found[0][0] != SCHEMA_VERSION:
        store.close()
        raise InputError(f"{db}: schema version {found[0][0]}, but this reportgen reads version {SCHEMA_VERSION}; "
                         f"rebuild the report with this reportgen, or render it with the reportgen that built it")
    return store


def rendering_options(meta: dict[str, str], figures: str | None = None) -> tuple[int, str | None]:
    """(shown matches, figure format) of a report as its build chose them: the figures `figures` if given."""
    from .config import FIGURE_FORMATS

    if figures is None:
        figures = meta.get("option.figures") if meta.get("option.figures") in FIGURE_FORMATS else None
    return int(meta.get("option.shown_matches", 10)), figures


def render_database(db: Path, out: Path, figures: str | None, progress) -> Rendered:
    """Write the site of `db` into `out` (replaced only when complete). A database inside `out` is carried
    into the new site; one elsewhere stays where it is. `figures` None: as the build that made it."""
    from . import site
    from .build import _swap_into_place, staged_output
    from .config import FIGURE_FORMATS

    if figures is not None and figures not in FIGURE_FORMATS:
        raise InputError(f"--figures {figures}: expected one of {', '.join(FIGURE_FORMATS)}")
    start = time.perf_counter()
    with open_report(db) as store, staged_output(out) as (staging, _):
        pages = site.render(store, staging, progress, *rendering_options(store.meta(), figures))
        if db.resolve().parent == out.resolve():
            shutil.copyfile(db, staging / db.name)
        seconds = time.perf_counter() - start
        site.write_timings(staging, {"render": seconds})
        store.close()  # before the swap: the database may be inside the folder that is replaced
        _swap_into_place(staging, out)
    return Rendered(out, db, pages, seconds)
