"""Review: an analyst's decisions on the brief's claims, kept across builds and applied to each.

A decision is on a claim id (``accept``, ``reject``, or ``edit`` with new text). Claim ids come
from what a claim says and which events it rests on, so a build that changes nothing keeps them
and the decision applies as made. When a refresh changes a claim (a new source joins its event,
the model words it anew) the id changes; the decision then moves to the claim that now stands on
the same cited spans, is still applied (a rejected claim must not come back unseen), and is
*flagged* for a second look. A decision that fits no claim any more is kept, never dropped, and
listed as orphaned. Applying never touches citations: an edited claim keeps its sources and is
checked again, since its text is new.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..models import Brief, Claim, Decision, DisagreementEntry, TimelineEntry

# Share of cited spans a changed claim must keep to inherit a decision on its former wording.
SAME_SPANS = 0.5


@dataclass(frozen=True)
class Flagged:
    """A decision applied to a claim that changed since it was made."""

    decision: Decision
    claim: Claim  # the claim as it stands now (before the decision was applied)


@dataclass(frozen=True)
class Reviewed:
    """A brief with the decisions applied, and what became of each decision."""

    brief: Brief
    applied: tuple[Decision, ...]  # to the very claim it was made on
    flagged: tuple[Flagged, ...]  # to a claim that changed since
    orphaned: tuple[Decision, ...]  # no claim of this brief fits it


def match_decisions(
    claims: Sequence[Claim], decisions: Sequence[Decision]
) -> tuple[dict[str, Decision], dict[str, Decision], list[Decision]]:
    """Which decision goes with which claim: by id, else (for a changed claim) by the most
    shared cited spans in the same section. Returns (exact, changed, orphaned); the first two
    map claim ids to decisions."""
    by_id = {d.claim_id: d for d in decisions}
    exact = {c.id: by_id[c.id] for c in claims if c.id in by_id}
    waiting = [d for d in decisions if d.claim_id not in exact]
    changed: dict[str, Decision] = {}
    for claim in claims:
        if claim.id in exact or not waiting:
            continue
        best = max(waiting, key=lambda d: (_shared_spans(claim, d.claim), d.decided_at))
        if best.claim.section == claim.section and _shared_spans(claim, best.claim) >= SAME_SPANS:
            changed[claim.id] = best
            waiting.remove(best)
    return exact, changed, waiting


def apply_decisions(brief: Brief, decisions: Sequence[Decision]) -> Reviewed:
    """``brief`` as the reviewer decided: rejected claims leave it, edited ones take the
    reviewer's text (keeping their citations), accepted ones are marked."""
    if not decisions:
        return Reviewed(brief, (), (), ())
    claims = brief.claims()
    exact, changed, orphaned = match_decisions(claims, decisions)
    decided = {**exact, **changed}

    def outcome(claim: Claim) -> Claim | None:
        decision = decided.get(claim.id)
        if decision is None:
            return claim
        if decision.action == "reject":
            return None
        if decision.action == "edit":
            return claim.model_copy(update={"text": decision.text, "review": "edited"})
        return claim.model_copy(update={"review": "accepted"})

    key_points = tuple(c for c in map(outcome, brief.key_points) if c is not None)
    timeline: list[TimelineEntry] = []
    for row in brief.timeline:
        kept = outcome(row.claim)
        if kept is None:
            continue  # the row goes, and what it discussed or agreed with it
        outcomes = tuple(c for c in map(outcome, row.outcomes) if c is not None)
        timeline.append(row.model_copy(update={"claim": kept, "outcomes": outcomes}))
    disagreements: list[DisagreementEntry] = []
    for entry in brief.disagreements:
        sides = [(s, v) for s, v in zip(entry.sides, entry.values, strict=True)]
        left = [(c, v) for s, v in sides if (c := outcome(s)) is not None]
        if len(left) >= 2:  # one side left is no disagreement
            disagreements.append(
                entry.model_copy(
                    update={"sides": tuple(c for c, _ in left), "values": tuple(v for _, v in left)}
                )
            )
    actors = tuple(
        a.model_copy(update={"claim": kept})
        for a in brief.actors
        if (kept := outcome(a.claim)) is not None
    )
    by_id = {c.id: c for c in claims}
    return Reviewed(
        brief=brief.model_copy(
            update={
                "key_points": key_points,
                "timeline": tuple(timeline),
                "disagreements": tuple(disagreements),
                "actors": actors,
            }
        ),
        applied=tuple(exact.values()),
        flagged=tuple(Flagged(d, by_id[cid]) for cid, d in changed.items()),
        orphaned=tuple(orphaned),
    )


def _shared_spans(a: Claim, b: Claim) -> float:
    """Jaccard overlap of two claims' cited spans."""
    left = {(c.file, c.start, c.end) for c in a.citations}
    right = {(c.file, c.start, c.end) for c in b.citations}
    return len(left & right) / len(left | right) if left | right else 0.0
