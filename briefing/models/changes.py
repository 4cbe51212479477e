"""What changed between two builds, as records (``store.changes`` computes them)."""

from __future__ import annotations

from typing import Literal

from .base import Record

ChangeKind = Literal["new", "corroborated", "weakened", "retracted"]
_LABELS: dict[ChangeKind, str] = {
    "new": "New",
    "corroborated": "More sources",
    "weakened": "Fewer sources",
    "retracted": "Retracted",
}
SourceChangeKind = Literal["added", "edited", "removed"]


class SourceChange(Record):
    """A source added, edited (same path, new content) or removed since the last version."""

    path: str
    kind: SourceChangeKind


class EventChange(Record):
    """One event that is new, more or less corroborated, or retracted."""

    kind: ChangeKind
    event_id: str  # this version's id; the last version's for a retracted event
    date: str | None
    summary: str
    sources_before: int
    sources_now: int
    # Retracted with its sources still read: they, read again, no longer give it (a changed
    # prompt, model or rule), rather than every source it rested on gone.
    sources_kept: bool = False

    @property
    def label(self) -> str:
        """What the change is called in every format: "New", "More sources" …"""
        return _LABELS[self.kind]


class Changes(Record):
    """Everything that changed since ``previous_run``."""

    previous_run: int
    previous_at: str
    sources: tuple[SourceChange, ...]
    events: tuple[EventChange, ...]
    new_disagreements: tuple[str, ...]  # their subjects
    retracted_key_points: tuple[str, ...]  # their text

    @property
    def empty(self) -> bool:
        """Nothing changed at all."""
        return not (
            self.sources or self.events or self.new_disagreements or self.retracted_key_points
        )
