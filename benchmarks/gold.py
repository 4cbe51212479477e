"""Scoring extracted events against the hand-made reference events (``shared/gold/seeds.jsonl``).

A gold event is *found* when one of our events from the same file cites a span overlapping the
gold quote. Precision counts our events whose citations overlap some gold quote of their file.
Main-event recall uses only the gold events with ``role == "main"``.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from briefing.models import Event, Source

FURNITURE_HINTS = (
    "Also Read", "ALSO READ", "Check Also", "Topics :", "Previous Story", "Next Story",
    "Union Budget", "Chad", "Rafale", "DXB", "Gaza", "Putin to speak", "carbon removal",
    "Sabah Khan Tareen", "Bachelor", "Load More", "Don't Miss",
)  # fmt: skip


@dataclass(frozen=True)
class GoldEvent:
    """One reference event with the character span of its quote."""

    file: str
    start: int
    end: int
    role: str
    key: str
    date: str | None


@dataclass(frozen=True)
class Score:
    """How extraction compares with the gold events."""

    main_found: int
    main_total: int
    all_found: int
    all_total: int
    events: int
    events_matching: int
    dates_right: int
    dates_checked: int
    furniture_events: int

    @property
    def main_recall(self) -> float:
        """Share of gold main events found."""
        return self.main_found / self.main_total if self.main_total else 0.0

    @property
    def precision(self) -> float:
        """Share of our events that overlap some gold quote."""
        return self.events_matching / self.events if self.events else 0.0


def load_gold(path: Path, seeds_dir: Path, files: Collection[str] | None = None) -> list[GoldEvent]:
    """Read the gold file and locate every quote in its seed file.

    ``files``, when given, keeps only the gold events of those file names (a run on a subset).
    """
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        g = json.loads(line)
        if files is not None and g["file"] not in files:
            continue
        text = (seeds_dir / g["file"]).read_text(encoding="utf-8")
        start = text.find(g["quote"])
        if start < 0:
            raise ValueError(f"gold quote not found in {g['file']}: {g['quote'][:60]}")
        rows.append(
            GoldEvent(
                g["file"], start, start + len(g["quote"]), g["role"], g["event_key"], g["date"]
            )
        )
    return rows


def score(events: Iterable[Event], sources: Sequence[Source], gold: Sequence[GoldEvent]) -> Score:
    """Compare ``events`` with ``gold`` (matching by file name and overlapping spans)."""
    name_of = {s.id: Path(s.path).name for s in sources}
    text_of = {s.id: s.text for s in sources}
    events = list(events)

    def overlaps(e: Event, g: GoldEvent) -> bool:
        return name_of.get(e.source_id) == g.file and any(
            c.start < g.end and g.start < c.end for c in e.citations
        )

    found = [g for g in gold if any(overlaps(e, g) for e in events)]
    matching = [e for e in events if any(overlaps(e, g) for g in gold)]
    dated = [(e, g) for g in gold if g.date for e in events if overlaps(e, g)]
    right = sum(1 for e, g in dated if e.date == g.date)
    furniture = [
        e
        for e in events
        if any(
            h in text_of[e.source_id][c.start : c.end] for c in e.citations for h in FURNITURE_HINTS
        )
    ]
    return Score(
        main_found=sum(1 for g in found if g.role == "main"),
        main_total=sum(1 for g in gold if g.role == "main"),
        all_found=len(found),
        all_total=len(gold),
        events=len(events),
        events_matching=len(matching),
        dates_right=right,
        dates_checked=len(dated),
        furniture_events=len(furniture),
    )
