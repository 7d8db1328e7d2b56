"""Progress reporting and stage timing: quiet by default (tests, libraries), bars on a terminal (the CLI)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator


class Progress:
    """Progress reporting that shows nothing; `stage` yields the function that advances a stage's count."""

    @contextlib.contextmanager
    def stage(self, name: str, total: int) -> Iterator[Callable[[int], None]]:
        yield lambda n: None


class Bars(Progress):
    """Progress bars on stderr (rich), one per stage; none when `enabled` is false."""

    def __init__(self, enabled: bool):
        self.enabled = enabled

    @contextlib.contextmanager
    def stage(self, name: str, total: int) -> Iterator[Callable[[int], None]]:
        if not self.enabled:
            yield lambda n: None
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        with Progress(TextColumn("{task.description:<10}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), TimeRemainingColumn(), console=Console(stderr=True),
                      transient=False) as bars:
            task = bars.add_task(name, total=total)
            yield lambda n: bars.advance(task, n)


class Clock:
    """Adds the time spent inside `with clock(name):` to `timings[name]` (seconds)."""

    def __init__(self, timings: dict[str, float] | None = None):
        self.timings = {} if timings is None else timings

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - start
