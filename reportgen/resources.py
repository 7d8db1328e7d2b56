"""Files shipped with reportgen: inside the wheel (reportgen/<name>/) or at the top of a source checkout."""

from __future__ import annotations

from pathlib import Path


def shipped_dir(name: str, marker: str) -> Path | None:
    """The shipped folder `name` that holds `marker`, or None when this installation lacks it."""
    here = Path(__file__).resolve().parent
    for candidate in (here / name, here.parent / name):
        if (candidate / marker).is_file():
            return candidate
    return None
