"""Extraction: one structured request per source (or per window of a long source).

The model sees the article as numbered sentences and answers with sentence numbers, so every
quote is exact by construction and the reply stays short. The static instructions come first in
the conversation so a local server's prompt cache reuses them from one source to the next.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from . import llm, resources
from .align import align
from .config import Settings
from .errors import InvalidReply
from .models import (
    ISO_DATE,
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
# Bounded output keeps a small model from looping; ten events fit well within it.
MAX_REPLY_TOKENS = 1400


@dataclass(frozen=True)
class ExtractionProgress:
    """Hooks for one source: chunks received so far, one-line notices (retries), and a flag
    that, once set, stops retrying (the build is being cancelled)."""

    on_tokens: Callable[[int], None] | None = None
    on_notice: Callable[[str], None] | None = None
    cancel: threading.Event | None = None


def extract(
    client: llm.Client,
    settings: Settings,
    source: Source,
    progress: ExtractionProgress | None = None,
) -> Extraction:
    """Ask the model for the events and furniture of ``source``; windows a long one."""
    progress = progress or ExtractionProgress()
    system = resources.render("prompts", SYSTEM_PROMPT)
    furniture: set[int] = set()
    events: list[EventDraft] = []
    usage = Usage()
    salvaged = False
    repaired = RepairLog()
    for window in sentence_windows(
        source.sentences, settings.window_chars, settings.window_overlap
    ):
        messages = [
            {"role": "system", "content": system},
            {"role": "user", "content": render_user_prompt(window, source.published)},
        ]
        context = {"sentence_numbers": {s.number for s in window}, "published": source.published}
        log = RepairLog()
        repair = functools.partial(
            repair_evidence, window=window, log=log, published=source.published
        )
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
                on_tokens=progress.on_tokens,
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
        furniture.update(reply.furniture)
        events.extend(e for e in reply.events if e not in events)  # windows overlap
        repaired = RepairLog(
            repaired.moved + log.moved,
            repaired.unsupported + log.unsupported,
            repaired.furniture + log.furniture,
        )
    # Windows overlap and may disagree: a sentence one window cites as evidence is article text.
    furniture -= {n for e in events for n in e.evidence}
    # Each window's reply was validated; together they may hold more events than one reply may.
    merged = ExtractionReply.model_construct(furniture=sorted(furniture), events=events)
    return Extraction(
        source_id=source.id,
        reply=merged,
        usage=usage,
        salvaged=salvaged,
        realigned=repaired.moved,
        unsupported=repaired.unsupported,
        furniture_events=repaired.furniture,
    )


# Lines that scraped news pages put after the article (or around an author bio): everything
# from the first of them on is furniture. Matched at the start of a sentence, case-insensitive.
_END_OF_ARTICLE = re.compile(
    r"^(?:(?:previous story|next story|latest from|don'?t miss|most popular|follow us|"
    r"check also|load more|notify of|related (?:articles|posts|stories)|you may also like|"
    r"share this|more from|recommended)\b|(?:topics|tags)\s*:)",
    re.IGNORECASE,
)
# Single lines that are furniture wherever they stand.
_FURNITURE_LINE = re.compile(r"^(also read|read more|read also|see also)\s*:", re.IGNORECASE)
# An author link (".../author/name/") opens the author box that runs to the end of the page.
_AUTHOR_LINK = re.compile(r"https?://\S+/author/", re.IGNORECASE)


def marked_furniture(sentences: Sequence[Sentence]) -> set[int]:
    """Sentences that well-known page markers identify as furniture, with no model involved:
    "Also Read:" lines, an author box opened by an author link, and everything after a
    "Previous Story" / "Latest from" / "Don't Miss" / "Topics :" kind of line.

    The model's furniture list is added to these; these are kept even when that list is not
    believed.
    """
    marked: set[int] = set()
    tail_from: int | None = None
    for s in sentences:
        text = s.text.strip()
        if _FURNITURE_LINE.match(text):
            marked.add(s.number)
        if tail_from is None and (_END_OF_ARTICLE.match(text) or _AUTHOR_LINK.search(text)):
            tail_from = s.number
    if tail_from is not None:
        marked.update(s.number for s in sentences if s.number >= tail_from)
    return marked


# Share of a window's sentences marked as furniture beyond which the list is not believed.
IMPLAUSIBLE_FURNITURE = 0.75


@dataclass
class RepairLog:
    """What :func:`repair_evidence` changed in the last reply it saw."""

    moved: int = 0
    unsupported: int = 0
    furniture: int = 0


def repair_evidence(
    data: Any,
    window: Sequence[Sentence],
    log: RepairLog | None = None,
    published: str | None = None,
) -> Any:
    """Fix what needs no model, before validation.

    Evidence that does not state the event's summary is moved to the window sentence that does;
    an event that restates a furniture sentence (a teaser, a headline) is dropped, and so is one
    that no sentence supports (grounding would drop it anyway; a re-ask would cost a whole
    reply). Anything malformed is left as it is, for validation to report.
    """
    log = log if log is not None else RepairLog()
    log.moved = log.unsupported = log.furniture = 0
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("events"), list)
        or not isinstance(data.get("furniture"), list)
    ):
        return data
    furniture = {n for n in data["furniture"] if isinstance(n, int)}
    shown = {s.number for s in window}
    marked = marked_furniture(window)
    if len(furniture & shown) >= IMPLAUSIBLE_FURNITURE * len(shown):
        # A small model sometimes lists every sentence as furniture ("1, 2, 3, … 25"). A page
        # that is all furniture has no events to cite, so when it does cite some, the list is
        # the mistake: trust the events, and keep as furniture only what no event cites.
        distrusted, furniture = furniture, set(marked)
    else:
        distrusted = None
    furniture |= marked
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
        found = align(summary, evidence, window, furniture)
        if found is None:
            log.unsupported += 1
            continue
        article = [n for n in found.numbers if n not in furniture]
        if not article:
            log.furniture += 1
            continue
        log.moved += found.moved
        events.append(_repair_date({**event, "evidence": article}, published))
    if distrusted is not None:  # keep as furniture only what no kept event cites
        cited = {n for e in events if isinstance(e, dict) for n in e.get("evidence", [])}
        return {**data, "furniture": sorted((distrusted - cited) | marked), "events": events}
    return {**data, "furniture": sorted(furniture), "events": events}


def _repair_date(event: dict[str, Any], published: str | None) -> dict[str, Any]:
    """Make ``date``, ``date_basis`` and ``status`` agree: keep the ISO part of a date such as
    "2023-08-XX", drop a date that has none ("unknown"), say "none" exactly when null, and call
    an event dated after the article's publication "planned": it cannot have occurred yet."""
    date, basis = event.get("date"), event.get("date_basis")
    if isinstance(date, str) and not ISO_DATE.match(date):
        prefix = re.match(r"\d{4}(-\d{2}(-\d{2})?)?", date)
        date = prefix.group(0) if prefix and ISO_DATE.match(prefix.group(0)) else None
    if date is None:
        basis = "none"
    elif basis == "none":
        basis = "stated"
    status = event.get("status")
    if status == "occurred" and date and published and _after(date, published):
        status = "planned"
    return {**event, "date": date, "date_basis": basis, "status": status}


def _after(date: str, published: str) -> bool:
    try:
        return parse_partial_date(date)[0] > dt.date.fromisoformat(published)
    except ValueError:
        return False  # validation will say what is wrong with it


def salvage(
    text: str, context: dict[str, Any], repair: Callable[[Any], Any] = lambda data: data
) -> ExtractionReply | None:
    """The valid part of an invalid reply: its furniture and each event that passes on its own.

    A reply cut off by the token limit keeps its complete events. None when the reply is not
    a JSON object with a usable furniture list.
    """
    try:
        data = repair(json.loads(text))
    except ValueError:
        cut = complete_events_prefix(text)
        if cut is None:
            return None
        data = repair(json.loads(cut))
    try:
        furniture = ExtractionReply(furniture=data["furniture"], events=[]).furniture
    except (ValueError, TypeError, KeyError, ValidationError):
        return None
    kept = []
    for raw in data.get("events", []) if isinstance(data.get("events"), list) else []:
        try:
            one = ExtractionReply.model_validate(
                {"furniture": furniture, "events": [raw]}, context=context
            )
        except ValidationError:
            continue
        kept.extend(one.events)
    return ExtractionReply(furniture=furniture, events=kept)


def complete_events_prefix(text: str) -> str | None:
    """Close a reply cut off inside its "events" list after the last complete event.

    ``{"furniture":[1],"events":[{...},{..`` becomes ``{"furniture":[1],"events":[{...}]}``.
    None when no event was complete or the cut came before the list.
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


def render_user_prompt(sentences: Sequence[Sentence], published: str | None) -> str:
    """The per-source part of the prompt: numbered sentences and a calendar around the date."""
    if not published:
        return resources.render("prompts", USER_PROMPT, sentences=sentences, published=None)
    day = dt.date.fromisoformat(published)

    def named(offset: int) -> dict[str, str]:
        d = day + dt.timedelta(days=offset)
        return {"name": d.strftime("%A"), "date": d.isoformat()}

    return resources.render(
        "prompts",
        USER_PROMPT,
        sentences=sentences,
        published=named(0),
        past=[named(-k) for k in range(6, 0, -1)],
        coming=[named(k) for k in range(1, 7)],
    )


def sentence_windows(
    sentences: Sequence[Sentence], max_chars: int, overlap: int
) -> list[Sequence[Sentence]]:
    """Split sentences into windows of at most ``max_chars`` characters, ``overlap`` shared.

    A source that fits is one window, which is the common case: one request per source.
    """
    windows: list[Sequence[Sentence]] = []
    start = 0
    while start < len(sentences):
        end, size = start, 0
        while end < len(sentences) and (
            end == start or size + len(sentences[end].text) <= max_chars
        ):
            size += len(sentences[end].text)
            end += 1
        windows.append(sentences[start:end])
        if end >= len(sentences):
            break
        start = max(end - overlap, start + 1)
    return windows
