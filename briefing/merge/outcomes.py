"""Outcomes: what a meeting discussed, agreed or expressed hangs under that meeting.

A source that reports a meeting goes on to say what it discussed, agreed, stressed or called
for; a small model reports each as an event of its own. Those are outcomes, not timeline rows.
A group is an outcome of a meeting when, in a source that reports both, it is not a meeting
itself, its dates can be the meeting's, and the nearest meeting reported before it in that
source (or, failing that, the only one) is this one. An outcome keeps its own mentions and
citations; only where it is shown changes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..models import Event
from .signals import dates_compatible

# A meeting: a CONSULT event whose words say people met (not that they "discussed" something).
_MEETING = re.compile(
    r"\b(met|meet|meets|meeting|meetings|summit|talks|convened|convene|hosted|host|hosts|"
    r"gathering|visit|visited|dialogue|conference|session)\b",
    re.I,
)
# Words of an outcome: what a meeting produced.
_OUTCOME = re.compile(
    r"\b(discuss\w*|agree\w*|address\w*|emphasi[sz]\w*|stress\w*|reaffirm\w*|express\w*|"
    r"highlight\w*|underscor\w*|call\w* for|commit\w*|pledg\w*|vow\w*|focus\w*|reflect\w*|"
    r"establish\w*|launch\w*|will (begin|establish|share|hold|set up))\b",
    re.I,
)


# Whatever its type, an event whose subject is a summit or meeting is that meeting: "This summit
# is seen as the first standalone gathering…", "Biden seeks to use the summit…".
_MEETING_SUBJECT = re.compile(r"^(?:\w+\s){0,5}?(?:the|this|that)\s+(summit|meeting|talks)\b", re.I)


def is_meeting(event: Event) -> bool:
    """A meeting, summit or talks (what outcomes hang under)."""
    if _MEETING_SUBJECT.search(event.summary):
        return True
    return event.type == "CONSULT" and bool(_MEETING.search(event.summary))


def find_parents(events: Sequence[Event], groups: Sequence[Sequence[int]]) -> dict[int, int]:
    """Group number → the group number of the meeting it is an outcome of."""
    meeting_groups = {n for n, g in enumerate(groups) if any(is_meeting(events[i]) for i in g)}
    group_of = {i: n for n, g in enumerate(groups) for i in g}
    # Each source's meeting mentions: an outcome looks only at those of its own source.
    meetings_in: dict[str, list[int]] = {}
    for j, other in enumerate(events):
        if group_of[j] in meeting_groups and other.alignment != "linked" and is_meeting(other):
            meetings_in.setdefault(other.source_id, []).append(j)
    parents: dict[int, int] = {}
    for n, members in enumerate(groups):
        if n in meeting_groups:
            continue
        choices: list[tuple[int, int, int]] = []  # (preference, distance, meeting group)
        sources = {events[i].source_id for i in members if events[i].alignment != "linked"}
        for i in members:
            e = events[i]
            if e.alignment == "linked":
                continue
            if not _OUTCOME.search(e.summary) and e.type not in ("AGREE", "COOPERATE", "SUPPORT"):
                continue
            here = e.citations[0].start
            for j in meetings_in.get(e.source_id, ()):
                other, m = events[j], group_of[j]
                reporting = {
                    events[k].source_id for k in groups[m] if events[k].alignment != "linked"
                }
                if not sources <= reporting:
                    continue  # reported where the meeting is not: an event of its own
                if not dates_compatible(e.date, other.date):
                    continue
                if other.status == "planned" and e.status == "occurred" and e.date:
                    continue  # what happened is not the outcome of a meeting yet to come
                there = other.citations[0].start
                # The meeting told before the outcome is the one it belongs to.
                choices.append((0 if there <= here else 1, abs(here - there), m))
        if choices:
            parents[n] = min(choices)[2]
    return parents
