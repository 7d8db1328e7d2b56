"""The Jinja environment, the templates and the output folder: every file of the site is written here."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import jinja2

from .resources import shipped_dir
from .store import Store
from .views import NEURON_FILE, SentencePage, Views, figures_of, head_label


def templates_dir() -> Path:
    found = shipped_dir("templates", "base.html")
    if found is None:
        raise FileNotFoundError("reportgen's templates are missing from this installation; reinstall reportgen")
    return found


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir()),
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


def write_assets(out: Path) -> None:
    """The shared assets: the Vega bundle (from vl-convert, no CDN), the site's script and style."""
    import vl_convert

    assets = out / "assets"
    assets.mkdir(parents=True, exist_ok=True)
    (assets / "vega.js").write_text(vl_convert.javascript_bundle(), encoding="utf-8")
    for name in ("report.js", "style.css"):
        shutil.copyfile(templates_dir() / "assets" / name, assets / name)


def write_contexts(out: Path, contexts: dict) -> None:
    """The corpus sentences the match lists show, once for all pages, as a script (pages opened from file://
    cannot fetch JSON). ASCII-only JSON: no text can end the script or form markup."""
    text = json.dumps(contexts, ensure_ascii=True, sort_keys=True, separators=(",", ":"))
    (out / "assets" / "contexts.js").write_text(f"window.reportgenContexts = {text};\n", encoding="utf-8")


def write_layer_data(folder: Path, layers: tuple[list[dict], ...]) -> None:
    """A sentence's neuron vectors, a script per layer (NEURON_FILE): the page loads the layer the reader picks
    instead of carrying every layer's vectors (pages opened from file:// cannot fetch JSON, but can add a script).
    ASCII-only JSON of numbers and short codes: nothing in it can end the script."""
    folder.mkdir(parents=True, exist_ok=True)
    for layer, rows in enumerate(layers):
        name = NEURON_FILE.format(l=layer)
        text = json.dumps(rows, ensure_ascii=True, sort_keys=True, separators=(",", ":"))
        (folder / name).write_text(f"(window.reportgenLayers = window.reportgenLayers || {{}})[{json.dumps(name)}] = "
                                   f"{text};\n", encoding="utf-8")


def write_timings(out: Path, timings: dict[str, float]) -> None:
    # Timings differ from build to build: they live in this one script, so every HTML page stays byte-identical.
    shown = {name: round(seconds, 2) for name, seconds in timings.items()}
    (out / "assets" / "timings.js").write_text(f"window.reportgenTimings = {json.dumps(shown, sort_keys=True)};\n",
                                       encoding="utf-8")


def render(store: Store, out: Path, progress, shown: int, figures: str | None = None) -> dict[str, int]:
    """Write every page into `out` (and with `figures`, 'svg' or 'png', every chart into out/figures/);
    returns each page's path and size in bytes."""
    env = environment()
    views = Views(store, shown)
    sizes: dict[str, int] = {}
    exported: list[tuple[str, dict]] = []

    def page(template: str, path: str, view) -> None:
        prefix, found = figures_of(view)
        html = env.get_template(template).render(page=view, figures=figures, figure_prefix=prefix)
        target = out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(html, encoding="utf-8")
        sizes[path] = len(html.encode("utf-8"))
        if figures:
            exported.extend((f"{prefix}-{chart_id}.{figures}", spec) for chart_id, spec in found)
        if isinstance(view, SentencePage):
            write_layer_data(target.parent / str(view.sentence_id), view.neuron_layers)

    stats = views.stats()
    n_pages = views.n_layers * views.n_heads + views.n_layers + len(views.probes) + 2
    with progress.stage("render", n_pages) as advance:
        page("index.html", "index.html", views.index())
        advance(1)
        for layer in range(views.n_layers):
            for head in range(views.n_heads):
                page("head.html", f"heads/{head_label(layer, head)}.html", views.head(layer, head, stats))
                advance(1)
            page("layer.html", f"layers/L{layer}.html", views.layer(layer))
            advance(1)
        for sid, _text in views.probes:
            page("sentence.html", f"sentences/{sid}.html", views.sentence(sid))
            advance(1)
        page("about.html", "about.html", views.about())
        advance(1)
        if views.study is not None:
            page("study.html", "studies/edits.html", views.study)
    write_assets(out)
    write_contexts(out, views.contexts())
    if figures:
        write_figures(out / "figures", exported, figures, progress)
    return sizes


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
