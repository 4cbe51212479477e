"""The build's progress as Rich bars: one for the whole build, one per source being extracted."""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, ProgressColumn, Task, TaskID
from rich.text import Text

from . import pipeline
from .models import Source, Usage

# Until a first source finishes, a source's reply is guessed at this many tokens (for the ETA).
FIRST_GUESS_TOKENS = 600
# The reading stage shows its count once it has taken more than a moment, then at most a few
# times a second; in a pipe, where each update is a line of its own, every few seconds.
READING_QUIET_S = 0.5
READING_EVERY_S = 0.25
READING_PIPE_EVERY_S = 5.0


class TokenRate(ProgressColumn):
    """Tokens so far and tokens per second of one source."""

    def render(self, task: Task) -> Text:
        """The column's text for ``task``."""
        if task.fields.get("kind") != "source":
            return Text("")
        speed = task.finished_speed or task.speed
        rate = f"{speed:5.1f} tok/s" if speed else "    – tok/s"
        return Text(f"{int(task.completed):5d} tok {rate}")


class RichProgress(pipeline.BuildProgress):
    """Progress bars: one for the whole build, one per source being extracted."""

    def __init__(self, progress: Progress, console: Console) -> None:
        self.progress = progress
        self.console = console
        self.overall: TaskID | None = None
        self.tasks: dict[str, TaskID] = {}
        self.done_tokens: list[int] = []
        self.stage_started = self.shown_at = time.monotonic()
        # Rich draws live bars on a terminal only: in a pipe or a dumb terminal a transient
        # Progress shows nothing, so no reply needs streaming for a source's bar.
        self.draws_tokens = console.is_terminal and not console.is_dumb_terminal

    def stage(self, name: str) -> None:
        """Show the stage on the overall bar."""
        self.stage_started = time.monotonic()
        if self.overall is None:
            self.overall = self.progress.add_task(name, total=None, kind="build")
        else:
            self.progress.update(self.overall, description=name)

    def sources_reading(self, done: int, total: int) -> None:
        """Count the files read on the overall bar ("reading sources 3,200/10,000")."""
        now = time.monotonic()
        every = READING_EVERY_S if self.console.is_terminal else READING_PIPE_EVERY_S
        if now - self.stage_started < READING_QUIET_S or now - self.shown_at < every:
            return
        self.shown_at = now
        line = f"reading sources {done:,}/{total:,}"
        if not self.console.is_terminal:
            self._log(line)
        elif self.overall is not None:
            self.progress.update(self.overall, description=line, total=total, completed=done)

    def sources_read(self, count: int) -> None:
        """Give the overall bar its total (of sources to extract: none done yet)."""
        if self.overall is not None:
            self.progress.update(self.overall, total=count, completed=0)

    def source_started(self, source: Source) -> None:
        """Add a bar for ``source``."""
        guess = (
            (sum(self.done_tokens) // len(self.done_tokens))
            if self.done_tokens
            else FIRST_GUESS_TOKENS
        )
        self.tasks[source.id] = self.progress.add_task(
            Path(source.path).name, total=guess, kind="source"
        )

    def source_tokens(self, source: Source, tokens: int) -> None:
        """Advance ``source``'s bar; stretch its total when the guess was short."""
        task_id = self.tasks[source.id]
        # Progress.tasks is a list that loses finished sources: a TaskID is not an index into it.
        task = next((t for t in self.progress.tasks if t.id == task_id), None)
        if task is None:
            return
        total = task.total or tokens
        self.progress.update(task_id, completed=tokens, total=max(total, tokens + 20))

    def source_done(self, source: Source, events: int, usage: Usage) -> None:
        """Close ``source``'s bar and log a line."""
        self.done_tokens.append(usage.completion_tokens)
        task_id = self.tasks.get(source.id)
        if task_id is not None:
            self.progress.update(
                task_id, completed=usage.completion_tokens, total=usage.completion_tokens
            )
            self.progress.remove_task(task_id)
        if self.overall is not None:
            self.progress.advance(self.overall)
        self._log(
            f"{escape(Path(source.path).name)}: {events} events, {usage.requests} request(s), "
            f"{usage.prompt_tokens} tokens in, {usage.completion_tokens} out, {usage.seconds:.0f}s"
        )

    def source_failed(self, path: str, reason: str) -> None:
        """Log that ``path`` is left out."""
        self._log(f"[yellow]not read[/] {escape(path)}: {escape(reason)}")

    def notice(self, message: str) -> None:
        """Log a notice."""
        self._log(f"[dim]{escape(message)}[/]")

    def _log(self, message: str) -> None:
        # On a terminal, a timestamped log line; in a pipe, one unwrapped line per message.
        if self.console.is_terminal:
            self.console.log(message)
        else:
            self.console.print(message)
