"""``briefing.dates``: weekday words resolved against the publication date, and how a date was
found (its basis). Pure functions: no model, no files but the seeds."""

from __future__ import annotations

from pathlib import Path

import pytest

from briefing.models import Status
from briefing.read.dates import date_basis, month_ahead, weekday_date
from briefing.read.sources import read_source

SEEDS = sorted((Path(__file__).parent.parent / "seeds").glob("*.txt"))
THURSDAY = "2023-12-07"  # seeds 001 and 003 were published on Thursday 7 December 2023


# --- weekday_date --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "occurred", "planned"),
    [
        # The day after publication: a paper dated in its own time zone reports Asia's Friday
        # on its Thursday (every such case in the 50 North Korea articles of 2017).
        ("They met on Friday.", "2023-12-08", "2023-12-08"),
        ("They met on Wednesday.", "2023-12-06", "2023-12-13"),
        # The publication day's own weekday is that day, for the past and the future alike.
        ("They met on Thursday.", THURSDAY, THURSDAY),
        ("During Thursday’s meeting, they talked.", THURSDAY, THURSDAY),
        ("They met on SATURDAY.", "2023-12-02", "2023-12-09"),
        ("They met on Sunday.", "2023-12-03", "2023-12-10"),
        ("They met on Monday.", "2023-12-04", "2023-12-11"),
        # The first weekday named is the one resolved.
        ("On Friday and Saturday, the advisers meet in Seoul.", "2023-12-08", "2023-12-08"),
        ("They met on Saturday and Friday.", "2023-12-02", "2023-12-09"),
    ],
)
def test_weekday_is_in_the_days_around_publication_when_occurred_and_after_when_planned(
    text: str, occurred: str, planned: str
) -> None:
    assert weekday_date(text, THURSDAY, "occurred") == occurred
    assert weekday_date(text, THURSDAY, "planned") == planned


def test_weekday_across_a_month_and_a_year_end() -> None:
    monday = "2024-12-30"
    assert weekday_date("The vote is on Wednesday.", monday, "planned") == "2025-01-01"
    assert weekday_date("The vote was on Wednesday.", monday, "occurred") == "2024-12-25"
    assert weekday_date("Talks open on Friday.", "2024-02-27", "planned") == "2024-03-01"


@pytest.mark.parametrize(
    "text",
    [
        "On Saturday, 9 December 2023, the advisers meet in Seoul.",
        "The advisers meet on Saturday, December 9.",
        "The advisers meet on Saturday, Dec. 9, in Seoul.",
        "The advisers meet on Saturday (2023-12-09).",
        "The summit on Friday was the first since 2022.",
        "The 9th December meeting, on Saturday, is the first.",
    ],
)
def test_a_written_date_wins_over_the_weekday(text: str) -> None:
    # The model's reading of the written date is kept: no weekday date is offered.
    assert weekday_date(text, THURSDAY, "planned") is None
    assert weekday_date(text, THURSDAY, "occurred") is None


@pytest.mark.parametrize(
    ("text", "published"),
    [
        ("They met on Friday.", None),
        ("They met on Friday.", ""),
        ("They met last week in Seoul.", THURSDAY),
        ("Markets close early on Fridays.", THURSDAY),  # not a weekday word of its own
        ("The Fridayfest parade was held.", THURSDAY),
    ],
)
def test_no_weekday_date(text: str, published: str | None) -> None:
    assert weekday_date(text, published, "occurred") is None


@pytest.mark.parametrize(
    ("seed", "number", "status", "date"),
    [
        (1, 5, "occurred", THURSDAY),  # "held their first ... talks on Thursday"
        (1, 15, "planned", "2023-12-08"),  # "On Friday and Saturday ... will meet in Seoul"
        (3, 8, "planned", "2023-12-09"),  # "will host a three-way meeting in Seoul on Saturday"
        (3, 9, "planned", "2023-12-08"),  # "bilateral meetings ... on Friday"
        (4, 6, "occurred", None),  # "On December 9, 2024, ...": written out
    ],
)
def test_weekday_dates_of_seed_sentences(
    seed: int, number: int, status: Status, date: str | None
) -> None:
    source = read_source(SEEDS[seed])
    text = source.sentences[number - 1].text
    assert weekday_date(text, source.published, status) == date


def test_a_long_number_is_not_a_written_year() -> None:
    text = "On Monday, 20000 troops crossed the border."
    assert weekday_date(text, "2024-03-06", "occurred") == "2024-03-04"
    assert date_basis("2024-03-04", text, "2024-03-06") == "relative"


# --- date_basis ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "evidence",
    [
        "On December 9, 2024, the envoys met in Tokyo.",
        "The envoys met in Tokyo on 9 December.",
        "The envoys met on the 1st March in Tokyo.",
        "The envoys met on Dec. 9 in Tokyo.",
        "The envoys first met in 2022.",
        "The envoys met (2024-12-09).",
        # A date written out wins over a weekday word.
        "On Monday, 9 December, the envoys met.",
    ],
)
def test_basis_stated(evidence: str) -> None:
    assert date_basis("2024-12-09", evidence, "2024-12-09") == "stated"


@pytest.mark.parametrize(
    "evidence",
    [
        "The envoys met on Thursday.",
        "The envoys met yesterday.",
        "The envoys meet today and tonight.",
        "The envoys will meet tomorrow.",
        "The envoys met last week.",
        "The envoys meet this month.",
        "The envoys meet next year.",
        "The envoys meet in the coming weekend.",
        "Earlier this autumn the envoys met.",
        "The envoys met recently.",
    ],
)
def test_basis_relative(evidence: str) -> None:
    assert date_basis("2024-12-05", evidence, "2024-12-09") == "relative"


def test_basis_publication_inferred_and_none() -> None:
    plain = "The envoys met in Tokyo to discuss cyber threats."
    assert date_basis("2024-12-09", plain, "2024-12-09") == "publication"
    assert date_basis("2024-12", plain, "2024-12-09") == "inferred"  # not the article's date
    assert date_basis("2024-12-08", plain, "2024-12-09") == "inferred"
    assert date_basis("2024-12-09", plain, None) == "inferred"  # no date to compare with
    # No date: "none", whatever the cited words say.
    assert date_basis(None, plain, "2024-12-09") == "none"
    assert date_basis(None, "On December 9, 2024, on Monday, they met.", "2024-12-09") == "none"


def test_basis_of_seed_sentences() -> None:
    seed_001 = read_source(SEEDS[1])
    talks = seed_001.sentences[4].text  # "... talks on Thursday ... in August ..."
    assert date_basis(THURSDAY, talks, THURSDAY) == "relative"
    seed_004 = read_source(SEEDS[4])
    meeting = seed_004.sentences[5].text  # "On December 9, 2024, ..."
    assert date_basis("2024-12-09", meeting, seed_004.published) == "stated"


@pytest.mark.parametrize(
    ("text", "published", "month"),
    [
        ("The US plans to host a summit in July beside NATO.", "2024-04-01", "2024-07"),
        ("They will meet again in January.", "2023-12-07", "2024-01"),  # the next January
        ("They will meet in December.", "2023-12-07", "2023-12"),
        # A month of the past in a sentence with no plan, a day written, the verb "may":
        ("The satellite launch in November followed two failures.", "2023-12-07", None),
        ("They will meet in July 9-11 in Washington.", "2024-04-01", None),
        ("They will meet, as they may in the past.", "2024-04-01", None),
        ("They will meet in July.", None, None),
    ],
)  # fmt: skip
def test_month_ahead(text: str, published: str | None, month: str | None) -> None:
    assert month_ahead(text, published) == month
