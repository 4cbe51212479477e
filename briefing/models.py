"""Records that cross the disk or the LLM.

Two families live here, on purpose apart:

* the *reply* schemas the model fills (``ExtractionReply``, ``KeyPointsReply``): small, bounded,
  citing sentence numbers or short event labels, validated against the source they answer;
* the *stored* records (``Source``, ``Citation``, ``Event``, ``Claim``, ``Manifest``): what the
  pipeline keeps, writes to JSON and reads back.

Every model forbids unknown fields, so a renamed key fails loudly instead of vanishing.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from .changes import Changes


class Record(BaseModel):
    """Base for every record: unknown fields are an error, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --- vocabularies -------------------------------------------------------------------------------

# PLOVER's top-level event categories (the successor of CAMEO), in PLOVER's order.
EventType = Literal[
    "AGREE", "CONSULT", "SUPPORT", "CONCEDE", "COOPERATE", "AID", "RETREAT", "REQUEST",
    "ACCUSE", "REJECT", "THREATEN", "PROTEST", "SANCTION", "MOBILIZE", "COERCE", "ASSAULT",
]  # fmt: skip
# How a date was found (worked out in code, see dates.date_basis): written out in the cited
# text, resolved from "on Thursday" against the publication date, the publication date itself,
# the model's inference from elsewhere, or "none" when there is no date.
DateBasis = Literal["stated", "relative", "publication", "inferred", "none"]
Status = Literal["occurred", "planned", "claimed", "denied"]
# "main": what the article reports; "background": an earlier event it recalls.
Role = Literal["main", "background"]
# As in langextract, how an event's evidence was tied to the text (the quote is always exact):
# the sentences the model cited ("as_cited"); others, because the cited ones did not state the
# summary ("realigned"); or the cited ones plus sentences that state it as plainly ("completed").
# "linked": not extracted by the model from this source; the merge stage found this sentence of it
# reporting an event other sources report (see merge/linking.py).
Alignment = Literal["as_cited", "realigned", "completed", "linked"]

ISO_DATE = re.compile(r"^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$")
ISO_DATE_PATTERN = ISO_DATE.pattern
# A window of about 1,200 characters rarely states more; the bound keeps a small model from looping.
MAX_EVENTS_PER_WINDOW = 8
SUMMARY_MAX = 160  # characters; the server's grammar cuts a longer summary off mid-word


def parse_partial_date(value: str) -> tuple[dt.date, dt.date]:
    """Return the first and last day covered by ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``."""
    if not ISO_DATE.match(value):
        raise ValueError(f"date {value!r} is not YYYY, YYYY-MM or YYYY-MM-DD")
    parts = [int(p) for p in value.split("-")]
    if len(parts) == 3:
        day = dt.date(parts[0], parts[1], parts[2])  # raises for 2023-02-30
        return day, day
    if len(parts) == 2:
        first = dt.date(parts[0], parts[1], 1)
        nxt = dt.date(parts[0] + (parts[1] == 12), parts[1] % 12 + 1, 1)
        return first, nxt - dt.timedelta(days=1)
    return dt.date(parts[0], 1, 1), dt.date(parts[0], 12, 31)


def starts_after(date: str, published: str) -> bool:
    """Whether ``date`` (``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``) begins after ``published``;
    False when either does not parse (validation says what is wrong)."""
    try:
        return parse_partial_date(date)[0] > dt.date.fromisoformat(published)
    except ValueError:
        return False


# --- sources ------------------------------------------------------------------------------------


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
                and starts_after(event.date, published)
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


# --- the brief -----------------------------------------------------------------------------------


class Claim(Record):
    """A factual sentence of the brief with the citations that support it."""

    id: str
    section: Literal["key_developments", "timeline", "actors", "disagreements"]
    text: str
    event_ids: tuple[str, ...]
    citations: tuple[Citation, ...] = Field(min_length=1)
    # What a reviewer made of it (see review/): "edited" means the text is theirs, not the model's.
    review: Literal["accepted", "edited"] | None = None


ReviewAction = Literal["accept", "reject", "edit"]


class Decision(Record):
    """A reviewer's decision on one claim, kept in the refresh state across builds."""

    claim_id: str
    action: ReviewAction
    text: str | None = Field(None, description="the reviewer's text, for an edit")
    comment: str | None = None
    claim: Claim = Field(description="the claim as it stood when decided")
    decided_at: str

    @model_validator(mode="after")
    def _edit_has_text(self) -> Decision:
        if self.action == "edit" and not (self.text or "").strip():
            raise ValueError("an edit needs the new text")
        return self


class CheckSummary(Record):
    """The last `briefing check` of a brief's claims, for the line under its title."""

    claims: int
    supported: int
    need_review: int  # not supported, partly supported, failing a deterministic check, flagged
    unchecked: int  # no support verdict yet
    model: str | None = None
    # Claims the check found wanting, by id: "not_supported", "partly" or "failed".
    doubtful: dict[str, str] = Field(default_factory=dict)


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


class TimelineEntry(Record):
    """One row of the timeline: a canonical event, its corroboration, what is disputed, and what
    it produced (its outcomes) beneath it."""

    event_id: str
    date: str | None
    status: Status
    role: Role
    type: EventType
    actors: tuple[str, ...]
    location: str | None
    sources: int
    independent_sources: int
    disputed: tuple[DisputedField, ...]
    claim: Claim
    outcomes: tuple[Claim, ...] = ()


class ActorEntry(Record):
    """A canonical actor across the brief: its name, kind, the ways sources write it, and the
    events it takes part in."""

    name: str
    kind: ActorKind
    variants: tuple[Variant, ...]
    claim: Claim


class DisagreementEntry(Record):
    """A disagreement as the brief shows it: each side a cited claim, most sources first."""

    field: DisputedField
    subject: str
    sides: tuple[Claim, ...] = Field(min_length=2)
    values: tuple[str, ...]


class SourceEntry(Record):
    """A source as the brief lists it."""

    id: str
    path: str
    file: str = Field(description="the UTF-8 file the citations of this source point at")
    title: str | None
    outlet: str | None
    published: str | None
    sentences: int
    furniture: tuple[int, ...]
    furniture_preview: tuple[str, ...]
    events: int
    unsupported: int = Field(0, description="events dropped: no sentence supports their summary")
    realigned: int = Field(0, description="events whose cited sentence was corrected")
    salvaged: bool = Field(False, description="the model never gave a fully valid reply")
    # Sentences that address the reader or a model instead of reporting (injection.py): never
    # shown to the model, never cited. Their lines, and the start of each.
    instruction_lines: tuple[int, ...] = ()
    instruction_preview: tuple[str, ...] = ()


class Brief(Record):
    """Everything the templates render."""

    title: str
    scope: str
    key_points: tuple[Claim, ...]
    timeline: tuple[TimelineEntry, ...]
    actors: tuple[ActorEntry, ...]
    disagreements: tuple[DisagreementEntry, ...]
    sources: tuple[SourceEntry, ...]
    failures: tuple[SourceFailure, ...]
    notes: tuple[str, ...]
    changes: Changes | None = None  # since the last build into the same folder
    built: str | None = None  # the build's date (its manifest's), shown in HTML and PDF
    check: CheckSummary | None = None  # from the last `briefing check` of these claims

    def claims(self) -> list[Claim]:
        """Every cited sentence of the brief, in reading order."""
        return [
            *self.key_points,
            *(c for t in self.timeline for c in (t.claim, *t.outcomes)),
            *(side for d in self.disagreements for side in d.sides),
            *(a.claim for a in self.actors),
        ]


class InputRecord(Record):
    """One input path as the manifest lists it."""

    path: str
    sha256: str | None
    bytes: int | None
    status: Literal["read", "failed"]
    reason: str | None = None


class Manifest(Record):
    """How a brief was made: inputs, model, server, prompt and template hashes, work, time."""

    briefing_version: str
    created_at: str
    inputs: tuple[InputRecord, ...]
    model: str
    server: str
    embedded_model: str | None
    prompts: dict[str, str]
    templates: dict[str, str]
    usage: Usage
    usage_by_source: dict[str, Usage]
    timings: dict[str, float]
    counts: dict[str, int]
    # Dollars for the requests that reached a server (prices.py); None when the model's price
    # is not in the price table. Replies from the refresh state cost nothing.
    cost_usd: float | None = None
    fingerprint: str | None = None  # of every input (refresh.fingerprint)
    # sha256 of each file the citations point at (a source, or its UTF-8 copy in OUT/sources):
    # `briefing check` proves the file is still the one that was cited.
    cited_files: dict[str, str] = Field(default_factory=dict)
