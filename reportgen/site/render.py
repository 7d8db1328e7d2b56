"""Writing every page of one database, in this process or in a pool of render processes (each with its own
read-only connection), through the page types of views.PAGES and the sections of the analyses it is given."""

from __future__ import annotations

from pathlib import Path

from ..config import FIGURE_FORMATS
from ..machine import usable_cores
from ..store import Store
from ..unit import Unit
from .assets import write_assets, write_contexts, write_data_file, write_timings
from .charts.base import unchecked
from .figures import write_figures
from .jinja import environment
from .sections import sections_of
from .views import CORE_SECTIONS, PAGE_TYPES, PAGES, Report
from .views.matches import contexts

__all__ = ["POOL_PAGES", "render", "rendering_options", "write_timings"]

POOL_PAGES = 40  # from this many pages on, pages are written by a pool of processes (`render`'s workers)


def rendering_options(meta: dict[str, str], figures: str | None = None) -> tuple[int, str | None]:
    """(shown matches, figure format) of a report as its build chose them: the figures `figures` if given."""
    if figures is None:
        figures = meta.get("option.figures") if meta.get("option.figures") in FIGURE_FORMATS else None
    return int(meta.get("option.shown_matches", 10)), figures


class Renderer:
    """Writes pages of one database: what a render process holds (the Jinja environment and the report)."""

    def __init__(self, store: Store, out: Path, units: tuple[Unit, ...], figures: str | None):
        self.env = environment(units)
        shown, self.figures = rendering_options(store.meta(), figures)
        self.report = Report(store, shown, sections_of(units, CORE_SECTIONS))
        self.out = out

    def tasks(self) -> list[tuple]:
        """Every page as (page type, key), in the order of the progress bar: index, each layer's heads then the
        layer, sentences, about, the study."""
        found = [(order, kind.name, key) for kind in PAGES for order, key in kind.keys(self.report)]
        return [(name, *key) for _order, name, key in sorted(found, key=lambda f: f[0])]

    def __call__(self, task: tuple) -> tuple[str, int, list[tuple[str, dict]]]:
        """Write one page: (its path, its size in bytes, its charts to export as figures)."""
        kind, key = PAGE_TYPES[task[0]], task[1:]
        with unchecked():
            page, path, prefix = kind.build(self.report, *key), kind.path(*key), kind.prefix(*key)
            html = self.env.get_template(kind.template).render(page=page, figures=self.figures,
                                                               figure_prefix=prefix)
        target = self.out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(html, encoding="utf-8")
        for name, rows in kind.files(page).items():
            write_data_file(target.parent / name, rows)
        exported = ([(f"{prefix}-{chart_id}.{self.figures}", spec) for chart_id, spec in kind.figures(page)]
                    if self.figures else [])
        return path, len(html.encode("utf-8")), exported


def render_share(db: str, out: str, units: tuple[Unit, ...], figures: str | None,
                 tasks: list[tuple[int, tuple]]) -> list[tuple[int, str, int, list]]:
    """What a render process does: open the database read-only and write its share of the pages."""
    with Store(Path(db), read_only=True) as store:
        renderer = Renderer(store, Path(out), units, figures)
        return [(i, *renderer(task)) for i, task in tasks]


def render(store: Store, out: Path, progress, units: tuple[Unit, ...], figures: str | None = None,
           workers: int | None = None) -> dict[str, int]:
    """Write every page into `out` (and with `figures`, 'svg' or 'png', every chart into out/figures/; None: as the
    build chose) with the sections of `units` (the registry's entries); returns each page's path and size in bytes.

    With many pages (POOL_PAGES) and several cores, `workers` processes (by default one per core, at most 4) write
    them, each from its own read-only connection to the database: `store` must then be read-only, as no other
    process can open a file that one is writing. Pages do not depend on which process wrote them."""
    renderer = Renderer(store, out, units, figures)
    tasks = renderer.tasks()
    if workers is None:
        workers = min(usable_cores(), 4) if len(tasks) >= POOL_PAGES else 1
    done: list[tuple[int, str, int, list]] = []
    with progress.stage("render", len(tasks)) as advance:
        if workers > 1:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            numbered = list(enumerate(tasks))
            shares = [numbered[i :: workers] for i in range(workers)]  # interleaved: heavy pages spread
            # spawn, not fork: the parent may hold torch's and BLAS's threads
            with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
                pending = [pool.submit(render_share, str(store.path), str(out), units, renderer.figures, share)
                           for share in shares]
                for share, future in zip(shares, pending):
                    done += future.result()
                    advance(len(share))
        else:
            for i, task in enumerate(tasks):
                done.append((i, *renderer(task)))
                advance(1)
    done.sort(key=lambda r: r[0])
    write_assets(out)
    write_contexts(out, contexts(renderer.report))
    if renderer.figures:
        write_figures(out / "figures", [e for *_, exported in done for e in exported], renderer.figures, progress)
    return {path: size for _i, path, size, _e in done}
