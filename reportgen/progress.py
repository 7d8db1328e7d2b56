"""Progress reporting and stage timing: quiet by default (tests, libraries); on the command line, bars on a
terminal and plain log lines elsewhere (a log file, a CI job, a pipe)."""

from __future__ import annotations

import contextlib
import time
import sys
from collections.abc import Callable, Iterator
from typing import TextIO


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


class Lines(Progress):
    """Progress as plain lines on a stream (stderr when it is not a terminal): each stage's start, then its
    count, share and elapsed time at most every `every` seconds, then its end. `clock` is time.monotonic (tests
    give their own)."""

    def __init__(self, stream: TextIO | None = None, every: float = 5.0, clock: Callable[[], float] = time.monotonic):
        self.stream, self.every, self.clock = stream, every, clock

    def _write(self, text: str) -> None:
        stream = self.stream or sys.stderr
        stream.write(f"reportgen: {text}\n")
        stream.flush()

    @contextlib.contextmanager
    def stage(self, name: str, total: int) -> Iterator[Callable[[int], None]]:
        start = last = self.clock()
        done = 0
        self._write(f"{name} 0/{total:,}")

        def advance(n: int) -> None:
            nonlocal done, last
            done += n
            now = self.clock()
            if now - last >= self.every and done < total:
                last = now
                self._write(f"{name} {done:,}/{total:,} ({100 * done / max(total, 1):.0f}%), {now - start:.0f} s")

        yield advance
        self._write(f"{name} {done:,}/{total:,} done in {self.clock() - start:.1f} s")


def for_command_line(quiet: bool, stream: TextIO | None = None) -> Progress:
    """What a command shows: nothing with --quiet, bars on a terminal, plain lines otherwise."""
    stream = stream or sys.stderr
    if quiet:
        return Progress()
    return Bars(enabled=True) if stream.isatty() else Lines(stream)


class Clock:
    """Adds the time spent inside `with clock(name):` to `timings[name]` (seconds)."""

    def __init__(self, timings: dict[str, float] | None = None):
        self.timings = {} if timings is None else timings

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - start
