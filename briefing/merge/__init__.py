"""Merging: one canonical event per real-world event, across every source of the brief.

    per-source event records ("mentions")
      ──actors────▶ one canonical name per actor, every variant kept        (actors.py)
      ──blocking──▶ candidate pairs: shared actor or place, dates that can meet (blocking.py)
      ──scoring───▶ same / different / in doubt, from meaning + dates, places, actors (scoring.py)
      ──judge─────▶ the model's verdict on the pairs in doubt, a bounded number  (judge.py)
      ──grouping──▶ groups joined strongest first, never across a "cannot be"   (grouping.py)
      ──linking───▶ sentences of other sources that report a grouped event     (linking.py)
      ──outcomes──▶ what a meeting discussed or agreed hangs under the meeting (outcomes.py)
      ──records───▶ CanonicalEvents with corroboration and disagreements (canonical.py, …)

Only this package loads the embedding model. Decisions are deterministic for the same inputs;
each canonical event says which signals joined its mentions.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..extract.align import content_words
from ..models import (
    Actor,
    CanonicalEvent,
    Disagreement,
    Event,
    MergeDecision,
    Source,
    Usage,
    too_late_to_have_occurred,
)
from . import blocking, grouping, linking, outcomes, scoring
from .actors import ActorNames, actor_records, resolve_actors
from .canonical import build_canonical
from .corroboration import Independence
from .disagreements import common_word, event_disagreements
from .embeddings import Embedder, VectorCache
from .judge import Judge
from .signals import days_apart, precision

__all__ = ["Embedder", "Judge", "MergeResult", "VectorCache", "merge_events"]

# Below this score a pair is clearly two events, and no chain of other pairs may join them.
# Not higher: one pair of 0.52-0.58, between a reaction the model cited with an event's sentence
# ("Russia's ambassador accused the US of deploying THAAD") and another report of that event,
# kept three reported events of 50 news articles in two rows each at 0.60 (the THAAD deployment,
# the UN Security Council's urgent meeting, Tillerson in Seoul). The seeds group the same.
KEEP_APART = scoring.DIFFERENT - 0.22


@dataclass(frozen=True)
class MergeResult:
    """Canonical events (outcomes included, each pointing at its meeting), actors, the ledger
    of disagreements, every pair decision, and what the stage did."""

    canonical: tuple[CanonicalEvent, ...]
    actors: tuple[Actor, ...]
    disagreements: tuple[Disagreement, ...]
    decisions: tuple[MergeDecision, ...]
    mentions: tuple[Event, ...]  # the input records plus the linked ones
    usage: Usage = field(default_factory=Usage)
    stats: dict[str, float] = field(default_factory=dict)


def merge_events(
    events: Sequence[Event],
    sources: Sequence[Source],
    embedder: Embedder,
    judge: Judge | None = None,
    files: dict[str, str] | None = None,
    on_notice: Callable[[str], None] | None = None,
) -> MergeResult:
    """Group ``events`` (every source's records) into canonical events.

    ``files``: each source's citable file (``pipeline.citable_files``), for the citations of
    linked mentions. ``judge``, when given, decides pairs in doubt up to its budget.
    """
    started = time.monotonic()
    stats: dict[str, float] = {"mentions": len(events)}
    # One order whatever order the sources came in: the same records give the same groups.
    events = sorted(events, key=lambda e: (e.citations[0].file, e.citations[0].start, e.id))
    sources = sorted(sources, key=lambda s: s.id)
    names = resolve_actors(events, sources)
    vectors = embedder.embed([e.summary for e in events]) if events else np.zeros((0, 384))
    stats["embed_seconds"] = round(time.monotonic() - started, 3)

    published = {s.id: s.published for s in sources}
    facts = [_facts(e, names, published) for e in events]
    mentions = [
        blocking.Mention(i, e.source_id, _strong_date(e), facts[i].actors, e.location)
        for i, e in enumerate(events)
    ]
    pairs = blocking.candidate_pairs(mentions, vectors)
    stats["candidate_pairs"] = len(pairs)
    rarity = _rarity([f.actors for f in facts])
    term_rarity = _rarity([f.terms for f in facts])
    scored = [
        scoring.score_pair(
            a, b, facts[a], facts[b], float(vectors[a] @ vectors[b]), rarity, term_rarity
        )
        for a, b in pairs
    ]
    decisions = _decide(scored, events, names, judge)
    stats["pairs_in_doubt"] = sum(1 for s in scored if s.verdict == "doubt")
    stats["model_verdicts"] = sum(1 for d in decisions.values() if d.decided_by == "model")

    same = [(s.score, s.a, s.b) for s in scored if decisions[(s.a, s.b)].same]
    # A pair clearly judged two events keeps its groups apart: "A is B" and "B is C" must not
    # make A and C one event when A and C cannot be (a hard reason, the model's word, or a score
    # far below the band). A pair merely short of "same" does not block: its evidence was thin.
    apart = [(s.a, s.b) for s in scored if keeps_apart(s, decisions[(s.a, s.b)])]
    groups = grouping.group(len(events), same, apart, [f.date for f in facts])

    linked = linking.link_mentions(events, groups, sources, embedder, names, files or {}, vectors)
    if linked.events:
        events = [*events, *linked.events]
        groups = linked.groups
        names = resolve_actors(events, sources)  # linked sentences may name actors anew
    stats["linked_mentions"] = len(linked.events)

    parents = outcomes.find_parents(events, groups)
    independence = Independence(sources)
    canonical = build_canonical(events, groups, parents, names, independence, decisions)
    disagreements = (
        *event_disagreements(canonical, names, sources),
        *names.disagreements,
    )
    canonical = _mark_disputed(canonical, disagreements)
    by_actor: dict[str, list[str]] = {}
    for c in canonical:
        for actor in c.actors:
            by_actor.setdefault(actor, []).append(c.id)
    actors = actor_records(names, by_actor)
    stats["canonical_events"] = len(canonical)
    stats["texts_embedded"] = embedder.computed
    stats["vectors_recalled"] = embedder.recalled
    stats["seconds"] = round(time.monotonic() - started, 3)
    if on_notice and judge is not None and judge.asked:
        stored = judge.usage.cache_hits
        on_notice(
            f"merge: the model decided {judge.asked} pair(s) in doubt"
            + (f" ({stored} answered from the refresh state)" if stored else "")
        )
    return MergeResult(
        canonical=canonical,
        actors=actors,
        disagreements=tuple(disagreements),
        decisions=tuple(decisions.values()),
        mentions=tuple(events),
        usage=judge.usage if judge is not None else Usage(),
        stats=stats,
    )


def keeps_apart(scored: scoring.PairScore, decision: MergeDecision) -> bool:
    """Whether a pair judged two events keeps its groups apart: for a hard reason, by the
    model's word, or by a score below ``KEEP_APART`` (except inside one source's meeting)."""
    if decision.same:
        return False
    if scored.hard or decision.decided_by == "model":
        return True
    return scored.score < KEEP_APART and not scored.one_meeting


def _rarity(named: Sequence[frozenset[str]]) -> dict[str, float]:
    """Per actor (or word), log(N / mentions naming it) / log(N): 0 when every mention does."""
    counts: dict[str, int] = {}
    for names in named:
        for name in names:
            counts[name] = counts.get(name, 0) + 1
    n = len(named)
    if n < 2:
        return {a: 1.0 for a in counts}
    return {a: float(np.log(n / c) / np.log(n)) for a, c in counts.items()}


def _strong_date(event: Event) -> str | None:
    """The date when the text supports it; the article's own date or the model's inference
    says little about when an earlier event happened, so it never keeps two mentions apart."""
    return event.date if event.date_basis in ("stated", "relative") else None


def _facts(event: Event, names: ActorNames, published: dict[str, str | None]) -> scoring.PairFacts:
    actors = names.of(event)
    places = linking.named_places(event, names)
    return scoring.PairFacts(
        source_id=event.source_id,
        type=event.type,
        date=_strong_date(event),
        place=event.location,
        status=event.status,
        actors=names.with_countries(actors),
        persons=frozenset(a for a in actors if names.kinds.get(a) == "person"),
        sentences=frozenset((c.file, c.start) for c in event.citations),
        published=published.get(event.source_id),
        places=places,
        capitals=frozenset(p for p in places if linking.is_capital(p)),
        meeting=outcomes.is_meeting(event),
        weak_date=event.date,
        news_of=_news_of(event, published.get(event.source_id)),
        terms=_terms(event),
    )


def _terms(event: Event) -> frozenset[str]:
    """The summary's content words but its actors' and the calendar's: actors are scored on
    their own, and "Tuesday" is a date, read as one."""
    named = content_words(" ".join(event.actors))
    return frozenset(w for w in content_words(event.summary) - named if not common_word(w))


def _news_of(event: Event, published: str | None) -> str | None:
    """The source's publication day when ``event`` is its main news: it happened (by its own
    date, or the article's) at most ``scoring.NEWS_DAYS`` before the article came out, or the
    day after (its time zone's)."""
    if event.role != "main" or event.status != "occurred" or not published:
        return None
    published = published[:10]
    if precision(published) < 3 or (event.date and precision(event.date) < 3):
        return None
    before = days_apart(event.date, published) if event.date else 0
    if before is None or before > scoring.NEWS_DAYS:
        return None
    if event.date and too_late_to_have_occurred(event.date, published):
        return None
    return published


def _decide(
    scored: Sequence[scoring.PairScore],
    events: Sequence[Event],
    names: ActorNames,
    judge: Judge | None,
) -> dict[tuple[int, int], MergeDecision]:
    """A decision for every scored pair; the model for the pairs in doubt while its budget lasts:
    first those with something concrete in common (a place, a day, a person), then the others,
    each nearest the middle of the band first.

    One source's two reports of its meeting are not asked: the model sees two sentences out of
    their article and called such pairs different (seed 004's one meeting, measured), while the
    signals know they come from one article and one day. The score decides them."""
    middle = (scoring.SAME + scoring.DIFFERENT) / 2
    decisions: dict[tuple[int, int], MergeDecision] = {}
    doubtful = sorted(
        (s for s in scored if s.verdict == "doubt" and not s.one_meeting),
        key=lambda s: (not s.concrete, abs(s.score - middle), s.a, s.b),
    )
    asked = {(s.a, s.b) for s in doubtful[: judge.budget]} if judge is not None else set()
    for s in scored:
        a, b = events[s.a], events[s.b]
        key = (s.a, s.b)
        if s.verdict != "doubt":
            decisions[key] = MergeDecision(
                a=a.id, b=b.id, same=s.verdict == "same", score=s.score,
                decided_by="signals", reason=s.reason,
            )  # fmt: skip
            continue
        if key in asked and judge is not None:
            verdict = judge.verdict(a, b, (names.of(a), names.of(b)))
            if verdict.same is not None:
                decisions[key] = MergeDecision(
                    a=a.id, b=b.id, same=verdict.same, score=s.score,
                    decided_by="model", reason=f"{s.reason}; model: {verdict.reason}",
                )  # fmt: skip
                continue
        decisions[key] = MergeDecision(
            a=a.id, b=b.id, same=s.score >= middle, score=s.score,
            decided_by="signals" if s.one_meeting else "budget",
            reason=f"{s.reason}; in doubt, decided by the score",
        )  # fmt: skip
    return decisions


def _mark_disputed(
    canonical: Sequence[CanonicalEvent], disagreements: Sequence[Disagreement]
) -> tuple[CanonicalEvent, ...]:
    fields: dict[str, list[str]] = {}
    for d in disagreements:
        if d.event_id:
            fields.setdefault(d.event_id, []).append(d.field)
    return tuple(
        c.model_copy(update={"disputed": tuple(dict.fromkeys(fields[c.id]))})
        if c.id in fields
        else c
        for c in canonical
    )
