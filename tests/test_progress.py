"""Progress where no terminal shows bars (a log file, a CI job, a pipe): plain lines on stderr, each stage's start,
its count at most every few seconds, and its end; nothing with --quiet; bars on a terminal."""

from __future__ import annotations

import io

import pytest

from reportgen.progress import Bars, Lines, Progress, for_command_line

pytestmark = pytest.mark.unit


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_lines_say_the_stage_its_count_and_time_at_most_every_few_seconds():
    stream, clock = io.StringIO(), FakeClock()
    progress = Lines(stream, every=5.0, clock=clock)
    with progress.stage("encode", 6000) as advance:
        for _ in range(60):  # 100 sentences a second: one advance every second, 60 seconds in all
            clock.now += 1.0
            advance(100)
    lines = stream.getvalue().splitlines()
    assert lines[0] == "reportgen: encode 0/6,000"
    assert lines[-1] == "reportgen: encode 6,000/6,000 done in 60.0 s"
    middle = lines[1:-1]
    assert middle[0] == "reportgen: encode 500/6,000 (8%), 5 s"
    assert len(middle) == 11  # at 5, 10, ..., 55 s: every 5 s, and not again at 60 s (the end line says it)
    times = [int(line.rsplit(", ", 1)[1].removesuffix(" s")) for line in middle]
    assert times == list(range(5, 60, 5))


def test_a_quick_stage_gives_its_start_and_end_only():
    stream, clock = io.StringIO(), FakeClock()
    with Lines(stream, every=5.0, clock=clock).stage("render", 3) as advance:
        for _ in range(3):
            clock.now += 0.1
            advance(1)
    assert stream.getvalue().splitlines() == ["reportgen: render 0/3", "reportgen: render 3/3 done in 0.3 s"]


class Stream(io.StringIO):
    def __init__(self, tty: bool):
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def test_the_command_line_shows_lines_off_a_terminal_bars_on_one_and_nothing_when_quiet():
    assert isinstance(for_command_line(False, Stream(tty=False)), Lines)
    assert isinstance(for_command_line(False, Stream(tty=True)), Bars)
    quiet = for_command_line(True, Stream(tty=False))
    assert type(quiet) is Progress
