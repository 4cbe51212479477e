"""What a reviewer reads beside a claim: each cited span inside its paragraph of the source file.

A paragraph is the text between the blank lines around a span. Spans of one claim that fall in
the same paragraph are shown together, each marked. A long paragraph is cut to a few hundred
characters on either side of its spans, so a 5,000-character wall of text does not bury the
quote. The excerpt is cut into plain segments (marked or not) for the page to lay out with
``textContent``: nothing here is HTML.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..models import Citation

# Characters kept before the first and after the last span of a paragraph, and between two spans.
CONTEXT_CHARS = 280
ELLIPSIS = "…"
_BLANK_LINE = re.compile(r"\n\s*\n")  # one blank line or a run of them


class SourceTexts:
    """Source files read once each, as UTF-8 with newlines kept (so offsets are the citations')."""

    def __init__(self) -> None:
        self._texts: dict[str, str | None] = {}

    def text(self, file: str) -> str | None:
        """The text of ``file``, or None when it cannot be read as UTF-8."""
        if file not in self._texts:
            try:
                with open(file, encoding="utf-8", newline="") as fh:
                    self._texts[file] = fh.read()
            except (OSError, UnicodeDecodeError):
                self._texts[file] = None
        return self._texts[file]


def paragraph_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    """The paragraph holding ``text[start:end]``: from the blank line before to the one after."""
    first = 0
    for blank in _BLANK_LINE.finditer(text, 0, start):
        first = blank.end()
    after = _BLANK_LINE.search(text, end)
    last = after.start() if after else len(text)
    # Indentation and a file's last newline are not part of what the paragraph says.
    while first < start and text[first].isspace():
        first += 1
    while last > end and text[last - 1].isspace():
        last -= 1
    return first, last


def excerpts(citations: Sequence[Citation], texts: SourceTexts) -> list[dict[str, Any]]:
    """The evidence of one claim, in citation order: one excerpt per paragraph cited.

    Each excerpt: ``file`` (as cited), ``name`` (its file name), ``lines`` (of its spans),
    ``segments`` (``{"text", "mark"}`` in order) and ``problem`` (None, or why the file's text
    no longer holds the quote, in which case the stored quote alone is shown)."""
    # In first-cited order: an excerpt ready made (the quote alone), or a paragraph's key.
    order: list[dict[str, Any] | tuple[str, int, int]] = []
    by_paragraph: dict[tuple[str, int, int], list[Citation]] = {}
    for c in citations:
        text = texts.text(c.file)
        problem = _problem(c, text)
        if problem is not None or text is None:
            order.append(_excerpt(c.file, [c.line], [{"text": c.quote, "mark": True}], problem))
            continue
        key = (c.file, *paragraph_bounds(text, c.start, c.end))
        if key not in by_paragraph:
            by_paragraph[key] = []
            order.append(key)
        by_paragraph[key].append(c)
    result = []
    for item in order:
        if isinstance(item, dict):
            result.append(item)
            continue
        file, first, last = item
        spans = sorted(by_paragraph[item], key=lambda c: (c.start, c.end))
        segments = _segments(texts.text(file) or "", first, last, spans)
        lines = sorted({c.line for c in spans})
        result.append(_excerpt(file, lines, segments, None))
    return result


def _excerpt(
    file: str, lines: list[int], segments: list[dict[str, Any]], problem: str | None
) -> dict[str, Any]:
    return {
        "file": file,
        "name": Path(file).name,
        "lines": lines,
        "segments": segments,
        "problem": problem,
    }


def _problem(c: Citation, text: str | None) -> str | None:
    """Why ``c`` cannot be shown in its file (unreadable, changed since the build), or None."""
    if text is None:
        return "the file cannot be read any more: the quote as stored"
    if text[c.start : c.end] != c.quote:
        return "the file changed since the build: the quote as stored"
    return None


def _segments(text: str, first: int, last: int, spans: list[Citation]) -> list[dict[str, Any]]:
    """``text[first:last]`` as plain and marked pieces, long plain stretches shortened."""
    pieces: list[dict[str, Any]] = []
    at = first
    for i, c in enumerate(spans):
        start = max(c.start, at)  # overlapping spans: mark the rest of the later one
        if start > at:
            plain = text[at:start]
            pieces.append({"text": _head(plain) if i == 0 else _middle(plain), "mark": False})
        if c.end > start:
            pieces.append({"text": text[start : c.end], "mark": True})
        at = max(at, c.end)
    if last > at:
        pieces.append({"text": _tail(text[at:last]), "mark": False})
    return pieces


def _head(plain: str) -> str:
    """The end of the text before the first span, from a word boundary."""
    if len(plain) <= CONTEXT_CHARS:
        return plain
    cut = plain[-CONTEXT_CHARS:]
    space = cut.find(" ")
    return ELLIPSIS + (cut[space + 1 :] if 0 <= space < 40 else cut)


def _tail(plain: str) -> str:
    """The start of the text after the last span, to a word boundary."""
    if len(plain) <= CONTEXT_CHARS:
        return plain
    cut = plain[:CONTEXT_CHARS]
    space = cut.rfind(" ")
    return (cut[:space] if space > CONTEXT_CHARS - 40 else cut) + ELLIPSIS


def _middle(plain: str) -> str:
    """Text between two spans: both ends kept, the middle elided when long."""
    if len(plain) <= 2 * CONTEXT_CHARS:
        return plain
    return _tail(plain) + " " + _head(plain)[len(ELLIPSIS) :]
