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
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .. import llm, resources
from ..config import Settings
from ..errors import InvalidReply
from ..models import EventDraft, Extraction, ExtractionReply, Sentence, Source, Usage
from ..read.hidden import of as hidden_sentences_of
from .align import content_words
from .repair import RepairLog, repair_reply

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
    that, once set, stops retrying (the build is being cancelled). With ``on_tokens`` the
    replies are streamed to it; without, each comes in one body (less CPU a request)."""

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
    instructions: frozenset[int] = frozenset()


def prepare(source: Source, window_chars: int) -> Reading:
    """Split ``source`` into what the model reads and what it never sees (what is hidden is
    worked out once per source, ``read/hidden.py``; the windows are cheap)."""
    hidden = hidden_sentences_of(source)
    never = hidden.numbers
    shown = [s for s in source.sentences if s.number not in never]
    return Reading(
        headline=source.title if hidden.headline else None,
        windows=sentence_windows(shown, window_chars),
        furniture=hidden.furniture - hidden.headline,
        instructions=hidden.instructions - hidden.furniture,
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
        request = _window_request(system, source, reading, window)
        context, repair, log = request.context, request.repair, request.log
        try:
            answer = _ask_window(client, settings, source, request, progress, tokens)
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
        instructions=tuple(sorted(reading.instructions)),
        usage=usage,
        salvaged=salvaged,
        realigned=repaired.moved,
        unsupported=repaired.unsupported,
        alignment={
            e.summary: repaired.changed[e.summary] for e in events if e.summary in repaired.changed
        },
    )


def pending_requests(
    client: llm.Client, settings: Settings, source: Source
) -> list[llm.PendingRequest]:
    """The requests extracting ``source`` would send that the cache cannot answer yet, at most
    one per window (a re-ask when the cached reply was invalid). ``client`` must be cache-only
    (``Client.cache_only()``): this is how a batch is planned."""
    system = resources.render("prompts", SYSTEM_PROMPT)
    reading = prepare(source, settings.window_chars)
    pending: list[llm.PendingRequest] = []
    for window in reading.windows:
        request = _window_request(system, source, reading, window)
        try:
            _ask_window(client, settings, source, request, ExtractionProgress(), None)
        except llm.CacheMiss as miss:
            if miss.pending is not None:
                pending.append(miss.pending)
        except InvalidReply:
            pass  # settled by the cache: the build salvages or fails it as a live one would
    return pending


@dataclass(frozen=True)
class _WindowRequest:
    """What one window's request is made of, and the repair log its validation fills."""

    messages: list[dict[str, str]]
    context: dict[str, Any]
    repair: Callable[[Any], Any]
    log: RepairLog


def _window_request(
    system: str, source: Source, reading: Reading, window: Sequence[Sentence]
) -> _WindowRequest:
    prompt = render_user_prompt(window, source.published, reading.headline)
    log = RepairLog()
    return _WindowRequest(
        messages=[{"role": "system", "content": system}, {"role": "user", "content": prompt}],
        context={"sentence_numbers": {s.number for s in window}, "published": source.published},
        repair=functools.partial(repair_reply, window=window, log=log, published=source.published),
        log=log,
    )


def _ask_window(
    client: llm.Client,
    settings: Settings,
    source: Source,
    request: _WindowRequest,
    progress: ExtractionProgress,
    tokens: Callable[[int], None] | None,
) -> llm.Answer[ExtractionReply]:
    return llm.ask(
        client,
        settings,
        request.messages,
        ExtractionReply,
        reask=lambda errors: resources.render("prompts", REASK_PROMPT, errors=errors),
        context=request.context,
        repair=request.repair,
        max_tokens=MAX_REPLY_TOKENS,
        # A reply is streamed only when its tokens are shown (``ExtractionProgress.on_tokens``).
        on_tokens=tokens if progress.on_tokens else None,
        on_notice=progress.on_notice,
        cancel=progress.cancel,
        purpose=f"extract {Path(source.path).name}",
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
