"""Extraction: the model reads a source in windows of numbered sentences and reports events.

Every event cites sentence numbers, so every quote is exact by construction. A window is about
1,400 characters for the embedded model (6,000 for hosted ones): a small model reads a short
passage far more completely than a whole article (measured on the seeds, see the README). The
static instructions come first in the conversation so a local server's prompt cache reuses them
from one window to the next.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from . import dates, llm, resources
from .align import align, complete, content_words
from .config import Settings
from .errors import InvalidReply
from .furniture import furniture, headline_sentences
from .models import (
    ISO_DATE,
    SUMMARY_MAX,
    Alignment,
    EventDraft,
    Extraction,
    ExtractionReply,
    Sentence,
    Source,
    Usage,
    parse_partial_date,
)

SYSTEM_PROMPT = "extract_system.j2"
USER_PROMPT = "extract_user.j2"
REASK_PROMPT = "reask.j2"
# Bounded output keeps a small model from looping; a full window of events fits within it.
MAX_REPLY_TOKENS = 900
# Two drafts from the same sentences under different types are one event when the shorter
# summary's words are (nearly) all in the longer one: "will meet in Seoul" and "will meet in
# Seoul to discuss …", but not "discussed X with partners" and "agreed on X with partners".
SAME_SUMMARY = 0.9


@dataclass(frozen=True)
class ExtractionProgress:
    """Hooks for one source: chunks received so far, one-line notices (retries), and a flag
    that, once set, stops retrying (the build is being cancelled)."""

    on_tokens: Callable[[int], None] | None = None
    on_notice: Callable[[str], None] | None = None
    cancel: threading.Event | None = None


@dataclass(frozen=True)
class Reading:
    """How a source is shown to the model: its headline (unnumbered), the sentences it may
    cite in windows, and the furniture it never sees."""

    headline: str | None
    windows: list[Sequence[Sentence]]
    furniture: frozenset[int]


def prepare(source: Source, window_chars: int) -> Reading:
    """Split ``source`` into what the model reads and what it never sees."""
    hidden = furniture(source.sentences)
    headline = headline_sentences(source.sentences, source.title)
    shown = [s for s in source.sentences if s.number not in hidden | headline]
    return Reading(
        headline=source.title if headline else None,
        windows=sentence_windows(shown, window_chars),
        furniture=frozenset(hidden - headline),
    )


def extract(
    client: llm.Client,
    settings: Settings,
    source: Source,
    progress: ExtractionProgress | None = None,
) -> Extraction:
    """Ask the model for the events of ``source``, one request per window of sentences."""
    progress = progress or ExtractionProgress()
    system = resources.render("prompts", SYSTEM_PROMPT)
    reading = prepare(source, settings.window_chars)
    events: list[EventDraft] = []
    usage = Usage()
    salvaged = False
    repaired = RepairLog()
    tokens = _SourceTokens(progress.on_tokens)
    for window in reading.windows:
        prompt = render_user_prompt(window, source.published, reading.headline)
        messages = [
            {"role": "system", "content": system},
            {"role": "user", "content": prompt},
        ]
        context = {"sentence_numbers": {s.number for s in window}, "published": source.published}
        log = RepairLog()
        repair = functools.partial(repair_reply, window=window, log=log, published=source.published)
        try:
            answer = llm.ask(
                client,
                settings,
                messages,
                ExtractionReply,
                reask=lambda errors: resources.render("prompts", REASK_PROMPT, errors=errors),
                context=context,
                repair=repair,
                max_tokens=MAX_REPLY_TOKENS,
                on_tokens=tokens,
                on_notice=progress.on_notice,
                cancel=progress.cancel,
            )
        except InvalidReply as exc:
            reply = salvage(exc.last_reply, context, repair)
            if reply is None:
                raise
            if progress.on_notice:
                progress.on_notice(
                    f"kept the {len(reply.events)} valid events of the last invalid reply"
                )
            usage, salvaged = usage + (exc.usage or Usage()), True
        else:
            reply, usage = answer.value, usage + answer.usage
        for event in reply.events:  # within a window and across windows
            if not any(same_event(event, seen) for seen in events):
                events.append(event)
        repaired = repaired + log
        tokens.window_done(usage)
    # Each window's reply was validated; together they may hold more events than one reply may.
    return Extraction(
        source_id=source.id,
        reply=ExtractionReply.model_construct(events=events),
        furniture=tuple(sorted(reading.furniture)),
        usage=usage,
        salvaged=salvaged,
        realigned=repaired.moved,
        unsupported=repaired.unsupported,
        alignment={
            e.summary: repaired.changed[e.summary] for e in events if e.summary in repaired.changed
        },
    )


class _SourceTokens:
    """The running token count of one source across its windows, for its progress bar: a
    window's stream counts from where the earlier windows ended, so the bar never falls back."""

    def __init__(self, on_tokens: Callable[[int], None] | None) -> None:
        self.on_tokens = on_tokens
        self.base = self.last = 0

    def __call__(self, tokens: int) -> None:
        self.last = max(self.last, self.base + tokens)
        if self.on_tokens:
            self.on_tokens(self.last)

    def window_done(self, usage: Usage) -> None:
        """Start the next window from the larger of the count shown and the usage reported."""
        self.base = self.last = max(self.last, usage.completion_tokens)


def same_event(a: EventDraft, b: EventDraft) -> bool:
    """``a`` repeats ``b``: it cites only sentences ``b`` cites, and is of the same type or
    says the same in more or fewer words (a small model reports "will meet" as a meeting and
    again as an agreement); or it has the same summary."""
    if a.summary.casefold() == b.summary.casefold():
        return True
    if not set(a.evidence) <= set(b.evidence):
        return False
    words, others = content_words(a.summary), content_words(b.summary)
    shorter = min(len(words), len(others))
    contained = len(words & others) / shorter if shorter else 1.0
    return a.type == b.type or contained >= SAME_SUMMARY


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
_DANGLING = re.compile(r"(?:\s+(?:and|or|in|of|the|a|an|to|with|by|for|at|on|from))+\s*$", re.I)


def _tidy_text(event: dict[str, Any]) -> dict[str, Any]:
    """A summary the server's length bound cut mid-word, or that slipped into Chinese, ends at
    its last whole English word with "…"; actors and a location in Chinese are dropped."""
    summary = event.get("summary")
    if isinstance(summary, str):
        cut = _CJK.search(summary)
        if cut or len(summary) >= SUMMARY_MAX:
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


def _repair_date(event: dict[str, Any], cited: str, published: str | None) -> dict[str, Any]:
    """Make ``date`` and ``status`` agree with the text: keep the ISO part of a date such as
    "2023-08-XX", drop one that has none ("unknown"), undo "2024-07-01" for "in July", leave a
    background event undated rather than dated by the publication, call an event dated after
    publication "planned" (it cannot have occurred yet), and resolve a weekday the cited text
    names ("on Thursday") against the publication date."""
    date, status = event.get("date"), event.get("status")
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
    if status == "occurred" and isinstance(date, str) and published and _after(date, published):
        status = "planned"
    summary = event.get("summary")
    if status == "occurred" and isinstance(summary, str) and _FUTURE.search(summary):
        status = "planned"
    if status in ("occurred", "planned"):
        date = dates.weekday_date(cited, published, status) or date
    return {**event, "date": date, "status": status}


def _after(date: str, published: str) -> bool:
    try:
        return parse_partial_date(date)[0] > dt.date.fromisoformat(published)
    except ValueError:
        return False  # validation will say what is wrong with it


def salvage(
    text: str, context: dict[str, Any], repair: Callable[[Any], Any] = lambda data: data
) -> ExtractionReply | None:
    """The valid part of an invalid reply: each event that passes on its own.

    A reply cut off by the token limit keeps its complete events. None when the reply is not
    a JSON object with an events list.
    """
    try:
        data = repair(json.loads(text))
    except ValueError:
        cut = complete_events_prefix(text)
        if cut is None:
            return None
        data = repair(json.loads(cut))
    if not isinstance(data, dict) or not isinstance(data.get("events"), list):
        return None
    kept = []
    for raw in data["events"]:
        try:
            one = ExtractionReply.model_validate({"events": [raw]}, context=context)
        except ValidationError:
            continue
        kept.extend(one.events)
    return ExtractionReply(events=kept)


def complete_events_prefix(text: str) -> str | None:
    """Close a reply cut off inside its "events" list after the last complete event.

    ``{"events":[{...},{..`` becomes ``{"events":[{...}]}``. None when no event was complete
    or the cut came before the list.
    """
    depth, in_string, escaped, last_end = 0, False, False, None
    events_at = text.find('"events"')
    if events_at < 0:
        return None
    for i, ch in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
            # Back at the events list's level (top object 1, list 2) after closing an event.
            if depth == 2 and ch == "}" and i > events_at:
                last_end = i + 1
    return None if last_end is None else text[:last_end] + "]}"


def render_user_prompt(
    sentences: Sequence[Sentence], published: str | None, headline: str | None = None
) -> str:
    """The per-window part of the prompt: headline and publication date first (the same for
    every window of a source, so the server's prompt cache keeps them), then the sentences."""
    day = dt.date.fromisoformat(published) if published else None
    return resources.render(
        "prompts",
        USER_PROMPT,
        sentences=sentences,
        headline=headline,
        published={"date": day.isoformat(), "name": day.strftime("%A")} if day else None,
    )


def sentence_windows(sentences: Sequence[Sentence], max_chars: int) -> list[Sequence[Sentence]]:
    """Split sentences into the fewest windows of about ``max_chars`` characters, about even
    in size (17 sentences become 9 + 8, not 16 + 1). A window closes at the sentence nearest
    its share, so with very uneven sentences one may run over ``max_chars`` by part of one."""
    if not sentences:
        return []
    total = sum(len(s.text) for s in sentences)
    count = max(1, math.ceil(total / max_chars))
    target = total / count
    windows: list[Sequence[Sentence]] = []
    start, read = 0, 0
    for i, s in enumerate(sentences[:-1]):
        read += len(s.text)
        # Close a window once it ends within half a sentence of its share of the characters.
        share = target * (len(windows) + 1)
        if len(windows) < count - 1 and read >= share - len(s.text) / 2:
            windows.append(sentences[start : i + 1])
            start = i + 1
    windows.append(sentences[start:])
    return windows
