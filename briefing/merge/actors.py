"""One canonical name per actor, across every source of a brief.

The model writes actors the way its article does: "US", "U.S.", "Washington", "President Joe
Biden", "Biden", "Japanese PM Kishida", and now and then a name its article got wrong ("Japanese
President Kashida"). Merging needs one name per actor; the brief must still show how each source
wrote it. Resolution is lookups and rules, no model:

* **Countries and organisations** (:mod:`briefing.merge.aliases`): pycountry's names plus
  ``data/actors.toml`` (usual English names, abbreviations, capitals standing for governments,
  organisations, demonyms).
  "<country> government" is the country; a country's ministry stays its own organisation, under
  one spelling ("Seoul's Foreign Ministry" -> "South Korea's Foreign Ministry").
* **People**: titles and country adjectives come off the front ("Japanese PM Kishida" ->
  "Kishida"); a short form is completed when the corpus names exactly one person it fits
  ("Yoon" -> "Yoon Suk Yeol") and stays as written when it fits two ("Kim").
* **Misspellings** of a known person's name are looked for in the cited sentences themselves (the
  model may have written the right name for a sentence that spells it wrong). They are reported
  as ``spelling`` variants with the citation where they are written, never silently corrected.
* **Disagreements**: when sources spell a person's name differently, or put different titles
  before it, every side is kept with its sources and quotes.

Deterministic: the same events and sources give the same names, variants and disagreements.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from ..models import (
    Actor,
    ActorKind,
    Citation,
    Disagreement,
    DisputedField,
    Event,
    Side,
    Source,
    Variant,
    VariantKind,
)
from .aliases import _QUOTES, Aliases, _clean, _part, load_aliases
from .people import (
    Key,
    People,
    Seen,
    affiliations,
    known_people,
    name_candidates,
    name_key,
    seen_in,
    word_runs,
)

MAX_CITATIONS = 3  # per variant or side: enough to check a claim, few enough to read


# --- resolving a corpus -------------------------------------------------------------------------


@dataclass(frozen=True)
class ActorNames:
    """How every actor string of a corpus maps to one canonical actor."""

    canonical: Mapping[str, str]  # each raw actor string exactly as in Event.actors -> name
    kinds: Mapping[str, ActorKind]  # canonical name -> kind
    variants: Mapping[str, tuple[Variant, ...]]  # canonical name -> how sources write it
    disagreements: tuple[Disagreement, ...]  # name and title differences across sources
    countries: Mapping[str, str] = field(default_factory=dict)  # person -> their country

    def of(self, event: Event) -> tuple[str, ...]:
        """The event's canonical actor names, de-duplicated, in the event's order."""
        return tuple(dict.fromkeys(self.canonical.get(a, a) for a in event.actors))

    def with_countries(self, names: Iterable[str]) -> frozenset[str]:
        """``names`` plus the country of each person among them: "Joe Biden" also stands for
        the United States when two reports of one summit name leaders in one, countries in the
        other."""
        return frozenset(names) | {self.countries[n] for n in names if n in self.countries}


class _Parse(NamedTuple):
    name: str
    kind: ActorKind
    variant: VariantKind
    title: str | None


def _parse(raw: str, al: Aliases) -> _Parse:
    """What one actor string is, before the rest of the corpus is looked at."""
    text = _clean(raw)
    # Names kept as written keep a capitalised "The" ("The Hague"); "the Ministry" loses it.
    plain = " ".join(unicodedata.normalize("NFKC", raw).translate(_QUOTES).split())
    plain = re.sub(r"^the\s+", "", plain)

    def parsed(name: str, kind: ActorKind, title: str | None = None) -> _Parse:
        return _Parse(name, kind, "canonical" if raw == name else "alias", title)

    if hit := al.lookup(text):
        return parsed(*hit)
    if country := al.government_of(text):
        return parsed(country, "country")
    title, name = al.strip_titles(text)
    if title and not al.person_like(name, 1):
        # "Assistant Secretary of State for East Asian and Pacific Affairs Daniel Kritenbrink"
        name = " ".join(name.split()[-2:])
    if title and al.person_like(name, 1):
        return parsed(name, "person", title)
    if any(_part(w) in al.organisation for w in re.findall(r"[^\W\d_]+", text)):
        return parsed(al.body_name(plain), "organisation")
    return parsed(plain, "person" if al.person_like(plain, 2) else "other")


def actor_id(name: str) -> str:
    """A content hash of the canonical name: the same actor always has the same id."""
    return "ac_" + hashlib.sha256(name.encode()).hexdigest()[:12]


def resolve_actors(
    events: Sequence[Event], sources: Sequence[Source], *, aliases: Aliases | None = None
) -> ActorNames:
    """One canonical name, kind and set of variants for every actor string of ``events``."""
    al = aliases or load_aliases()
    rank = {s.id: i for i, s in enumerate(sources)}
    text = " ".join(s.text for s in sources).translate(_QUOTES)
    dictionary = frozenset(re.findall(r"\b[a-z][a-z'-]*", text))  # words written in lower case
    by_raw: dict[str, list[Event]] = defaultdict(list)
    for event in events:
        for raw in dict.fromkeys(event.actors):
            by_raw[raw].append(event)
    parsed = {raw: _parse(raw, al) for raw in sorted(by_raw)}
    cited = _pick((c for e in events for c in e.citations), rank, limit=None)
    person_keys = {raw: name_key(p.name, al) for raw, p in parsed.items() if p.kind == "person"}
    persons = [
        (parsed[raw].name, e.source_id)
        for raw, key in person_keys.items()
        if len(key) >= 2
        for e in by_raw[raw]
    ]
    keep = frozenset(part for key in person_keys.values() if len(key) >= 2 for part in key)
    # Both passes over the cited text below want its runs of capitalised words: made once.
    runs = {c.quote: word_runs(c.quote) for c in cited}
    candidates = name_candidates(cited, runs, al, dictionary, keep)
    people = known_people(persons, candidates, al, dictionary)

    canonical: dict[str, str] = {}
    kinds: dict[str, ActorKind] = {}
    found: dict[tuple[str, str], tuple[VariantKind, list[Citation]]] = {}
    spelt: list[Seen] = []  # misspelt actor strings, for the disagreements
    for raw, (name, kind, how, title) in parsed.items():
        if kind in ("person", "other") and al.person_like(name, 1):
            key = name_key(name, al)
            if hit := people.match(key):
                name, kind = people.full[hit[0]], "person"
                how = hit[1] if hit[1] != "canonical" or raw == name else "alias"
                if how == "spelling":
                    spelt += [
                        Seen(hit[0], parsed[raw].name, how, al.formal(title), _citing(e, name_as))
                        for e in by_raw[raw]
                        for name_as in [parsed[raw].name.split()[-1]]
                    ]
            elif people.holding(key):
                kind = "person"  # an ambiguous short form ("Kim") is still a person
        canonical[raw] = name
        if kinds.get(name, "other") == "other":
            kinds[name] = kind
        found[name, raw] = (how, [e.citations[0] for e in by_raw[raw]])

    # How the cited sentences write the people the actors name, and what they disagree on.
    written = [s for c in cited for s in seen_in(c, runs[c.quote], people, al)]
    written = [s for s in written if kinds.get(people.full[s.full]) == "person"]
    for s in written:
        name = people.full[s.full]
        how = "alias" if s.kind == "canonical" and s.written != name else s.kind
        found.setdefault((name, s.written), (how, []))[1].append(s.citation)
    _resolve_titles(parsed, canonical, kinds, found, written, people, al)
    variants: dict[str, list[Variant]] = defaultdict(list)
    for (name, as_written), (how, citations) in found.items():
        source_ids = _ordered((c.source_id for c in citations), rank)
        variants[name].append(
            Variant(
                text=as_written, kind=how, source_ids=source_ids, citations=_pick(citations, rank)
            )
        )
    observed: dict[Key, list[Seen]] = defaultdict(list)
    for s in written:
        observed[s.full].append(s)
    places = {(s.full, s.citation.source_id, s.citation.start) for s in written}
    for s in spelt:  # a misspelt actor string, unless its sentence already shows the spelling
        if (s.full, s.citation.source_id, s.citation.start) not in places:
            observed[s.full].append(s)
    disagreements = [
        d
        for full, group in observed.items()
        for d in _disagreements(people.full[full], group, al, rank)
    ]
    order = {"canonical": 0, "alias": 1, "short": 1, "spelling": 1}
    titled = [(canonical[raw], raw) for raw in parsed if kinds.get(canonical[raw]) == "person"]
    return ActorNames(
        canonical=canonical,
        kinds=dict(sorted(kinds.items())),
        variants={
            name: tuple(sorted(vs, key=lambda v: (order[v.kind], -len(v.source_ids), v.text)))
            for name, vs in sorted(variants.items())
        },
        disagreements=tuple(sorted(disagreements, key=lambda d: (d.subject, d.field))),
        countries=affiliations(written, titled, people, al),
    )


def _resolve_titles(
    parsed: Mapping[str, _Parse],
    canonical: dict[str, str],
    kinds: dict[str, ActorKind],
    found: dict[tuple[str, str], tuple[VariantKind, list[Citation]]],
    written: Sequence[Seen],
    people: People,
    al: Aliases,
) -> None:
    """A title with no name ("Japanese PM") is the one person the cited sentences give that
    title after that country's adjective ("Japanese Prime Minister Fumio Kishida"); it stays as
    written when they give it to nobody or to two."""
    for raw, p in parsed.items():
        if canonical.get(raw) != p.name or kinds.get(p.name) not in ("other", None):
            continue
        tokens = raw.split()
        n, country = al.country_prefix(tokens)
        after = " ".join(tokens[n:])
        m = al.title_start.match(after + " ")  # the title alone: nothing follows it
        if not n or not country or m is None or after[m.end() :].strip():
            continue
        title = m.group()
        adjective = re.escape(" ".join(tokens[:n]))
        wanted = al.title_key(title)
        holders = {
            s.full
            for s in written
            if s.title
            and al.title_key(s.title) == wanted
            and re.search(rf"\b{adjective}\s+{re.escape(s.title)}", s.citation.quote)
        }
        if len(holders) != 1:
            continue
        person = people.full[holders.pop()]
        _, citations = found.pop((p.name, raw))
        canonical[raw] = person
        if not any(name == p.name for name, _ in found):
            kinds.pop(p.name, None)
        found.setdefault((person, raw), ("alias", []))[1].extend(citations)


def _citing(event: Event, word: str) -> Citation:
    """The event's citation whose words contain ``word`` (where a misspelling is written), else
    its first: a side of a name disagreement cites the sentence that spells it so."""
    return next((c for c in event.citations if word in c.quote), event.citations[0])


def _ordered(source_ids: Iterable[str], rank: Mapping[str, int]) -> tuple[str, ...]:
    return tuple(sorted(set(source_ids), key=lambda s: (rank.get(s, len(rank)), s)))


def _pick(
    citations: Iterable[Citation], rank: Mapping[str, int], limit: int | None = MAX_CITATIONS
) -> tuple[Citation, ...]:
    """Distinct citations in source order; with a limit, one per source before a second one."""
    unique = sorted(
        {(c.source_id, c.file, c.start, c.end): c for c in citations}.values(),
        key=lambda c: (rank.get(c.source_id, len(rank)), c.source_id, c.start, c.end, c.file),
    )
    if limit is None or limit >= len(unique):
        return tuple(unique)
    # Positions in ``unique`` rather than the citations themselves: the citations are distinct,
    # and a membership test on positions is a set lookup, not a pydantic ``__eq__`` per item.
    first = [
        i for i in range(len(unique)) if i == 0 or unique[i - 1].source_id != unique[i].source_id
    ]
    firsts = set(first)
    chosen = set((first + [i for i in range(len(unique)) if i not in firsts])[:limit])
    return tuple(c for i, c in enumerate(unique) if i in chosen)


def _disagreements(
    name: str, seen: Sequence[Seen], al: Aliases, rank: Mapping[str, int]
) -> list[Disagreement]:
    """A person's name spelt differently, or given different titles, across sources."""
    keys = {al.title_key(s.title) for s in seen if s.title}
    # "Secretary" is short for "Secretary of State" when that is the only longer title.
    wider = {k: [o for o in keys if set(k.split()) < set(o.split())] for k in keys}
    group = {k: w[0] if len(w) == 1 else k for k, w in wider.items()}
    by_title: dict[str, list[Seen]] = defaultdict(list)
    by_name: dict[str, list[Seen]] = defaultdict(list)
    for s in seen:
        if s.title:
            by_title[group[al.title_key(s.title)]].append(s)
        by_name[s.written.casefold() if s.kind == "spelling" else ""].append(s)

    def titled(groups: Mapping[str, list[Seen]]) -> set[frozenset[Seen]]:
        return {frozenset(s for s in g if s.title) for g in groups.values()} - {frozenset()}

    # A source that differs in both name and title makes one entry, whose sides carry both.
    both = len(by_name) > 1 and len(by_title) > 1 and titled(by_name) == titled(by_title)
    out = []
    if len(by_name) > 1:
        subject = f"{name}'s name and title" if both else f"{name}'s name"
        out.append(_disagreement("name", name, subject, by_name.values(), both, rank))
    if len(by_title) > 1 and not both:
        out.append(_disagreement("title", name, f"{name}'s title", by_title.values(), True, rank))
    return out


def _disagreement(
    field: DisputedField,
    name: str,
    subject: str,
    groups: Iterable[Sequence[Seen]],
    with_title: bool,
    rank: Mapping[str, int],
) -> Disagreement:
    sides = []
    for g in groups:
        forms = Counter(f"{s.title} {s.written}" for s in g if s.title and with_title)
        forms = forms or Counter(s.written for s in g)
        value = min(forms.items(), key=lambda kv: (-kv[1], -len(kv[0]), kv[0]))[0]
        sources = _ordered((s.citation.source_id for s in g), rank)
        sides.append(
            Side(value=value, source_ids=sources, citations=_pick((s.citation for s in g), rank))
        )
    sides.sort(key=lambda side: (-len(side.source_ids), side.value))
    payload = json.dumps([field, actor_id(name), sorted(side.value for side in sides)])
    digest = hashlib.sha256(payload.encode()).hexdigest()[:12]
    return Disagreement(
        id="dg_" + digest, field=field, subject=subject, actor_id=actor_id(name), sides=tuple(sides)
    )


def actor_records(
    names: ActorNames, events_by_actor: Mapping[str, Sequence[str]]
) -> tuple[Actor, ...]:
    """Actor records, given canonical name -> canonical event ids; most events first, then name."""
    actors = [
        Actor(
            id=actor_id(name),
            name=name,
            kind=names.kinds.get(name, "other"),
            variants=names.variants.get(name, ()),
            event_ids=tuple(events_by_actor.get(name, ())),
        )
        for name in sorted(set(names.kinds) | set(events_by_actor))
    ]
    return tuple(sorted(actors, key=lambda a: (-len(a.event_ids), a.name)))
