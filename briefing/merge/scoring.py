"""Pair scoring: are two mentions one real-world event?

The score starts from the cosine of the two summaries' sentence embeddings (meaning, not
spelling) and adds what the records say outright: dates at their precision, places, the
canonical actors both name, the event type, and whether a plan could have come true. Cosine alone
does not separate the hard cases (a paraphrase of the Camp David summit scores about 0.5, as does
an unrelated meeting of the same three countries), the other signals do most of the work.

A pair scoring at least ``SAME`` is one event, below ``DIFFERENT`` two; in between it is in doubt
and may go to the model (``judge.py``), a bounded number of times per build. Some pairs can never
be one event whatever they score (``hard``): two plans for different places, dates more than a few
days apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from .signals import MAX_DAYS_APART, dates_compatible, days_apart, places_compatible, precision

SAME = 0.86
DIFFERENT = 0.72
# Every weight is a share of the cosine's 0–1 scale. Two sentences on the same story score
# 0.55–0.70 on their own (measured on the seeds), so agreement must come from the records.
W_ACTORS = 0.15  # times the overlap of canonical actors, each weighted by how rare it is
W_PERSON = 0.04  # each person both name (up to two): people pin an event down more than countries
W_DATE_SAME = 0.08  # same day, or one date inside the other ("2023-08" and "2023-08-18")
# One to three days apart: one event told two ways, or two events. Only for two days: 2012 and
# 2013 are one day apart at their ends, and two years.
W_DATE_NEAR = -0.10
W_PLACE_SAME = 0.08
W_PLACE_OTHER = -0.30
W_TYPE_OTHER = -0.04
W_REPEAT = 0.10  # same source, a cited sentence in common: the model reported it twice
W_LATE_PLAN = -0.15  # planned in a source published after the other says it happened
W_DENIED = -0.20  # one says it happened, the other that it was denied: keep them apart
W_NAMED_PLACE = 0.25  # both texts put it at one named place that is not a country ("Camp David")
W_NAMED_CAPITAL = 0.15  # a capital ("Seoul") is also where a government sits: a weaker pin
# Two sources' statements with no day, place or person in common ("the three countries seek
# closer ties") are not one event however alike they sound.
W_NOTHING_CONCRETE = -0.12
# The same cast (two or more actors, the same canonical set) at the same named venue on dates
# that can meet: the identity of an event in GDELT-style datasets (actors, place, date). Two
# sources' previews and reports of one summit often share nothing else.
W_SAME_CAST_AT_VENUE = 0.15
W_ONE_MEETING = 0.28  # one source, two meetings that can be on one day: an article's one meeting
# What was done to what, in words few mentions use ("coal imports", "Interpol", "Indonesian"):
# two sources' summaries sharing such a word name the same thing as a place or a person does.
# Rarity as for actors (0: every mention, 1: one); a word at least this rare is concrete.
RARE_TERM = 0.6
W_TERMS = 0.10  # times the overlap of the summaries' words (actors left out), each by its rarity
# Two sources' news of the day: both report, as their main news, something that happened in the
# days before they were published, and were published at most a day apart. Not a date the text
# gives, but it pins the event down as a day would ("North Korea launched a missile", two papers
# of 13 February 2017). Read by "nothing concrete in common", no weight of its own.
NEWS_DAYS = 3  # how long before publication something still is the news
NEWS_PUBLISHED_APART = 1

Verdict = Literal["same", "different", "doubt"]


@dataclass(frozen=True)
class PairFacts:
    """What scoring reads of one mention."""

    source_id: str
    type: str
    date: str | None
    place: str | None
    status: str
    actors: frozenset[str]
    persons: frozenset[str]
    sentences: frozenset[tuple[str, int]]  # (file, start) of each citation
    published: str | None
    places: frozenset[str] = frozenset()  # named places its words put it at or in (folded)
    capitals: frozenset[str] = frozenset()  # those of its places that are capitals
    meeting: bool = False  # a meeting, summit or talks (see outcomes.is_meeting)
    weak_date: str | None = None  # the date even when only the publication or model gave it
    news_of: str | None = None  # publication date, when this is its source's news (see above)
    terms: frozenset[str] = frozenset()  # the summary's content words, its actors' words left out


@dataclass(frozen=True)
class PairScore:
    """A scored pair: the score, its verdict, and which signals made it."""

    a: int
    b: int
    score: float
    verdict: Verdict
    hard: bool  # can never be one event
    reason: str
    # A place, a day or a person in common: something the model can check the pair against.
    concrete: bool = False
    # One source's two reports of a meeting on days that can be one: a low score means the two
    # sentences say different things about it ("met in Tokyo", "the meeting discussed steps"),
    # not that they are two events, so it keeps nothing apart.
    one_meeting: bool = False


def score_pair(
    a: int,
    b: int,
    fa: PairFacts,
    fb: PairFacts,
    cosine: float,
    rarity: Mapping[str, float] | None = None,
    term_rarity: Mapping[str, float] | None = None,
) -> PairScore:
    """Score mentions ``a`` and ``b`` (their facts and the cosine of their summaries).

    ``rarity``: per canonical actor, 0 (named by every mention: says nothing) to 1 (named once);
    ``term_rarity`` the same per summary word.
    """
    score = cosine
    why = [f"cosine {cosine:.2f}"]
    hard = False

    overlap = weighted_overlap(fa.actors, fb.actors, rarity or {})
    score += W_ACTORS * overlap
    if overlap > 0:
        why.append(f"shared actors {overlap:.2f}")
    term_rarity = term_rarity or {}
    term_overlap = weighted_overlap(fa.terms, fb.terms, term_rarity)
    score += W_TERMS * term_overlap
    rare_terms = sorted(t for t in fa.terms & fb.terms if term_rarity.get(t, 1.0) >= RARE_TERM)
    if rare_terms:
        why.append(f"rare words in common ({', '.join(rare_terms[:3])})")
    people = fa.persons & fb.persons
    if people:
        score += W_PERSON * min(2, len(people))
        why.append("same people")

    apart = days_apart(fa.date, fb.date)
    if apart is not None:
        if apart == 0 and dates_compatible(fa.date, fb.date):
            score += W_DATE_SAME if min(precision(fa.date), precision(fb.date)) >= 2 else 0.0
            why.append("dates agree")
        elif apart <= MAX_DAYS_APART and min(precision(fa.date), precision(fb.date)) == 3:
            score += W_DATE_NEAR
            why.append(f"dates {apart} day(s) apart")
        else:
            hard = True
            why.append(f"dates {fa.date} and {fb.date} cannot meet")

    # A venue both texts name ("Camp David") says where better than the place fields do: one
    # source's "Camp David presidential retreat in Washington" gave "Washington, DC" against
    # another's "Camp David, USA". Then the fields differing is the sources' disagreement on
    # the place (the ledger shows it), not a sign of two events.
    shared_venue = (fa.places & fb.places) - fa.capitals - fb.capitals
    if fa.place and fb.place:
        if places_compatible(fa.place, fb.place):
            score += W_PLACE_SAME
            why.append("same place")
        elif shared_venue:
            why.append("places differ, the same venue named")
        else:
            score += W_PLACE_OTHER
            why.append("different places")
            if fa.status == fb.status == "planned":
                hard = True  # two plans for two places are two plans

    if fa.places & fb.places:
        venue = shared_venue
        score += W_NAMED_PLACE if venue else W_NAMED_CAPITAL
        why.append("same named place")
        if (
            venue
            and len(fa.actors) >= 2
            and fa.actors == fb.actors
            and dates_compatible(fa.weak_date, fb.weak_date)
        ):
            score += W_SAME_CAST_AT_VENUE
            why.append("same cast at the same venue")
    other_people = bool(fa.persons and fb.persons and not people)
    one_meeting = (
        fa.source_id == fb.source_id
        and fa.meeting
        and fb.meeting
        and dates_compatible(fa.weak_date, fb.weak_date)
        and not other_people  # "bilateral meetings with Sullivan and Akiba" is another meeting
    )
    if one_meeting:
        score += W_ONE_MEETING
        why.append("one source's meeting")
    same_news = (
        fa.news_of is not None
        and fb.news_of is not None
        and (days_apart(fa.news_of, fb.news_of) or 0) <= NEWS_PUBLISHED_APART
    )
    concrete = (
        bool(people)
        or bool(fa.places & fb.places)
        or (apart == 0 and min(precision(fa.date), precision(fb.date)) >= 2)
        or same_news
        or bool(rare_terms)
    )
    if fa.source_id != fb.source_id and not concrete:
        score += W_NOTHING_CONCRETE
        why.append("nothing concrete in common")
    if fa.type != fb.type:
        score += W_TYPE_OTHER
    if {fa.status, fb.status} == {"occurred", "denied"}:
        score += W_DENIED
        why.append("occurred vs denied")
    if fa.source_id == fb.source_id and fa.sentences & fb.sentences:
        score += W_REPEAT
        why.append("same sentence")
    if _late_plan(fa, fb) or _late_plan(fb, fa):
        score += W_LATE_PLAN
        why.append("planned after it happened")

    verdict: Verdict
    if hard:
        verdict = "different"
    elif score >= SAME:
        verdict = "same"
    elif score < DIFFERENT:
        verdict = "different"
    else:
        verdict = "doubt"
    return PairScore(a, b, round(score, 4), verdict, hard, ", ".join(why), concrete, one_meeting)


def weighted_overlap(a: frozenset[str], b: frozenset[str], rarity: Mapping[str, float]) -> float:
    """Jaccard overlap in which each shared actor (or word) counts by its rarity: two mentions
    naming the same three countries that every mention names share almost nothing; one rare name
    shared between two short lists is a strong sign."""
    union = a | b
    if not union:
        return 0.0
    return sum(rarity.get(x, 1.0) for x in a & b) / len(union)


def _late_plan(planned: PairFacts, occurred: PairFacts) -> bool:
    """``planned`` calls it a plan though its source was published after ``occurred``'s date."""
    if planned.status != "planned" or occurred.status != "occurred" or not planned.published:
        return False
    if not occurred.date:
        return False
    return (days_apart(planned.published, occurred.date) or 0) > 0 and (
        planned.published > occurred.date
    )
