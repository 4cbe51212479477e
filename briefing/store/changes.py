"""What changed between two versions of a brief: sources, events, disagreements, key points.

A version is what the refresh state stores per run (``state.RunRecord``): its canonical events
with their mentions, its disagreements, its key points and the sources it read. Events of two
versions are the same event when they share a mention (a mention's id is a hash of its source
and its record, and an unchanged source gives the same records from the cache), so an event
keeps its identity when a new source joins it and its canonical id changes. A record that a
changed rule of the code rewrote from the same reply (a status repaired, a summary ended
cleanly) has a new id: it is the last version's mention of its source whose first citation
starts where its own does, and that no mention of this version kept.

* **new**: an event of this version that shares no mention with the last;
* **corroborated**: an event that more sources report than before;
* **weakened**: an event that fewer sources report (one of them was removed or edited);
* **retracted**: an event of the last version none of whose mentions is left: every source it
  rested on was removed or edited, or its sources, read again, no longer give it. A key point is
  retracted when every event it cited is.

Outcomes under a meeting are left out: their meeting's line says enough.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..models.changes import ChangeKind, Changes, EventChange, SourceChange

# A version as stored: events.json plus, under this key, its key points (text, event_ids).
KEY_POINTS = "key_points"


def compare(
    previous_run: int,
    previous_at: str,
    before: Mapping[str, Any],
    before_sources: Mapping[str, str],
    now: Mapping[str, Any],
    now_sources: Mapping[str, str],
) -> Changes:
    """What changed from version ``before`` to ``now`` (each an ``events.json`` document with
    its ``key_points``; ``*_sources``: source id -> path)."""
    old = _top_level(before)
    new = _top_level(now)
    was = _earlier_mentions(before, now)
    old_by_mention = {m: e["id"] for e in old for m in _mentions(e)}
    matched: dict[str, set[str]] = {}  # new id -> old ids it shares a mention with
    for e in new:
        earlier = {was[m] for m in _mentions(e) if m in was}
        matched[e["id"]] = {old_by_mention[m] for m in earlier if m in old_by_mention}
    old_by_id = {e["id"]: e for e in old}
    events: list[EventChange] = []
    for e in new:
        ancestors = [old_by_id[i] for i in sorted(matched[e["id"]])]
        now_count = len(e["source_ids"])
        if not ancestors:
            events.append(_change("new", e, 0, now_count))
            continue
        before_count = max(len(a["source_ids"]) for a in ancestors)
        if now_count > before_count:
            events.append(_change("corroborated", e, before_count, now_count))
        elif now_count < before_count:
            events.append(_change("weakened", e, before_count, now_count))
    kept = {i for ids in matched.values() for i in ids}
    retracted = [e for e in old if e["id"] not in kept]
    events += [
        _change("retracted", e, len(e["source_ids"]), 0).model_copy(
            update={"sources_kept": any(s in now_sources for s in e["source_ids"])}
        )
        for e in retracted
    ]

    gone = {e["id"] for e in retracted}
    retracted_points = tuple(
        p["text"]
        for p in before.get(KEY_POINTS, ())
        if p.get("event_ids") and all(x in gone for x in p["event_ids"])
    )
    old_keys = {k for d in before.get("disagreements", ()) for k in _disagreement_keys(d, before)}
    new_disagreements = tuple(
        d["subject"]
        for d in now.get("disagreements", ())
        if not _disagreement_keys(d, now, was) & old_keys
    )
    return Changes(
        previous_run=previous_run,
        previous_at=previous_at,
        sources=_source_changes(before_sources, now_sources),
        events=tuple(events),
        new_disagreements=new_disagreements,
        retracted_key_points=retracted_points,
    )


def _top_level(version: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [e for e in version.get("events", ()) if not e.get("parent_id")]


def _mentions(event: Mapping[str, Any]) -> set[str]:
    return {m["id"] for m in event.get("mentions", ()) if m.get("alignment") != "linked"}


def _earlier_mentions(before: Mapping[str, Any], now: Mapping[str, Any]) -> dict[str, str]:
    """Each mention of ``now`` that was in ``before``, by id: its own id when unchanged, else
    the id of a mention ``now`` did not keep, of its source and first citation (one for one)."""

    def places(version: Mapping[str, Any]) -> dict[str, tuple[str, int]]:
        return {
            m["id"]: (m["source_id"], m["citations"][0]["start"] if m.get("citations") else -1)
            for e in version.get("events", ())
            for m in e.get("mentions", ())
            if m.get("alignment") != "linked"
        }

    old, new = places(before), places(now)
    was = {m: m for m in new if m in old}
    left: dict[tuple[str, int], list[str]] = {}
    for m in sorted(old):
        if m not in new:
            left.setdefault(old[m], []).append(m)
    for m in sorted(new):
        if m not in old and left.get(new[m]):
            was[m] = left[new[m]].pop(0)
    return was


def _change(kind: ChangeKind, event: Mapping[str, Any], before: int, now: int) -> EventChange:
    return EventChange(
        kind=kind,
        event_id=event["id"],
        date=event.get("date"),
        summary=event["summary"],
        sources_before=before,
        sources_now=now,
    )


def _disagreement_keys(
    d: Mapping[str, Any], version: Mapping[str, Any], was: Mapping[str, str] | None = None
) -> set[tuple[str, str]]:
    """What a disagreement is about, as keys two versions can share: its field with each
    mention of its event (an event keeps its mentions when its summary changes; ``was`` gives
    a rewritten mention its earlier id), or with its actor. A side gained or lost does not make
    it a new disagreement."""
    field = d.get("field", "")
    if d.get("actor_id"):
        return {(field, "actor " + d["actor_id"])}
    events = {e["id"]: e for e in version.get("events", ())}
    event = events.get(d.get("event_id") or "")
    if event is None:
        return {(field, "subject " + d.get("subject", ""))}
    return {(field, (was or {}).get(m, m)) for m in _mentions(event)}


def _source_changes(before: Mapping[str, str], now: Mapping[str, str]) -> tuple[SourceChange, ...]:
    """Added, edited and removed sources: a path seen before with another hash is edited."""
    old_paths = {path: sid for sid, path in before.items()}
    new_paths = {path: sid for sid, path in now.items()}
    changes: list[SourceChange] = []
    for path, sid in sorted(new_paths.items()):
        if path not in old_paths:
            if sid not in before:  # a file moved or renamed is not new
                changes.append(SourceChange(path=path, kind="added"))
        elif old_paths[path] != sid:
            changes.append(SourceChange(path=path, kind="edited"))
    for path, sid in sorted(old_paths.items()):
        if path not in new_paths and sid not in now:
            changes.append(SourceChange(path=path, kind="removed"))
    return tuple(changes)


def summary_line(changes: Changes) -> str:
    """Counts for one line: "2 new, 1 retracted, 1 source added"."""
    counts: dict[str, int] = {}
    for e in changes.events:
        counts[e.kind] = counts.get(e.kind, 0) + 1
    for s in changes.sources:
        counts["source " + s.kind] = counts.get("source " + s.kind, 0) + 1
    if changes.new_disagreements:
        counts["new disagreement(s)"] = len(changes.new_disagreements)
    if not counts:
        return "nothing changed"
    parts: Sequence[str] = [f"{n} {k}" for k, n in counts.items()]
    return ", ".join(parts)
