"""Grounding: sentence numbers become citations, each one an exact span of its source.

A citation's ``quote`` is always ``text[start:end]`` of the file it names; :func:`cite` refuses to
build one that is not, so no later stage can carry a paraphrase as a quote.

Before citing, :func:`briefing.align.align` checks that the cited sentences support the
summary: an event is re-pointed to the sentence that does (``alignment="realigned"``), or dropped
and counted when nothing in the article supports it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from ..errors import BriefingError
from ..models import Alignment, Citation, Event, EventDraft, Extraction, Source
from ..read import dates
from .align import align


class GroundingError(BriefingError):
    """A citation would not match its source: a bug, never the model's fault."""


@dataclass(frozen=True)
class Grounded:
    """The events of one source, and how many drafts nothing in the article supported."""

    events: tuple[Event, ...]
    unsupported: int
    realigned: int


def cite(source: Source, sentence_number: int, file: str) -> Citation:
    """The citation of one sentence of ``source``, pointing at ``file`` (text identical to it)."""
    try:
        sentence = source.sentences[sentence_number - 1]
    except IndexError:
        raise GroundingError(f"{source.path} has no sentence {sentence_number}") from None
    quote = source.text[sentence.start : sentence.end]
    if sentence.number != sentence_number or quote != sentence.text:
        raise GroundingError(f"{source.path}: sentence {sentence_number} is not its own slice")
    return Citation(
        source_id=source.id,
        file=file,
        start=sentence.start,
        end=sentence.end,
        line=sentence.line,
        quote=quote,
    )


def ground(extraction: Extraction, source: Source, file: str) -> Grounded:
    """Turn the model's event drafts for ``source`` into events with exact, supporting citations."""
    if extraction.source_id != source.id:
        raise GroundingError(f"extraction of {extraction.source_id[:12]} given {source.path}")
    furniture = set(extraction.furniture)
    # A sentence that addresses a model is never evidence, even when the model names its number.
    addressed = set(extraction.instructions)
    citable = [s for s in source.sentences if s.number not in addressed]
    events: list[Event] = []
    unsupported = realigned = 0
    for draft in extraction.reply.events:
        for n in draft.evidence:
            if not 1 <= n <= len(source.sentences):
                raise GroundingError(f"{source.path} has no sentence {n}")
        found = align(draft.summary, draft.evidence, citable, furniture)
        if found is None:
            unsupported += 1
            continue
        realigned += found.moved
        how = "realigned" if found.moved else extraction.alignment.get(draft.summary, "as_cited")
        event = _event(draft, source, file, found.numbers, how)
        if all(e.id != event.id for e in events):
            events.append(event)
    return Grounded(tuple(events), unsupported, realigned)


def event_id(source_id: str, draft: EventDraft) -> str:
    """A content hash: the same source and the same draft always give the same id."""
    payload = json.dumps([source_id, draft.model_dump(mode="json")], sort_keys=True)
    return "ev_" + hashlib.sha256(payload.encode()).hexdigest()[:12]


def _event(
    draft: EventDraft, source: Source, file: str, numbers: tuple[int, ...], how: Alignment
) -> Event:
    citations = tuple(cite(source, n, file) for n in numbers)
    cited = " ".join(c.quote for c in citations)
    return Event(
        id=event_id(source.id, draft),
        source_id=source.id,
        type=draft.type,
        summary=draft.summary,
        actors=tuple(draft.actors),
        location=draft.location,
        date=draft.date,
        date_basis=dates.date_basis(draft.date, cited, source.published),
        status=draft.status,
        role=draft.role,
        citations=citations,
        alignment=how,
    )
