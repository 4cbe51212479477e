"""The ledger of disagreements: where the mentions of one event differ, every side kept.

ACLED records the most conservative figure and notes the disputed one; GraphRAG's summaries are
told to "resolve contradictions" and pick one silently. Here nothing is resolved: for each
canonical event reported by two or more sources, each field the sources give differently
becomes a :class:`Disagreement` with every value, the sources that give it and their words,
most sources first. Values that can both be true are not disagreements: "2023-08" and
"2023-08-18", "Tokyo" and "Tokyo, Japan", a plan reported before the event happened.

Fields: ``date`` (the dates the texts support), ``location``, ``status`` (one source says it
happened, another that it was denied, or it is still "planned" in a source published after
another says it happened), ``participants`` (the people each source says took part, when they
share no one), ``number`` (different figures for the same thing: "5 officials" and "7
officials"). Names and titles of actors come from :mod:`briefing.merge.actors`.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Callable, Sequence

from ..models import CanonicalEvent, Citation, Disagreement, DisputedField, Event, Side, Source
from .actors import ActorNames
from .aliases import load_aliases
from .outcomes import is_meeting
from .signals import dates_compatible, fold, places_compatible, precision

MAX_CITATIONS = 3
SUBJECT_CHARS = 90
_NUMBER_WORDS = {
    "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "twenty": 20, "fifty": 50, "hundred": 100,
}  # fmt: skip
_FIGURE = re.compile(
    r"\b(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?|" + "|".join(_NUMBER_WORDS) + r")\s+"
    r"(?:(?:[a-z-]+)\s+)?([a-z]{3,}s)\b",
    re.I,
)
_NOT_COUNTED = frozenset(
    ["years", "months", "weeks", "days", "hours", "minutes", "times", "percent", "decades"]
)


def event_disagreements(
    canonical: Sequence[CanonicalEvent], names: ActorNames, sources: Sequence[Source]
) -> list[Disagreement]:
    """Every disagreement among the mentions of each canonical event."""
    published = {s.id: s.published for s in sources}
    found: list[Disagreement] = []
    for event in canonical:
        if len(event.source_ids) < 2:
            continue
        for check in _CHECKS:
            found.extend(d for d in check(event, names, published) if d is not None)
    return found


def _dates(
    event: CanonicalEvent, names: ActorNames, published: dict[str, str | None]
) -> list[Disagreement | None]:
    values = _per_source(
        event, lambda m: m.date if m.date and m.date_basis in ("stated", "relative") else None
    )
    # Each source's most precise value; a source that is less precise but compatible agrees.
    chosen = {
        sid: max(vals, key=lambda v: (precision(v), v)) for sid, vals in _by_source(values).items()
    }
    distinct = sorted(set(chosen.values()))
    if all(dates_compatible(a, b) for a in distinct for b in distinct):
        return []
    return [_ledger(event, "date", "the date of", values, keep=set(distinct))]


def _locations(
    event: CanonicalEvent, names: ActorNames, published: dict[str, str | None]
) -> list[Disagreement | None]:
    values = _per_source(event, lambda m: m.location)
    distinct = sorted({v for _, v, _ in values})
    countries = [a for a, k in names.kinds.items() if k == "country"]
    clash = any(not places_compatible(a, b, countries) for a in distinct for b in distinct if a < b)
    return [_ledger(event, "location", "where", values)] if clash else []


def _status(
    event: CanonicalEvent, names: ActorNames, published: dict[str, str | None]
) -> list[Disagreement | None]:
    values = _per_source(event, lambda m: m.status if m.alignment != "linked" else None)
    # One status per source (its most definite one): a source that reports a plan and then
    # the meeting itself does not disagree with itself.
    rank = {"occurred": 0, "denied": 1, "claimed": 2, "planned": 3}
    per_source = {sid: min(vals, key=lambda v: rank[v]) for sid, vals in _by_source(values).items()}
    statuses = set(per_source.values())
    occurred = [m for m in event.mentions if m.status == "occurred" and m.date]
    late_plan = any(
        status == "planned"
        and published.get(sid)
        and any(str(published[sid]) > str(o.date) for o in occurred)
        for sid, status in per_source.items()
    )
    if {"denied", "occurred"} <= statuses or (late_plan and "occurred" in statuses):
        kept = [(sid, v, c) for sid, v, c in values if per_source[sid] == v]
        return [_ledger(event, "status", "whether it happened:", kept)]
    return []


def _participants(
    event: CanonicalEvent, names: ActorNames, published: dict[str, str | None]
) -> list[Disagreement | None]:
    # Who led or took part, in each source's own words: the people its cited sentences name
    # after "led by", "in charge of", "hosted"…, else the people among its actors. Only for a
    # meeting: the people named beside a missile launch are those who spoke of it ("Shinzo Abe"
    # against "Trump" for North Korea's launch of 12 February 2017, 50 news articles).
    if not any(is_meeting(m) for m in event.mentions):
        return []
    people: dict[str, set[str]] = defaultdict(set)
    cites: dict[str, list[Citation]] = defaultdict(list)
    for m in event.mentions:
        for c in m.citations:
            found = people_leading(c.quote)
            if found:
                people[m.source_id] |= found
                cites[m.source_id].append(c)
    for m in event.mentions:
        if m.source_id not in people:
            found = {a for a in names.of(m) if names.kinds.get(a) == "person"}
            if found:
                people[m.source_id] |= found
                cites[m.source_id].append(m.citations[0])
    named = {sid: complete_names(p, people) for sid, p in people.items()}
    if len(named) < 2:
        return []
    sets = list(named.values())
    if all(a <= b or b <= a for n, a in enumerate(sets) for b in sets[n + 1 :]):
        return []  # one names more people than the other: fewer names, not another account
    values = [(sid, ", ".join(sorted(p)), c) for sid, p in named.items() for c in cites[sid]]
    return [_ledger(event, "participants", "who led or took part in", values)]


# Sentences that say who led or took part; the people they name are that source's account.
_LEADING = re.compile(
    r"\b(led by|were led|was led|in charge|headed by|chaired by|co-chaired|hosted by|"
    r"will host|hosted|convened with|met with|attended by)\b",
    re.I,
)
_NAME_RUN = re.compile(r"[A-Z][\w’'-]*(?:\s+[A-Z][\w’'-]*)*")
# A name right after one of these is where, not who: "as Trump hosted … Shinzo Abe in Florida".
_PLACE_BEFORE = re.compile(r"\b(?:in|at|near|outside|inside|across)\s+$", re.IGNORECASE)


def people_leading(text: str) -> set[str]:
    """The people a sentence says led or took part ("The talks were led by Lee Jun-il, …"),
    titles, country words and office names taken off ("Director General Jun-il" → "Jun-il")."""
    if not _LEADING.search(text):
        return set()
    aliases = load_aliases()
    found = set()
    for m in _NAME_RUN.finditer(text):
        run = " ".join(m.group().replace("’", "'").split())
        _, name = aliases.strip_titles(run)
        tokens = name.split()
        n, _ = aliases.country_prefix(tokens)
        tokens = [t.removesuffix("'s") for t in tokens[n:]]
        # "Pacific Affairs Daniel Kritenbrink": the office's words come off the front.
        while len(tokens) > 1 and common_word(tokens[0]):
            tokens = tokens[1:]
        if len(tokens) > 3:  # an office the word lists do not know, then a two-part name
            tokens = tokens[-2:]
        name = " ".join(tokens)
        if not name or any(common_word(t) for t in tokens) or not aliases.person_like(name, 1):
            continue
        if len(tokens) == 1 and m.start() == 0:
            continue  # a capitalised first word is no name
        if _PLACE_BEFORE.search(text, 0, m.start()):
            continue
        found.add(name)
    return found


_CALENDAR = frozenset(
    [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ]
)


def common_word(token: str) -> bool:
    """A word of titles, offices, countries or the calendar: never part of a person's name."""
    aliases = load_aliases()
    word = token.casefold().strip(".,'")
    return word in _CALENDAR or word in aliases.words or aliases.lookup(token) is not None


def complete_names(found: set[str], everyone: dict[str, set[str]]) -> frozenset[str]:
    """Short forms completed by the one longer name of the corpus that holds them ("Jun-il" →
    "Lee Jun-il"), as the actor names are."""
    pool = {n for p in everyone.values() for n in p}
    out = set()
    for name in found:
        longer = [n for n in pool if n != name and set(name.split()) < set(n.split())]
        out.add(longer[0] if len(longer) == 1 else name)
    return frozenset(out)


def _numbers(
    event: CanonicalEvent, names: ActorNames, published: dict[str, str | None]
) -> list[Disagreement | None]:
    figures: dict[str, list[tuple[str, str, Citation]]] = defaultdict(list)
    for m in event.mentions:
        for c in m.citations:
            for raw, noun in _FIGURE.findall(c.quote):
                if noun.casefold() in _NOT_COUNTED or re.fullmatch(r"(19|20)\d\d", raw):
                    continue
                value = _NUMBER_WORDS.get(raw.casefold()) or float(raw.replace(",", ""))
                figures[noun.casefold()].append((m.source_id, f"{value:g} {noun}", c))
    found: list[Disagreement | None] = []
    for noun, values in sorted(figures.items()):
        per_source = _by_source(values)
        if len(per_source) < 2 or any(len(v) > 1 for v in per_source.values()):
            continue  # a source that gives two figures is counting two things
        if len({v for vals in per_source.values() for v in vals}) > 1:
            found.append(_ledger(event, "number", f"how many {noun}:", values))
    return found


_CHECKS: tuple[
    Callable[[CanonicalEvent, ActorNames, dict[str, str | None]], list[Disagreement | None]], ...
] = (_dates, _locations, _status, _participants, _numbers)


def _per_source(
    event: CanonicalEvent, value: Callable[[Event], str | None]
) -> list[tuple[str, str, Citation]]:
    """(source id, value, citation) for each citation of every mention that gives a value: a
    side shows all the words its sources give."""
    rows: list[tuple[str, str, Citation]] = []
    for m in event.mentions:
        v = value(m)
        if v:
            rows.extend((m.source_id, v, c) for c in m.citations)
    return rows


def _by_source(values: Sequence[tuple[str, str, Citation]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for sid, v, _ in values:
        out[sid].add(v)
    return out


def _ledger(
    event: CanonicalEvent,
    field: DisputedField,
    what: str,
    values: Sequence[tuple[str, str, Citation]],
    keep: set[str] | None = None,
) -> Disagreement | None:
    """One disagreement: the sides by value, most sources first (ties by value); None when
    the values collapse into one side (then there is nothing to disagree about)."""
    sides: dict[str, tuple[list[str], list[Citation]]] = {}
    for sid, v, c in values:
        if keep is not None and v not in keep:
            continue
        ids, cites = sides.setdefault(_key(field, v), ([], []))
        if sid not in ids:
            ids.append(sid)
        if c not in cites and len(cites) < MAX_CITATIONS:
            cites.append(c)
    shown = {k: next(v for _, v, _ in values if _key(field, v) == k) for k in sides}
    ordered = sorted(sides, key=lambda k: (-len(sides[k][0]), shown[k]))
    if len(ordered) < 2:
        return None
    summary = " ".join(event.summary.split())
    if len(summary) > SUBJECT_CHARS:
        summary = summary[: SUBJECT_CHARS - 1].rsplit(" ", 1)[0] + "…"
    values_text = "\n".join(shown[k] for k in ordered)
    digest = hashlib.sha256(f"{field}\n{event.id}\n{values_text}".encode())
    return Disagreement(
        id="dg_" + digest.hexdigest()[:12],
        field=field,
        subject=f"{what} {summary}" if what.endswith(":") else f"{what} “{summary}”",
        event_id=event.id,
        sides=tuple(
            Side(value=shown[k], source_ids=tuple(sides[k][0]), citations=tuple(sides[k][1]))
            for k in ordered
        ),
    )


def _key(field: DisputedField, value: str) -> str:
    """Places and lists of names that differ only in case or punctuation are one side."""
    return fold(value) if field in ("location", "participants") else value
