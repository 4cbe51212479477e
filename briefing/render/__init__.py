"""Rendering: the brief as Markdown, and the JSON files beside it.

Citations are numbered in order of first use across the whole brief; the same span cited twice
gets the same number. Templates live in ``templates/`` and use ``StrictUndefined``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .. import resources
from ..models import Brief, Citation, Claim, Event, Manifest

MARKDOWN_TEMPLATE = "brief.md.j2"


class CitationNumbers:
    """Numbers citations in order of first use; one number per distinct span."""

    def __init__(self) -> None:
        self.notes: list[Citation] = []
        self._index: dict[tuple[str, int, int], int] = {}

    def refs(self, claim: Claim) -> list[int]:
        """Note numbers for ``claim``'s citations, adding new notes as needed."""
        numbers = []
        for c in claim.citations:
            key = (c.file, c.start, c.end)
            if key not in self._index:
                self.notes.append(c)
                self._index[key] = len(self.notes)
            numbers.append(self._index[key])
        return numbers


def markdown(brief: Brief) -> str:
    """The brief as Markdown: sections, then numbered notes with ``file:line`` and the quote."""
    numbers = CitationNumbers()

    def cited(claim: Claim) -> dict[str, Any]:
        return {"text": claim.text, "refs": numbers.refs(claim)}

    key_points = [cited(c) for c in brief.key_points]
    timeline = [{"entry": t, **cited(t.claim)} for t in brief.timeline]
    actors = [{"entry": a, **cited(a.claim)} for a in brief.actors]
    notes = [
        {"n": i, "file": c.file, "line": c.line, "quote": " ".join(c.quote.split())}
        for i, c in enumerate(numbers.notes, 1)
    ]
    return resources.render(
        "templates",
        MARKDOWN_TEMPLATE,
        brief=brief,
        key_points=key_points,
        timeline=timeline,
        actors=actors,
        notes=notes,
    )


def write_outputs(
    out_dir: Path, brief: Brief, events: Sequence[Event], manifest: Manifest
) -> dict[str, Path]:
    """Write brief.md, events.json, claims.json and manifest.json; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "brief": out_dir / "brief.md",
        "events": out_dir / "events.json",
        "claims": out_dir / "claims.json",
        "manifest": out_dir / "manifest.json",
    }
    _write_atomic(paths["brief"], markdown(brief))
    _write_json(paths["events"], {"events": [e.model_dump(mode="json") for e in events]})
    _write_json(paths["claims"], {"claims": [c.model_dump(mode="json") for c in brief.claims()]})
    _write_json(paths["manifest"], manifest.model_dump(mode="json"))
    return paths


def _write_json(path: Path, data: Any) -> None:
    _write_atomic(path, json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def _write_atomic(path: Path, text: str) -> None:
    """Write via a temporary file so an interrupted run never leaves half a brief."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
