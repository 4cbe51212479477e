"""Records of sources, extraction and merging: what the model fills (``ExtractionReply``,
``SameEventReply``, ``KeyPointsReply``: small, bounded, validated against what they answer) and
what the pipeline keeps (``Source``, ``Citation``, ``Event``, ``CanonicalEvent``, ``Usage``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal, Self

from pydantic import Field, ValidationInfo, field_validator, model_validator

from .base import (
    ISO_DATE_PATTERN,
    MAX_EVENTS_PER_WINDOW,
    SUMMARY_MAX,
    Alignment,
    DateBasis,
    EventType,
    Record,
    Role,
    Status,
    parse_partial_date,
    too_late_to_have_occurred,
)

# --- sources ------------------------------------------------------------------------------------

# Where ``read/hidden.py`` keeps a Source's hidden sentences, worked out once: in the instance's
# ``__dict__``, beside its fields, which pydantic leaves out of equality, dumps and JSON.
HIDDEN_KEY = "_hidden_sentences"


class Sentence(Record):
    """One sentence of a source: ``text == source.text[start:end]``, ``line`` is 1-based."""

    number: int = Field(ge=1)
    start: int = Field(ge=0)
    end: int
    line: int = Field(ge=1)
    text: str


class Source(Record):
    """A file read: its text, numbered sentences and what the text says about itself."""

    id: str = Field(description="sha256 of the file's bytes, hex")
    path: str
    kind: Literal["text", "markdown", "html"]
    encoding: str
    # True when ``text`` is exactly what a UTF-8 reader sees in ``path`` (so a citation can point
    # at the file itself); False for HTML main text, other encodings or CRLF files, whose text the
    # build writes to a UTF-8 copy.
    verbatim: bool
    title: str | None = None
    outlet: str | None = None
    published: str | None = Field(default=None, description="ISO date the text states")
    text: str
    sentences: tuple[Sentence, ...]

    @model_validator(mode="after")
    def _sentences_are_slices(self) -> Source:
        for s in self.sentences:
            if self.text[s.start : s.end] != s.text:
                raise ValueError(f"sentence {s.number} is not the slice [{s.start}:{s.end}]")
        return self

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy without what ``read/hidden.py`` kept on this source (``HIDDEN_KEY``): an
        ``update`` may change what is hidden (another title, another headline)."""
        copied = super().model_copy(update=update, deep=deep)
        copied.__dict__.pop(HIDDEN_KEY, None)
        return copied


class SourceFailure(Record):
    """A path that could not be read or extracted, and why (shown in the brief as not read)."""

    path: str
    stage: Literal["read", "extract"]
    reason: str


# --- what the model fills: extraction ------------------------------------------------------------

Short = Annotated[str, Field(min_length=1, max_length=60)]


class EventDraft(Record):
    """One event as the model reports it, citing sentence numbers as evidence.

    Lean on purpose: every key costs generated tokens on every event, and a small local model
    writes about 16 tokens a second. What needs no model (how a date was found, which lines are
    furniture) is worked out in code. The summary comes before the evidence: a small model that
    writes the numbers first tends to count (1, 2, 3…) instead of looking; one that has just
    written what happened picks the sentence that says it, and alignment can check the pair.
    """

    type: EventType
    summary: str = Field(min_length=10, max_length=SUMMARY_MAX, description="one neutral sentence")
    evidence: list[int] = Field(min_length=1, max_length=3, description="sentence numbers")
    actors: list[Short] = Field(
        min_length=1, max_length=4, description="full usual names, e.g. 'Yoon Suk Yeol'"
    )
    location: str | None = Field(max_length=60)
    date: str | None = Field(pattern=ISO_DATE_PATTERN, max_length=10)
    status: Status
    role: Role

    @field_validator("date")
    @classmethod
    def _date_parses(cls, value: str | None) -> str | None:
        if value is not None:
            parse_partial_date(value)
        return value


class ExtractionReply(Record):
    """The reply for one window of a source: its events.

    Validation needs the window in its context (``{"sentence_numbers": {...}, "published":
    iso}``): evidence must name sentences that were shown, and an occurred event cannot be dated
    after the article was published.
    """

    events: list[EventDraft] = Field(max_length=MAX_EVENTS_PER_WINDOW)

    @model_validator(mode="after")
    def _fits_source(self, info: ValidationInfo) -> ExtractionReply:
        ctx: dict[str, Any] = info.context or {}
        shown: set[int] | None = ctx.get("sentence_numbers")
        published = ctx.get("published")
        problems: list[str] = []
        for i, event in enumerate(self.events):
            for n in event.evidence:
                if shown is not None and n not in shown:
                    problems.append(f"events[{i}]: evidence sentence {n} was not shown")
            if (
                published
                and event.date
                and event.status == "occurred"
                and too_late_to_have_occurred(event.date, published)
            ):
                problems.append(
                    f"events[{i}]: status 'occurred' but dated {event.date}, after the "
                    f"publication date {published}; use 'planned' or fix the date"
                )
        if problems:
            raise ValueError("; ".join(problems))
        return self


# --- stored records ------------------------------------------------------------------------------


class Citation(Record):
    """A span of a source: ``quote == read_utf8(file)[start:end]``, character offsets."""

    source_id: str
    file: str
    start: int = Field(ge=0)
    end: int
    line: int = Field(ge=1)
    quote: str

    @model_validator(mode="after")
    def _non_empty(self) -> Citation:
        if self.end <= self.start or len(self.quote) != self.end - self.start:
            raise ValueError(f"citation [{self.start}:{self.end}] does not match its quote")
        return self


class Event(Record):
    """One source's record of an event, grounded in exact citations."""

    id: str = Field(description="content hash: the same source and event give the same id")
    source_id: str
    type: EventType
    summary: str
    actors: tuple[str, ...]
    location: str | None
    date: str | None
    date_basis: DateBasis
    status: Status
    role: Role
    citations: tuple[Citation, ...] = Field(min_length=1)
    alignment: Alignment = "as_cited"


# --- merging: one real-world event across sources -----------------------------------------------

ActorKind = Literal["country", "organisation", "person", "other"]
# How a variant relates to its actor's canonical name: the name itself, a listed alias ("DPRK",
# "Seoul" as the government), a shorter form the corpus completes ("Yoon"), or a close
# misspelling ("Kashida"): reported, never silently corrected.
VariantKind = Literal["canonical", "alias", "short", "spelling"]
# The fields on which the mentions of one event (or the sources naming one actor) can differ.
DisputedField = Literal["date", "location", "participants", "name", "title", "number", "status"]


class Variant(Record):
    """One way the sources write an actor, as written, with where it is written."""

    text: str
    kind: VariantKind
    source_ids: tuple[str, ...]
    citations: tuple[Citation, ...]


class Actor(Record):
    """A canonical actor: one name for every way the sources write it."""

    id: str = Field(description="content hash of the canonical name")
    name: str
    kind: ActorKind
    variants: tuple[Variant, ...]
    event_ids: tuple[str, ...] = Field(description="canonical events it takes part in")


class Side(Record):
    """One value of a disputed field, with the sources that give it and their words."""

    value: str
    source_ids: tuple[str, ...]
    citations: tuple[Citation, ...] = Field(min_length=1)


class Disagreement(Record):
    """Sources differ on one field of one event (or of one actor); every side is kept."""

    id: str
    field: DisputedField
    subject: str = Field(description="what the field belongs to, in words")
    event_id: str | None = None
    actor_id: str | None = None
    # Most sources first; the minority is never dropped.
    sides: tuple[Side, ...] = Field(min_length=2)


class MergeDecision(Record):
    """Why two mentions were (or were not) taken for the same event."""

    a: str
    b: str
    same: bool
    score: float
    decided_by: Literal["signals", "model", "budget"]
    reason: str


class CanonicalEvent(Record):
    """A real-world event with every mention of it (one source's record each)."""

    id: str = Field(description="content hash of its mention ids")
    type: EventType
    summary: str
    actors: tuple[str, ...] = Field(description="canonical actor names")
    location: str | None
    date: str | None
    status: Status
    role: Role
    mentions: tuple[Event, ...] = Field(min_length=1)
    source_ids: tuple[str, ...]
    independent_sources: int = Field(ge=1)
    # What a meeting discussed, agreed or expressed hangs under it: the id of that meeting.
    parent_id: str | None = None
    disputed: tuple[DisputedField, ...] = ()
    reasons: tuple[str, ...] = Field((), description="why its mentions were taken as one")


# --- what the model fills: same event? -----------------------------------------------------------


class SameEventReply(Record):
    """The model's verdict on a pair of mentions the signals left in doubt."""

    same: bool
    reason: str = Field(min_length=3, max_length=160)


# --- what the model fills: key developments ------------------------------------------------------


class KeyPointDraft(Record):
    """One key development as the model writes it, citing event labels such as 'E3'."""

    text: str = Field(min_length=20, max_length=300)
    events: list[str] = Field(min_length=1, max_length=5)


class KeyPointsReply(Record):
    """The key-developments reply."""

    points: list[KeyPointDraft] = Field(min_length=1, max_length=7)


class Usage(Record):
    """Work paid for: requests (retries included), tokens and seconds."""

    requests: int = 0
    cache_hits: int = 0  # requests answered from the refresh state instead of the server
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    seconds: float = 0.0
    # llama-server's own timings of the requests (0 when the server sends none): milliseconds
    # spent on the prompt tokens not taken from its cache, and on generating the reply.
    prompt_ms: float = 0.0
    predicted_ms: float = 0.0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            requests=self.requests + other.requests,
            cache_hits=self.cache_hits + other.cache_hits,
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            cached_tokens=self.cached_tokens + other.cached_tokens,
            seconds=round(self.seconds + other.seconds, 3),
            prompt_ms=round(self.prompt_ms + other.prompt_ms, 3),
            predicted_ms=round(self.predicted_ms + other.predicted_ms, 3),
        )


class Extraction(Record):
    """What the model made of one source: its validated reply and the work it cost."""

    source_id: str
    reply: ExtractionReply
    # Sentence numbers that are page furniture (never shown to the model, never cited).
    furniture: tuple[int, ...] = ()
    # Sentence numbers that address the reader or a model (injection.py): never shown, never cited.
    instructions: tuple[int, ...] = ()
    usage: Usage
    # True when every attempt was invalid and the valid part of the last reply was kept.
    salvaged: bool = False
    # Deterministic repairs before validation (see repair.repair_reply).
    realigned: int = 0
    unsupported: int = 0
    # Summaries of the events whose evidence the repair changed, and how.
    alignment: dict[str, Alignment] = Field(default_factory=dict)
