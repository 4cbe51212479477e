"""Sentence segmentation with exact offsets: every ``Sentence`` is a slice of the text.

Scraped pages put bylines, teasers and "Also Read" on lines of their own without final
punctuation, so a line break ends a sentence unless its paragraph is evidently hard-wrapped
prose; within a passage, pysbd finds the sentence ends.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import re
from collections.abc import Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import pysbd

from ..models import Sentence

Span = tuple[int, int]

BLANK_LINE = re.compile(r"\n\s*\n")
SENTENCE_END = re.compile(r"[.!?…:;][\"'”’)\]]*$")
# A line starting like this is a list item, heading or quote: never a wrapped continuation.
LINE_MARKER = re.compile(r"^(?:[-*+•>#|]|\d{1,3}[.)]\s)")


@lru_cache(maxsize=1)
def _segmenter() -> Any:
    # char_span=False: pysbd's spans re-search each sentence in the whole text and silently drop
    # the ones they miss; _pieces locates sentences itself, left to right, and never loses text.
    # One shared instance: segment() keeps state on it, so this is not for concurrent threads.
    return pysbd.Segmenter(language="en", clean=False, char_span=False)


# Characters of one unit given to pysbd at a time.
MAX_UNIT = 5000


class SentenceCache(Protocol):
    """Sentence spans kept from an earlier build (the refresh state's, ``store/splits.py``),
    by the sha256 of the text and the :func:`segmenter_version` that split it."""

    def get(self, text_sha256: str, segmenter: str) -> Sequence[Span] | None:
        """The spans kept for this text and segmenter, or None."""

    def put(self, text_sha256: str, segmenter: str, spans: Sequence[Span]) -> None:
        """Keep the spans just segmented (the cache may write them later, in one go)."""


@lru_cache(maxsize=1)
def segmenter_version() -> str:
    """What the split depends on besides the text: this file's rules and pysbd's version. Any
    edit here changes it, so spans kept by older rules are never reused."""
    digest = hashlib.sha256(Path(__file__).read_bytes())
    digest.update(f"pysbd {getattr(pysbd, '__version__', '?')}".encode())
    return digest.hexdigest()[:16]


def split_sentences(text: str, cache: SentenceCache | None = None) -> list[Sentence]:
    """Number the sentences of ``text``: blank-line blocks, then lines, then pysbd. With
    ``cache``, spans it keeps for the same text are reused and new ones are given to it."""
    if cache is None:
        return sentences_at(text, sentence_spans(text))
    key = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    version = segmenter_version()
    kept = cache.get(key, version)
    if kept is not None and _fits(text, kept):
        return sentences_at(text, kept)
    spans = sentence_spans(text)  # nothing kept, or a row that does not fit: split again
    cache.put(key, version, spans)
    return sentences_at(text, spans)


def sentence_spans(text: str) -> list[Span]:
    """The (start, end) offsets of the sentences of ``text``, in order: the costly part."""
    return [span for unit in _units(text) for span in _pieces(text, *unit)]


def sentences_at(text: str, spans: Sequence[Span]) -> list[Sentence]:
    """The numbered ``Sentence`` of each span of ``text``, with its 1-based line."""
    nl = [m.start() for m in re.finditer("\n", text)]
    return [
        Sentence(number=n, start=a, end=b, line=bisect.bisect_left(nl, a) + 1, text=text[a:b])
        for n, (a, b) in enumerate(spans, 1)
    ]


def _fits(text: str, spans: Sequence[Span]) -> bool:
    """Spans in order, non-empty and inside the text: a damaged row is split again instead."""
    end = 0
    for a, b in spans:
        if not end <= a < b <= len(text):
            return False
        end = b
    return True


def _units(text: str) -> Iterator[tuple[int, int]]:
    """Runs of lines that read as one passage: a line, or a whole hard-wrapped paragraph.

    Scraped pages put bylines, teasers and "Also Read: ..." on lines of their own without final
    punctuation, so a line break ends a unit unless its block is evidently wrapped prose.
    """
    pos = 0
    for gap in [*BLANK_LINE.finditer(text), None]:
        end = gap.start() if gap else len(text)
        lines = [(pos + m.start(), pos + m.end()) for m in re.finditer(r"[^\n]+", text[pos:end])]
        lines = [(a, b) for a, b in lines if text[a:b].strip()]
        wrapped = _is_wrapped([text[a:b].rstrip() for a, b in lines])
        unit_start = lines[0][0] if lines else pos
        for (a, b), (c, d) in itertools.pairwise(lines):
            if not (wrapped and _continues(text[a:b], text[c:d])):
                yield unit_start, b
                unit_start = c
        if lines:
            yield unit_start, lines[-1][1]
        pos = gap.end() if gap else len(text)


def _is_wrapped(lines: list[str]) -> bool:
    """A hard-wrapped paragraph: all lines but the last near one width, the last ending a sentence.

    A stack of headlines or a byline over a short lede fails the test: its lines are ragged.
    """
    width = max(map(len, lines), default=0)
    full = all(len(line) >= width - 25 for line in lines[:-1])
    return len(lines) > 1 and 50 <= width <= 100 and full and bool(SENTENCE_END.search(lines[-1]))


def _continues(line: str, nxt: str) -> bool:
    # A list item or a Markdown heading stays a line of its own even inside wrapped prose.
    return not (line.lstrip().startswith("#") or LINE_MARKER.match(nxt.lstrip()))


def _pieces(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """Sentence spans of ``text[start:end]``, trimmed of surrounding whitespace. A unit longer
    than MAX_UNIT (a page with no line breaks) is cut first at sentence ends: pysbd's time grows
    faster than its input, and one 2 MB line would take it minutes."""
    for a, b in _chunks(text, start, end):
        yield from _segmented(text, a, b)


def _chunks(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """``[start, end)`` in pieces of at most MAX_UNIT characters, cut after a sentence end
    (". " and the like) where there is one, else at a space, else anywhere."""
    while end - start > MAX_UNIT:
        window = text[start : start + MAX_UNIT]
        cut = max(window.rfind(". "), window.rfind("? "), window.rfind("! "))
        if cut < MAX_UNIT // 2:
            cut = window.rfind(" ")
        cut = cut + 1 if cut > 0 else MAX_UNIT
        yield start, start + cut
        start += cut
    yield start, end


def _segmented(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    unit = text[start:end].replace("\n", " ")  # same length: offsets carry over
    cuts, cursor = [0], 0
    for sent in map(str.strip, _segmenter().segment(unit)):
        found = unit.find(sent, cursor) if sent else -1
        if found >= cursor:  # a sentence pysbd altered is not found: it joins the one before
            cuts.append(found)
            cursor = found + len(sent)
    for a, b in zip(cuts, [*cuts[1:], len(unit)], strict=False):
        piece = unit[a:b]
        lead = len(piece) - len(piece.lstrip())
        trail = len(piece.rstrip())
        if trail > lead:
            yield start + a + lead, start + a + trail
