"""The reading stage's progress line: shown once reading takes more than a moment, updated at
most a few times a second on a terminal, every few seconds in a pipe."""

from __future__ import annotations

import io
import re
import time

import pytest
from rich.console import Console
from rich.progress import Progress

from briefing import cli_progress
from briefing.cli_progress import RichProgress

LINE = re.compile(r"^reading sources ([\d,]+)/10,000$")


def read_for(progress: RichProgress, seconds: float) -> int:
    """Report files read, 10,000 in all, spread over ``seconds``; how many calls were made."""
    progress.stage("reading sources")
    started = time.monotonic()
    for done in range(1, 10_001):
        progress.sources_reading(done, 10_000)
        if done % 100 == 0:  # a hundred files at a time, at an even pace
            time.sleep(max(0.0, started + seconds * done / 10_000 - time.monotonic()))
    return 10_000


def test_a_pipe_gets_a_line_every_few_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_progress, "READING_PIPE_EVERY_S", 0.1)
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=200)
    with Progress(console=console) as bars:
        read_for(RichProgress(bars, console), 0.6)
    lines = [ln for ln in out.getvalue().splitlines() if LINE.match(ln)]  # not the bar's own
    # Nothing in the first half second, then about one line per 0.1 s.
    assert 1 <= len(lines) <= 3, lines
    counts = [int(LINE.match(ln).group(1).replace(",", "")) for ln in lines]  # type: ignore[union-attr]
    assert counts == sorted(counts) and counts[0] >= 5_000


def test_a_terminal_bar_counts_at_most_a_few_times_a_second() -> None:
    console = Console(file=io.StringIO(), force_terminal=True, width=200)
    with Progress(console=console, auto_refresh=False) as bars:
        progress = RichProgress(bars, console)
        updates: list[str] = []
        update = bars.update

        def counted(task_id, **fields):  # type: ignore[no-untyped-def]
            if "reading" in str(fields.get("description", "")):
                updates.append(fields["description"])
            update(task_id, **fields)

        bars.update = counted  # type: ignore[method-assign]
        read_for(progress, 1.5)
        (task,) = bars.tasks
        # Silent for the first 0.5 s, then at most every 0.25 s: about four updates in 1 s.
        assert 1 <= len(updates) <= 5, updates
        assert LINE.match(task.description) and task.total == 10_000
        assert task.completed == int(LINE.match(task.description).group(1).replace(",", ""))  # type: ignore[union-attr]
        progress.sources_read(9_990)  # extraction starts counting from none
        assert bars.tasks[0].completed == 0 and bars.tasks[0].total == 9_990
