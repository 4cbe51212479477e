"""Grounding: sentence numbers become citations, each one an exact span of its source.

A citation's ``quote`` is always ``text[start:end]`` of the file it names; :func:`cite` refuses to
build one that is not, so no later stage can carry a paraphrase as a quote.

Small models sometimes cite the wrong sentence number (the summary describes sentence 28 but
cites 13). Before citing, the summary is compared word-for-word with the cited sentences: when
they share too little and another non-furniture sentence clearly matches, the event is realigned
to it (``alignment="realigned"``); when nothing in the article supports it, the event is dropped
and counted, never shipped with a citation that does not back it.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

from .errors import BriefingError
from .models import Actor, Citation, Event, EventDraft, Extraction, Source

# Share of the summary's content words a cited sentence must contain to count as support.
MIN_SUPPORT = 0.25
# A sentence that is not cited must cover this share to replace the cited ones.
REALIGN_SUPPORT = 0.45

_WORD = re.compile(r"[^\W\d_][\w’'-]{2,}")
_STOPWORDS = frozenset(
    {
        "the",
        "and",
        "for",
        "with",
        "that",
        "this",
        "from",
        "their",
        "they",
        "will",
        "have",
        "has",
        "had",
        "was",
        "were",
        "been",
        "its",
        "into",
        "about",
        "also",
        "said",
        "says",
        "which",
        "while",
        "after",
        "before",
        "over",
        "under",
        "than",
        "then",
        "them",
        "there",
        "these",
        "those",
        "would",
        "could",
        "should",
        "other",
        "more",
        "most",
        "such",
        "only",
        "some",
        "being",
        "between",
        "during",
        "against",
        "among",
        "three",
        "two",
    }
)


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
    furniture = set(extraction.reply.furniture)
    events: list[Event] = []
    unsupported = realigned = 0
    for draft in extraction.reply.events:
        evidence = align(draft, source, furniture)
        if evidence is None:
            unsupported += 1
            continue
        numbers, moved = evidence
        realigned += moved
        event = _event(draft, source, file, numbers, "realigned" if moved else "as_cited")
        if all(e.id != event.id for e in events):
            events.append(event)
    return Grounded(tuple(events), unsupported, realigned)


def align(draft: EventDraft, source: Source, furniture: set[int]) -> tuple[list[int], bool] | None:
    """The sentence numbers that support ``draft``'s summary, and whether they were moved.

    Returns None when neither the cited sentences nor any other article sentence support it.
    """
    for n in draft.evidence:
        if not 1 <= n <= len(source.sentences):
            raise GroundingError(f"{source.path} has no sentence {n}")
    wanted = content_words(draft.summary)
    if not wanted:
        return sorted(set(draft.evidence)), False

    def support(number: int) -> float:
        return len(wanted & content_words(source.sentences[number - 1].text)) / len(wanted)

    cited = sorted(set(draft.evidence))
    backing = [n for n in cited if support(n) >= MIN_SUPPORT]
    if backing:
        return backing, False
    candidates = [s.number for s in source.sentences if s.number not in furniture]
    if not candidates:
        return None
    best = max(candidates, key=lambda n: (support(n), -n))
    if support(best) >= REALIGN_SUPPORT:
        return [best], True
    return None


def content_words(text: str) -> set[str]:
    """Lower-cased words of three letters or more, without common function words."""
    return {w.lower().strip("’'-") for w in _WORD.findall(text)} - _STOPWORDS


def event_id(source_id: str, draft: EventDraft) -> str:
    """A content hash: the same source and the same draft always give the same id."""
    payload = json.dumps([source_id, draft.model_dump(mode="json")], sort_keys=True)
    return "ev_" + hashlib.sha256(payload.encode()).hexdigest()[:12]


def _event(
    draft: EventDraft, source: Source, file: str, numbers: list[int], alignment: str
) -> Event:
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
        citations=tuple(cite(source, n, file) for n in numbers),
        alignment=alignment,  # type: ignore[arg-type]
    )
