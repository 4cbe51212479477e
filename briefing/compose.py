"""Composition: from event records to the brief's sections, every sentence a cited claim.

Key developments are written by a second structured request that sees only the event records
(labelled E1, E2, …) and must cite labels; a point citing no known label is dropped. The
timeline and the actors are derived from the records without the model.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence

from . import llm, resources
from .config import BriefSpec, Settings
from .errors import LLMError
from .models import (
    ActorEntry,
    Brief,
    Citation,
    Claim,
    Event,
    KeyPointsReply,
    SourceEntry,
    SourceFailure,
    TimelineEntry,
    Usage,
)

SYSTEM_PROMPT = "compose_system.j2"
USER_PROMPT = "compose_user.j2"
MAX_REPLY_TOKENS = 900


def timeline_order(events: Sequence[Event]) -> list[Event]:
    """Events by date (undated last), main events before background ones on the same date."""
    return sorted(events, key=lambda e: (e.date is None, e.date or "", e.role != "main"))


def key_developments(
    client: llm.Client,
    settings: Settings,
    spec: BriefSpec,
    events: Sequence[Event],
    on_notice: Callable[[str], None] | None = None,
) -> tuple[tuple[Claim, ...], Usage]:
    """Ask the model for 3–7 key points citing event labels; returns them as claims."""
    ordered = timeline_order(events)
    labels = {f"E{i}": e for i, e in enumerate(ordered, 1)}
    rows = [
        {
            "label": label,
            "date": e.date,
            "status": e.status,
            "role": e.role,
            "summary": e.summary,  # says who and where: actors would repeat it
        }
        for label, e in labels.items()
    ]
    messages = [
        {"role": "system", "content": resources.render("prompts", SYSTEM_PROMPT)},
        {
            "role": "user",
            "content": resources.render(
                "prompts", USER_PROMPT, title=spec.title, scope=spec.scope, events=rows
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
    )
    claims: list[Claim] = []
    for point in answer.value.points:
        cited = [labels[x.strip()] for x in dict.fromkeys(point.events) if x.strip() in labels]
        if not cited:
            continue  # a point that cites no known event has nothing to stand on
        claims.append(_claim("key_developments", point.text.strip(), cited))
    return tuple(claims), answer.usage


def compose(
    spec: BriefSpec,
    events: Sequence[Event],
    sources: Sequence[SourceEntry],
    failures: Sequence[SourceFailure],
    key_points: Sequence[Claim],
    notes: Sequence[str] = (),
) -> Brief:
    """Assemble the brief: key points as given, timeline and actors derived from the events."""
    timeline = tuple(
        TimelineEntry(
            date=e.date,
            status=e.status,
            role=e.role,
            type=e.type,
            actors=e.actors,
            location=e.location,
            claim=_claim("timeline", e.summary, [e]),
        )
        for e in timeline_order(events)
    )
    return Brief(
        title=spec.title,
        scope=spec.scope,
        key_points=tuple(key_points),
        timeline=timeline,
        actors=actor_entries(events),
        sources=tuple(sources),
        failures=tuple(failures),
        notes=tuple(notes),
    )


def actor_entries(events: Sequence[Event]) -> tuple[ActorEntry, ...]:
    """One entry per actor name (case ignored), with the events it takes part in."""
    grouped: dict[str, list[tuple[Event, str]]] = defaultdict(list)
    for e in events:
        for name in dict.fromkeys(e.actors):
            grouped[name.casefold()].append((e, name))
    entries = []
    for rows in grouped.values():
        name = Counter(r[1] for r in rows).most_common(1)[0][0]
        acted_in = list(dict.fromkeys(r[0] for r in rows))
        text = f"{name} takes part in {len(acted_in)} event{'s' * (len(acted_in) > 1)}."
        entries.append(
            ActorEntry(name=name, claim=_claim("actors", text, acted_in, first_citation_only=True))
        )
    entries.sort(key=lambda a: (-len(a.claim.event_ids), a.name))
    return tuple(entries)


def _claim(
    section: str, text: str, events: Sequence[Event], *, first_citation_only: bool = False
) -> Claim:
    citations: list[Citation] = []
    for e in events:
        for c in e.citations[:1] if first_citation_only else e.citations:
            if c not in citations:
                citations.append(c)
    event_ids = tuple(e.id for e in events)
    digest = hashlib.sha256(f"{section}\n{text}\n{' '.join(event_ids)}".encode()).hexdigest()
    return Claim(
        id="cl_" + digest[:12],
        section=section,  # type: ignore[arg-type]
        text=text,
        event_ids=event_ids,
        citations=tuple(citations),
    )


def safe_key_developments(
    client: llm.Client,
    settings: Settings,
    spec: BriefSpec,
    events: Sequence[Event],
    on_notice: Callable[[str], None] | None = None,
) -> tuple[tuple[Claim, ...], Usage, list[str]]:
    """Like :func:`key_developments`, but a failure becomes a note in the brief, not a crash."""
    if not events:
        return (), Usage(), ["No events were extracted, so there are no key developments."]
    try:
        points, usage = key_developments(client, settings, spec, events, on_notice)
    except LLMError as exc:
        return (), exc.usage or Usage(), [f"Key developments could not be written: {exc}"]
    notes = [] if points else ["The model's key developments cited no known event; none are shown."]
    return points, usage, notes
