"""Repair of a model's reply before validation: what needs no model is fixed in code.

A deterministic fix costs nothing; a re-ask costs a whole reply, and a small model seldom
gets right on a second try what it got wrong on the first. Evidence is realigned and completed
(:mod:`briefing.align`), dates and status are made to agree with the cited words
(:mod:`briefing.dates`), and placeholder or broken text is cleaned. Anything malformed is left
as it is, for validation to report.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..models import (
    ISO_DATE,
    SUMMARY_MAX,
    Alignment,
    Sentence,
    too_late_to_have_occurred,
)
from ..read import dates
from .align import align, complete


@dataclass
class RepairLog:
    """What :func:`repair_reply` changed in the last reply it saw (the one accepted, if any)."""

    moved: int = 0
    unsupported: int = 0
    changed: dict[str, Alignment] = field(default_factory=dict)  # by summary

    def __add__(self, other: RepairLog) -> RepairLog:
        return RepairLog(
            self.moved + other.moved,
            self.unsupported + other.unsupported,
            {**self.changed, **other.changed},
        )


def repair_reply(
    data: Any,
    window: Sequence[Sentence],
    log: RepairLog | None = None,
    published: str | None = None,
) -> Any:
    """Fix what needs no model, before validation.

    Evidence that does not state the event's summary is moved to the window sentence that does,
    and an event no sentence supports is dropped (grounding would drop it anyway; a re-ask
    would cost a whole reply). Dates and status are repaired (see :func:`_repair_date`),
    placeholder actors ("unknown") removed, and cut-off or Chinese-tailed summaries ended
    cleanly (:func:`_tidy_text`). Anything malformed is left as it is, for validation to report.
    """
    if not isinstance(data, dict) or not isinstance(data.get("events"), list):
        return data
    moved = unsupported = 0
    changed: dict[str, Alignment] = {}
    events = []
    for event in data["events"]:
        evidence = event.get("evidence") if isinstance(event, dict) else None
        summary = event.get("summary") if isinstance(event, dict) else None
        if (
            not isinstance(summary, str)
            or not isinstance(evidence, list)
            or not all(isinstance(n, int) for n in evidence)
        ):
            events.append(event)
            continue
        event = _tidy_text(_clean_actors(event))
        summary = event["summary"]
        found = align(summary, evidence, window)
        if found is None:
            unsupported += 1
            continue
        moved += found.moved
        numbers = complete(summary, found.numbers, window)
        if found.moved or numbers != found.numbers:
            changed[summary] = "realigned" if found.moved else "completed"
        cited = " ".join(s.text for s in window if s.number in numbers)
        event = _repair_date({**event, "evidence": list(numbers)}, cited, published)
        events.append(event)
    if log is not None:
        log.moved, log.unsupported, log.changed = moved, unsupported, changed
    return {**data, "events": events}


_PLACEHOLDER = re.compile(r"^(?:unknown|none|null|n/?a|not (?:stated|specified|given))$", re.I)


def _clean_actors(event: dict[str, Any]) -> dict[str, Any]:
    """Drop placeholder ("unknown") and repeated actors, and a placeholder location."""
    actors, location = event.get("actors"), event.get("location")
    if isinstance(location, str) and _PLACEHOLDER.match(location.strip()):
        event = {**event, "location": None}
    if isinstance(actors, list) and all(isinstance(a, str) for a in actors):
        kept = list(dict.fromkeys(a.strip() for a in actors if not _PLACEHOLDER.match(a.strip())))
        event = {**event, "actors": kept or actors}
    return event


# Qwen models sometimes slip into Chinese mid-sentence ("… in华盛顿"); the brief is in English.
_CJK = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]")
# A sentence's end: a stop, then maybe closing quotes or a bracket ("… in 2023.”"); not a lone
# quote mark, which is as often an apostrophe cut mid-word ("about North Kim’").
_SENTENCE_END = re.compile(r"[.!?][\"”’)]*$")
_DANGLING = re.compile(r"(?:\s+(?:and|or|in|of|the|a|an|to|with|by|for|at|on|from))+\s*$", re.I)


def _tidy_text(event: dict[str, Any]) -> dict[str, Any]:
    """A summary the server's length bound cut mid-word, or that slipped into Chinese, ends at
    its last whole English word with "…"; actors and a location in Chinese are dropped."""
    summary = event.get("summary")
    if isinstance(summary, str):
        cut = _CJK.search(summary)
        # At the length bound the server's grammar cut it, mid-word or just after one ("…, the
        # timing of which led" was 159 characters); a sentence ended there is whole.
        text = summary.rstrip()
        bounded = len(text) >= SUMMARY_MAX - 2 and not _SENTENCE_END.search(text)
        # No summary ends in "of" or "the" unless it was cut ("… North Korea’s weapons of", 157
        # characters, on a clean clone's seeds build).
        dangling = _DANGLING.search(text.rstrip(" ,;:-–")) is not None
        if cut or dangling or bounded:
            kept = summary[: cut.start()] if cut else summary.rsplit(" ", 1)[0]
            kept = _DANGLING.sub("", kept.rstrip(" ,;:-–")).rstrip(" ,;:-–")
            event = {**event, "summary": kept + "…" if len(kept) >= 10 else summary}
    location = event.get("location")
    if isinstance(location, str) and _CJK.search(location):
        event = {**event, "location": None}
    actors = event.get("actors")
    if isinstance(actors, list) and all(isinstance(a, str) for a in actors):
        kept_actors = [a for a in actors if not _CJK.search(a)]
        event = {**event, "actors": kept_actors or actors}
    return event


# An occurred event whose own summary says it is still to come ("will meet") is planned.
_FUTURE = re.compile(
    r"\b(?:will|plans? to|planning to|is (?:set|expected|scheduled|due) to|are (?:set|expected|"
    r"scheduled|due) to|to be held)\b",
    re.IGNORECASE,
)


# "Denied" says someone denies the event happened. The model also gives it to sentences that are
# merely negative ("China sees it as a threat", "No charges have been laid"): 31 of 39 "denied"
# records of 50 news articles cited no word of denial. Then it is what the text says occurred.
_DENIAL = re.compile(
    r"\b(?:den(?:y|ies|ied|ying|ial)|reject\w*|refus\w*|dismiss\w*|rebuff\w*|repudiat\w*|"
    r"disput\w*|rul(?:e|es|ed|ing) out|shot down)\b",
    re.IGNORECASE,
)


# "Planned" for what the summary tells in the past ("North Korea confirmed it had tested a
# missile", "The meeting discussed steps …"): 23 of 152 planned records of 50 news articles and
# 4 of 24 of the seeds, none with a word of plan or future in its summary or cited words. Such a
# record is occurred when its summary's first verb is in the past. "This summit is seen as the
# first standalone gathering …" (a preview) keeps its plan: its first verb is "is".
_PLAN_WORDS = re.compile(
    r"\b(?:will|would|shall|plans?|planned|planning|to be|set to|expect\w*|scheduled|due to|"
    r"upcoming|next|intend\w*|propos\w*|aims?|aimed|prepar\w*|could|may|might|likely|seeks?|"
    r"hop\w*|wants?|wanted|consider\w*|going to|agree\w* to|vow\w*|promis\w*|pledg\w*|"
    r"call\w* for|urg\w*|offer\w*|invit\w*|later|soon|tomorrow|future|ahead|forthcoming)\b",
    re.IGNORECASE,
)
_PRESENT_VERBS = frozenset(
    {"is", "are", "am", "has", "have", "does", "do", "says", "will", "would", "can", "may"}
    | {"must", "shall"}
)
_FIRST_VERB = re.compile(
    r"\b(?:" + "|".join(sorted(_PRESENT_VERBS)) + r"|was|were|had|did|said|met|held|made|took|"
    r"gave|told|sent|left|began|came|went|saw|won|led|fled|struck|shot|spoke|wrote|brought|found|"
    r"kept|became|fell|flew|ran|rose|sold|stood|threw|built|paid|(?<!-)[a-z]{3,}ed)\b"
)


def _told_as_past(summary: str, cited: str) -> bool:
    """The summary's first verb is in the past, and no word of it or its evidence plans."""
    first = _FIRST_VERB.search(summary)
    return (
        first is not None
        and first.group() not in _PRESENT_VERBS
        and not _PLAN_WORDS.search(f"{summary} {cited}")
    )


def _repair_date(event: dict[str, Any], cited: str, published: str | None) -> dict[str, Any]:
    """Make ``date`` and ``status`` agree with the text: keep the ISO part of a date such as
    "2023-08-XX", drop one that has none ("unknown"), undo "2024-07-01" for "in July", leave a
    background event undated rather than dated by the publication, call an event dated more
    than a day after publication "planned" (it cannot have occurred yet), "occurred" one called
    "denied" whose words deny nothing or "planned" that its summary tells in the past, and
    resolve a weekday
    the cited text names ("on Thursday") against the publication date, unless the summary
    itself says the month of the date and no weekday."""
    date, status = event.get("date"), event.get("status")
    summary = event.get("summary")
    if status == "denied" and not _DENIAL.search(f"{summary} {cited}"):
        status = "occurred"
    if status == "planned" and isinstance(summary, str) and _told_as_past(summary, cited):
        status = "occurred"  # a date after publication makes it planned again, below
    if isinstance(date, str) and not ISO_DATE.match(date):
        prefix = re.match(r"\d{4}(-\d{2}(-\d{2})?)?", date)
        date = prefix.group(0) if prefix and ISO_DATE.match(prefix.group(0)) else None
    if isinstance(date, str) and ISO_DATE.match(date):
        date = dates.drop_padding(date, cited)
        # An earlier event the text gives no date for is not dated by the article's own date.
        if date == published and event.get("role") == "background":
            date = None if dates.date_basis(date, cited, published) == "publication" else date
    # The model's own date and words decide the direction first ("occurred" on 9 December in
    # a text of the 7th, or "will meet", is planned); the weekday is then read that way.
    if (
        status == "occurred"
        and isinstance(date, str)
        and published
        and too_late_to_have_occurred(date, published)
    ):
        status = "planned"
    if status == "occurred" and isinstance(summary, str) and _FUTURE.search(summary):
        status = "planned"
    # Unless the model's own summary puts it in the month of its date and names no weekday:
    # "met at Camp David in August", cited with another sentence's "On Friday", stays August.
    in_its_month = (
        isinstance(date, str)
        and isinstance(summary, str)
        and dates.names_month_of(summary, date)
        and not dates.names_weekday(summary)
    )
    if status in ("occurred", "planned") and not in_its_month:
        date = dates.weekday_date(cited, published, status) or date
    # A plan "in July" is not for the day the article was published (its dateline): the model
    # took "Tokyo, 1 April 2024 (TDI): … plans to host a summit … in July" for 1 April.
    if status == "planned" and (date is None or date == published):
        date = dates.month_ahead(cited, published) or date
    return {**event, "date": date, "status": status}
