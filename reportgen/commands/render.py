"""`reportgen render DB`: the site written again from a database alone (no model, no spaCy), atomically.

Its pages are those the build wrote: the same views of the same tables through the same templates. A reader who
was sent the `.duckdb` file, or an author who changed a template, gets the pages without running the model.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from ..analyses.registry import UNITS
from ..config import FIGURE_FORMATS
from ..errors import InputError
from ..site.output import staged_output
from ..site.render import render, write_timings
from ..store import open_report
from ..unit import Unit


@dataclass
class Rendered:
    out: Path
    db: Path
    pages: dict[str, int]
    seconds: float


def render_database(db: Path, out: Path, figures: str | None, progress, units: tuple[Unit, ...] = UNITS) -> Rendered:
    """Write the site of `db` into `out` (replaced only when complete) with the sections of `units` (the registry's
    entries). A database inside `out` is carried into the new site; one elsewhere stays where it is. `figures`
    None: as the build that made it."""
    if figures is not None and figures not in FIGURE_FORMATS:
        raise InputError(f"--figures {figures}: expected one of {', '.join(FIGURE_FORMATS)}")
    start = time.perf_counter()
    with open_report(db) as store, staged_output(out) as staged:
        pages = render(store, staged.folder, progress, units, figures)
        if db.resolve().parent == out.resolve():
            shutil.copyfile(db, staged.folder / db.name)
        seconds = time.perf_counter() - start
        write_timings(staged.folder, {"render": seconds})
        store.close()  # before publishing: the database may be inside the folder that is replaced
    return Rendered(out, db, pages, seconds)
