"""The Jinja environment: autoescape on, StrictUndefined, data into pages only through `|tojson`."""

from __future__ import annotations

import functools
from pathlib import Path

import jinja2

from ..resources import shipped_dir


def templates_dir() -> Path:
    found = shipped_dir("templates", "base.html")
    if found is None:
        raise FileNotFoundError("reportgen's templates are missing from this installation; reinstall reportgen")
    return found


def environment(units: tuple = ()) -> jinja2.Environment:
    """The environment of the shipped templates, and of the templates the analyses `units` give as text (a unit's
    `templates`, for sections whose macros are not files under templates/). One per process and set of given
    templates: compiling the templates costs more than writing a small site's pages."""
    return _environment(tuple(sorted((name, source) for unit in units for name, source in unit.templates.items())))


@functools.lru_cache(maxsize=4)
def _environment(given: tuple[tuple[str, str], ...]) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader([jinja2.DictLoader(dict(given)), jinja2.FileSystemLoader(templates_dir())]),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # |tojson still escapes <, >, & and ' for <script>; compact separators keep pages light
    env.policies["json.dumps_kwargs"] = {"sort_keys": True, "separators": (",", ":")}
    env.filters["without_datasets"] = without_datasets
    return env


def without_datasets(spec: dict, names: list[str]) -> dict:
    """A spec without some of its named datasets: a page that draws several charts from the same data carries
    them once (the page script puts them back before drawing)."""
    return {**spec, "datasets": {k: v for k, v in spec["datasets"].items() if k not in names}}
