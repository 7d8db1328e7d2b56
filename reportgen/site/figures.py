"""Every chart as a static SVG or PNG file drawn by vl-convert (no browser), for papers."""

from __future__ import annotations

import re
from pathlib import Path

_SVG_IDS = re.compile(r"\b(gradient_|clip)(\d+)\b")


def _stable_ids(svg: str) -> str:
    """Number the gradients and clip paths of one SVG from 1: vl-convert counts them across the whole process,
    so the same chart would otherwise differ with what was drawn before it."""
    seen: dict[str, str] = {}

    def renumber(m: re.Match) -> str:
        return seen.setdefault(m.group(0), f"{m.group(1)}{len(seen) + 1}")

    return _SVG_IDS.sub(renumber, svg)


def write_figures(folder: Path, charts: list[tuple[str, dict]], fmt: str, progress) -> None:
    """Every chart as a static file drawn by vl-convert (no browser), in the state the page first shows."""
    import vl_convert

    folder.mkdir(parents=True, exist_ok=True)
    with progress.stage("figures", len(charts)) as advance:
        for name, spec in charts:
            if fmt == "svg":
                (folder / name).write_text(_stable_ids(vl_convert.vegalite_to_svg(spec)), encoding="utf-8")
            else:
                (folder / name).write_bytes(vl_convert.vegalite_to_png(spec, scale=2))
            advance(1)
