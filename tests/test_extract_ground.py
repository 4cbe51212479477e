"""Extraction (windows, the user prompt, requests) and grounding (exact citations).

Most tests need no model; the ``extract`` tests drive the real ``openai`` client against the fake
server with scripted replies.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fakeserver import FakeOpenAI, Reply
from pydantic import ValidationError

from briefing import llm
from briefing.config import BriefSpec, Settings
from briefing.extract import (
    complete_events_prefix,
    extract,
    marked_furniture,
    render_user_prompt,
    sentence_windows,
)
from briefing.ground import GroundingError, cite, event_id, ground
from briefing.models import (
    Citation,
    EventDraft,
    Extraction,
    ExtractionReply,
    Sentence,
    Source,
    parse_partial_date,
)
from briefing.sources import read_source, split_sentences

SEED_001 = Path(__file__).parent.parent / "seeds" / "001_033eccb8bdea4e2b.txt"
SHOWN = re.compile(r"^\[(\d+)\] (.*)$", re.M)


@pytest.fixture(scope="module")
def seed() -> Source:
    return read_source(SEED_001)


def make_settings(base_url: str, **overrides: Any) -> Settings:
    settings = Settings(brief=BriefSpec(), api_key="k", base_url=base_url, model="m")
    fast = {
        "retry_initial_wait": 0.01,
        "max_retry_wait": 0.05,
        "request_timeout": 5.0,
        "transport_attempts": 2,
        "validation_attempts": 3,
    }
    return replace(settings, **{**fast, **overrides})


def draft(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "evidence": [5],
        "type": "CONSULT",
        "subtype": "working-level talks",
        "summary": "South Korea, the US and Japan held trilateral talks on cyber threats.",
        "actors": [
            {"name": "South Korea", "normalized": "South Korea", "country": "South Korea"},
            {"name": "the US", "normalized": "United States", "country": "United States"},
        ],
        "location": "Tokyo, Japan",
        "date": "2023-12-07",
        "date_basis": "relative",
        "status": "occurred",
        "role": "main",
    }
    return {**base, **changes}


def shown_numbers(body: dict[str, Any]) -> list[int]:
    """Sentence numbers shown in the user message of a request (the system prompt has examples)."""
    return [int(n) for n, _ in SHOWN.findall(body["messages"][1]["content"])]


# --- sentence windows ----------------------------------------------------------------------------


def sentences_of(lengths: list[int]) -> list[Sentence]:
    """Sentences of the given lengths, one per line."""
    out, pos = [], 0
    for n, length in enumerate(lengths, 1):
        out.append(Sentence(number=n, start=pos, end=pos + length, line=n, text="x" * length))
        pos += length + 1
    return out


def check_windows(windows: list[Any], sentences: list[Sentence], overlap: int) -> None:
    numbers = [[s.number for s in w] for w in windows]
    assert all(w for w in numbers)
    assert all(w == list(range(w[0], w[-1] + 1)) for w in numbers)  # contiguous
    assert numbers[0][0] == 1 and numbers[-1][-1] == len(sentences)
    covered = sorted({n for w in numbers for n in w})
    assert covered == [s.number for s in sentences]
    for a, b in itertools.pairwise(numbers):
        assert b[0] == max(a[-1] + 1 - overlap, a[0] + 1)  # shares overlap, always moves on


def test_one_window_when_it_fits() -> None:
    sentences = sentences_of([50] * 10)
    windows = sentence_windows(sentences, 500, 2)
    assert len(windows) == 1
    assert list(windows[0]) == sentences


def test_overlapping_windows_cover_every_sentence() -> None:
    sentences = sentences_of([40, 70, 30, 90, 50, 60, 20, 80, 45, 55, 65, 35, 75, 25])
    windows = sentence_windows(sentences, 200, 2)
    assert len(windows) > 3
    check_windows(windows, sentences, 2)
    for w in windows:
        assert sum(len(s.text) for s in w) <= 200
    for a, b in itertools.pairwise(windows):
        assert [s.number for s in a][-2:] == [s.number for s in b][:2]  # overlap of 2


def test_windows_fill_up_to_the_limit() -> None:
    windows = sentence_windows(sentences_of([100] * 10), 300, 1)
    assert [[s.number for s in w] for w in windows] == [
        [1, 2, 3],
        [3, 4, 5],
        [5, 6, 7],
        [7, 8, 9],
        [9, 10],
    ]


def test_over_long_sentence_is_a_window_of_its_own() -> None:
    sentences = sentences_of([30, 30, 900, 30, 30])
    windows = sentence_windows(sentences, 100, 1)
    numbers = [[s.number for s in w] for w in windows]
    assert [3] in numbers
    check_windows(windows, sentences, 1)
    only = sentence_windows(sentences_of([900]), 100, 2)
    assert [[s.number for s in w] for w in only] == [[1]]


def test_overlap_larger_than_a_window_still_terminates() -> None:
    sentences = sentences_of([90] * 6)
    windows = sentence_windows(sentences, 100, 5)
    assert [[s.number for s in w] for w in windows] == [[n] for n in range(1, 7)]


def test_no_sentences_no_windows() -> None:
    assert sentence_windows([], 100, 2) == []


# --- the user prompt -----------------------------------------------------------------------------


def test_user_prompt_shows_every_sentence_numbered(seed: Source) -> None:
    prompt = render_user_prompt(seed.sentences, seed.published)
    shown = SHOWN.findall(prompt)
    assert [int(n) for n, _ in shown] == [s.number for s in seed.sentences]
    for (_, text), sentence in zip(shown, seed.sentences, strict=True):
        assert text == sentence.text.replace("\n", " ")
    assert f"[5] {seed.sentences[4].text}" in prompt


def test_user_prompt_keeps_global_numbers_of_a_window(seed: Source) -> None:
    prompt = render_user_prompt(seed.sentences[9:12], seed.published)
    assert [int(n) for n, _ in SHOWN.findall(prompt)] == [10, 11, 12]


def test_user_prompt_puts_a_multiline_sentence_on_one_line() -> None:
    text = "Ministers of Japan and Australia met in\nCanberra on Friday to talk.\n"
    sentences = [Sentence(number=1, start=0, end=len(text) - 1, line=1, text=text[:-1])]
    prompt = render_user_prompt(sentences, None)
    assert "[1] Ministers of Japan and Australia met in Canberra on Friday to talk." in prompt


def test_user_prompt_calendar(seed: Source) -> None:
    assert seed.published == "2023-12-07"
    prompt = render_user_prompt(seed.sentences, "2023-12-07")
    lines = prompt.splitlines()
    published = next(line for line in lines if line.startswith("Publication date:"))
    assert "2023-12-07" in published and "Thursday" in published
    after = next(line for line in lines if line.startswith("Days after it"))
    before = next(line for line in lines if line.startswith("Days before it"))
    assert "Saturday = 2023-12-09" in after
    assert "Friday = 2023-12-08" in after
    assert "Wednesday = 2023-12-06" in before
    assert "Friday = 2023-12-01" in before
    assert "2023-12-09" not in before and "2023-12-06" not in after


def test_user_prompt_across_a_month_and_year_end() -> None:
    prompt = render_user_prompt(sentences_of([10]), "2024-12-30")
    assert "(Monday)" in prompt
    assert "Wednesday = 2025-01-01" in prompt


def test_user_prompt_without_publication_date(seed: Source) -> None:
    prompt = render_user_prompt(seed.sentences[:3], None)
    assert "Publication date: unknown" in prompt
    assert "Days after it" not in prompt


# --- extract + ground on a real seed -------------------------------------------------------------

SEED_REPLY = {
    "furniture": [1, 2, 3, 4, *range(16, 41)],
    "events": [
        draft(),
        draft(
            evidence=[9],
            type="AGREE",
            subtype="agreement",
            summary="The three countries agreed to block illegal North Korean IT workers.",
        ),
        draft(
            evidence=[15],
            subtype="security advisers' meeting",
            summary="National security advisers of the three countries will meet in Seoul.",
            location="Seoul, South Korea",
            date="2023-12-08",
            status="planned",
        ),
        draft(
            evidence=[11, 7, 7],
            type="AGREE",
            subtype="summit agreement",
            summary="The leaders agreed at Camp David to beef up trilateral cooperation.",
            location="Camp David, United States",
            date="2023-08",
            date_basis="stated",
            role="background",
        ),
    ],
}


def test_extract_and_ground_seed(fake_openai: FakeOpenAI, seed: Source) -> None:
    settings = make_settings(fake_openai.base_url)
    fake_openai.push(Reply.json(SEED_REPLY, usage=(900, 300)))
    extraction = extract(llm.make_client(settings), settings, seed)

    assert len(fake_openai.requests) == 1  # a short source is one request
    body = fake_openai.requests[0]
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert shown_numbers(body) == list(range(1, 41))
    assert "Publication date: 2023-12-07 (Thursday)" in body["messages"][1]["content"]
    assert body["response_format"]["json_schema"]["name"] == "ExtractionReply"

    assert extraction.source_id == seed.id
    assert extraction.usage.requests == 1
    assert extraction.usage.prompt_tokens == 900
    assert extraction.reply.furniture == sorted(SEED_REPLY["furniture"])
    assert len(extraction.reply.events) == 4

    assert seed.verbatim
    grounded = ground(extraction, seed, seed.path)
    assert (grounded.unsupported, grounded.realigned) == (0, 0)
    events = grounded.events
    assert len(events) == 4
    assert all(ev.alignment == "as_cited" for ev in events)
    file_text = Path(seed.path).read_text(encoding="utf-8")
    for ev in events:
        assert ev.source_id == seed.id
        assert ev.citations
        for c in ev.citations:
            assert c.source_id == seed.id
            assert seed.text[c.start : c.end] == c.quote
            assert Path(c.file).read_text(encoding="utf-8")[c.start : c.end] == c.quote
            assert c.line == file_text.count("\n", 0, c.start) + 1
            assert c.quote in file_text.splitlines()[c.line - 1]

    talks, agreed, planned, background = events
    assert talks.citations[0].quote.startswith("South Korea, the US and Japan held their first")
    assert talks.citations[0].line == 8
    assert talks.location == "Tokyo, Japan" and talks.date == "2023-12-07"
    assert [a.normalized for a in talks.actors] == ["South Korea", "United States"]
    assert agreed.citations[0].quote.startswith("They also agreed to boost cooperation")
    assert agreed.citations[0].line == 16
    assert planned.status == "planned" and planned.citations[0].line == 28
    # Evidence [11, 7, 7]: one citation per sentence, in reading order.
    assert [c.line for c in background.citations] == [12, 20]
    assert background.citations[0].quote.startswith("The dialogue was launched")
    assert background.role == "background" and background.date_basis == "stated"
    assert len({ev.id for ev in events}) == 4
    assert all(re.fullmatch(r"ev_[0-9a-f]{12}", ev.id) for ev in events)


def test_extract_drops_evidence_nothing_supports_without_a_reask(
    fake_openai: FakeOpenAI, seed: Source
) -> None:
    settings = make_settings(fake_openai.base_url)
    # Sentence 41 does not exist and no sentence states the summary: the repair drops the
    # event and counts it, instead of paying for a re-ask.
    bad = {"furniture": [1], "events": [draft(evidence=[41], summary=UNSUPPORTED), draft()]}
    fake_openai.push(Reply.json(bad))
    extraction = extract(llm.make_client(settings), settings, seed)
    assert len(fake_openai.requests) == 1
    assert [e.evidence for e in extraction.reply.events] == [[5]]
    assert extraction.unsupported == 1 and extraction.realigned == 0


def test_an_occurred_event_dated_after_publication_becomes_planned(
    fake_openai: FakeOpenAI, seed: Source
) -> None:
    # Published 2023-12-07; "will meet in Seoul … on Saturday" cannot have occurred on the 9th.
    settings = make_settings(fake_openai.base_url)
    summary = "The national security advisers of the three countries will meet in Seoul."
    bad = {"furniture": [1], "events": [draft(date="2023-12-09", evidence=[15], summary=summary)]}
    fake_openai.push(Reply.json(bad))
    extraction = extract(llm.make_client(settings), settings, seed)
    assert len(fake_openai.requests) == 1
    [event] = extraction.reply.events
    assert (event.status, event.date) == ("planned", "2023-12-09")


def test_the_validator_still_rejects_occurred_after_publication() -> None:
    bad = {"furniture": [], "events": [draft(date="2023-12-09")]}
    with pytest.raises(ValidationError, match="after the publication date 2023-12-07"):
        ExtractionReply.model_validate(
            bad, context={"sentence_numbers": set(range(1, 41)), "published": "2023-12-07"}
        )


# --- cite, ground, event_id ----------------------------------------------------------------------


def test_cite_a_sentence(seed: Source) -> None:
    c = cite(seed, 5, "some/file.txt")
    sentence = seed.sentences[4]
    assert (c.start, c.end, c.line, c.quote) == (sentence.start, sentence.end, 8, sentence.text)
    assert c.file == "some/file.txt" and c.source_id == seed.id


@pytest.mark.parametrize("number", [0, -1, 41, 1000])
def test_cite_refuses_a_missing_sentence(seed: Source, number: int) -> None:
    assert len(seed.sentences) == 40
    with pytest.raises(GroundingError):
        cite(seed, number, seed.path)


def test_ground_refuses_another_sources_extraction(seed: Source) -> None:
    reply = ExtractionReply.model_validate(SEED_REPLY)
    extraction = Extraction(source_id="0" * 64, reply=reply, usage={})
    with pytest.raises(GroundingError):
        ground(extraction, seed, seed.path)


def test_ground_refuses_evidence_past_the_end(seed: Source) -> None:
    # Without a context the reply model cannot know the source; grounding still refuses.
    reply = ExtractionReply.model_validate({"furniture": [], "events": [draft(evidence=[99])]})
    extraction = Extraction(source_id=seed.id, reply=reply, usage={})
    with pytest.raises(GroundingError, match="99"):
        ground(extraction, seed, seed.path)


def test_event_id_is_stable_and_content_addressed(seed: Source) -> None:
    a = EventDraft.model_validate(draft())
    same = EventDraft.model_validate(json.loads(json.dumps(draft())))
    assert event_id(seed.id, a) == event_id(seed.id, a) == event_id(seed.id, same)
    assert re.fullmatch(r"ev_[0-9a-f]{12}", event_id(seed.id, a))
    changed = EventDraft.model_validate(draft(summary="Some other ministers met somewhere else."))
    assert event_id(seed.id, changed) != event_id(seed.id, a)
    assert event_id(seed.id, EventDraft.model_validate(draft(evidence=[6]))) != event_id(seed.id, a)
    assert event_id("f" * 64, a) != event_id(seed.id, a)


def test_ground_ids_repeat_across_runs(seed: Source) -> None:
    reply = ExtractionReply.model_validate(SEED_REPLY)
    extraction = Extraction(source_id=seed.id, reply=reply, usage={})
    first = ground(extraction, seed, seed.path).events
    again = ground(extraction, seed, seed.path).events
    assert [e.id for e in first] == [e.id for e in again]
    assert first == again


def test_ground_realigns_a_wrong_sentence_number(seed: Source) -> None:
    summary = "National security advisers of the three countries will meet in Seoul."
    wrong = draft(evidence=[5], summary=summary, status="planned", date="2023-12-08")
    reply = ExtractionReply.model_validate({"furniture": [1, 2], "events": [wrong]})
    grounded = ground(Extraction(source_id=seed.id, reply=reply, usage={}), seed, seed.path)
    assert (grounded.realigned, grounded.unsupported) == (1, 0)
    (event,) = grounded.events
    assert event.alignment == "realigned"
    assert [c.line for c in event.citations] == [28]  # sentence 15, which says it
    assert event.citations[0].quote == seed.sentences[14].text


def test_ground_drops_an_unsupported_event_and_never_cites_furniture(seed: Source) -> None:
    guterres = draft(
        evidence=[5], summary="Guterres formally referred Gaza to the UN Security Council."
    )
    unrelated = draft(evidence=[5], summary="Brazilian farmers harvested record soybean crops.")
    reply = ExtractionReply.model_validate(
        {"furniture": [16, 17, 18, 19, 20], "events": [draft(), guterres, unrelated]}
    )
    grounded = ground(Extraction(source_id=seed.id, reply=reply, usage={}), seed, seed.path)
    assert grounded.unsupported == 2
    assert [e.summary for e in grounded.events] == [draft()["summary"]]
    # Had sentence 18 not been furniture, the Guterres event would have moved there.
    reply = ExtractionReply.model_validate({"furniture": [], "events": [guterres]})
    grounded = ground(Extraction(source_id=seed.id, reply=reply, usage={}), seed, seed.path)
    assert [c.line for e in grounded.events for c in e.citations] == [34]


def test_ground_keeps_one_of_identical_drafts(seed: Source) -> None:
    reply = ExtractionReply.model_construct(furniture=[], events=[EventDraft(**draft())] * 2)
    extraction = Extraction.model_construct(source_id=seed.id, reply=reply)
    assert len(ground(extraction, seed, seed.path).events) == 1


# --- a long source, sent in windows --------------------------------------------------------------

COUNTRIES = ["Japan", "Korea", "Chile", "Kenya", "Peru", "Spain", "Egypt", "Nepal", "Ghana"]


def long_source(tmp_path: Path, count: int = 24) -> Source:
    lines = ["March 3, 2024"]
    for k in range(2, count + 1):
        country = COUNTRIES[k % len(COUNTRIES)]
        lines.append(
            f"In item {k}, officials of {country} met their partners for round {k} of talks."
        )
    path = tmp_path / "long.txt"
    path.write_text("\n\n".join(lines) + "\n", encoding="utf-8")
    source = read_source(path)
    assert len(source.sentences) == count
    assert source.published == "2024-03-03"
    return source


UNSUPPORTED = "Zanzibar bakers juggled pineapples quietly at dawn."


def window_event(number: int, *, summary: str | None = None) -> dict[str, Any]:
    return draft(
        evidence=[number],
        subtype="talks",
        summary=summary or f"Officials met for round {number} of talks.",
        location=None,
        date="2024-03-01",
    )


def first_cited(shown: list[int]) -> int:
    """The sentence a window's scripted event cites: its first that is not the date line."""
    return shown[1] if shown[0] == 1 else shown[0]


SHARED = "Officials met for a round of talks reported twice."


def test_long_source_is_sent_in_windows_and_merged(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    source = long_source(tmp_path)
    settings = make_settings(fake_openai.base_url, window_chars=400, window_overlap=2)
    windows = sentence_windows(source.sentences, 400, 2)
    assert 3 <= len(windows) <= 9  # the scenario needs several windows and at most 10 events
    shared_sentence = windows[0][-1].number  # in the overlap of the first two windows
    assert shared_sentence in [s.number for s in windows[1]]

    def respond(body: dict[str, Any]) -> Reply:
        shown = shown_numbers(body)
        events = [window_event(first_cited(shown))]
        if shared_sentence in shown:  # both windows report it, word for word
            events.append(window_event(shared_sentence, summary=SHARED))
        furniture = [1] if 1 in shown else []
        return Reply.json({"furniture": furniture, "events": events}, usage=(100, 10))

    fake_openai.respond_with(respond)
    extraction = extract(llm.make_client(settings), settings, source)

    sent = [shown_numbers(body) for body in fake_openai.requests]
    assert sent == [[s.number for s in w] for w in windows]
    assert sent[1][0] > 1  # numbers are global, not restarted per window
    assert sorted({n for numbers in sent for n in numbers}) == list(range(1, 25))
    for body, numbers in zip(fake_openai.requests, sent, strict=True):
        user = body["messages"][1]["content"]
        assert "Publication date: 2024-03-03 (Sunday)" in user
        for n in numbers:
            assert f"[{n}] {source.sentences[n - 1].text}" in user

    assert extraction.usage.requests == len(windows)
    assert extraction.usage.prompt_tokens == 100 * len(windows)
    assert extraction.reply.furniture == [1]
    evidence = [e.evidence for e in extraction.reply.events]
    firsts = [[first_cited([s.number for s in w])] for w in windows]
    assert evidence == [firsts[0], [shared_sentence], *firsts[1:]]
    assert [e.summary for e in extraction.reply.events].count(SHARED) == 1

    events = ground(extraction, source, source.path).events
    assert len(events) == len(windows) + 1
    for ev in events:
        for c in ev.citations:
            assert source.text[c.start : c.end] == c.quote
            assert Path(c.file).read_text(encoding="utf-8")[c.start : c.end] == c.quote


def test_window_evidence_outside_the_window_is_moved_or_dropped(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    source = long_source(tmp_path, count=12)
    settings = make_settings(fake_openai.base_url, window_chars=400, window_overlap=1)
    windows = sentence_windows(source.sentences, 400, 1)
    assert len(windows) >= 2
    second = [s.number for s in windows[1]]
    target = second[-1]
    country = COUNTRIES[target % len(COUNTRIES)]
    fake_openai.push(
        Reply.json({"furniture": [], "events": [window_event(2)]}),
        # Window 2 does not show sentence 2. One event's summary states a sentence it does
        # show (moved there); the other's states nothing (dropped). No re-ask either way.
        Reply.json(
            {
                "furniture": [],
                "events": [
                    window_event(
                        2, summary=f"Officials of {country} met their partners for talks."
                    ),
                    window_event(2, summary=UNSUPPORTED),
                ],
            }
        ),
    )
    fake_openai.respond_with(
        lambda body: Reply.json({"furniture": [], "events": [window_event(shown_numbers(body)[0])]})
    )
    extraction = extract(llm.make_client(settings), settings, source)
    assert len(fake_openai.requests) == len(windows)
    evidence = [e.evidence for e in extraction.reply.events]
    assert [2] in evidence and [target] in evidence
    assert extraction.realigned >= 1 and extraction.unsupported == 1


# The merged reply is the union of several windows' answers: one answer's limits (ten events)
# must not apply to it, and the windows need not agree on furniture.


def test_windows_may_together_report_more_than_ten_events(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    source = long_source(tmp_path, count=30)
    settings = make_settings(fake_openai.base_url, window_chars=400, window_overlap=2)
    windows = sentence_windows(source.sentences, 400, 2)
    fake_openai.respond_with(
        lambda body: Reply.json(
            {
                "furniture": [],
                "events": [window_event(n) for n in shown_numbers(body) if n != 1][:3],
            }
        )
    )
    extraction = extract(llm.make_client(settings), settings, source)
    expected = {n for w in windows for n in [s.number for s in w if s.number != 1][:3]}
    assert len(expected) > 10
    assert sorted(e.evidence[0] for e in extraction.reply.events) == sorted(expected)
    assert len(ground(extraction, source, source.path).events) == len(expected)


def test_windows_may_disagree_about_furniture(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    source = long_source(tmp_path, count=24)
    settings = make_settings(fake_openai.base_url, window_chars=400, window_overlap=2)
    windows = sentence_windows(source.sentences, 400, 2)
    overlap = windows[0][-1].number

    def respond(body: dict[str, Any]) -> Reply:
        shown = shown_numbers(body)
        if shown[0] == 1:  # the first window cites the overlap sentence...
            return Reply.json({"furniture": [], "events": [window_event(overlap)]})
        # ...the second calls it furniture.
        furniture = [overlap] if overlap in shown else []
        return Reply.json({"furniture": furniture, "events": [window_event(shown[-1])]})

    fake_openai.respond_with(respond)
    extraction = extract(llm.make_client(settings), settings, source)
    furniture = set(extraction.reply.furniture)
    assert all(n not in furniture for e in extraction.reply.events for n in e.evidence)


# --- model-level validators ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"date": "2023-13-45"}, "should match pattern"),
        ({"date": "2023-02-30"}, "day is out of range"),
        ({"date": "23-12-07"}, "should match pattern"),
        ({"date": None, "date_basis": "stated"}, "date is null exactly when"),
        ({"date": "2023-12-07", "date_basis": "none"}, "date is null exactly when"),
        ({"evidence": []}, "at least 1 item"),
        ({"evidence": [1, 2, 3, 4]}, "at most 3 items"),
        ({"type": "MEET"}, "Input should be"),
        ({"summary": "Too short"}, "at least 10 characters"),
        ({"actors": []}, "at least 1 item"),
        ({"confidence": 0.9}, "Extra inputs are not permitted"),
        ({"actors": [{"name": "A", "normalized": "A", "country": "B", "x": 1}]}, "Extra inputs"),
    ],
)
def test_event_draft_rejects(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        EventDraft.model_validate(draft(**changes))


@pytest.mark.parametrize(
    ("date", "basis"),
    [("2023-12-07", "stated"), ("2023-12", "stated"), ("2023", "relative"), (None, "none")],
)
def test_event_draft_accepts(date: str | None, basis: str) -> None:
    assert EventDraft.model_validate(draft(date=date, date_basis=basis)).date == date


def test_event_draft_is_immutable() -> None:
    event = EventDraft.model_validate(draft())
    with pytest.raises(ValidationError):
        event.summary = "changed"  # type: ignore[misc]


CONTEXT = {"sentence_numbers": set(range(1, 41)), "published": "2023-12-07"}


def reply_with(*events: dict[str, Any], furniture: list[int] | None = None) -> dict[str, Any]:
    return {"furniture": furniture or [], "events": list(events)}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (reply_with(draft(date="2023-12-08")), "after the publication date 2023-12-07"),
        (reply_with(draft(date="2024")), "after the publication date"),
        (
            reply_with(draft(date="2023-12-08", evidence=[41])),
            "evidence sentence 41 does not exist",
        ),
        (reply_with(draft(evidence=[0])), "evidence sentence 0 does not exist"),
        (
            reply_with(draft(evidence=[3]), furniture=[3]),
            "evidence sentence 3 is listed in furniture",
        ),
        ({**reply_with(draft()), "notes": "x"}, "Extra inputs are not permitted"),
        (reply_with(*[draft()] * 11), "at most 8 items"),
    ],
)
def test_extraction_reply_rejects(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ExtractionReply.model_validate(data, context=CONTEXT)


def test_extraction_reply_lists_every_problem() -> None:
    data = reply_with(draft(evidence=[41]), draft(evidence=[2], date="2023-12-31"), furniture=[2])
    with pytest.raises(ValidationError) as caught:
        ExtractionReply.model_validate(data, context=CONTEXT)
    text = str(caught.value)
    assert "events[0]: evidence sentence 41 does not exist" in text
    assert "events[1]: evidence sentence 2 is listed in furniture" in text
    assert "events[1]: status 'occurred' but dated 2023-12-31" in text


@pytest.mark.parametrize(
    "changes",
    [
        {"date": "2023-12-08", "status": "planned"},  # the future is fine when planned
        {"date": "2023-12-07"},  # the publication day itself
        {"date": "2023-12", "date_basis": "stated"},  # a month that starts before publication
        {"date": "2023", "date_basis": "stated"},
        {"date": None, "date_basis": "none"},
    ],
)
def test_extraction_reply_accepts(changes: dict[str, Any]) -> None:
    reply = ExtractionReply.model_validate(reply_with(draft(**changes)), context=CONTEXT)
    assert len(reply.events) == 1


def test_extraction_reply_without_context_skips_source_checks() -> None:
    data = reply_with(draft(evidence=[99], date="2030-01-01"))
    assert ExtractionReply.model_validate(data).events[0].evidence == [99]
    with pytest.raises(ValidationError, match="furniture"):  # furniture needs no context
        ExtractionReply.model_validate(reply_with(draft(evidence=[3]), furniture=[3]))


def citation(**changes: Any) -> dict[str, Any]:
    base = {"source_id": "s", "file": "f.txt", "start": 10, "end": 15, "line": 1, "quote": "hello"}
    return {**base, **changes}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"end": 10, "quote": ""}, "does not match its quote"),
        ({"end": 9}, "does not match its quote"),
        ({"quote": "hell"}, "does not match its quote"),
        ({"start": -1, "end": 4}, "greater than or equal to 0"),
        ({"line": 0}, "greater than or equal to 1"),
        ({"page": 3}, "Extra inputs are not permitted"),
    ],
)
def test_citation_rejects(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Citation.model_validate(citation(**changes))


def test_citation_accepts_a_matching_span() -> None:
    assert Citation.model_validate(citation()).quote == "hello"


@pytest.mark.parametrize(
    ("value", "first", "last"),
    [
        ("2024-02", "2024-02-01", "2024-02-29"),
        ("2023-02", "2023-02-01", "2023-02-28"),
        ("2023-12", "2023-12-01", "2023-12-31"),
        ("2023", "2023-01-01", "2023-12-31"),
        ("2023-12-07", "2023-12-07", "2023-12-07"),
    ],
)
def test_parse_partial_date(value: str, first: str, last: str) -> None:
    a, b = parse_partial_date(value)
    assert (a.isoformat(), b.isoformat()) == (first, last)


def test_sentences_of_real_text_window_like_synthetic_ones() -> None:
    text = " ".join(f"Sentence number {k} is here." for k in range(1, 30))
    sentences = split_sentences(text)
    windows = sentence_windows(sentences, 120, 2)
    check_windows(windows, sentences, 2)
    assert len(windows) > 3


def test_wrong_evidence_is_repaired_without_a_reask(fake_openai: FakeOpenAI, seed: Source) -> None:
    # Seed 001: sentence 5 states the Tokyo talks; the model cites 9 (the IT-workers
    # agreement), a wrong number. Sentence 26 is the "UAE receives first Rafale jet" teaser,
    # which it marks furniture and yet restates as an event: that event must go, without
    # paying for a re-ask.
    talks = draft(
        evidence=[9],
        summary="South Korea, the US and Japan held their first trilateral working-level talks "
        "on cooperation against North Korea's cyber threats.",
    )
    teaser = draft(evidence=[26], summary="The UAE received its first Rafale jet.")
    fake_openai.push(Reply.json({"furniture": [2, 26], "events": [talks, teaser]}))
    settings = make_settings(fake_openai.base_url)
    extraction = extract(llm.make_client(settings), settings, seed)
    assert len(fake_openai.requests) == 1
    assert [e.evidence for e in extraction.reply.events] == [[5]]
    [event] = ground(extraction, seed, seed.path).events
    assert event.citations[0].quote.startswith("South Korea, the US and Japan held")


def test_cut_off_replies_keep_their_complete_events(fake_openai: FakeOpenAI, seed: Source) -> None:
    # Every answer is cut off by the token limit: the complete events of the last one are kept.
    whole = json.dumps({"furniture": [2], "events": [draft(), draft(evidence=[6])]})
    cut = whole[: whole.rindex('{"evidence"') + 30]
    for _ in range(3):
        fake_openai.push(Reply.text(cut, finish_reason="length"))
    settings = make_settings(fake_openai.base_url)
    extraction = extract(llm.make_client(settings), settings, seed)
    assert extraction.salvaged
    assert [e.evidence for e in extraction.reply.events] == [[5]]
    assert 2 in extraction.reply.furniture


def test_complete_events_prefix_handles_strings_with_brackets() -> None:
    text = '{"furniture":[1],"events":[{"a":"x}]\\"","b":[1]},{"a":"y"},{"a":"cut'
    assert json.loads(complete_events_prefix(text) or "") == {
        "furniture": [1],
        "events": [{"a": 'x}]"', "b": [1]}, {"a": "y"}],
    }
    assert complete_events_prefix('{"furniture":[1,2') is None


def test_a_furniture_list_covering_the_whole_article_is_not_believed(
    fake_openai: FakeOpenAI, seed: Source
) -> None:
    everything = [s.number for s in seed.sentences]
    fake_openai.push(Reply.json({"furniture": everything, "events": [draft()]}))
    settings = make_settings(fake_openai.base_url)
    extraction = extract(llm.make_client(settings), settings, seed)
    assert len(fake_openai.requests) == 1
    assert [e.evidence for e in extraction.reply.events] == [[5]]
    assert 5 not in extraction.reply.furniture


def test_page_markers_mark_furniture_without_a_model(tmp_path: Path) -> None:
    page = tmp_path / "page.txt"
    page.write_text(
        "Ministers met in Lima on Friday to discuss trade.\n\n"
        "Also Read: Markets rally on rate hopes\n\n"
        "They agreed to meet again in June.\n\n"
        "Previous Story\n\n"
        "Storm hits the coast, three dead\n\n"
        "Officials said on Monday that roads reopened.\n",
        encoding="utf-8",
    )
    source = read_source(page)
    texts = {s.number: s.text for s in source.sentences}
    marked = {texts[n] for n in marked_furniture(source.sentences)}
    assert marked == {
        "Also Read: Markets rally on rate hopes",
        "Previous Story",
        "Storm hits the coast, three dead",
        "Officials said on Monday that roads reopened.",
    }


def test_events_from_marked_furniture_are_dropped_even_when_the_model_missed_it(
    fake_openai: FakeOpenAI, seed: Source
) -> None:
    # Seed 001: the model lists no furniture and reports the Chad teaser (sentence 25) as news.
    chad = draft(
        type="RETREAT",
        summary="Chad announced the end of its security and defence cooperation with France.",
        evidence=[25],
    )
    fake_openai.push(Reply.json({"events": [draft(), chad], "furniture": []}))
    settings = make_settings(fake_openai.base_url)
    extraction = extract(llm.make_client(settings), settings, seed)
    assert [e.evidence for e in extraction.reply.events] == [[5]]
    assert extraction.furniture_events == 1
    assert 25 in extraction.reply.furniture and 40 in extraction.reply.furniture
