"""Grounding: sentence numbers become citations, each one an exact span of its source.

A citation's ``quote`` is always ``text[start:end]`` of the file it names; :func:`cite` refuses to
build one that is not, so no later stage can carry a paraphrase as a quote.
"""

from __future__ import annotations

import hashlib
import json

from .errors import BriefingError
from .models import Actor, Citation, Event, EventDraft, Extraction, Source


class GroundingError(BriefingError):
    """A citation would not match its source: a bug, never the model's fault."""


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


def ground(extraction: Extraction, source: Source, file: str) -> tuple[Event, ...]:
    """Turn the model's event drafts for ``source`` into events with exact citations."""
    if extraction.source_id != source.id:
        raise GroundingError(f"extraction of {extraction.source_id[:12]} given {source.path}")
    return tuple(_event(draft, source, file) for draft in extraction.reply.events)


def event_id(source_id: str, draft: EventDraft) -> str:
    """A content hash: the same source and the same draft always give the same id."""
    payload = json.dumps([source_id, draft.model_dump(mode="json")], sort_keys=True)
    return "ev_" + hashlib.sha256(payload.encode()).hexdigest()[:12]


def _event(draft: EventDraft, source: Source, file: str) -> Event:
    return Event(
        id=event_id(source.id, draft),
        source_id=source.id,
        type=draft.type,
        subtype=draft.subtype,
        summary=draft.summary,
        actors=tuple(Actor(**a.model_dump()) for a in draft.actors),
        location=draft.location,
        date=draft.date,
        date_basis=draft.date_basis,
        status=draft.status,
        role=draft.role,
        citations=tuple(cite(source, n, file) for n in sorted(set(draft.evidence))),
    )
