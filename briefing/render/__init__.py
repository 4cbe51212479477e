"""Rendering: the brief as Markdown, and the JSON files beside it.

Citations are numbered in order of first use across the whole brief; the same span cited twice
gets the same number. Templates live in ``templates/`` and use ``StrictUndefined``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .. import resources
from ..config import FORMATS
from ..errors import RenderError
from ..merge import MergeResult
from ..models import Brief, CheckSummary, Citation, Claim, Manifest, SourceEntry
from .pdf import render_pdf

MARKDOWN_TEMPLATE = "brief.md.j2"
# Marks after a claim, the same words in every format.
EDITED = "(edited in review)"  # its words are a reviewer's, not what the sources were read as
DOUBT = {
    "not_supported": "(check: its sources do not say this)",
    "partly": "(check: its sources say only part of this)",
    "failed": "(check: a citation no longer matches its source)",
}
HTML_TEMPLATE = "brief.html.j2"
CHANGES_TEMPLATE = "changes.md.j2"


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
    return resources.render("templates", MARKDOWN_TEMPLATE, **_view(brief))


def html(brief: Brief) -> str:
    """The brief as one self-contained HTML page (inline CSS, no network): citations are
    superscript links to their notes, and each note links back to every place that cites it.
    Jinja autoescapes it: text from sources and models is always escaped."""
    return resources.render("templates", HTML_TEMPLATE, **_view(brief))


def _view(brief: Brief) -> dict[str, Any]:
    """What both templates show: each claim with its note numbers, in reading order."""
    numbers = CitationNumbers()
    uses: dict[int, list[str]] = {}

    def cited(claim: Claim) -> dict[str, Any]:
        refs = numbers.refs(claim)
        links = []
        for n in sorted(set(refs)):
            uses.setdefault(n, []).append(f"cite-{n}-{len(uses.get(n, [])) + 1}")
            links.append({"n": n, "id": uses[n][-1]})
        return {"text": claim.text, "refs": refs, "links": links, "marks": marks(claim)}

    def marks(claim: Claim) -> list[str]:
        """What the reader must know of a claim beside its words: a reviewer wrote them, or
        the last check found its sources do not (fully) say it."""
        found = [EDITED] if claim.review == "edited" else []
        doubt = brief.check.doubtful.get(claim.id) if brief.check else None
        if doubt:
            found.append(DOUBT[doubt])
        return found

    key_points = [cited(c) for c in brief.key_points]
    timeline = [
        {"entry": t, **cited(t.claim), "outcomes": [cited(o) for o in t.outcomes]}
        for t in brief.timeline
    ]
    disagreements = [
        {
            "entry": d,
            "sides": [
                {**cited(side), "value": value, "quotes": _quotes(side)}
                for side, value in zip(d.sides, d.values, strict=True)
            ],
        }
        for d in brief.disagreements
    ]
    actors = [{"entry": a, **cited(a.claim)} for a in brief.actors]
    notes = [
        {
            "n": i,
            "file": c.file,
            "line": c.line,
            "quote": " ".join(c.quote.split()),
            "backs": uses.get(i, []),
        }
        for i, c in enumerate(numbers.notes, 1)
    ]
    return {
        "brief": brief,
        "check_line": check_line(brief.check, len(brief.claims())),
        "instruction_notes": {s.id: instruction_note(s) for s in brief.sources},
        "key_points": key_points,
        "timeline": timeline,
        "disagreements": disagreements,
        "actors": actors,
        "notes": notes,
    }


def instruction_note(source: SourceEntry) -> str:
    """What the sources table says of a source's sentences that address a model, or ""."""
    if not source.instruction_lines:
        return ""
    lines = sorted(set(source.instruction_lines))
    where = ", ".join(str(n) for n in lines[:6]) + (", …" if len(lines) > 6 else "")
    shown = ", ".join(f"“{t}”" for t in source.instruction_preview)
    return (
        f"suspected injected instructions, never read as news: line{'s' * (len(lines) > 1)} "
        f"{where}" + (f", e.g. {shown}" if shown else "")
    )


def check_line(summary: CheckSummary | None, claims: int) -> str:
    """The line under the title: how many claims the last `briefing check` found supported."""
    if summary is None or summary.unchecked == summary.claims:
        return f"{claims} claims; their support has not been checked yet (run briefing check)."
    line = (
        f"{summary.claims} claims, {summary.supported} supported, {summary.need_review} need review"
    )
    if summary.unchecked:
        line += f", {summary.unchecked} not checked since they changed (run briefing check)"
    by = f" by {summary.model}" if summary.model else ""
    return line + f" (checked against their cited words{by})."


def _quotes(claim: Claim) -> list[dict[str, Any]]:
    """A side's quotes, one line each, with the file they are from."""
    return [
        {"file": Path(c.file).name, "quote": " ".join(c.quote.split())} for c in claim.citations
    ]


def events_document(merged: MergeResult) -> dict[str, Any]:
    """``events.json``: canonical events with their mentions, actors, disagreements, decisions."""
    return {
        "events": [e.model_dump(mode="json") for e in merged.canonical],
        "actors": [a.model_dump(mode="json") for a in merged.actors],
        "disagreements": [d.model_dump(mode="json") for d in merged.disagreements],
        "decisions": [d.model_dump(mode="json") for d in merged.decisions],
    }


def changes_markdown(brief: Brief) -> str:
    """``changes.md``: the brief's What changed section on its own."""
    return resources.render("templates", CHANGES_TEMPLATE, brief=brief)


def write_outputs(
    out_dir: Path,
    brief: Brief,
    events: dict[str, Any],
    manifest: Manifest,
    formats: tuple[str, ...] = FORMATS,
) -> dict[str, Path]:
    """Write the brief in ``formats`` (brief.md, brief.html, brief.pdf), events.json
    (``events``: see :func:`events_document`), claims.json, manifest.json and, from the second
    build on, changes.md; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "brief": out_dir / "brief.md",
        "events": out_dir / "events.json",
        "claims": out_dir / "claims.json",
        "manifest": out_dir / "manifest.json",
    }
    # brief.md is always written: claims.json and `briefing check` are read against it.
    _write_atomic(paths["brief"], markdown(brief))
    if "html" in formats:
        paths["html"] = out_dir / "brief.html"
        _write_atomic(paths["html"], html(brief))
    _write_json(paths["events"], events)
    _write_json(paths["claims"], {"claims": [c.model_dump(mode="json") for c in brief.claims()]})
    _write_json(paths["manifest"], manifest.model_dump(mode="json"))
    if brief.changes is not None:
        paths["changes"] = out_dir / "changes.md"
        _write_atomic(paths["changes"], changes_markdown(brief))
    # Last: every other file is written when the PDF is refused (a character no font prints).
    if "pdf" in formats:
        paths["pdf"] = out_dir / "brief.pdf"
        try:
            pdf = render_pdf(_view(brief))
        except RenderError:
            paths["pdf"].unlink(missing_ok=True)  # never leave the last build's PDF as this one's
            raise
        _write_bytes_atomic(paths["pdf"], pdf)
    return paths


def _write_json(path: Path, data: Any) -> None:
    _write_atomic(path, json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def _write_bytes_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _write_atomic(path: Path, text: str) -> None:
    """Write via a temporary file so an interrupted run never leaves half a brief."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
