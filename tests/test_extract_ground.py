"""Extraction (what the model is shown, windows, the user prompt, repairs, requests) and
grounding (exact citations).

Most tests need no model; the ``extract`` tests drive the real ``openai`` client against the fake
server with scripted replies.
"""

from __future__ import annotations

import json
import math
import random
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fakeserver import FakeOpenAI, Reply
from pydantic import ValidationError

from briefing import llm
from briefing.config import LOCAL_WINDOW_CHARS, BriefSpec, Settings
from briefing.errors import InvalidReply
from briefing.extract.extraction import (
    ExtractionProgress,
    complete_events_prefix,
    extract,
    prepare,
    render_user_prompt,
    salvage,
    same_event,
    sentence_windows,
)
from briefing.extract.ground import GroundingError, cite, event_id, ground
from briefing.extract.repair import RepairLog, repair_reply
from briefing.models import (
    MAX_EVENTS_PER_WINDOW,
    Citation,
    EventDraft,
    Extraction,
    ExtractionReply,
    Sentence,
    Source,
    Usage,
    parse_partial_date,
)
from briefing.read.furniture import furniture, headline_sentences
from briefing.read.sentences import split_sentences
from briefing.read.sources import read_source

SEEDS = sorted((Path(__file__).parent.parent / "seeds").glob("*.txt"))
SEED_001 = SEEDS[1]
SHOWN = re.compile(r"^\[(\d+)\] (.*)$", re.M)
# Seed 001: what the model is shown (sentences 4-15) and what it never sees.
SEED_001_SHOWN = list(range(4, 16))
SEED_001_FURNITURE = (1, 2, *range(16, 41))  # date line, "2 mins read", everything from ALSO READ
SEED_001_HEADLINE = 3


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


TALKS = "South Korea, the US and Japan held working-level talks in Tokyo on cyber threats."


def draft(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "type": "CONSULT",
        "summary": TALKS,
        "evidence": [5],
        "actors": ["South Korea", "United States"],
        "location": "Tokyo, Japan",
        "date": "2023-12-07",
        "status": "occurred",
        "role": "main",
    }
    return {**base, **changes}


def shown_numbers(body: dict[str, Any]) -> list[int]:
    """Sentence numbers shown in the user message of a request (the system prompt has examples)."""
    return [int(n) for n, _ in SHOWN.findall(body["messages"][1]["content"])]


def numbers(windows: list[Any]) -> list[list[int]]:
    return [[s.number for s in w] for w in windows]


# --- sentence windows ----------------------------------------------------------------------------


def sentences_of(lengths: list[int]) -> list[Sentence]:
    """Sentences of the given lengths, one per line."""
    out, pos = [], 0
    for n, length in enumerate(lengths, 1):
        out.append(Sentence(number=n, start=pos, end=pos + length, line=n, text="x" * length))
        pos += length + 1
    return out


def chars(window: Any) -> int:
    return sum(len(s.text) for s in window)


def check_windows(windows: list[Any], sentences: list[Sentence]) -> None:
    """Every sentence in exactly one window, in reading order: none lost, none repeated."""
    assert all(windows)
    assert [n for w in numbers(windows) for n in w] == [s.number for s in sentences]


@pytest.mark.parametrize("max_chars", [500, 501, 5000])
def test_one_window_when_it_fits(max_chars: int) -> None:
    sentences = sentences_of([50] * 10)  # 500 characters
    windows = sentence_windows(sentences, max_chars)
    assert len(windows) == 1
    assert list(windows[0]) == sentences


def test_one_character_too_many_makes_two_even_windows() -> None:
    windows = sentence_windows(sentences_of([50] * 10), 499)
    assert numbers(windows) == [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]]


def test_seventeen_sentences_are_not_split_sixteen_and_one() -> None:
    # 1,700 characters with room for 1,600 a window: two windows, as even as they can be.
    sentences = sentences_of([100] * 17)
    windows = sentence_windows(sentences, 1600)
    check_windows(windows, sentences)
    assert sorted(len(w) for w in windows) == [8, 9]
    assert all(chars(w) <= 1600 for w in windows)


@pytest.mark.parametrize(
    ("count", "length", "max_chars"),
    [(10, 100, 300), (17, 100, 1600), (24, 60, 400), (40, 97, 1400), (7, 200, 650)],
)
def test_equal_sentences_make_the_fewest_even_windows(
    count: int, length: int, max_chars: int
) -> None:
    sentences = sentences_of([length] * count)
    windows = sentence_windows(sentences, max_chars)
    check_windows(windows, sentences)
    assert len(windows) == math.ceil(count * length / max_chars)  # the fewest that fit
    sizes = [len(w) for w in windows]
    assert max(sizes) - min(sizes) <= 1
    assert all(chars(w) <= max_chars for w in windows)


@pytest.mark.parametrize("max_chars", [200, 400, 1400, 6000])
def test_uneven_sentences_are_all_kept_in_the_fewest_windows(max_chars: int) -> None:
    rng = random.Random(max_chars)
    for _ in range(50):
        # Sentences of up to a third of a window: as many windows as the characters need.
        lengths = [rng.randint(20, max_chars // 3) for _ in range(rng.randint(1, 60))]
        sentences = sentences_of(lengths)
        windows = sentence_windows(sentences, max_chars)
        check_windows(windows, sentences)
        assert len(windows) == math.ceil(sum(lengths) / max_chars)
        # Longer sentences than that: never more windows than that, and none lost.
        lengths = [rng.randint(20, 2 * max_chars) for _ in range(rng.randint(1, 30))]
        sentences = sentences_of(lengths)
        windows = sentence_windows(sentences, max_chars)
        check_windows(windows, sentences)
        assert len(windows) <= math.ceil(sum(lengths) / max_chars)


def test_an_over_long_sentence_is_kept_whole() -> None:
    sentences = sentences_of([30, 30, 900, 30, 30])
    windows = sentence_windows(sentences, 100)
    check_windows(windows, sentences)
    assert any(3 in w for w in numbers(windows))
    assert numbers(sentence_windows(sentences_of([900]), 100)) == [[1]]


def test_no_sentences_no_windows() -> None:
    assert sentence_windows([], 100) == []


def test_sentences_of_real_text_window_like_synthetic_ones() -> None:
    text = " ".join(f"Sentence number {k} is here." for k in range(1, 30))
    sentences = split_sentences(text)
    windows = sentence_windows(sentences, 120)
    check_windows(windows, sentences)
    assert len(windows) == math.ceil(sum(len(s.text) for s in sentences) / 120) > 3


@pytest.mark.parametrize("path", SEEDS, ids=lambda p: p.name[:3])
def test_seeds_are_read_in_local_windows_of_shown_sentences(path: Path) -> None:
    source = read_source(path)
    hidden = furniture(source.sentences) | headline_sentences(source.sentences, source.title)
    shown = [s for s in source.sentences if s.number not in hidden]
    reading = prepare(source, LOCAL_WINDOW_CHARS)
    check_windows(reading.windows, shown)
    total = sum(len(s.text) for s in shown)
    assert len(reading.windows) == math.ceil(total / LOCAL_WINDOW_CHARS) >= 2
    assert all(chars(w) <= LOCAL_WINDOW_CHARS for w in reading.windows)
    # A hosted model reads each seed at once.
    assert numbers(prepare(source, 6000).windows) == [[s.number for s in shown]]


# --- what the model is shown ---------------------------------------------------------------------


def test_prepare_hides_furniture_and_shows_the_headline_unnumbered(seed: Source) -> None:
    reading = prepare(seed, 6000)
    assert reading.headline == seed.title == seed.sentences[SEED_001_HEADLINE - 1].text
    assert numbers(reading.windows) == [SEED_001_SHOWN]
    assert sorted(reading.furniture) == list(SEED_001_FURNITURE)
    # Every sentence is shown, furniture or the headline: exactly one of them.
    assert len(seed.sentences) == len(SEED_001_SHOWN) + len(SEED_001_FURNITURE) + 1


def test_prepare_seed_000_hides_the_breadcrumb_headline_and_the_author_box() -> None:
    source = read_source(SEEDS[0])
    reading = prepare(source, 6000)
    texts = {s.number: s.text for s in source.sentences}
    title = source.title
    assert title and reading.headline == title
    # "HomeWorldAsia" + title and the title itself: neither shown nor counted as furniture.
    assert texts[1] == "HomeWorldAsia" + title and texts[2] == title
    shown = [n for w in numbers(reading.windows) for n in w]
    assert {1, 2}.isdisjoint(shown) and {1, 2}.isdisjoint(reading.furniture)
    assert {texts[n] for n in (10, 15)} == {t for t in texts.values() if t.startswith("Also Read")}
    assert {10, 11, 15, *range(17, 25)} == set(reading.furniture)
    assert texts[17] == "Sabah Khan Tareen" and texts[11] == "Cyber threat"
    assert shown == [3, 4, 5, 6, 7, 8, 9, 12, 13, 14, 16]


def test_prepare_without_a_repeated_headline_shows_no_headline(seed: Source) -> None:
    for title in (None, "A headline the page never repeats"):
        reading = prepare(seed.model_copy(update={"title": title}), 6000)
        assert reading.headline is None
        # The headline line is now an article sentence like the others.
        assert numbers(reading.windows) == [[SEED_001_HEADLINE, *SEED_001_SHOWN]]
        assert sorted(reading.furniture) == list(SEED_001_FURNITURE)


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


def test_user_prompt_shows_the_headline_unnumbered(seed: Source) -> None:
    window, title = seed.sentences[3:6], seed.title
    assert title
    prompt = render_user_prompt(window, seed.published, title)
    headline_lines = [line for line in prompt.splitlines() if title in line]
    assert len(headline_lines) == 1 and not SHOWN.match(headline_lines[0])
    assert [int(n) for n, _ in SHOWN.findall(prompt)] == [4, 5, 6]
    assert title not in render_user_prompt(window, seed.published)
    two_lines = render_user_prompt(window, seed.published, "Talks end\nwith a deal")
    assert "Talks end with a deal" in two_lines


def test_user_prompt_puts_a_multiline_sentence_on_one_line() -> None:
    text = "Ministers of Japan and Australia met in\nCanberra on Friday to talk.\n"
    sentences = [Sentence(number=1, start=0, end=len(text) - 1, line=1, text=text[:-1])]
    prompt = render_user_prompt(sentences, None)
    assert "[1] Ministers of Japan and Australia met in Canberra on Friday to talk." in prompt


def test_user_prompt_states_the_publication_day_before_the_sentences(seed: Source) -> None:
    # Weekdays are resolved in code (dates.weekday_date), so the prompt carries no calendar:
    # only the date and its weekday, before the sentences, the same for every window.
    prompt = render_user_prompt(seed.sentences[3:6], "2023-12-07", "A headline")
    lines = prompt.splitlines()
    assert lines[:3] == [
        "Headline: A headline",
        "Publication date: 2023-12-07 (Thursday).",
        "Sentences:",
    ]
    assert "Days before it" not in prompt and "Days after it" not in prompt
    assert render_user_prompt(seed.sentences[6:8], "2023-12-07", "A headline").startswith(
        "\n".join(lines[:3])
    )


def test_user_prompt_without_publication_date(seed: Source) -> None:
    prompt = render_user_prompt(seed.sentences[:3], None)
    assert "Publication date: unknown" in prompt
    assert "Days after it" not in prompt


# --- extract + ground on a real seed -------------------------------------------------------------

SEED_REPLY = {
    "events": [
        draft(),
        draft(
            evidence=[9],
            type="AGREE",
            summary="The three countries agreed to block illegal North Korean IT workers.",
        ),
        draft(
            evidence=[15],
            summary="National security advisers of the three countries will meet in Seoul.",
            location="Seoul, South Korea",
            date="2023-12-08",
            status="planned",
        ),
        draft(
            evidence=[11, 7, 7],
            type="AGREE",
            summary="The leaders agreed at Camp David to beef up trilateral cooperation.",
            location="Camp David, United States",
            date="2023-08",
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
    user = body["messages"][1]["content"]
    # Only the article's sentences are numbered: no furniture, and the headline unnumbered.
    assert shown_numbers(body) == SEED_001_SHOWN
    assert seed.title and seed.title in user
    assert "Publication date: 2023-12-07 (Thursday)" in user
    assert "Guterres" not in user and "2 mins read" not in user
    assert body["response_format"]["json_schema"]["name"] == "ExtractionReply"

    assert extraction.source_id == seed.id
    assert extraction.usage.requests == 1
    assert extraction.usage.prompt_tokens == 900
    assert extraction.furniture == SEED_001_FURNITURE
    assert len(extraction.reply.events) == 4
    assert (extraction.realigned, extraction.unsupported, extraction.salvaged) == (0, 0, False)

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
    assert talks.actors == ("South Korea", "United States")
    assert agreed.citations[0].quote.startswith("They also agreed to boost cooperation")
    assert agreed.citations[0].line == 16
    assert planned.status == "planned" and planned.citations[0].line == 28
    assert planned.date == "2023-12-08"
    # Evidence [11, 7, 7]: one citation per sentence, in reading order.
    assert [c.line for c in background.citations] == [12, 20]
    assert background.citations[0].quote.startswith("The dialogue was launched")
    assert background.role == "background"
    # How each date was found is worked out from the cited words, not asked of the model:
    # "on Thursday", nothing but the publication day, "On Friday", and "in August" (a month
    # named on its own is written out, even with no year).
    assert [e.date_basis for e in events] == ["relative", "publication", "relative", "stated"]
    assert len({ev.id for ev in events}) == 4
    assert all(re.fullmatch(r"ev_[0-9a-f]{12}", ev.id) for ev in events)


UNSUPPORTED = "Zanzibar bakers juggled pineapples quietly at dawn."
AGREED = "They agreed to block illegal North Korean workers in the IT sector."


def test_extract_drops_evidence_nothing_supports_without_a_reask(
    fake_openai: FakeOpenAI, seed: Source
) -> None:
    settings = make_settings(fake_openai.base_url)
    # Sentence 41 does not exist and no sentence states the summary: the repair drops the
    # event and counts it, instead of paying for a re-ask.
    bad = {"events": [draft(evidence=[41], summary=UNSUPPORTED), draft()]}
    fake_openai.push(Reply.json(bad))
    extraction = extract(llm.make_client(settings), settings, seed)
    assert len(fake_openai.requests) == 1
    assert [e.evidence for e in extraction.reply.events] == [[5]]
    assert extraction.unsupported == 1 and extraction.realigned == 0


def test_wrong_evidence_is_repaired_without_a_reask(fake_openai: FakeOpenAI, seed: Source) -> None:
    # Seed 001: sentence 5 states the Tokyo talks; the model cites 9 (the IT-workers
    # agreement), a wrong number. It also reports the "UAE receives first Rafale jet" teaser
    # (sentence 26), which it was never shown: nothing it was shown states that, so it goes,
    # without paying for a re-ask.
    talks = draft(evidence=[9])
    teaser = draft(evidence=[26], summary="The UAE received its first Rafale jet.")
    fake_openai.push(Reply.json({"events": [talks, teaser]}))
    settings = make_settings(fake_openai.base_url)
    extraction = extract(llm.make_client(settings), settings, seed)
    assert len(fake_openai.requests) == 1
    assert 26 not in shown_numbers(fake_openai.requests[0])
    assert [e.evidence for e in extraction.reply.events] == [[5]]
    assert (extraction.realigned, extraction.unsupported) == (1, 1)
    [event] = ground(extraction, seed, seed.path).events
    assert event.citations[0].quote.startswith("South Korea, the US and Japan held")
    # Moved by the repair before validation, so grounding saw sentence 5 as cited: the event
    # must still say its evidence is not the model's.
    assert event.alignment == "realigned"


def test_evidence_completed_with_a_sentence_stating_the_same_is_labelled(
    fake_openai: FakeOpenAI, seed: Source
) -> None:
    # Seed 001, sentences 4 and 8 both say "During Thursday's meeting, the three sides
    # discussed ways to counter North Korea's cryptocurrency theft": citing one, the event
    # gets the other too, and says so.
    summary = "The three sides discussed ways to counter North Korea's cryptocurrency theft."
    texts = [s.text for s in seed.sentences]
    assert texts[3].startswith("During Thursday") and texts[7].startswith("During Thursday")
    fake_openai.push(Reply.json({"events": [draft(evidence=[4], summary=summary)]}))
    settings = make_settings(fake_openai.base_url)
    extraction = extract(llm.make_client(settings), settings, seed)
    assert [e.evidence for e in extraction.reply.events] == [[4, 8]]
    assert extraction.alignment == {summary: "completed"}
    [event] = ground(extraction, seed, seed.path).events
    assert event.alignment == "completed"
    first, second = event.citations
    assert first.line < second.line


def test_an_event_citing_furniture_it_was_never_shown_is_dropped(
    fake_openai: FakeOpenAI, seed: Source
) -> None:
    # Seed 001: the Chad teaser (sentence 25) comes after "Latest from": never shown, so an
    # event citing it (a model that numbers sentences on its own) cannot survive.
    chad = draft(
        type="RETREAT",
        summary="Chad announced the end of its security and defence cooperation with France.",
        evidence=[25],
    )
    fake_openai.push(Reply.json({"events": [draft(), chad]}))
    settings = make_settings(fake_openai.base_url)
    extraction = extract(llm.make_client(settings), settings, seed)
    assert 25 not in shown_numbers(fake_openai.requests[0])
    assert [e.evidence for e in extraction.reply.events] == [[5]]
    assert extraction.unsupported == 1
    assert {25, 40} <= set(extraction.furniture)
    grounded = ground(extraction, seed, seed.path)
    assert all(c.line != 48 for e in grounded.events for c in e.citations)


def test_an_occurred_event_dated_after_publication_becomes_planned(
    fake_openai: FakeOpenAI,
) -> None:
    # Seed 000, published 2024-04-01: a summit "in July" that the model calls occurred and
    # dates 2024-07 cannot have occurred yet. Repaired to planned, without a re-ask.
    source = read_source(SEEDS[0])
    assert source.published == "2024-04-01"
    settings = make_settings(fake_openai.base_url)
    summary = "The United States plans to host a trilateral summit with Korea and Japan."
    bad = {"events": [draft(date="2024-07", evidence=[3], summary=summary)]}
    fake_openai.push(Reply.json(bad))
    extraction = extract(llm.make_client(settings), settings, source)
    assert len(fake_openai.requests) == 1
    [event] = extraction.reply.events
    assert (event.status, event.date) == ("planned", "2024-07")
    [grounded] = ground(extraction, source, source.path).events
    assert grounded.date_basis == "stated"  # "1 April 2024" is written in the cited sentence


@pytest.mark.parametrize(
    ("date", "expected"),
    [("2024-04-01", "2024-07"), (None, "2024-07"), ("2024-07-10", "2024-07-10")],
)
def test_a_plan_for_a_month_is_not_dated_by_the_dateline(date: str | None, expected: str) -> None:
    # Seed 000's sentence 3: "Tokyo, 1 April 2024 (TDI): The United States plans to host a
    # trilateral summit … in July …". The model dated the plan by its dateline; a date of its
    # own that is not the publication day is kept.
    source = read_source(SEEDS[0])
    summary = "The United States plans to host a trilateral summit with Korea and Japan."
    plan = draft(date=date, evidence=[3], summary=summary, status="planned")
    [event] = repair_reply({"events": [plan]}, source.sentences[:8], None, source.published)[
        "events"
    ]
    assert (event["date"], event["status"]) == (expected, "planned")


def test_a_weekday_of_an_event_wrongly_called_occurred_is_not_moved_into_the_past(
    fake_openai: FakeOpenAI, seed: Source
) -> None:
    # Seed 001, published Thursday 2023-12-07, sentence 15: "On Friday and Saturday, the three
    # countries' national security advisers will meet in Seoul". The model dates it the 9th but
    # calls it occurred: that date is after publication, so it is planned (the 8th or 9th).
    settings = make_settings(fake_openai.base_url)
    summary = "The national security advisers of the three countries will meet in Seoul."
    bad = {"events": [draft(date="2023-12-09", evidence=[15], summary=summary)]}
    fake_openai.push(Reply.json(bad))
    extraction = extract(llm.make_client(settings), settings, seed)
    [event] = extraction.reply.events
    assert event.status == "planned" and event.date in ("2023-12-08", "2023-12-09")


def test_the_validator_still_rejects_occurred_after_publication() -> None:
    context = {"sentence_numbers": set(range(1, 41)), "published": "2023-12-07"}
    bad = {"events": [draft(date="2023-12-09")]}
    with pytest.raises(ValidationError, match="after the publication date 2023-12-07"):
        ExtractionReply.model_validate(bad, context=context)
    # The day after is allowed: a paper dated on Thursday reports Asia's Friday.
    ExtractionReply.model_validate({"events": [draft(date="2023-12-08")]}, context=context)


def test_cut_off_replies_keep_their_complete_events(fake_openai: FakeOpenAI, seed: Source) -> None:
    # Every answer is cut off by the token limit: the complete events of the last one are kept.
    whole = json.dumps({"events": [draft(), draft(evidence=[6])]})
    cut = whole[: whole.rindex('{"type"') + 30]
    for _ in range(3):
        fake_openai.push(Reply.text(cut, finish_reason="length"))
    settings = make_settings(fake_openai.base_url)
    extraction = extract(llm.make_client(settings), settings, seed)
    assert len(fake_openai.requests) == 3
    assert extraction.salvaged
    assert [e.evidence for e in extraction.reply.events] == [[5]]
    assert extraction.furniture == SEED_001_FURNITURE  # found in code, whatever the model does


def test_a_reply_with_no_events_list_fails_the_source(
    fake_openai: FakeOpenAI, seed: Source
) -> None:
    for _ in range(3):
        fake_openai.push(Reply.json({"furniture": [1, 2], "events": "none"}))
    settings = make_settings(fake_openai.base_url)
    with pytest.raises(InvalidReply, match="events"):
        extract(llm.make_client(settings), settings, seed)
    assert len(fake_openai.requests) == 3


# --- repairs that need no model ------------------------------------------------------------------


def test_repair_reply_moves_drops_and_counts(seed: Source) -> None:
    window = seed.sentences[3:15]
    talks = draft(evidence=[9])
    log = RepairLog()
    data = {"events": [talks, draft(evidence=[6], summary=UNSUPPORTED), draft()]}
    repaired = repair_reply(data, window, log, seed.published)
    assert [e["evidence"] for e in repaired["events"]] == [[5], [5]]
    assert (log.moved, log.unsupported) == (1, 1)
    assert data["events"][0]["evidence"] == [9]  # the reply itself is left as it was
    assert RepairLog(1, 2) + RepairLog(3, 4) == RepairLog(4, 6)


def test_repair_reply_leaves_what_it_cannot_read_to_validation(seed: Source) -> None:
    window = seed.sentences[3:15]
    odd = draft(evidence="five")
    assert repair_reply({"events": [odd]}, window)["events"] == [odd]
    assert repair_reply({"events": "none"}, window) == {"events": "none"}
    assert repair_reply(["not", "a", "reply"], window) == ["not", "a", "reply"]


@pytest.mark.parametrize(
    ("changes", "date", "status"),
    [
        ({"date": "2023-08-XX"}, "2023-12-07", "occurred"),  # "on Thursday" wins over the rest
        ({"date": "unknown", "evidence": [9], "summary": AGREED},
         None, "occurred"),
        ({"date": "2023-08-XX", "evidence": [11], "summary": "Biden hosted the summit."},
         "2023-08", "occurred"),
        ({"date": "2023-12-11", "evidence": [9], "summary": AGREED},
         "2023-12-11", "planned"),  # after publication, no weekday: planned
        ({"date": None, "status": "planned", "evidence": [15],
          "summary": "National security advisers will meet in Seoul."}, "2023-12-08", "planned"),
        ({"date": "2023-12-07", "status": "claimed"}, "2023-12-07", "claimed"),
        # Sentence 11 says "at Camp David in August", 15 "On Friday and Saturday": the summary
        # says August and no weekday, so Friday (the 8th, the day after publication) is not its
        # date.
        ({"date": "2023-08-01", "evidence": [11, 15],
          "summary": "The three countries met at Camp David in August."}, "2023-08", "occurred"),
        ({"date": "2023-08-01", "evidence": [11, 15],
          "summary": "The three countries met on Friday after August."}, "2023-12-08", "occurred"),
        # The day after publication is time zones, not the future; two days after is planned.
        ({"date": "2023-12-08", "evidence": [9], "summary": AGREED}, "2023-12-08", "occurred"),
    ],
)  # fmt: skip
def test_repair_reply_dates(
    seed: Source, changes: dict[str, Any], date: str | None, status: str
) -> None:
    repaired = repair_reply(
        {"events": [draft(**changes)]}, seed.sentences[3:15], None, "2023-12-07"
    )
    [event] = repaired["events"]
    assert (event["date"], event["status"]) == (date, status)


def test_repair_reply_drops_placeholder_actors_and_location(seed: Source) -> None:
    event = draft(
        actors=["South Korea", "unknown", " South Korea", "N/A", "Japan"], location="None"
    )
    [repaired] = repair_reply({"events": [event]}, seed.sentences[3:15])["events"]
    assert repaired["actors"] == ["South Korea", "Japan"]
    assert repaired["location"] is None
    kept = draft(location="Tokyo, Japan")
    assert repair_reply({"events": [kept]}, seed.sentences[3:15])["events"][0]["location"] == (
        "Tokyo, Japan"
    )


NSA_MEETING = "The national security advisers of the three countries will meet in Seoul"


@pytest.mark.parametrize(
    ("summary", "expected"),
    [
        # Qwen slipping into Chinese: cut at the first Chinese character, dangling "in" dropped.
        (NSA_MEETING + " to discuss North Korea and其他", NSA_MEETING + " to discuss North Korea…"),
        (NSA_MEETING + " in华盛顿.", NSA_MEETING + "…"),
        # Cut off by the server at the length bound, mid-word: ends at the last whole word.
        (NSA_MEETING + " on Saturday to discuss North Korea's growing military threat and other"
         " regional securit",
         NSA_MEETING + " on Saturday to discuss North Korea's growing military threat and other"
         " regional…"),
        (NSA_MEETING + ".", NSA_MEETING + "."),  # a whole English sentence stays as it is
        # 159 characters, a character short of the bound, after a whole word: cut all the same.
        (NSA_MEETING + " on Saturday to discuss the growing threat of missile tests and the "
         "timing of which led",
         NSA_MEETING + " on Saturday to discuss the growing threat of missile tests and the "
         "timing of which…"),
        # Ended on "of", short of the bound: cut all the same.
        (NSA_MEETING + " to discuss the expansion of North Korea’s weapons of",
         NSA_MEETING + " to discuss the expansion of North Korea’s weapons…"),
        # A sentence that ends at the bound (160 characters) is whole.
        (NSA_MEETING + " on Saturday to discuss the growing threat of missile tests and the "
         "timing of the tests.",
         NSA_MEETING + " on Saturday to discuss the growing threat of missile tests and the "
         "timing of the tests."),
    ],
)  # fmt: skip
def test_repair_reply_ends_broken_summaries_cleanly(
    seed: Source, summary: str, expected: str
) -> None:
    event = draft(summary=summary, evidence=[15], actors=["South Korea", "朝鲜"], location="首尔")
    [repaired] = repair_reply({"events": [event]}, seed.sentences[3:15])["events"]
    assert repaired["summary"] == expected
    assert repaired["actors"] == ["South Korea"] and repaired["location"] is None


def test_an_occurred_event_whose_summary_says_will_is_planned(seed: Source) -> None:
    # Seed 001 sentence 15, "On Friday and Saturday, ... will meet in Seoul", called occurred
    # with no date: planned, and its Friday is the one after publication (Thursday the 7th).
    event = draft(summary=NSA_MEETING + ".", evidence=[15], date=None, status="occurred")
    [repaired] = repair_reply({"events": [event]}, seed.sentences[3:15], None, "2023-12-07")[
        "events"
    ]
    assert (repaired["status"], repaired["date"]) == ("planned", "2023-12-08")
    # Called occurred, its Friday is the day after publication (a paper's date is its own time
    # zone's), not six days before.
    past = draft(summary="The advisers met in Seoul.", evidence=[15], date=None)
    [kept] = repair_reply({"events": [past]}, seed.sentences[3:15], None, "2023-12-07")["events"]
    assert (kept["status"], kept["date"]) == ("occurred", "2023-12-08")


@pytest.mark.parametrize(
    ("seed_index", "number", "summary", "expected"),
    [
        # Seed 002 sentence 9: negative, but nobody denies that relations soured.
        (
            2,
            9,
            "Relations between Japan and South Korea soured over historical issues.",
            "occurred",
        ),
        # Seed 003 sentence 15: a denial in the cited words stays one.
        (3, 15, "Pyongyang and Moscow denied shipping arms supplies to Russia.", "denied"),
    ],
)
def test_denied_needs_a_word_of_denial(
    seed_index: int, number: int, summary: str, expected: str
) -> None:
    source = read_source(SEEDS[seed_index])
    event = draft(summary=summary, evidence=[number], date=None, status="denied")
    window = [s for s in source.sentences if abs(s.number - number) <= 3]
    [repaired] = repair_reply({"events": [event]}, window, None, source.published)["events"]
    assert repaired["status"] == expected


@pytest.mark.parametrize(
    ("seed_index", "number", "summary", "expected"),
    [
        # Seed 004 sentence 12, its own meeting of that day, which the model called planned.
        (
            4,
            12,
            "The three countries discussed steps to disrupt illicit cyber activities.",
            "occurred",
        ),
        # Seed 002 sentence 16 previews the Camp David summit: its first verb is "is".
        (2, 16, "This summit is seen as the first standalone gathering of the three.", "planned"),
    ],
)
def test_planned_told_in_the_past_occurred(
    seed_index: int, number: int, summary: str, expected: str
) -> None:
    source = read_source(SEEDS[seed_index])
    event = draft(summary=summary, evidence=[number], date=None, status="planned")
    window = [s for s in source.sentences if abs(s.number - number) <= 3]
    [repaired] = repair_reply({"events": [event]}, window, None, source.published)["events"]
    assert repaired["status"] == expected


def test_same_event() -> None:
    a = EventDraft.model_validate(draft())
    assert same_event(a, EventDraft.model_validate(draft(summary="Other words, same sentence.")))
    assert same_event(a, EventDraft.model_validate(draft(summary=a.summary.upper(), evidence=[6])))
    assert not same_event(a, EventDraft.model_validate(draft(type="AGREE", summary="Agreed.....")))
    assert not same_event(a, EventDraft.model_validate(draft(evidence=[6], summary="Held it all.")))
    # The same sentences under another type: the same event when the summaries mostly agree.
    again = draft(type="AGREE", summary=TALKS.rstrip(".") + " and agreed on next steps.")
    assert same_event(EventDraft.model_validate(again), a)
    other = draft(type="AGREE", summary="They agreed to block North Korean IT workers abroad.")
    assert not same_event(EventDraft.model_validate(other), a)


def test_salvage_keeps_each_valid_event() -> None:
    context = {"sentence_numbers": {5, 6}, "published": "2023-12-07"}
    text = json.dumps({"events": [draft(), draft(evidence=[7]), draft(type="CHAT"), draft()]})
    kept = salvage(text, context)
    assert kept is not None and [e.evidence for e in kept.events] == [[5], [5]]
    assert salvage(json.dumps({"events": "none"}), context) is None
    assert salvage("not json at all", context) is None
    empty = salvage(json.dumps({"events": [draft(evidence=[7])]}), context)
    assert empty is not None and empty.events == []


def test_complete_events_prefix_handles_strings_with_brackets() -> None:
    text = '{"events":[{"a":"x}]\\"","b":[1]},{"a":"y"},{"a":"cut'
    assert json.loads(complete_events_prefix(text) or "") == {
        "events": [{"a": 'x}]"', "b": [1]}, {"a": "y"}],
    }
    assert complete_events_prefix('{"events":[{"a":"cut') is None  # no event complete
    assert complete_events_prefix('{"eve') is None


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


def extraction_of(
    source_id: str, *events: dict[str, Any], furniture: tuple[int, ...] = ()
) -> Extraction:
    reply = ExtractionReply.model_validate({"events": list(events)})
    return Extraction(source_id=source_id, reply=reply, furniture=furniture, usage=Usage())


def test_ground_refuses_another_sources_extraction(seed: Source) -> None:
    with pytest.raises(GroundingError):
        ground(extraction_of("0" * 64, *SEED_REPLY["events"]), seed, seed.path)


def test_ground_refuses_evidence_past_the_end(seed: Source) -> None:
    # Without a context the reply model cannot know the source; grounding still refuses.
    with pytest.raises(GroundingError, match="99"):
        ground(extraction_of(seed.id, draft(evidence=[99])), seed, seed.path)


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
    extraction = extraction_of(seed.id, *SEED_REPLY["events"])
    first = ground(extraction, seed, seed.path).events
    again = ground(extraction, seed, seed.path).events
    assert [e.id for e in first] == [e.id for e in again]
    assert first == again


def test_ground_realigns_a_wrong_sentence_number(seed: Source) -> None:
    summary = "National security advisers of the three countries will meet in Seoul."
    wrong = draft(evidence=[5], summary=summary, status="planned", date="2023-12-08")
    grounded = ground(extraction_of(seed.id, wrong, furniture=(1, 2)), seed, seed.path)
    assert (grounded.realigned, grounded.unsupported) == (1, 0)
    (event,) = grounded.events
    assert event.alignment == "realigned"
    assert [c.line for c in event.citations] == [28]  # sentence 15, which says it
    assert event.citations[0].quote == seed.sentences[14].text
    assert event.date_basis == "relative"  # judged from the sentence it now cites ("Friday")


def test_ground_drops_an_unsupported_event_and_never_cites_furniture(seed: Source) -> None:
    guterres = draft(
        evidence=[5], summary="Guterres formally referred Gaza to the UN Security Council."
    )
    unrelated = draft(evidence=[5], summary="Brazilian farmers harvested record soybean crops.")
    furniture = (16, 17, 18, 19, 20)
    extraction = extraction_of(seed.id, draft(), guterres, unrelated, furniture=furniture)
    grounded = ground(extraction, seed, seed.path)
    assert grounded.unsupported == 2
    assert [e.summary for e in grounded.events] == [draft()["summary"]]
    # Had sentence 18 not been furniture, the Guterres event would have moved there.
    grounded = ground(extraction_of(seed.id, guterres), seed, seed.path)
    assert [c.line for e in grounded.events for c in e.citations] == [34]


def test_ground_keeps_one_of_identical_drafts(seed: Source) -> None:
    reply = ExtractionReply.model_construct(events=[EventDraft(**draft())] * 2)
    extraction = Extraction.model_construct(source_id=seed.id, reply=reply, furniture=())
    assert len(ground(extraction, seed, seed.path).events) == 1


KRITENBRINK = "Daniel Kritenbrink convened with Japan's Director General Namazu Hiroyuki."


@pytest.mark.parametrize(
    ("seed_index", "changes", "basis"),
    [
        (1, {"date": None}, "none"),
        (1, {"evidence": [9], "summary": AGREED}, "publication"),
        (1, {"evidence": [9], "summary": AGREED, "date": "2023-12-06"},
         "inferred"),
        (1, {}, "relative"),  # sentence 5: "on Thursday"
        (4, {"evidence": [6], "summary": KRITENBRINK, "date": "2024-12-09"}, "stated"),
    ],
)  # fmt: skip
def test_ground_works_out_the_date_basis(
    seed_index: int, changes: dict[str, Any], basis: str
) -> None:
    source = read_source(SEEDS[seed_index])
    [event] = ground(extraction_of(source.id, draft(**changes)), source, source.path).events
    assert event.date_basis == basis


# --- a long source, read in windows --------------------------------------------------------------

COUNTRIES = [
    *("Japan", "Chile", "Kenya", "Peru", "Spain", "Egypt", "Nepal", "Ghana", "Brazil", "Canada"),
    *("Mexico", "Norway", "Sweden", "Poland", "Greece", "Turkey", "Jordan", "Qatar", "Morocco"),
    *("Nigeria", "Angola", "Zambia", "Uganda", "Bolivia", "Ecuador", "Uruguay", "Finland"),
    *("Austria", "Belgium", "Denmark"),
]
TOPICS = [
    *("fisheries", "tariffs", "vaccines", "railways", "pipelines", "drought", "migration"),
    *("shipping", "satellites", "forestry", "copper", "wheat", "pensions", "ports", "bridges"),
    *("cables", "lithium", "tourism", "dams", "fertiliser", "rice", "coal", "textiles"),
    *("salmon", "cocoa", "wine", "steel", "coffee", "timber", "cotton"),
]
LONG_TITLE = "Rounds of talks held around the world"
# Supported (barely) by every item sentence, and so by none more than another.
SHARED = "Envoys traded pleasantries repeatedly."


def item(number: int) -> tuple[str, str]:
    """The country and topic of sentence ``number`` of :func:`long_source`: its own words."""
    return COUNTRIES[number - 3], TOPICS[number - 3]


def long_source(tmp_path: Path, count: int = 24) -> Source:
    """A headline (sentence 1), a date line (2, furniture) and ``count - 2`` items of news, each
    with words of its own, so a summary of one item is supported by that sentence only."""
    lines = [LONG_TITLE, "March 3, 2024"]
    for k in range(3, count + 1):
        country, topic = item(k)
        lines.append(f"In round {k}, envoys of {country} met officials to discuss {topic}.")
    path = tmp_path / "long.txt"
    path.write_text("\n\n".join(lines) + "\n", encoding="utf-8")
    source = read_source(path)
    assert len(source.sentences) == count
    assert (source.published, source.title) == ("2024-03-03", LONG_TITLE)
    return source


def item_summary(number: int, verb: str = "discussed") -> str:
    country, topic = item(number)
    return f"{country} {verb} {topic} with its partners."


def window_event(number: int, *, summary: str | None = None, **changes: Any) -> dict[str, Any]:
    return draft(
        evidence=[number],
        summary=summary or item_summary(number),
        location=None,
        date="2024-03-01",
        **changes,
    )


def test_long_source_is_sent_in_windows_and_merged(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    source = long_source(tmp_path)
    settings = make_settings(fake_openai.base_url, window_chars=400)
    windows = numbers(prepare(source, 400).windows)
    assert 3 <= len(windows) <= MAX_EVENTS_PER_WINDOW  # the scenario needs several windows

    def respond(body: dict[str, Any]) -> Reply:
        shown = shown_numbers(body)
        # Every window reports its own first sentence, and the same event in the same words.
        events = [window_event(shown[0]), window_event(shown[-1], summary=SHARED)]
        return Reply.json({"events": events}, usage=(100, 10))

    fake_openai.respond_with(respond)
    extraction = extract(llm.make_client(settings), settings, source)

    sent = [shown_numbers(body) for body in fake_openai.requests]
    assert sent == windows
    # No overlap: each article sentence is shown exactly once; the headline and the date line
    # never are, and numbers are global, not restarted per window.
    assert [n for shown in sent for n in shown] == list(range(3, 25))
    for body, shown in zip(fake_openai.requests, sent, strict=True):
        user = body["messages"][1]["content"]
        assert "Publication date: 2024-03-03 (Sunday)" in user
        assert LONG_TITLE in user and "March 3, 2024" not in user
        for n in shown:
            assert f"[{n}] {source.sentences[n - 1].text}" in user

    assert extraction.usage.requests == len(windows)
    assert extraction.usage.prompt_tokens == 100 * len(windows)
    assert extraction.furniture == (2,)
    evidence = [e.evidence for e in extraction.reply.events]
    assert evidence == [[windows[0][0]], [windows[0][-1]], *[[w[0]] for w in windows[1:]]]
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
    source = long_source(tmp_path, count=14)
    settings = make_settings(fake_openai.base_url, window_chars=400)
    windows = numbers(prepare(source, 400).windows)
    assert len(windows) >= 2
    first, target = windows[0][0], windows[1][-1]
    fake_openai.push(
        Reply.json({"events": [window_event(first)]}),
        # Window 2 does not show the first window's sentence. One event's summary states a
        # sentence it does show (moved there); the other's states nothing (dropped). No
        # re-ask either way.
        Reply.json(
            {
                "events": [
                    window_event(first, summary=item_summary(target)),
                    window_event(first, summary=UNSUPPORTED),
                ],
            }
        ),
    )
    fake_openai.respond_with(
        lambda body: Reply.json({"events": [window_event(shown_numbers(body)[0])]})
    )
    extraction = extract(llm.make_client(settings), settings, source)
    assert len(fake_openai.requests) == len(windows)
    evidence = [e.evidence for e in extraction.reply.events]
    assert evidence == [[first], [target], *[[w[0]] for w in windows[2:]]]
    assert (extraction.realigned, extraction.unsupported) == (1, 1)


def test_drafts_of_one_event_are_kept_once(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    # Within a window and across windows: the same kind of event from the same sentences, or
    # the same summary, is one event.
    source = long_source(tmp_path, count=14)
    settings = make_settings(fake_openai.base_url, window_chars=400)
    windows = numbers(prepare(source, 400).windows)

    def respond(body: dict[str, Any]) -> Reply:
        n = shown_numbers(body)[0]
        events = [
            window_event(n),
            window_event(n, summary=item_summary(n, "held talks on")),  # same kind and sentence
            window_event(n, summary=item_summary(n, "agreed on"), type="AGREE"),  # another kind
            window_event(shown_numbers(body)[1], summary=SHARED),  # in every window
        ]
        return Reply.json({"events": events})

    fake_openai.respond_with(respond)
    extraction = extract(llm.make_client(settings), settings, source)
    kept = [(e.type, e.evidence, e.summary) for e in extraction.reply.events]
    first = windows[0][0]
    assert kept[:3] == [
        ("CONSULT", [first], item_summary(first)),
        ("AGREE", [first], item_summary(first, "agreed on")),
        ("CONSULT", [windows[0][1]], SHARED),
    ]
    assert kept[3:] == [
        (kind, [w[0]], item_summary(w[0], verb))
        for w in windows[1:]
        for kind, verb in (("CONSULT", "discussed"), ("AGREE", "agreed on"))
    ]


def test_windows_may_together_report_more_events_than_one_reply(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    source = long_source(tmp_path, count=30)
    settings = make_settings(fake_openai.base_url, window_chars=400)
    windows = numbers(prepare(source, 400).windows)
    fake_openai.respond_with(
        lambda body: Reply.json({"events": [window_event(n) for n in shown_numbers(body)][:3]})
    )
    extraction = extract(llm.make_client(settings), settings, source)
    expected = [n for w in windows for n in w[:3]]
    assert len(expected) > MAX_EVENTS_PER_WINDOW
    assert [e.evidence for e in extraction.reply.events] == [[n] for n in expected]
    assert len(ground(extraction, source, source.path).events) == len(expected)


# --- model-level validators ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"date": "2023-13-45"}, "should match pattern"),
        ({"date": "2023-02-30"}, "day is out of range"),
        ({"date": "23-12-07"}, "should match pattern"),
        ({"evidence": []}, "at least 1 item"),
        ({"evidence": [1, 2, 3, 4]}, "at most 3 items"),
        ({"type": "MEET"}, "Input should be"),
        ({"summary": "Too short"}, "at least 10 characters"),
        ({"actors": []}, "at least 1 item"),
        ({"actors": ["A", "B", "C", "D", "E"]}, "at most 4 items"),
        ({"actors": ["x" * 61]}, "at most 60 characters"),
        ({"actors": [{"name": "A", "normalized": "A", "country": "B"}]}, "valid string"),
        ({"confidence": 0.9}, "Extra inputs are not permitted"),
        # What the model no longer writes: worked out in code, or gone.
        ({"subtype": "summit"}, "Extra inputs are not permitted"),
        ({"date_basis": "stated"}, "Extra inputs are not permitted"),
    ],
)
def test_event_draft_rejects(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        EventDraft.model_validate(draft(**changes))


@pytest.mark.parametrize("date", ["2023-12-07", "2023-12", "2023", None])
def test_event_draft_accepts(date: str | None) -> None:
    assert EventDraft.model_validate(draft(date=date)).date == date


def test_event_draft_is_immutable() -> None:
    event = EventDraft.model_validate(draft())
    with pytest.raises(ValidationError):
        event.summary = "changed"


CONTEXT = {"sentence_numbers": set(range(4, 16)), "published": "2023-12-07"}


def reply_with(*events: dict[str, Any]) -> dict[str, Any]:
    return {"events": list(events)}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (reply_with(draft(date="2023-12-09")), "after the publication date 2023-12-07"),
        (reply_with(draft(date="2024")), "after the publication date"),
        (reply_with(draft(evidence=[41])), "events\\[0\\]: evidence sentence 41 was not shown"),
        (reply_with(draft(evidence=[3])), "evidence sentence 3 was not shown"),  # the headline
        (reply_with(draft(evidence=[0])), "evidence sentence 0 was not shown"),
        ({**reply_with(draft()), "furniture": [1, 2]}, "Extra inputs are not permitted"),
        ({**reply_with(draft()), "notes": "x"}, "Extra inputs are not permitted"),
        (reply_with(*[draft()] * (MAX_EVENTS_PER_WINDOW + 1)), "at most 8 items"),
    ],
)
def test_extraction_reply_rejects(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ExtractionReply.model_validate(data, context=CONTEXT)


def test_extraction_reply_lists_every_problem() -> None:
    data = reply_with(draft(), draft(evidence=[41]), draft(evidence=[2, 6], date="2023-12-31"))
    with pytest.raises(ValidationError) as caught:
        ExtractionReply.model_validate(data, context=CONTEXT)
    text = str(caught.value)
    assert "events[0]" not in text
    assert "events[1]: evidence sentence 41 was not shown" in text
    assert "events[2]: evidence sentence 2 was not shown" in text
    assert "events[2]: status 'occurred' but dated 2023-12-31" in text


@pytest.mark.parametrize(
    "changes",
    [
        {"date": "2023-12-08", "status": "planned"},  # the future is fine when planned
        {"date": "2023-12-07"},  # the publication day itself
        {"date": "2023-12"},  # a month that starts before publication
        {"date": "2023"},
        {"date": None},
        {"evidence": [4, 15]},  # the first and last sentences shown
    ],
)
def test_extraction_reply_accepts(changes: dict[str, Any]) -> None:
    reply = ExtractionReply.model_validate(reply_with(draft(**changes)), context=CONTEXT)
    assert len(reply.events) == 1


def test_extraction_reply_accepts_no_events() -> None:
    assert ExtractionReply.model_validate({"events": []}, context=CONTEXT).events == []


def test_extraction_reply_without_context_skips_source_checks() -> None:
    data = reply_with(draft(evidence=[99], date="2030-01-01"))
    assert ExtractionReply.model_validate(data).events[0].evidence == [99]


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


def test_token_progress_of_a_source_adds_up_across_its_windows(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    # One bar per source: the count the bar is given must not fall back at the next window.
    source = long_source(tmp_path, count=14)
    settings = make_settings(fake_openai.base_url, window_chars=400)
    assert len(prepare(source, 400).windows) >= 2
    fake_openai.respond_with(
        lambda body: Reply.json({"events": [window_event(shown_numbers(body)[0])]})
    )
    seen: list[int] = []
    progress = ExtractionProgress(on_tokens=seen.append)
    extract(llm.make_client(settings), settings, source, progress)
    assert seen == sorted(seen) and len(set(seen)) > len(prepare(source, 400).windows)
