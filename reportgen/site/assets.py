"""The site's files besides its pages: the shared assets (the Vega bundle, the page script and style), the corpus
contexts the match lists show, a sentence's per-layer neuron data, and the build's timings."""

from __future__ import annotations

import functools
import json
import os
import shutil
import tempfile
from pathlib import Path

from .jinja import templates_dir


def cache_dir() -> Path:
    """Where reportgen keeps what it can make again: $XDG_CACHE_HOME/reportgen, else ~/.cache/reportgen."""
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(base) if base else Path.home() / ".cache") / "reportgen"


@functools.cache
def vega_bundle() -> str:
    """vl-convert's Vega, Vega-Lite and vega-embed bundle. Making it takes vl-convert 2-3 s (of a build's or a
    render's, on 2 cores) and its bytes depend only on vl-convert's version, so it is made once per version and kept
    in cache_dir() (written whole or not at all); a cache that cannot be read or written is made without."""
    import vl_convert

    cached = cache_dir() / f"vega-bundle-vl-convert-{vl_convert.__version__}.js"
    try:
        kept = cached.read_text(encoding="utf-8")
        if kept:
            return kept
    except (OSError, UnicodeDecodeError):
        pass
    bundle = vl_convert.javascript_bundle()
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        fd, part = tempfile.mkstemp(dir=cached.parent, prefix=cached.name + ".", suffix=".part")
    except OSError:
        return bundle
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(bundle)
        os.replace(part, cached)
    except OSError:
        Path(part).unlink(missing_ok=True)
    return bundle


def write_assets(out: Path) -> None:
    """The shared assets: the Vega bundle (from vl-convert, no CDN), the site's script and style."""
    assets = out / "assets"
    assets.mkdir(parents=True, exist_ok=True)
    (assets / "vega.js").write_text(vega_bundle(), encoding="utf-8")
    for name in ("report.js", "style.css"):
        shutil.copyfile(templates_dir() / "assets" / name, assets / name)


def write_contexts(out: Path, contexts: dict) -> None:
    """The corpus sentences the match lists show, once for all pages, as a script (pages opened from file://
    cannot fetch JSON). ASCII-only JSON: no text can end the script or form markup."""
    text = json.dumps(contexts, ensure_ascii=True, sort_keys=True, separators=(",", ":"))
    (out / "assets" / "contexts.js").write_text(f"window.reportgenContexts = {text};\n", encoding="utf-8")


def write_data_file(path: Path, rows: object) -> None:
    """Data a page loads when the reader asks (a sentence's neuron vectors of one layer), as a script: pages opened
    from file:// cannot fetch JSON, but can add a script. ASCII-only JSON of numbers and short codes: nothing in it
    can end the script. The data are registered under the file's name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(rows, ensure_ascii=True, sort_keys=True, separators=(",", ":"))
    path.write_text(f"(window.reportgenLayers = window.reportgenLayers || {{}})[{json.dumps(path.name)}] = "
                    f"{text};\n", encoding="utf-8")


def write_timings(out: Path, timings: dict[str, float]) -> None:
    # Timings differ from build to build: they live in this one script, so every HTML page stays byte-identical.
    shown = {name: round(seconds, 2) for name, seconds in timings.items()}
    (out / "assets" / "timings.js").write_text(f"window.reportgenTimings = {json.dumps(shown, sort_keys=True)};\n",
                                               encoding="utf-8")
