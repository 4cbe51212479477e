"""Canonical event records: one per group of mentions, with the values the mentions support.

* **date**: the most precise date that the mentions' own words support ("2023-08" and
  "2023-08-18" give the day); when they conflict, the one most sources give (the ledger keeps
  the others). A date the model took from the article's publication, or inferred, is used only
  when no mention states one.
* **status**: "occurred" when any mention reports it as done (a plan that came true), else the
  status most mentions give.
* **summary**: the words of the mention that tells it most plainly: the model's own record
  rather than a linked sentence, a summary not cut short ("…"), a main-role mention, occurred if
  any, with a stated date, from the source with most to say about it.
* **actors**: canonical names, most-named first.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence

from ..models import CanonicalEvent, Event, MergeDecision, Status
from .actors import ActorNames
from .corroboration import Independence
from .signals import dates_compatible, most_precise, precision

MAX_REASONS = 4


def canonical_id(mention_ids: Sequence[str]) -> str:
    """A content hash of the sorted mention ids: the same mentions, the same id."""
    return "ce_" + hashlib.sha256(" ".join(sorted(mention_ids)).encode()).hexdigest()[:12]


def build_canonical(
    events: Sequence[Event],
    groups: Sequence[Sequence[int]],
    parents: Mapping[int, int],
    names: ActorNames,
    independence: Independence,
    decisions: Mapping[tuple[int, int], MergeDecision],
) -> tuple[CanonicalEvent, ...]:
    """One :class:`CanonicalEvent` per group; ``parents`` maps a group number to the group of the
    meeting it is an outcome of."""
    ids = [canonical_id([events[i].id for i in g]) for g in groups]
    group_of = {i: n for n, g in enumerate(groups) for i in g}
    reasons_of: dict[int, list[str]] = {}
    for (a, b), d in sorted(decisions.items()):
        if d.same and a in group_of and group_of[a] == group_of.get(b):
            reasons_of.setdefault(group_of[a], []).append(d.reason)
    records = []
    for n, members in enumerate(groups):
        mentions = [events[i] for i in members]
        lead = representative(mentions)
        source_ids = tuple(dict.fromkeys(m.source_id for m in mentions))
        actor_counts: Counter[str] = Counter()
        for m in mentions:
            actor_counts.update(names.of(m))
        reasons = reasons_of.get(n, [])
        records.append(
            CanonicalEvent(
                id=ids[n],
                type=Counter(m.type for m in mentions).most_common(1)[0][0]
                if len({m.type for m in mentions}) > 1
                else lead.type,
                summary=lead.summary,
                actors=tuple(a for a, _ in actor_counts.most_common()),
                location=_location(mentions, lead),
                date=best_date(mentions),
                status=_status(mentions),
                role="main" if any(m.role == "main" for m in mentions) else "background",
                mentions=tuple(sorted(mentions, key=_reading_order)),
                source_ids=source_ids,
                independent_sources=independence.count(source_ids),
                parent_id=ids[parents[n]] if n in parents else None,
                reasons=tuple(dict.fromkeys(reasons))[:MAX_REASONS],
            )
        )
    return tuple(records)


def representative(mentions: Sequence[Event]) -> Event:
    """The mention whose words stand for the event (see the module docstring)."""
    per_source = Counter(m.source_id for m in mentions)
    return min(
        mentions,
        key=lambda m: (
            m.alignment == "linked",  # the model's own summary reads better than a raw sentence
            m.summary.rstrip().endswith(("…", "...")),  # a summary cut short ends mid-phrase
            m.role != "main",
            m.status != "occurred",
            m.date_basis not in ("stated", "relative"),
            -per_source[m.source_id],
            _reading_order(m),
        ),
    )


def best_date(mentions: Sequence[Event]) -> str | None:
    """The most precise supported date; the majority when supported dates conflict."""
    strong = [m.date for m in mentions if m.date and m.date_basis in ("stated", "relative")]
    pool = strong or [m.date for m in mentions if m.date]
    if not pool:
        return None
    if all(dates_compatible(a, b) for a in pool for b in pool):
        return most_precise(pool)
    counts = Counter(pool)
    return min(counts, key=lambda d: (-counts[d], -precision(d), d))


def _status(mentions: Sequence[Event]) -> Status:
    """ "occurred" when a source's own record says so (a plan that came true), else the status
    most records give; a linked sentence decides only when no record does."""
    own = [m for m in mentions if m.alignment != "linked"] or list(mentions)
    if any(m.status == "occurred" for m in own):
        return "occurred"
    counts = Counter(m.status for m in own)
    return min(counts, key=lambda s: (-counts[s], s))


def _location(mentions: Sequence[Event], lead: Event) -> str | None:
    if lead.location:
        return lead.location
    places = Counter(m.location for m in mentions if m.location)
    return min(places, key=lambda p: (-places[p], p)) if places else None


def _reading_order(m: Event) -> tuple[str, int]:
    return (m.citations[0].file, m.citations[0].start)
