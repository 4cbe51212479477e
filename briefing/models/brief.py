"""Records of the brief: claims and what review and check made of them, the sections the
templates render, and the manifest."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from .base import EventType, Record, Role, Status
from .changes import Changes
from .records import ActorKind, Citation, DisputedField, SourceFailure, Usage, Variant

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
