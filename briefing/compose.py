"""Composition: from canonical events to the brief's sections, every sentence a cited claim.

* **Timeline**: one row per canonical event that is not an outcome, dated, with how many sources
  report it (and how many of them independently), its disputed fields, and what it discussed or
  agreed beneath it. A row's citations cover every source that reports the event.
* **Key developments**: a structured request that sees the canonical events (labelled E1, E2,
  …, most corroborated first) and must cite labels. The events are ranked and cut to what fits
  the model's context, so a corpus of any size gets its key points and no request is sent to
  fail. Labels never reach the reader: a point's text is cleaned of them.
* **Where sources disagree** and **Actors**: from the merge stage's ledger and actor records.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import llm, resources
from .config import BriefSpec, Settings
from .errors import LLMError
from .extract.align import content_words
from .keypoint_text import before_stray_script, echoes_scope, whole_sentences, without_labels
from .merge import MergeResult
from .merge.aliases import load_aliases
from .models import (
    ActorEntry,
    Brief,
    CanonicalEvent,
    Citation,
    Claim,
    DisagreementEntry,
    KeyPointsReply,
    SourceEntry,
    SourceFailure,
    TimelineEntry,
    Usage,
)
from .models.changes import Changes

SYSTEM_PROMPT = "compose_system.j2"
USER_PROMPT = "compose_user.j2"
MAX_REPLY_TOKENS = 900
CHARS_PER_TOKEN = 3.2  # English prose with names and dates, a little conservative
PROMPT_MARGIN_TOKENS = 300  # chat template, scope line, rounding
MAX_OUTCOMES_SHOWN = 3  # per event, in the key-developments prompt
OUTCOME_RESTATED = 0.5  # share of an outcome's content words a point must use to cite it
# The most corroborated events shown for key developments, one point each, however large the
# context. With 131 events (6,000 prompt tokens) the embedded model wrote one point restating the
# scope; with 40 it wrote three points, none on the two most corroborated events, and joined
# events it was shown by cause ("which caused unease"); with these 7 it wrote one point on each
# (measured on 50 news articles, the README's Measured).
MAX_KEY_EVENTS = 7


@dataclass(frozen=True)
class KeyDevelopments:
    """The model's key points as kept, and what became of the rest."""

    points: tuple[Claim, ...]
    usage: Usage
    shown: int  # events the request could show, most corroborated first
    unsupported: int  # points citing no event they were shown
    scope_echoes: int  # points restating the brief's scope


def timeline_order(events: Sequence[CanonicalEvent]) -> list[CanonicalEvent]:
    """Events by date (undated last), main events before background ones on the same date."""
    return sorted(events, key=lambda e: (e.date is None, e.date or "", e.role != "main", e.id))


def ranked(events: Sequence[CanonicalEvent]) -> list[CanonicalEvent]:
    """Events most worth a key point first: what the sources report before what they recall
    (a background event of five sources had been a key development of 50 news articles), then
    independent sources, sources, outcomes, the latest."""
    outcomes = _outcomes_of(events)
    return sorted(
        (e for e in events if e.parent_id is None),
        key=lambda e: (
            e.role != "main",
            -e.independent_sources,
            -len(e.source_ids),
            -len(outcomes.get(e.id, ())),
            -(int(e.date.replace("-", "").ljust(8, "0")) if e.date else 0),
            e.id,
        ),
    )


def key_developments(
    client: llm.Client,
    settings: Settings,
    spec: BriefSpec,
    events: Sequence[CanonicalEvent],
    on_notice: Callable[[str], None] | None = None,
) -> KeyDevelopments:
    """Ask the model for one key point on each of the ``MAX_KEY_EVENTS`` most corroborated
    events (fewer when the context cannot hold them): the points kept as claims, what they cost,
    how many events the request could show, and why the others were dropped."""
    outcomes = _outcomes_of(events)
    order = ranked(events)
    rows = [
        {
            "label": f"E{i}",
            "date": e.date,
            "status": e.status,
            "sources": len(e.source_ids),
            "summary": e.summary,
            "outcomes": [o.summary for o in outcomes.get(e.id, ())][:MAX_OUTCOMES_SHOWN],
        }
        for i, e in enumerate(order, 1)
    ]
    system = resources.render("prompts", SYSTEM_PROMPT)
    budget = settings.context_tokens - MAX_REPLY_TOKENS - PROMPT_MARGIN_TOKENS
    budget -= _tokens(system) + _tokens(spec.title + spec.scope)
    shown = fit_rows(rows[:MAX_KEY_EVENTS], budget)
    labels = {r["label"]: e for r, e in zip(shown, order, strict=False)}
    messages = [
        {"role": "system", "content": system},
        {
            "role": "user",
            "content": resources.render(
                "prompts", USER_PROMPT, title=spec.title, scope=spec.scope, events=shown
            ),
        },
    ]
    answer = llm.ask(
        client,
        settings,
        messages,
        KeyPointsReply,
        reask=lambda errors: resources.render("prompts", "reask.j2", errors=errors),
        max_tokens=MAX_REPLY_TOKENS,
        on_notice=on_notice,
        purpose="key developments",
    )
    claims: list[Claim] = []
    unsupported = echoes = 0
    for point in answer.value.points:
        cited = [labels[x.strip()] for x in dict.fromkeys(point.events) if x.strip() in labels]
        text = whole_sentences(without_labels(point.text))
        text = before_stray_script(text, " ".join(_event_text(e) for e in cited))
        if not cited or len(text) < 20:
            unsupported += 1  # a point that cites no event it was shown has nothing to stand on
        elif echoes_scope(text, spec.scope, [_event_text(e) for e in cited]):
            echoes += 1
        else:
            used = _outcomes_used(text, cited, outcomes)
            cites = _citations([*cited, *used], sources_per_event=KEY_POINT_SOURCES, whole=False)
            claims.append(_claim("key_developments", text, cites, [*cited, *used]))
    return KeyDevelopments(tuple(claims), answer.usage, len(shown), unsupported, echoes)


def _outcomes_used(
    text: str,
    cited: Sequence[CanonicalEvent],
    outcomes: Mapping[str, Sequence[CanonicalEvent]],
) -> list[CanonicalEvent]:
    """The outcomes of the cited events (shown to the model after "There:") that the point
    restates: most of an outcome's words are in it. The point must then cite that outcome's
    sentence, not only its meeting's."""
    words = content_words(text)
    used = []
    for e in cited:
        for o in list(outcomes.get(e.id, ()))[:MAX_OUTCOMES_SHOWN]:
            theirs = content_words(o.summary)
            if theirs and len(theirs & words) / len(theirs) >= OUTCOME_RESTATED:
                used.append(o)
    return used


def fit_rows(rows: Sequence[dict[str, Any]], budget_tokens: int) -> list[dict[str, Any]]:
    """The first rows (already ranked) whose prompt lines fit ``budget_tokens``; at least one."""
    kept: list[dict[str, Any]] = []
    used = 0
    for row in rows:
        cost = _tokens(" | ".join(str(v) for v in row.values())) + 2
        if kept and used + cost > budget_tokens:
            break
        kept.append(row)
        used += cost
    return kept


def _event_text(event: CanonicalEvent) -> str:
    """What an event's sources say: its summaries and quotes."""
    return " ".join(
        [event.summary, *(m.summary for m in event.mentions)]
        + [c.quote for m in event.mentions for c in m.citations]
    )


def compose(
    spec: BriefSpec,
    merged: MergeResult,
    sources: Sequence[SourceEntry],
    failures: Sequence[SourceFailure],
    key_points: Sequence[Claim],
    notes: Sequence[str] = (),
    changes: Changes | None = None,
) -> Brief:
    """Assemble the brief: key points as given; timeline, disagreements, actors from the merge."""
    outcomes = _outcomes_of(merged.canonical)
    timeline = tuple(
        TimelineEntry(
            event_id=e.id,
            date=e.date,
            status=e.status,
            role=e.role,
            type=e.type,
            actors=e.actors,
            location=e.location,
            sources=len(e.source_ids),
            independent_sources=e.independent_sources,
            disputed=e.disputed,
            claim=_claim("timeline", e.summary, _citations([e]), [e]),
            outcomes=tuple(
                _claim("timeline", o.summary, _citations([o]), [o])
                for o in timeline_order(outcomes.get(e.id, ()))
            ),
        )
        for e in timeline_order([e for e in merged.canonical if e.parent_id is None])
    )
    by_id = {e.id: e for e in merged.canonical}
    disagreements = tuple(
        DisagreementEntry(
            field=d.field,
            subject=d.subject,
            values=tuple(s.value for s in d.sides),
            sides=tuple(
                _claim(
                    "disagreements",
                    f"{_count(len(s.source_ids), 'source')} give{'s' * (len(s.source_ids) == 1)}"
                    f" {s.value}.",
                    s.citations,
                    [by_id[d.event_id]] if d.event_id in by_id else [],
                )
                for s in d.sides
            ),
        )
        for d in merged.disagreements
    )
    actors = []
    for a in merged.actors:
        acted_in = [by_id[i] for i in a.event_ids if i in by_id]
        if not acted_in:
            continue
        text = f"{a.name} takes part in {_count(len(acted_in), 'event')}."
        cites = _naming(a.name, [v.text for v in a.variants], acted_in)
        actors.append(
            ActorEntry(
                name=a.name,
                kind=a.kind,
                variants=a.variants,
                claim=_claim("actors", text, cites, acted_in),
            )
        )
    return Brief(
        title=spec.title,
        scope=spec.scope,
        key_points=tuple(key_points),
        timeline=timeline,
        actors=tuple(actors),
        disagreements=disagreements,
        sources=tuple(sources),
        failures=tuple(failures),
        notes=tuple(notes),
        changes=changes,
    )


# Sources cited per event in a key point (each by its first sentence): the timeline row below
# cites them all.
KEY_POINT_SOURCES = 2

# The note a failed key-developments request leaves: such a build is not complete, and the next
# one must ask again rather than repeat it (see refresh.py).
NOT_WRITTEN = "Key developments could not be written"


def safe_key_developments(
    client: llm.Client,
    settings: Settings,
    spec: BriefSpec,
    events: Sequence[CanonicalEvent],
    on_notice: Callable[[str], None] | None = None,
) -> tuple[tuple[Claim, ...], Usage, list[str]]:
    """Like :func:`key_developments`, but a failure becomes a note in the brief, not a crash."""
    top = [e for e in events if e.parent_id is None]
    if not top:
        return (), Usage(), ["No events were extracted, so there are no key developments."]
    try:
        written = key_developments(client, settings, spec, events, on_notice)
    except LLMError as exc:
        return (), exc.usage or Usage(), [f"{NOT_WRITTEN}: {exc}"]
    notes = []
    if written.unsupported:
        notes.append(
            f"{written.unsupported} of the model's key developments cited no event it "
            "was shown and " + ("was" if written.unsupported == 1 else "were") + " left out."
        )
    if written.scope_echoes:
        notes.append(
            f"{written.scope_echoes} of the model's key developments restated the "
            "brief's scope rather than an event and "
            + ("was" if written.scope_echoes == 1 else "were")
            + " left out."
        )
    if written.shown < len(top):
        notes.append(
            f"Key developments were written from the {written.shown} most corroborated of "
            f"{len(top)} events; the timeline has them all."
        )
    return written.points, written.usage, notes


def _outcomes_of(events: Sequence[CanonicalEvent]) -> dict[str, list[CanonicalEvent]]:
    found: dict[str, list[CanonicalEvent]] = {}
    for e in events:
        if e.parent_id:
            found.setdefault(e.parent_id, []).append(e)
    return found


def _citations(
    events: Sequence[CanonicalEvent], *, sources_per_event: int | None = None, whole: bool = True
) -> list[Citation]:
    """What a claim about ``events`` cites: each reporting source once, by its first record of
    the event (with all that record's sentences when ``whole``, else its first), at most
    ``sources_per_event`` sources an event. A story told by fifty records must not hang fifty
    notes on one sentence; "reported by N sources" says how many there are."""
    found: list[Citation] = []
    for e in events:
        seen: set[str] = set()
        for m in e.mentions:
            if m.source_id in seen:
                continue
            if sources_per_event is not None and len(seen) >= sources_per_event:
                break
            seen.add(m.source_id)
            for c in m.citations if whole else m.citations[:1]:
                if c not in found:
                    found.append(c)
    return found


def _claim(
    section: str, text: str, citations: Sequence[Citation], events: Sequence[CanonicalEvent]
) -> Claim:
    event_ids = tuple(e.id for e in events)
    digest = hashlib.sha256(f"{section}\n{text}\n{' '.join(event_ids)}".encode()).hexdigest()
    return Claim(
        id="cl_" + digest[:12],
        section=section,  # type: ignore[arg-type]
        text=text,
        event_ids=event_ids,
        citations=tuple(citations),
    )


def _naming(
    name: str, written: Sequence[str], events: Sequence[CanonicalEvent], most: int = 3
) -> list[Citation]:
    """Up to ``most`` citations, one per event, of a sentence that names the actor ``name``
    (as written, by an alias or a demonym); an event whose cited words never name it (the model
    read the actor from elsewhere) is cited by its first sentence only if no event names it."""
    aliases = load_aliases()
    found: list[Citation] = []
    for e in events:
        quotes = [c for m in e.mentions for c in m.citations]
        hit = next((c for c in quotes if aliases.mentions(c.quote, name, written)), None)
        if hit is not None and hit not in found:
            found.append(hit)
        if len(found) == most:
            break
    return found or [events[0].mentions[0].citations[0]]


def _tokens(text: str) -> int:
    return int(len(text) / CHARS_PER_TOKEN) + 1


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' * (n != 1)}"
