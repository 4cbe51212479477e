"""What the review page shows and what its keys do, apart from HTTP.

The page reviews the last build's *generated* brief (the run keeps it as the model and the
code wrote it, before any decision): a rejected claim must stay on the page to be un-rejected,
and an edited one must show what it said before. Each claim comes with where it stands in the
brief, the last ``briefing check`` verdict on it, its evidence, and the decision that applies
to it: made on it, or made on an earlier wording ("changed since your decision"). Decisions
that fit no claim any more are listed too; nothing here drops one.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..errors import ReviewError, StateError
from ..models import Brief, Claim, Decision, ReviewAction
from ..store.state import State
from . import match_decisions
from .evidence import SourceTexts, excerpts
from .exchange import first_error, now

SECTION_LABELS = {
    "key_developments": "Key development",
    "timeline": "Timeline",
    "disagreements": "Disagreement",
    "actors": "Actor",
}
STATUS_LABELS = {
    "supported": "supported",
    "partly": "partly supported",
    "not_supported": "not supported",
    "failed": "failed a check",
    "unchecked": "not checked yet",
}
NOT_CHECKED = "not checked — run briefing check"


def generated_brief(st: State, out_dir: Path) -> tuple[int, Brief]:
    """The last run's number and its brief as generated; :class:`StateError` before a build."""
    last = st.last_run()
    if last is None or last.brief_record is None:
        raise StateError(f"{out_dir} holds no build to review; build it first")
    return last.id, Brief.model_validate(last.brief_record)


def unique_claims(brief: Brief) -> list[Claim]:
    """The brief's claims in reading order, each id once (a decision is per id)."""
    seen: dict[str, Claim] = {}
    for claim in brief.claims():
        seen.setdefault(claim.id, claim)
    return list(seen.values())


def claim_places(brief: Brief) -> dict[str, str]:
    """A few words per claim id on where it stands: what a reviewer needs to judge it that the
    sentence does not say (the row's date, the disputed field and this side's value)."""
    places: dict[str, str] = {}
    for i, point in enumerate(brief.key_points, 1):
        places.setdefault(point.id, f"point {i} of {len(brief.key_points)}")
    for row in brief.timeline:
        head = f"{row.date or 'undated'} · {row.status} · {row.type.lower()}"
        places.setdefault(row.claim.id, head)
        for outcome in row.outcomes:
            places.setdefault(outcome.id, f"{head} · what came of it")
    for entry in brief.disagreements:
        for side, value in zip(entry.sides, entry.values, strict=True):
            places.setdefault(side.id, f"{entry.field} of {entry.subject} · this side: {value}")
    for actor in brief.actors:
        places.setdefault(actor.claim.id, f"{actor.name} ({actor.kind})")
    return places


def check_statuses(report: Any) -> dict[str, dict[str, str]] | None:
    """Claim id → ``{"status", "label", "reason"}`` from a check report; None when no check was
    run. A report of another shape (an older or newer briefing) gives what it can."""
    if not isinstance(report, dict):
        return None
    found: dict[str, dict[str, str]] = {}
    entries = report.get("claims")
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or not isinstance(entry.get("claim_id"), str):
            continue
        status = str(entry.get("status") or "unchecked")
        found[entry["claim_id"]] = {
            "status": status,
            "label": STATUS_LABELS.get(status, status.replace("_", " ")),
            "reason": str(entry.get("reason") or ""),
        }
    return found


def decision_state(claims: Sequence[Claim], decisions: Sequence[Decision]) -> dict[str, Any]:
    """Which decision stands for each claim, the orphaned ones, and the progress count. Only a
    decision made on the claim as it now reads counts as decided; one on an earlier wording
    still applies but waits for a second look."""
    exact, changed, orphaned = match_decisions(claims, decisions)
    shown = {cid: _decision_view(d, None) for cid, d in exact.items()}
    shown.update({cid: _decision_view(d, d.claim.text) for cid, d in changed.items()})
    return {
        "decisions": shown,
        "orphaned": [
            {
                **_decision_view(d, None),
                "claim_text": d.claim.text,
                "section_label": SECTION_LABELS.get(d.claim.section, d.claim.section),
            }
            for d in orphaned
        ],
        "progress": {
            "decided": len(exact),
            "changed": len(changed),
            "total": len(claims),
            "orphaned": len(orphaned),
        },
    }


def _decision_view(d: Decision, previous_text: str | None) -> dict[str, Any]:
    return {
        "claim_id": d.claim_id,
        "action": d.action,
        "text": d.text,
        "comment": d.comment,
        "decided_at": d.decided_at,
        "changed": previous_text is not None,
        "previous_text": previous_text,
    }


def page_data(st: State, out_dir: Path) -> dict[str, Any]:
    """Everything the page shows, as JSON-ready data (its text is escaped where it is shown)."""
    run_id, brief = generated_brief(st, out_dir)
    claims = unique_claims(brief)
    places = claim_places(brief)
    statuses = check_statuses(st.last_check())
    texts = SourceTexts()
    unchecked = {"status": "not_checked", "label": NOT_CHECKED, "reason": ""}
    not_in_check = {"status": "unchecked", "label": STATUS_LABELS["unchecked"], "reason": ""}
    items = [
        {
            "id": c.id,
            "section": c.section,
            "section_label": SECTION_LABELS.get(c.section, c.section),
            "place": places.get(c.id, ""),
            "text": c.text,
            "status": unchecked if statuses is None else statuses.get(c.id, not_in_check),
            "evidence": excerpts(c.citations, texts),
        }
        for c in claims
    ]
    return {
        "title": brief.title,
        "run": run_id,
        "out": str(out_dir),
        "claims": items,
        **decision_state(claims, st.decisions()),
    }


def current_state(st: State, out_dir: Path) -> dict[str, Any]:
    """The decision part of :func:`page_data` alone: what a page refreshes after each key."""
    return decision_state(unique_claims(generated_brief(st, out_dir)[1]), st.decisions())


def decide(
    st: State,
    out_dir: Path,
    claim_id: str,
    action: ReviewAction,
    text: str | None = None,
    comment: str | None = None,
) -> Decision:
    """Keep the reviewer's decision on claim ``claim_id`` of the last build, decided now.

    The claim must be in the last build (a build that finished since the page was loaded may
    have reworded it: :class:`ReviewError`, reload). A decision made on an earlier wording of
    it is replaced by this one, which is made on what the reviewer now sees."""
    claims = unique_claims(generated_brief(st, out_dir)[1])
    claim = next((c for c in claims if c.id == claim_id), None)
    if claim is None:
        raise ReviewError(f"claim {claim_id} is not in the last build any more: reload the page")
    text = text.strip() if action == "edit" and text else None
    if action == "edit" and text == claim.text:
        action, text = "accept", None  # an edit that changes nothing accepts the words as they are
    try:
        decision = Decision(
            claim_id=claim_id,
            action=action,
            text=text,
            comment=(comment or "").strip() or None,
            claim=claim,
            decided_at=now(),
        )
    except ValidationError as exc:
        raise ReviewError(first_error(exc)) from exc
    _, changed, _ = match_decisions(claims, st.decisions())
    st.save_decision(decision)
    earlier = changed.get(claim_id)
    if earlier is not None and earlier.claim_id != claim_id:
        st.forget_decision(earlier.claim_id)
    return decision


def undo(st: State, out_dir: Path, claim_id: str) -> bool:
    """Forget the decision that stands for claim ``claim_id`` (made on it or on an earlier
    wording), or the orphaned decision made on that id; whether there was one."""
    claims = unique_claims(generated_brief(st, out_dir)[1])
    exact, changed, orphaned = match_decisions(claims, st.decisions())
    found = exact.get(claim_id) or changed.get(claim_id)
    found = found or next((d for d in orphaned if d.claim_id == claim_id), None)
    return st.forget_decision(found.claim_id) if found is not None else False
