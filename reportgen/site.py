"""The Jinja environment, the templates and the output folder: every file of the site is written here."""

from __future__ import annotations

import json
import os
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


class _Renderer:
    """Writes pages of one database: what a render process holds (the Jinja environment and the views)."""

    def __init__(self, store: Store, out: Path, shown: int, figures: str | None):
        self.env = environment()
        self.views = Views(store, shown)
        self.out, self.figures = out, figures
        self._stats = None

    def tasks(self) -> list[tuple]:
        """Every page, in the order of the progress bar: index, each layer's heads then the layer, sentences,
        about, the study."""
        views = self.views
        tasks: list[tuple] = [("index",)]
        for layer in range(views.n_layers):
            tasks += [("head", layer, head) for head in range(views.n_heads)] + [("layer", layer)]
        tasks += [("sentence", sid) for sid, _text in views.probes] + [("about",)]
        return tasks + ([("study",)] if views.study is not None else [])

    def __call__(self, task: tuple) -> tuple[str, int, list[tuple[str, dict]]]:
        """Write one page: (its path, its size in bytes, its charts to export as figures)."""
        views, kind = self.views, task[0]
        if kind == "head":
            if self._stats is None:
                self._stats = views.stats()
            template, path, view = ("head.html", f"heads/{head_label(*task[1:])}.html",
                                    views.head(task[1], task[2], self._stats))
        elif kind == "layer":
            template, path, view = "layer.html", f"layers/L{task[1]}.html", views.layer(task[1])
        elif kind == "sentence":
            template, path, view = "sentence.html", f"sentences/{task[1]}.html", views.sentence(task[1])
        elif kind == "study":
            template, path, view = "study.html", "studies/edits.html", views.study
        else:
            template, path, view = f"{kind}.html", f"{kind}.html", getattr(views, kind)()
        prefix, found = figures_of(view)
        html = self.env.get_template(template).render(page=view, figures=self.figures, figure_prefix=prefix)
        target = self.out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(html, encoding="utf-8")
        if isinstance(view, SentencePage):
            write_layer_data(target.parent / str(view.sentence_id), view.neuron_layers)
        exported = [(f"{prefix}-{chart_id}.{self.figures}", spec) for chart_id, spec in found] if self.figures else []
        return path, len(html.encode("utf-8")), exported


_WORKER: _Renderer | None = None
POOL_PAGES = 40  # from this many pages on, pages are written by a pool of processes


def _start_worker(db: str, out: str, shown: int, figures: str | None) -> None:
    global _WORKER
    _WORKER = _Renderer(Store(Path(db), read_only=True), Path(out), shown, figures)


def _render_share(tasks: list[tuple[int, tuple]]) -> list[tuple[int, str, int, list]]:
    return [(i, *_WORKER(task)) for i, task in tasks]


def render(store: Store, out: Path, progress, shown: int, figures: str | None = None,
           workers: int | None = None) -> dict[str, int]:
    """Write every page into `out` (and with `figures`, 'svg' or 'png', every chart into out/figures/);
    returns each page's path and size in bytes.

    With many pages (POOL_PAGES) and several cores, a pool of processes (`workers`; by default one per core,
    at most 4) writes them, each from its own read-only connection to the database: `store` must then be
    read-only, as no other process can open a file that one is writing. Pages do not depend on which
    process wrote them."""
    renderer = _Renderer(store, out, shown, figures)
    tasks = renderer.tasks()
    if workers is None:
        workers = min(os.cpu_count() or 1, 4) if len(tasks) >= POOL_PAGES else 1
    done: list[tuple[int, str, int, list]] = []
    with progress.stage("render", len(tasks)) as advance:
        if workers > 1:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            numbered = list(enumerate(tasks))
            shares = [numbered[i :: workers * 4] for i in range(workers * 4)]  # interleaved: heavy pages spread
            # spawn, not fork: the parent may hold torch's and BLAS's threads
            with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                     initializer=_start_worker,
                                     initargs=(str(store.path), str(out), shown, figures)) as pool:
                for share, result in zip(shares, pool.map(_render_share, shares)):
                    done += result
                    advance(len(share))
        else:
            for i, task in enumerate(tasks):
                done.append((i, *renderer(task)))
                advance(1)
    done.sort(key=lambda r: r[0])
    write_assets(out)
    write_contexts(out, renderer.views.contexts())
    if figures:
        write_figures(out / "figures", [e for *_, exported in done for e in exported], figures, progress)
    return {path: size for _i, path, size, _e in done}


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
