"""``briefing.furniture``: page furniture and headline repeats found with no model, on
synthetic pages and on the seeds."""

from __future__ import annotations

from pathlib import Path

import pytest

from briefing.models import Sentence, Source
from briefing.read.furniture import MIN_WORDS, furniture, headline_sentences, marked_furniture
from briefing.read.sources import read_source

SEEDS = sorted((Path(__file__).parent.parent / "seeds").glob("*.txt"))


def lines(*texts: str) -> list[Sentence]:
    """One sentence per line, numbered from 1."""
    out, pos = [], 0
    for n, text in enumerate(texts, 1):
        out.append(Sentence(number=n, start=pos, end=pos + len(text), line=n, text=text))
        pos += len(text) + 1
    return out


def texts(sentences: list[Sentence], numbers: set[int]) -> list[str]:
    return [s.text for s in sentences if s.number in numbers]


@pytest.fixture(scope="module")
def seeds() -> list[Source]:
    return [read_source(p) for p in SEEDS]


# --- marked_furniture ----------------------------------------------------------------------------


def test_page_markers_mark_furniture(tmp_path: Path) -> None:
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
    assert texts(list(source.sentences), marked_furniture(source.sentences)) == [
        "Also Read: Markets rally on rate hopes",
        "Previous Story",
        "Storm hits the coast, three dead",
        "Officials said on Monday that roads reopened.",
    ]


@pytest.mark.parametrize(
    "marker",
    [
        "Previous Story",
        "Next story",
        "Latest from -Top News",
        "Don't Miss",
        "Dont miss",
        "Most Popular",
        "Follow us",
        "Check Also",
        "Load More By Desk Writer",
        "Notify of",
        "Related Articles",
        "You may also like",
        "Share this",
        "More from World",
        "Recommended",
        "Topics : Japan Korea",
        "Tags: summit",
    ],
)
def test_everything_from_an_end_of_article_line_is_furniture(marker: str) -> None:
    sentences = lines(
        "Envoys met in Seoul on Friday to talk.",
        marker,
        "Other story: three envoys resign at once.",
        "More news from elsewhere in the region.",
    )
    assert marked_furniture(sentences) == {2, 3, 4}


@pytest.mark.parametrize(
    "line",
    [
        "The previous story on the talks was wrong, officials said.",  # not at the start
        "Recommendations were adopted by the ministers.",  # a longer word
        "Topics of the talks included trade and fishing.",  # no colon
        "Also reading the statement, the minister smiled.",
    ],
)
def test_marker_words_inside_article_text_are_not_furniture(line: str) -> None:
    assert marked_furniture(lines("Envoys met in Seoul to talk.", line, "They agreed.")) == set()


def test_also_read_lines_are_furniture_alone() -> None:
    sentences = lines(
        "Envoys met in Seoul on Friday to talk.",
        "ALSO READ: ‘This must stop’: Guterres on Gaza",
        "They agreed to meet again in June.",
        "Read more: Markets rally on rate hopes",
        "See also: Rafale deliveries begin",
        "Read also: Chad ends French presence",
        "The talks end on Sunday.",
    )
    assert marked_furniture(sentences) == {2, 4, 5, 6}


def test_the_author_name_line_above_an_author_link_is_furniture() -> None:
    sentences = lines(
        "Envoys met in Seoul on Friday to talk.",
        "Jane Doe",
        "Jane Doehttps://news.example/author/jane-doe/",
        "Jane writes about Asia for the site.",
    )
    assert marked_furniture(sentences) == {2, 3, 4}


def test_the_line_above_an_author_link_that_does_not_start_with_it_is_article_text() -> None:
    sentences = lines(
        "Envoys met in Seoul on Friday to talk.",
        "They agreed to meet again in June.",
        "Jane Doehttps://news.example/author/jane-doe/",
        "Jane writes about Asia for the site.",
    )
    assert marked_furniture(sentences) == {3, 4}
    # A link line that names someone else: the line above is not its name line either.
    other = lines("Envoys met in Seoul.", "John Roe", "Jane Doehttps://news.example/author/jd/")
    assert marked_furniture(other) == {3}
    # An author link on the first line: no line above it.
    first = lines("https://news.example/author/jd/", "Jane writes about Asia.")
    assert marked_furniture(first) == {1, 2}


def test_seed_000_author_box_with_its_name_line(seeds: list[Source]) -> None:
    source = seeds[0]
    marked = marked_furniture(source.sentences)
    by_number = {s.number: s.text for s in source.sentences}
    assert by_number[17] == "Sabah Khan Tareen"
    assert by_number[18].startswith("Sabah Khan Tareenhttps://thediplomaticinsight.com/author/")
    assert set(range(17, 25)) <= marked
    assert 16 not in marked  # the article's last sentence, just above the name line
    assert marked == {10, 15, *range(17, 25)}


# --- furniture: marked lines and short lines -----------------------------------------------------


def test_lines_of_fewer_than_four_words_are_furniture() -> None:
    assert MIN_WORDS == 4
    sentences = lines(
        "Cyber threat",
        "2 mins read",
        "• Kingston Bailey",
        "Photo: Istock",
        "• December 9, 2024",  # four words: shown
        "Envoys met in Seoul.",
        "Envoys met.",
    )
    assert furniture(sentences) == {1, 2, 3, 4, 7}
    assert marked_furniture(sentences) == set()


def test_furniture_is_marked_plus_short_lines() -> None:
    sentences = lines(
        "Envoys met in Seoul on Friday to talk.",
        "Also Read: Markets rally",
        "AP Seoul",
        "They agreed to meet again in June.",
        "Previous Story",
        "A teaser of another story about a storm.",
    )
    assert marked_furniture(sentences) == {2, 5, 6}
    assert furniture(sentences) == {2, 3, 5, 6}


@pytest.mark.parametrize(
    ("index", "expected"),
    [
        (0, {10, 11, 15, *range(17, 25)}),  # Also Read x2, "Cyber threat", the author box
        (1, {1, 2, *range(16, 41)}),  # date line, "2 mins read", all from "ALSO READ"
        (2, {2, 18, 19, 20, 21, 22, 23, 24, 25}),  # "3 min read", all from "Load More By"
        (3, {4, 5, 17, 18}),  # "Photo: Istock", "AP Seoul", all from "Topics :"
        (4, {2, 3, 23, 24}),  # byline, "• U.S.A", "Summary", "TDS NEWS"
    ],
)
def test_seed_furniture(seeds: list[Source], index: int, expected: set[int]) -> None:
    assert furniture(seeds[index].sentences) == expected


# --- headline_sentences --------------------------------------------------------------------------


def test_headline_repeats_with_a_breadcrumb_and_in_another_case(seeds: list[Source]) -> None:
    seed_000, seed_002 = seeds[0], seeds[2]
    # "HomeWorldAsia" + title, then the title: both repeat the headline.
    assert headline_sentences(seed_000.sentences, seed_000.title) == {1, 2}
    assert seed_000.sentences[0].text == "HomeWorldAsia" + (seed_000.title or "")
    # The title, then the same words lower-cased.
    assert headline_sentences(seed_002.sentences, seed_002.title) == {1, 3}
    assert seed_002.sentences[2].text == (seed_002.title or "").lower()


@pytest.mark.parametrize(("index", "expected"), [(1, {3}), (3, {1}), (4, {1})])
def test_seed_headlines(seeds: list[Source], index: int, expected: set[int]) -> None:
    assert headline_sentences(seeds[index].sentences, seeds[index].title) == expected


def test_headline_sentences_synthetic() -> None:
    sentences = lines(
        "HomeWorldAsiaEnvoys meet in Seoul",
        "Envoys meet in Seoul",
        "Envoys meet in Seoul to discuss trade, officials said.",  # more than the headline
        "As the headline 'Envoys meet in Seoul' said, they met.",
        "  ENVOYS MEET IN SEOUL  ",
    )
    assert headline_sentences(sentences, "Envoys meet in Seoul") == {1, 2, 5}
    assert headline_sentences(sentences, "  Envoys meet in Seoul ") == {1, 2, 5}
    assert headline_sentences(sentences, None) == set()
    assert headline_sentences(sentences, "") == set()
    assert headline_sentences(sentences, "   ") == set()
