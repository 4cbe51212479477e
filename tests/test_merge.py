"""The merge stage without any LLM: blocking, scoring, grouping, independence, disagreements,
outcomes, linking, and the key-developments helpers that read canonical events.

Sources are real files in ``tmp_path`` read with the real reader; events cite their sentences
through ``ground.cite``, so every citation is exact. The embedding model is the real one.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fakeserver import FakeOpenAI, Reply

from briefing.compose import compose, fit_rows, ranked
from briefing.config import BriefSpec, load_settings
from briefing.extract.ground import cite
from briefing.keypoint_text import before_stray_script, echoes_scope, without_labels
from briefing.llm import make_client
from briefing.merge import Embedder, Judge, _news_of, keeps_apart, merge_events
from briefing.merge.blocking import Mention, candidate_pairs
from briefing.merge.corroboration import Independence, shared_share, wire_credits
from briefing.merge.disagreements import people_leading
from briefing.merge.grouping import group
from briefing.merge.linking import date_written
from briefing.merge.scoring import DIFFERENT, SAME, PairFacts, PairScore, score_pair
from briefing.merge.signals import dates_compatible, days_apart, most_precise, places_compatible
from briefing.models import Event, MergeDecision, Source
from briefing.read.sources import read_source
from briefing.render import markdown


@pytest.fixture(scope="module")
def embedder() -> Iterator[Embedder]:
    yield Embedder.load()


def source(tmp_path: Path, name: str, *lines: str) -> Source:
    path = tmp_path / name
    path.write_text("\n\n".join(lines) + "\n", encoding="utf-8")
    return read_source(path)


def event(src: Source, number: int, summary: str, **fields: Any) -> Event:
    """An event of ``src`` citing its sentence ``number``."""
    values: dict[str, Any] = {
        "type": "CONSULT", "actors": ("South Korea",), "location": None, "date": None,
        "date_basis": "none", "status": "occurred", "role": "main",
    }  # fmt: skip
    values.update(fields)
    if values["date"] and values["date_basis"] == "none":
        values["date_basis"] = "stated"
    digest = hashlib.sha256(f"{src.id}{number}{summary}".encode()).hexdigest()[:12]
    return Event(
        id="ev_" + digest,
        source_id=src.id,
        summary=summary,
        citations=(cite(src, number, src.path),),
        **values,
    )


def facts(**fields: Any) -> PairFacts:
    values: dict[str, Any] = {
        "source_id": "a", "type": "CONSULT", "date": None, "place": None, "status": "occurred",
        "actors": frozenset(), "persons": frozenset(), "sentences": frozenset(), "published": None,
    }  # fmt: skip
    values.update(fields)
    return PairFacts(**values)


# --- signals --------------------------------------------------------------------------------------


def test_dates_respect_their_precision() -> None:
    assert dates_compatible("2023-08", "2023-08-18") and dates_compatible("2023", "2023-12-07")
    assert not dates_compatible("2023-12-08", "2023-12-09")
    assert dates_compatible(None, "2023-12-09")
    assert days_apart("2023-12-08", "2023-12-09") == 1 and days_apart("2023-08", "2023-08-31") == 0
    assert most_precise(["2023-08", "2023-08-18", None]) == "2023-08-18"


def test_places_match_on_their_most_specific_part() -> None:
    assert places_compatible("Tokyo", "Tokyo, Japan")
    assert places_compatible("Camp David", "Camp David, Maryland")
    assert not places_compatible("Washington", "Seoul, South Korea")
    assert places_compatible(None, "Seoul")


# --- blocking -------------------------------------------------------------------------------------


def test_blocking_pairs_shared_actors_with_dates_that_can_meet() -> None:
    vectors = np.eye(4, dtype=np.float32)
    mentions = [
        Mention(0, "s1", "2023-12-07", frozenset({"Japan"}), None),
        Mention(1, "s2", "2023-12-08", frozenset({"Japan"}), None),  # a day apart: a candidate
        Mention(2, "s3", "2024-03-29", frozenset({"Japan"}), None),  # months apart: never
        Mention(3, "s4", None, frozenset({"Chile"}), "Tokyo"),  # nothing shared, nothing near
    ]
    assert candidate_pairs(mentions, vectors) == [(0, 1)]


def test_mentions_close_in_meaning_meet_across_blocks() -> None:
    # Each is in a block of its own actor, and none is shared; alike in meaning, they still meet.
    vectors = np.array([[1.0, 0.0], [0.99, 0.141], [0.0, 1.0], [0.0, 1.0]], dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    mentions = [
        Mention(0, "s1", None, frozenset({"Kang Chol"}), None),
        Mention(1, "s2", None, frozenset({"North Korea"}), None),
        Mention(2, "s3", None, frozenset({"Kang Chol"}), None),
        Mention(3, "s4", None, frozenset({"North Korea"}), None),
    ]
    pairs = candidate_pairs(mentions, vectors)
    assert (0, 1) in pairs  # cosine 0.99, no shared block
    assert (0, 3) not in pairs  # cosine 0: blocks alone would never pair them, nor does meaning


def test_a_huge_block_pairs_only_nearest_neighbours() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(300, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors[1] = vectors[0]  # one true duplicate
    mentions = [Mention(i, f"s{i}", None, frozenset({"United States"}), None) for i in range(300)]
    pairs = candidate_pairs(mentions, vectors)
    assert (0, 1) in pairs
    assert len(pairs) < 300 * 13  # not the 44,850 pairs of the whole block


# --- scoring and grouping -------------------------------------------------------------------------


def test_same_day_same_place_same_people_is_one_event() -> None:
    sullivan = frozenset({"Jake Sullivan"})
    a = facts(source_id="a", date="2023-12-09", place="Seoul", actors=sullivan, persons=sullivan)
    b = facts(source_id="b", date="2023-12-09", place="Seoul, Korea", actors=sullivan,
              persons=sullivan)  # fmt: skip
    scored = score_pair(0, 1, a, b, 0.75, {"Jake Sullivan": 1.0})
    assert scored.verdict == "same" and scored.score >= SAME
    assert "same place" in scored.reason and "dates agree" in scored.reason


def test_two_plans_for_two_places_never_merge() -> None:
    a = facts(source_id="a", status="planned", place="Washington", date="2024")
    b = facts(source_id="b", status="planned", place="Seoul", date="2024-07")
    scored = score_pair(0, 1, a, b, 0.95)
    assert scored.hard and scored.verdict == "different"


def test_place_fields_that_differ_where_both_texts_name_one_venue_do_not_part_them() -> None:
    # Seed 002 writes "the Camp David presidential retreat in Washington" (so "Washington, DC");
    # seed 001 "at Camp David in August" ("Camp David, USA"). The venue both name decides.
    cast = frozenset({"Japan", "South Korea", "United States"})
    a = facts(source_id="a", place="Camp David, USA", places=frozenset({"Camp David"}),
              actors=cast)  # fmt: skip
    b = facts(source_id="b", place="Washington, DC", status="planned", actors=cast,
              places=frozenset({"Camp David", "Washington"}),
              capitals=frozenset({"Washington"}))  # fmt: skip
    shared = score_pair(0, 1, a, b, 0.55)
    assert "different places" not in shared.reason and "the same venue named" in shared.reason
    # Only a capital in common (where a government sits) is no venue: the places still part.
    c = facts(source_id="c", place="Seoul", places=frozenset({"Washington"}),
              capitals=frozenset({"Washington"}), actors=cast)  # fmt: skip
    parted = score_pair(1, 2, b, c, 0.55)
    assert "different places" in parted.reason
    assert parted.score < shared.score - 0.2


def test_alike_statements_with_nothing_concrete_in_common_stay_apart() -> None:
    a = facts(source_id="a", actors=frozenset({"Japan", "United States"}))
    b = facts(source_id="b", actors=frozenset({"Japan", "United States"}))
    common = {"Japan": 0.0, "United States": 0.0}  # named by every mention: says nothing
    assert score_pair(0, 1, a, b, 0.80, common).score < DIFFERENT


def test_one_sources_two_reports_of_its_meeting_merge() -> None:
    a = facts(date="2024-12-09", meeting=True, weak_date="2024-12-09")
    b = facts(date=None, meeting=True, weak_date="2024-12-09", type="CONSULT")
    assert score_pair(0, 1, a, b, 0.70).verdict == "same"


def test_the_same_cast_at_the_same_venue_is_one_event() -> None:
    # A preview and a report of one summit: other words, no date, the same three countries.
    cast = frozenset({"United States", "Japan", "South Korea"})
    common = dict.fromkeys(cast, 0.0)
    a = facts(source_id="a", actors=cast, places=frozenset({"camp david"}), weak_date="2024-04")
    b = facts(source_id="b", actors=cast, places=frozenset({"camp david"}), type="COOPERATE")
    assert score_pair(0, 1, a, b, 0.53, common).verdict == "same"
    other_cast = facts(source_id="b", actors=cast - {"Japan"}, places=frozenset({"camp david"}))
    assert score_pair(0, 1, a, other_cast, 0.53, common).verdict != "same"
    other_year = facts(source_id="b", actors=cast, places=frozenset({"camp david"}),
                       weak_date="2019")  # fmt: skip
    assert "same cast" not in score_pair(0, 1, a, other_year, 0.53, common).reason


def test_two_papers_news_of_the_day_is_something_concrete() -> None:
    # No day, place or person in common, but both report it as their news, published a day apart.
    korea = frozenset({"North Korea"})
    a = facts(source_id="a", actors=korea, news_of="2017-02-13")
    b = facts(source_id="b", actors=korea, news_of="2017-02-14")
    assert score_pair(0, 1, a, b, 0.80, {"North Korea": 0.0}).concrete
    late = facts(source_id="b", actors=korea, news_of="2017-02-16")  # three days later: not
    assert not score_pair(0, 1, a, late, 0.80, {"North Korea": 0.0}).concrete
    assert not score_pair(0, 1, a, facts(source_id="b", actors=korea), 0.80).concrete


def test_news_of_the_day_includes_the_day_after_publication(tmp_path: Path) -> None:
    # A Friday paper reports Asia's Saturday: still that paper's news of the day.
    src = source(tmp_path, "one.txt", "Beijing talks", "Tillerson arrived in Beijing on Saturday.")
    friday = "2017-03-17"
    assert _news_of(event(src, 2, "Tillerson arrived.", date="2017-03-18"), friday) == friday
    assert _news_of(event(src, 2, "Tillerson arrived.", date="2017-03-19"), friday) is None
    assert _news_of(event(src, 2, "Tillerson arrived.", date="2017-03-15"), friday) == friday


def test_a_low_score_inside_one_sources_meeting_keeps_nothing_apart() -> None:
    a = facts(date="2024-12-09", meeting=True, weak_date="2024-12-09")
    b = facts(date=None, meeting=True, weak_date="2024-12-09", type="AGREE")
    low = score_pair(0, 1, a, b, 0.10)
    assert low.one_meeting and low.verdict == "different"
    other_day = facts(date="2024-12-11", meeting=True, weak_date="2024-12-11")
    assert not score_pair(0, 1, a, other_day, 0.10).one_meeting


def test_grouping_never_chains_across_a_pair_judged_different() -> None:
    # A~B and B~C, but A and C cannot be one event: B joins the stronger, C stays apart.
    groups = group(3, same=[(0.95, 0, 1), (0.90, 1, 2)], apart=[(0, 2)])
    assert groups == [[0, 1], [2]]
    assert group(3, same=[(0.9, 0, 1), (0.9, 1, 2)], apart=[]) == [[0, 1, 2]]


def test_only_a_pair_clearly_two_events_keeps_its_groups_apart() -> None:
    # 50 news articles: "Russia's ambassador accused the US of deploying THAAD" was grouped
    # with the deployment (one cited sentence), and its 0.58 against another report of the
    # deployment kept that report in a row of its own. Such a pair is short of "same", not
    # clearly two events.
    def pair(score: float, **kw: Any) -> tuple[PairScore, MergeDecision]:
        scored = PairScore(0, 1, score, "different", kw.pop("hard", False), "test", **kw)
        decided = MergeDecision(a="a", b="b", same=False, score=score, decided_by="signals",
                                reason="test")  # fmt: skip
        return scored, decided

    assert not keeps_apart(*pair(0.58))
    assert keeps_apart(*pair(0.45))
    assert keeps_apart(*pair(0.70, hard=True))
    assert not keeps_apart(*pair(0.10, one_meeting=True))
    scored, decided = pair(0.75)
    assert keeps_apart(scored, decided.model_copy(update={"decided_by": "model"}))
    assert not keeps_apart(scored, decided.model_copy(update={"same": True}))


def test_grouping_never_chains_stated_dates_weeks_apart() -> None:
    # Undated B is like A (12 February) and like C (6 March); A and C were never scored, as
    # blocking does not pair dates weeks apart. B joins the stronger; C stays apart.
    dates = ["2017-02-12", None, "2017-03-06"]
    assert group(3, same=[(0.95, 0, 1), (0.90, 1, 2)], apart=[], dates=dates) == [[0, 1], [2]]
    # A day or two apart, or a day inside its month, is one event told two ways.
    near = ["2017-02-12", None, "2017-02-13"]
    assert group(3, same=[(0.95, 0, 1), (0.90, 1, 2)], apart=[], dates=near) == [[0, 1, 2]]
    inside = ["2017-02", None, "2017-02-20"]
    assert group(3, same=[(0.95, 0, 1), (0.90, 1, 2)], apart=[], dates=inside) == [[0, 1, 2]]


def test_two_years_next_to_each_other_cannot_be_one_event() -> None:
    # 2012 and 2013 touch at new year: a day apart at their ends, but two years.
    a = facts(source_id="a", date="2012")
    b = facts(source_id="a", date="2013")
    assert score_pair(0, 1, a, b, 0.95).hard
    days = score_pair(0, 1, facts(date="2017-02-12"), facts(date="2017-02-13"), 0.95)
    assert not days.hard and "1 day(s) apart" in days.reason


def test_a_rare_word_in_common_is_something_concrete() -> None:
    # Two papers' undated summaries of one charge: no place, day or person in common, but the
    # words few mentions use ("indonesian", "vietnamese") pin it down as a name would.
    a = facts(
        source_id="a",
        actors=frozenset({"Malaysia"}),
        terms=frozenset({"charged", "indonesian", "vietnamese", "woman", "murder"}),
    )
    b = facts(
        source_id="b",
        actors=frozenset({"Malaysia"}),
        terms=frozenset({"accuses", "indonesian", "vietnamese", "women", "murder"}),
    )
    rarity = {"indonesian": 0.9, "vietnamese": 0.9, "murder": 0.5, "charged": 0.8,
              "accuses": 0.7, "woman": 0.6, "women": 0.6}  # fmt: skip
    joined = score_pair(0, 1, a, b, 0.85, {"Malaysia": 0.3}, rarity)
    assert joined.concrete and "nothing concrete" not in joined.reason
    assert "rare words in common (indonesian, vietnamese)" in joined.reason
    # Common words alone ("murder", named by half the mentions) are nothing concrete.
    common = {t: 0.5 for t in rarity}
    apart = score_pair(0, 1, a, b, 0.85, {"Malaysia": 0.3}, common)
    assert not apart.concrete and apart.score < joined.score


# --- independence ---------------------------------------------------------------------------------


def test_wire_copy_counts_once(tmp_path: Path) -> None:
    story = " ".join(
        f"Sentence {i} of the wire story says the envoys met in Seoul to talk about the launch."
        for i in range(12)
    )
    a = source(tmp_path, "a.txt", "Envoys meet", "AP Seoul", story)
    b = source(tmp_path, "b.txt", "Envoys meet in Seoul", story + " One added line by the desk.")
    c = source(tmp_path, "c.txt", "Own report", "Our own words about the same meeting in Seoul.")
    assert shared_share(a.text, b.text) > 0.9
    assert "AP" in wire_credits(a.text) and not wire_credits(c.text)
    independence = Independence([a, b, c])
    assert independence.count([a.id, b.id, c.id]) == 2
    assert independence.count([a.id]) == 1


# --- the stage ------------------------------------------------------------------------------------


def test_merge_groups_one_event_across_sources_and_keeps_the_disagreement(
    tmp_path: Path, embedder: Embedder
) -> None:
    one = source(tmp_path, "one.txt", "Advisers to meet",
                 "The national security advisers of the three countries will meet in Seoul on "
                 "Friday to discuss the missile threat.")  # fmt: skip
    two = source(tmp_path, "two.txt", "Seoul talks",
                 "The three national security advisers will hold talks in Seoul on Saturday about "
                 "the missile threat.")  # fmt: skip
    three = source(tmp_path, "three.txt", "Fishing deal",
                   "Norway and Chile signed a fisheries agreement in Oslo on Monday.")  # fmt: skip
    people = ("South Korea", "Japan", "United States")
    events = [
        event(one, 2, "The national security advisers will meet in Seoul.", date="2023-12-08",
              date_basis="relative", location="Seoul", status="planned", actors=people),
        event(two, 2, "The national security advisers will hold talks in Seoul.",
              date="2023-12-09", date_basis="relative", location="Seoul, South Korea",
              status="planned", actors=("ROK", "Japan", "US")),
        event(three, 2, "Norway and Chile signed a fisheries agreement in Oslo.", type="AGREE",
              date="2023-12-04", location="Oslo", actors=("Norway", "Chile")),
    ]  # fmt: skip
    result = merge_events(events, [one, two, three], embedder)
    seoul = [c for c in result.canonical if c.location and "Seoul" in c.location]
    assert len(seoul) == 1 and set(seoul[0].source_ids) == {one.id, two.id}
    assert seoul[0].independent_sources == 2
    assert seoul[0].actors[:3] == ("South Korea", "Japan", "United States")  # ROK, US resolved
    (dispute,) = [d for d in result.disagreements if d.field == "date"]
    assert [s.value for s in dispute.sides] == ["2023-12-08", "2023-12-09"]
    assert {c.quote for s in dispute.sides for c in s.citations} == {
        events[0].citations[0].quote,
        events[1].citations[0].quote,
    }
    assert seoul[0].disputed == ("date",)
    assert any(c.source_ids == (three.id,) for c in result.canonical)
    again = merge_events(list(reversed(events)), [three, two, one], embedder)
    assert [c.model_dump() for c in again.canonical] == [c.model_dump() for c in result.canonical]


def meeting_and_agreement(tmp_path: Path) -> tuple[Source, list[Event]]:
    """One source reporting a meeting in Tokyo, then what it agreed: two records."""
    src = source(tmp_path, "meeting.txt", "Envoys meet",
                 "The envoys of the three countries met in Tokyo on Monday.",
                 "They agreed to share missile warning data in real time.")  # fmt: skip
    events = [
        event(src, 2, "The envoys of the three countries met in Tokyo.", date="2024-12-09",
              location="Tokyo"),
        event(src, 3, "The three countries agreed to share missile warning data.", type="AGREE",
              status="planned"),
    ]  # fmt: skip
    return src, events


def test_what_a_meeting_agreed_hangs_under_it(tmp_path: Path, embedder: Embedder) -> None:
    src, events = meeting_and_agreement(tmp_path)
    result = merge_events(events, [src], embedder)
    meeting = next(c for c in result.canonical if c.type == "CONSULT")
    agreed = next(c for c in result.canonical if c.type == "AGREE")
    assert meeting.parent_id is None and agreed.parent_id == meeting.id


def test_a_passing_mention_in_another_source_is_linked(tmp_path: Path, embedder: Embedder) -> None:
    report = source(tmp_path, "report.txt", "Summit at Camp David",
                    "The leaders of the three countries met for a summit at Camp David on "
                    "August 18, 2023.")  # fmt: skip
    later = source(tmp_path, "later.txt", "Cyber talks",
                   "The cyber working group met in Tokyo to discuss theft.",
                   "The group was set up by the leaders of the three countries at their summit at "
                   "Camp David in August 2023.")  # fmt: skip
    events = [
        event(report, 2, "The leaders of the three countries met for a summit at Camp David.",
              date="2023-08-18", location="Camp David"),
        event(later, 2, "The cyber working group met in Tokyo.", location="Tokyo",
              date="2023-12-07"),
    ]  # fmt: skip
    result = merge_events(events, [report, later], embedder)
    summit = next(c for c in result.canonical if c.location == "Camp David")
    assert set(summit.source_ids) == {report.id, later.id}
    (linked,) = [m for m in summit.mentions if m.alignment == "linked"]
    assert linked.date == "2023-08" and "Camp David in August 2023" in linked.citations[0].quote


def test_date_written_reads_months_against_the_publication() -> None:
    assert date_written("talks in Tokyo in December 2023", None) == "2023-12"
    assert date_written("the summit at Camp David in August", "2023-12-07") == "2023-08"
    assert date_written("the summit at Camp David in December", "2023-03-01") == "2022-12"
    assert date_written("they met", "2023-12-07") is None


# --- key developments from canonical events -------------------------------------------------------


def test_labels_never_reach_the_reader() -> None:
    assert without_labels("The envoys met in Seoul (E3, E7).") == "The envoys met in Seoul."
    assert without_labels("Talks were held, as reported in E3.") == "Talks were held."
    assert without_labels("E2 and E5 describe the launch.") == "describe the launch."
    assert (
        without_labels("They met in Tokyo. There: they agreed.")
        == "They met in Tokyo. They agreed."
    )


def test_a_point_drifting_into_another_script_ends_at_its_last_whole_sentence() -> None:
    sources = "The three countries met at Camp David. They agreed to meet once a year."
    drifted = (
        "The three countries met at Camp David. They seek closer ties in the growing regional и"
    )
    assert before_stray_script(drifted, sources) == "The three countries met at Camp David."
    assert before_stray_script("They met и agreed.", sources) == "They met agreed."
    # A script the sources write is no drift: Korean names, "Seoul (서울)".
    named = "Leaders met in Seoul (서울) on Friday."
    assert before_stray_script(named, "The leaders met in 서울.") == named
    assert (
        before_stray_script("Kishida met Yoon in Tōkyō.", sources) == "Kishida met Yoon in Tōkyō."
    )


def test_rows_are_cut_to_the_budget_most_corroborated_first(
    tmp_path: Path, embedder: Embedder
) -> None:
    rows = [{"label": f"E{i}", "summary": "x" * 320} for i in range(1, 101)]
    assert len(fit_rows(rows, 1000)) == 9  # about 102 tokens a row
    assert len(fit_rows(rows, 10)) == 1  # never none
    one = source(tmp_path, "one.txt", "A", "The envoys met in Seoul on Monday to talk.")
    two = source(tmp_path, "two.txt", "B", "The envoys held talks in Seoul on Monday.")
    lone = source(tmp_path, "lone.txt", "C", "A minister visited Lima on Tuesday for trade talks.")
    events = [
        event(lone, 2, "A minister visited Lima.", date="2023-12-05", location="Lima",
              actors=("Peru",)),
        event(one, 2, "The envoys met in Seoul.", date="2023-12-04", location="Seoul"),
        event(two, 2, "The envoys held talks in Seoul.", date="2023-12-04", location="Seoul"),
    ]  # fmt: skip
    result = merge_events(events, [one, two, lone], embedder)
    first = ranked(result.canonical)[0]
    assert len(first.source_ids) == 2 and first.location == "Seoul"


def test_what_sources_report_ranks_before_what_they_recall(
    tmp_path: Path, embedder: Embedder
) -> None:
    # 50 news articles: a background event of five sources ("The test coincides with
    # Tillerson's Asian tour") took a key development from the reported ones.
    one = source(tmp_path, "one.txt", "A", "The envoys met in Seoul on Monday to talk.")
    events = [event(one, 2, "The envoys met in Seoul.", date="2023-12-04", location="Seoul")]
    [reported] = merge_events(events, [one], embedder).canonical
    recalled = reported.model_copy(
        update={"id": "ce_recalled", "role": "background", "independent_sources": 5,
                "source_ids": ("a", "b", "c", "d", "e")}
    )  # fmt: skip
    assert [e.id for e in ranked([recalled, reported])] == [reported.id, "ce_recalled"]


# --- who led it, and the model's verdict ----------------------------------------------------------


def test_people_leading_reads_who_led_from_the_words() -> None:
    led = people_leading(
        "The talks in Tokyo were led by Lee Jun-il, the Ministry’s director-general, US Deputy "
        "Special Representative for North Korea Jung Pak and Ishizuki Hideo, Japan’s ambassador."
    )
    assert led == {"Lee Jun-il", "Jung Pak", "Ishizuki Hideo"}
    other = people_leading(
        "In addition, the Special Representative for the DPRK, Debevoise, Ambassador Naoki, and "
        "Director General Jun-il are in charge of that summit."
    )
    assert other == {"Debevoise", "Naoki", "Jun-il"}
    assert people_leading("Lee Jun-il said the talks went well.") == set()  # says, not leads
    # Where is not who (50 news articles: "Florida" was one side of a participants dispute).
    hosted = "The missile flew as Trump hosted Japanese Prime Minister Shinzo Abe in Florida."
    assert people_leading(hosted) == {"Trump", "Shinzo Abe"}


def talks_and_who_led_them(tmp_path: Path) -> tuple[Source, Source]:
    """Two sources on one set of talks, each naming who led them, differently; the second
    mentions the talks in passing, then says who led them in the next sentence."""
    one = source(tmp_path, "one.txt", "Cyber talks",
                 "The three countries held cyber talks in Tokyo on December 7, 2023.",
                 "The talks were led by Lee Jun-il, Jung Pak and Ishizuki Hideo.")  # fmt: skip
    two = source(tmp_path, "two.txt", "Summit plans",
                 "They discussed the cyber threat after the working group met in Tokyo in "
                 "December 2023.",
                 "In addition, Debevoise, Ambassador Naoki and Director General Jun-il are in "
                 "charge of that group.")  # fmt: skip
    return one, two


def test_two_accounts_of_who_led_a_meeting_are_a_disagreement(
    tmp_path: Path, embedder: Embedder
) -> None:
    one, two = talks_and_who_led_them(tmp_path)
    events = [
        event(one, 2, "The three countries held cyber talks in Tokyo.", date="2023-12-07",
              location="Tokyo"),
    ]  # fmt: skip
    events[0] = events[0].model_copy(
        update={"citations": (*events[0].citations, cite(one, 3, one.path))}
    )
    result = merge_events(events, [one, two], embedder)
    (talks,) = [c for c in result.canonical if c.location == "Tokyo"]
    assert set(talks.source_ids) == {one.id, two.id}  # the passing mention and the next sentence
    assert sum(m.alignment == "linked" for m in talks.mentions) == 2
    (who,) = [d for d in result.disagreements if d.field == "participants"]
    # "Jun-il" is completed to the one longer name that holds it.
    assert sorted(s.value for s in who.sides) == [
        "Debevoise, Lee Jun-il, Naoki",
        "Ishizuki Hideo, Jung Pak, Lee Jun-il",
    ]
    assert talks.disputed == ("participants",)


def test_people_named_beside_a_launch_are_no_participants_disagreement(
    tmp_path: Path, embedder: Embedder
) -> None:
    # 50 news articles: North Korea's launch of 12 February 2017 had a "who took part" dispute
    # of Shinzo Abe against Trump, the leaders who spoke of it. Only a meeting has participants.
    one = source(tmp_path, "one.txt", "Launch",
                 "North Korea fired a ballistic missile from Banghyon on February 12, 2017, and "
                 "Japanese Prime Minister Shinzo Abe called it intolerable.")  # fmt: skip
    two = source(tmp_path, "two.txt", "Launch",
                 "North Korea fired a ballistic missile from Banghyon on February 12, 2017, and "
                 "US President Donald Trump said the US stood behind Japan.")  # fmt: skip
    events = [
        event(src, 2, "North Korea fired a ballistic missile from Banghyon.", date="2017-02-12",
              location="Banghyon", type="ASSAULT", actors=("North Korea", person))
        for src, person in ((one, "Shinzo Abe"), (two, "Donald Trump"))
    ]  # fmt: skip
    result = merge_events(events, [one, two], embedder)
    (launch,) = [c for c in result.canonical if c.location == "Banghyon"]
    assert set(launch.source_ids) == {one.id, two.id}
    assert not [d for d in result.disagreements if d.field == "participants"]


def test_who_led_it_is_read_from_the_sentence_after_a_records_own_citation(
    tmp_path: Path, embedder: Embedder
) -> None:
    # As above, but source two's own record cites its passing mention: the sentence after it,
    # pointing back and naming who led, still joins that event.
    one, two = talks_and_who_led_them(tmp_path)
    talks_one = event(one, 2, "The three countries held cyber talks in Tokyo.", date="2023-12-07",
                      location="Tokyo")  # fmt: skip
    talks_one = talks_one.model_copy(
        update={"citations": (*talks_one.citations, cite(one, 3, one.path))}
    )
    talks_two = event(two, 2, "The working group of the three countries met in Tokyo.",
                      date="2023-12", location="Tokyo")  # fmt: skip
    result = merge_events([talks_one, talks_two], [one, two], embedder)
    (talks,) = [c for c in result.canonical if c.location == "Tokyo"]
    assert set(talks.source_ids) == {one.id, two.id}
    [linked] = [m for m in talks.mentions if m.alignment == "linked"]
    assert "in charge of that group" in linked.citations[0].quote
    (who,) = [d for d in result.disagreements if d.field == "participants"]
    assert sorted(s.value for s in who.sides) == [
        "Debevoise, Lee Jun-il, Naoki",
        "Ishizuki Hideo, Jung Pak, Lee Jun-il",
    ]


def test_pairs_in_doubt_go_to_the_model_within_its_budget(
    tmp_path: Path, embedder: Embedder, fake_openai: FakeOpenAI
) -> None:
    fake_openai.respond_with(lambda body: Reply.json({"same": True, "reason": "one summit"}))
    settings = dataclasses.replace(
        load_settings({"OPENAI_BASE_URL": fake_openai.base_url, "OPENAI_API_KEY": "t"}, {}),
        retry_initial_wait=0.01,
    )
    met = "The leaders met for a summit at Camp David."
    ties = "Japan will strengthen ties with its partners at the Camp David summit."
    one, two = source(tmp_path, "one.txt", "A", met), source(tmp_path, "two.txt", "B", ties)
    events = [
        event(one, 2, met, actors=("Japan",)),
        event(two, 2, ties, actors=("Japan",), type="COOPERATE"),
    ]  # the signals leave this pair in doubt (score about 0.73)
    judge = Judge(make_client(settings), settings, 1, {one.id: None, two.id: None})
    result = merge_events(events, [one, two], embedder, judge)
    (decision,) = result.decisions
    assert decision.decided_by == "model" and decision.same and "one summit" in decision.reason
    assert len(result.canonical) == 1 and result.usage.requests == 1 == len(fake_openai.requests)
    prompt = fake_openai.requests[0]["messages"][-1]["content"]
    assert "Camp David" in prompt and "Report 2" in prompt
    no_budget = Judge(make_client(settings), settings, 0, {})
    (fallback,) = merge_events(events, [one, two], embedder, no_budget).decisions
    assert fallback.decided_by == "budget" and not fallback.same  # below the band's middle
    assert len(fake_openai.requests) == 1


def test_one_sources_meeting_in_doubt_is_not_asked_and_leaders_stand_for_countries(
    tmp_path: Path, embedder: Embedder, fake_openai: FakeOpenAI
) -> None:
    fake_openai.respond_with(lambda body: Reply.json({"same": False, "reason": "different"}))
    settings = load_settings({"OPENAI_BASE_URL": fake_openai.base_url, "OPENAI_API_KEY": "t"}, {})
    met = (
        "Assistant Secretary Daniel Kritenbrink convened with Japan's Director General Namazu "
        "Hiroyuki and Republic of Korea Vice Foreign Minister Cho Koo-rae."
    )
    trilateral = "The United States, South Korea and Japan met in trilateral talks."
    agreed = "The meeting discussed steps to disrupt cyber theft."
    src = source(tmp_path, "one.txt", "A", met, trilateral, agreed)
    events = [
        event(src, 2, met, date="2024-12-09",
              actors=("Daniel Kritenbrink", "Namazu Hiroyuki", "Cho Koo-rae")),
        event(src, 3, trilateral, date="2024-12-09",
              actors=("United States", "South Korea", "Japan")),
        event(src, 4, agreed, date="2024-12-09", type="AGREE",
              actors=("United States", "South Korea", "Japan")),
    ]  # fmt: skip
    judge = Judge(make_client(settings), settings, 4, {src.id: None})
    result = merge_events(events, [src], embedder, judge)
    assert not fake_openai.requests  # the model never saw the article's own meeting
    (doubt,) = [d for d in result.decisions if DIFFERENT <= d.score < SAME]
    assert doubt.decided_by == "signals" and "one source's meeting" in doubt.reason
    # Leaders only in one record, countries only in the other: still a candidate pair.
    assert {doubt.a, doubt.b} == {events[0].id, events[1].id}


def test_the_brief_shows_each_side_with_its_quote(tmp_path: Path, embedder: Embedder) -> None:
    one = source(tmp_path, "one.txt", "A",
                 "The national security advisers will meet in Seoul on Friday to discuss the "
                 "missile threat.")  # fmt: skip
    two = source(tmp_path, "two.txt", "B",
                 "The national security advisers will hold talks in Seoul on Saturday about the "
                 "missile threat.")  # fmt: skip
    events = [
        event(one, 2, "The national security advisers will meet in Seoul.", date="2023-12-08",
              date_basis="relative", location="Seoul", status="planned"),
        event(two, 2, "The national security advisers will hold talks in Seoul.",
              date="2023-12-09", date_basis="relative", location="Seoul", status="planned"),
    ]  # fmt: skip
    merged = merge_events(events, [one, two], embedder)
    brief = compose(BriefSpec(title="T"), merged, [], [], [])
    (row,) = brief.timeline
    assert row.sources == 2 and row.disputed == ("date",)
    assert {c.source_id for c in row.claim.citations} == {one.id, two.id}
    text = markdown(brief)
    section = text.split("## Where sources disagree", 1)[1].split("## Actors", 1)[0]
    assert "1 source gives 2023-12-08." in section and "1 source gives 2023-12-09." in section
    for e in events:
        assert f"“{e.citations[0].quote}”" in section
    assert "reported by 2 sources (2 independent) · *Disputed:* date" in text


def test_a_point_that_restates_the_scope_is_not_a_development() -> None:
    scope = (
        "How the United States, Japan and South Korea coordinate on North Korea: leaders' "
        "summits, national security advisers' meetings and working groups on cyber operations."
    )
    echo = (
        "The US, Japan and South Korea coordinate on North Korea through leaders' summits, "
        "security advisers' meetings and cyber working groups."
    )
    assert echoes_scope(echo, scope)
    assert echoes_scope(echo, scope, ["The envoys met in Seoul on Monday."])
    meeting = "The security advisers will meet in Seoul on 9 December 2023."
    assert not echoes_scope(
        meeting, scope, ["The advisers of the three countries will meet in Seoul."]
    )
    # Words the scope shares with what the cited events report are the events' words.
    launch = "North Korea's summits and cyber operations were discussed by the leaders."
    assert echoes_scope(launch, scope)
    assert not echoes_scope(launch, scope, ["Leaders discussed North Korea's cyber operations "
                                            "at their summits."])  # fmt: skip


def test_a_point_ends_at_its_last_whole_sentence_before_a_cut() -> None:
    from briefing.compose import whole_sentences

    assert whole_sentences("They met in Tokyo. They agreed to meet once a year on what…") == (
        "They met in Tokyo."
    )
    cut = "The advisers will meet to discuss follow-up measures..."
    assert whole_sentences(cut) == cut
    assert whole_sentences("Two sentences. Both whole.") == "Two sentences. Both whole."


def test_a_point_restating_an_outcome_cites_its_sentence(
    tmp_path: Path, embedder: Embedder, fake_openai: FakeOpenAI
) -> None:
    from briefing.compose import key_developments

    src, events = meeting_and_agreement(tmp_path)
    result = merge_events(events, [src], embedder)
    point = "The envoys met in Tokyo and agreed to share missile warning data in real time."
    fake_openai.respond_with(
        lambda body: Reply.json({"points": [{"text": point, "events": ["E1"]}]})
    )
    settings = load_settings({"OPENAI_BASE_URL": fake_openai.base_url, "OPENAI_API_KEY": "t"}, {})
    written = key_developments(
        make_client(settings), settings, BriefSpec(title="T"), result.canonical
    )
    (claim,) = written.points
    quotes = [c.quote for c in claim.citations]
    assert any("met in Tokyo" in q for q in quotes) and any("missile warning" in q for q in quotes)
