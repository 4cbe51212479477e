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
from dataclasses import dataclass
from typing import NamedTuple

from rapidfuzz import fuzz, process

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
from .aliases import MAX_NAME_PARTS, Aliases, _clean, _part, _possessive, load_aliases

MAX_CITATIONS = 3  # per variant or side: enough to check a claim, few enough to read
SPELLING_RATIO = 85.0  # rapidfuzz ratio: "kashida" / "kishida" is 85.7
SPELLING_MIN = 5  # shorter words ("Kim"/"Kimm", "Pak"/"Park") are too alike to call misspelt

_QUOTES = str.maketrans({"’": "'", "‘": "'", "‐": "-", "‑": "-"})  # one character for one
_WORD = re.compile(r"[^\W\d_][\w'.-]*")
_SMALL = frozenset(["of", "for", "the", "and", "on", "in", "to", "at"])


# --- people -------------------------------------------------------------------------------------

Key = tuple[str, ...]  # a person's name parts, casefolded, particles left out


class _Token(NamedTuple):
    part: str  # casefolded, without the possessive and a final dot
    start: int
    end: int  # where the name as written ends (possessive and final dot excluded)


class _Seen(NamedTuple):
    """One place a person's name is written: as written, the title before it, the citation."""

    full: Key
    written: str
    kind: VariantKind
    title: str | None
    citation: Citation


def _name_key(name: str, al: Aliases) -> Key:
    return tuple(_part(t) for t in name.split() if t not in al.particles)


def _runs(text: str) -> list[list[_Token]]:
    """Runs of capitalised words with only spaces between them; a possessive ends its run."""
    text = text.translate(_QUOTES)  # one character for one: offsets stay those of the quote
    runs: list[list[_Token]] = [[]]
    gap, ended = 0, True
    for m in _WORD.finditer(text):
        # Most words of a sentence are lower case: they only close the run, so the work of
        # cutting a name out of a word is done for capitalised words (and full stops) alone.
        # The first character is a letter and stays the word's first after the cut.
        matched = m.group()
        capital = matched[0].isupper()
        stop = matched.endswith(".")
        word = _possessive(matched).rstrip(".") if capital or stop else matched
        if capital:
            if ended or not text[gap : m.start()].isspace():
                runs.append([])
            runs[-1].append(_Token(_part(word), m.start(), m.start() + len(word)))
        elif runs[-1]:
            runs.append([])
        # A possessive ends a name, and so does a full stop after a word ("Kishida. Biden");
        # not one after an initial or an abbreviation ("J. Smith", "U.S.").
        stop = stop and any(c.islower() for c in word)
        gap, ended = m.end(), stop or matched.endswith(("'s", "'"))
    return [run for run in runs if run]


class _People:
    """The people the corpus names in full, and which of them a shorter or misspelt form is.

    Lookups are indexed by name part and cached per key: a corpus asks about the same few
    thousand keys again and again, and a scan of every full name (or every blocker, or every
    name part for a spelling) per question grows with the square of the corpus.
    """

    def __init__(self, full: Mapping[Key, str], blockers: Iterable[Key], known: Iterable[str]):
        self.full = dict(full)  # name key -> canonical name
        self.parts = frozenset(p for key in full for p in key)
        # The candidates repeat; a blocker blocks as well once as many times.
        self.blockers = list(dict.fromkeys(frozenset(b) for b in blockers))
        self.known = frozenset(known) | self.parts
        # name part -> the full names, and the blockers, that hold it
        self._full_with: dict[str, set[Key]] = defaultdict(set)
        for key in self.full:
            for p in key:
                self._full_with[p].add(key)
        self._blockers_with: dict[str, set[frozenset[str]]] = defaultdict(set)
        for b in self.blockers:
            for p in b:
                self._blockers_with[p].add(b)
        # first letter -> name parts long enough to be misspelt (``_close`` needs both)
        self._spellable: dict[str, list[str]] = defaultdict(list)
        for p in sorted(self.parts):
            if len(p) >= SPELLING_MIN:
                self._spellable[p[0]].append(p)
        self._complete: dict[Key, Key | None] = {}
        self._misspelt: dict[str, str | None] = {}
        self._match: dict[Key, tuple[Key, VariantKind] | None] = {}

    def holding(self, key: Key) -> set[Key]:
        """The full names holding every part of ``key``."""
        if not key:
            return set(self.full)
        return set.intersection(*(self._full_with.get(p, set()) for p in key))

    def complete(self, key: Key) -> Key | None:
        """The one full name holding every part of ``key``, unless another named person could."""
        if key not in self._complete:
            self._complete[key] = self._completed(key)
        return self._complete[key]

    def _completed(self, key: Key) -> Key | None:
        fits = self.holding(key)
        if len(fits) != 1:
            return None
        (found,) = fits
        # "Kim" stays as written when the text also names a Kim the actors do not list.
        named, wanted = set(found), set(key)
        if wanted:  # only blockers holding every wanted part can block
            with_all = set.intersection(*(self._blockers_with.get(p, set()) for p in wanted))
        else:
            with_all = set(self.blockers)
        if any(not (b <= named or named <= b) for b in with_all):
            return None
        return found

    def misspelt(self, part: str) -> str | None:
        """The one name part ``part`` misspells, when ``part`` is no word of the corpus itself."""
        if len(part) < SPELLING_MIN or part in self.known:
            return None
        if part not in self._misspelt:
            # ``_close`` wants the same first letter and 5+ letters: look at those parts only,
            # and let rapidfuzz's C loop drop the plainly different ones first (its cutoff a
            # point low, so that ``_close`` alone has the last word on the borderline).
            near = process.extract(
                part,
                self._spellable.get(part[0], ()),
                scorer=fuzz.ratio,
                score_cutoff=SPELLING_RATIO - 1,
                limit=None,
            )
            hits = {p for p, _, _ in near if _close(part, p)}
            self._misspelt[part] = next(iter(hits)) if len(hits) == 1 else None
        return self._misspelt[part]

    def match(self, key: Key) -> tuple[Key, VariantKind] | None:
        """The full name ``key`` stands for, and how: the name itself, a short form, a spelling."""
        if key not in self._match:
            self._match[key] = self._matched(key)
        return self._match[key]

    def _matched(self, key: Key) -> tuple[Key, VariantKind] | None:
        if full := self.complete(key):
            same = set(key) == set(full)
            return full, "canonical" if key == full else "alias" if same else "short"
        fixed = tuple(p if p in self.parts else self.misspelt(p) or "" for p in key)
        full = None if "" in fixed or fixed == key else self.complete(fixed)
        return (full, "spelling") if full else None


def _close(a: str, b: str) -> bool:
    """A close misspelling: 5+ letters each, the same first letter, rapidfuzz ratio >= 85."""
    long = min(len(a), len(b)) >= SPELLING_MIN and a != b and a[0] == b[0]
    return long and fuzz.ratio(a, b) >= SPELLING_RATIO


def _candidates(
    cited: Sequence[Citation],
    runs: Mapping[str, list[list[_Token]]],
    al: Aliases,
    dictionary: frozenset[str],
    keep: frozenset[str],
) -> list[tuple[Key, str, bool, str]]:
    """Names of 2-4 parts in the cited text: (key, as written, after a title?, source id).

    ``runs`` holds ``_runs`` of every quote."""
    out, skip = [], al.words | dictionary
    for c in cited:
        for run in runs[c.quote]:
            segment: list[_Token] = []
            for tok in [*run, None]:
                word = c.quote[tok.start : tok.end] if tok else ""
                nameish = word.replace("-", "").replace("'", "").isalpha() and not al.lookup(word)
                if tok and nameish and (tok.part in keep or tok.part not in skip):
                    segment.append(tok)
                    continue
                if 2 <= len(segment) <= MAX_NAME_PARTS:
                    written = c.quote[segment[0].start : segment[-1].end]
                    titled = al.title_before(c.quote, segment[0].start) is not None
                    out.append((tuple(t.part for t in segment), written, titled, c.source_id))
                segment = []
    return out


def _people(
    persons: Sequence[tuple[str, str]],
    candidates: Sequence[tuple[Key, str, bool, str]],
    al: Aliases,
    dictionary: frozenset[str],
) -> _People:
    """Full names from the actors and from titled names in the cited text, one per person."""
    forms: dict[Key, Counter[str]] = defaultdict(Counter)
    sources: dict[Key, set[str]] = defaultdict(set)
    for name, source_id in persons:
        forms[_name_key(name, al)][name] += 1
        sources[_name_key(name, al)].add(source_id)
    for key, written, titled, source_id in candidates:
        if titled:  # "President Yoon Suk Yeol" is a person; "Camp David" may be a place
            forms[key][written] += 1
        sources[key].add(source_id)
    by_parts: dict[frozenset[str], Key] = {}
    for key in sorted(forms, key=lambda k: (-len(sources[k]), k)):
        by_parts.setdefault(frozenset(key), key)  # "Kishida Fumio" is "Fumio Kishida"
    # Both tests below look up an index instead of comparing every pair of names, which grows
    # with the square of the corpus. The part sets in ``by_parts`` are distinct, so a name is
    # held by a longer one exactly when some set besides its own holds all its parts.
    holding: dict[str, set[frozenset[str]]] = defaultdict(set)  # part -> part sets with it
    for parts in by_parts:
        for p in parts:
            holding[p].add(parts)
    # (length, position, the other parts) -> the part at that position, for the names kept:
    # a name differs from a kept one in exactly one part when it shares such an entry.
    one_off: dict[tuple[int, int, Key], list[str]] = defaultdict(list)
    full: list[Key] = []
    for parts, key in by_parts.items():
        # A longer name holds this one (a short form), or one with a single part misspelt is
        # better attested ("Fumio Kashida" beside "Fumio Kishida"): not a person of its own.
        held_by = set.intersection(*(holding[p] for p in parts)) if parts else set(by_parts)
        if len(held_by) > 1:
            continue
        others = [(len(key), i, key[:i] + key[i + 1 :]) for i in range(len(key))]
        if any(_close(key[i], o) for i, other in enumerate(others) for o in one_off.get(other, ())):
            continue
        full.append(key)
        for i, other in enumerate(others):
            one_off[other].append(key[i])
    names = {k: min(forms[k].items(), key=lambda kv: (-kv[1], kv[0]))[0] for k in full}
    known = al.words | dictionary
    unblocked = _People(names, (), known)
    blockers = [k for k, *_ in candidates if unblocked.match(k) is None]
    return _People(names, blockers, known | {p for k in blockers for p in k})


def _seen_in(c: Citation, runs: list[list[_Token]], people: _People, al: Aliases) -> list[_Seen]:
    """Every known person named in a cited sentence, as written there, with the title before.

    ``runs`` is ``_runs(c.quote)``."""
    seen: list[_Seen] = []
    for run in runs:
        i = 0
        while i < len(run):
            for j in range(min(len(run), i + MAX_NAME_PARTS), i, -1):
                hit = people.match(tuple(t.part for t in run[i:j]))
                if not hit:
                    continue
                # The title before the name is a regex search: only looked for on a hit.
                title = al.title_before(c.quote, run[i].start)
                # A misspelling stands where a name stands: alone, after a title or a country
                # word, and not before an unknown name ("Helmut Schmitt" is not "Schmidt").
                framed = i == 0 or run[i - 1].part in al.words or title is not None
                framed = framed and (j == len(run) or run[j].part in people.known)
                if hit[1] != "spelling" or framed:
                    name = c.quote[run[i].start : run[j - 1].end]
                    seen.append(_Seen(hit[0], name, hit[1], al.formal(title), c))
                    i = j - 1
                    break
            i += 1
    return seen


# --- resolving a corpus -------------------------------------------------------------------------


@dataclass(frozen=True)
class ActorNames:
    """How every actor string of a corpus maps to one canonical actor."""

    canonical: Mapping[str, str]  # each raw actor string exactly as in Event.actors -> name
    kinds: Mapping[str, ActorKind]  # canonical name -> kind
    variants: Mapping[str, tuple[Variant, ...]]  # canonical name -> how sources write it
    disagreements: tuple[Disagreement, ...]  # name and title differences across sources

    def of(self, event: Event) -> tuple[str, ...]:
        """The event's canonical actor names, de-duplicated, in the event's order."""
        return tuple(dict.fromkeys(self.canonical.get(a, a) for a in event.actors))


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
    person_keys = {raw: _name_key(p.name, al) for raw, p in parsed.items() if p.kind == "person"}
    persons = [
        (parsed[raw].name, e.source_id)
        for raw, key in person_keys.items()
        if len(key) >= 2
        for e in by_raw[raw]
    ]
    keep = frozenset(part for key in person_keys.values() if len(key) >= 2 for part in key)
    # Both passes over the cited text below want its runs of capitalised words: made once.
    runs = {c.quote: _runs(c.quote) for c in cited}
    candidates = _candidates(cited, runs, al, dictionary, keep)
    people = _people(persons, candidates, al, dictionary)

    canonical: dict[str, str] = {}
    kinds: dict[str, ActorKind] = {}
    found: dict[tuple[str, str], tuple[VariantKind, list[Citation]]] = {}
    spelt: list[_Seen] = []  # misspelt actor strings, for the disagreements
    for raw, (name, kind, how, title) in parsed.items():
        if kind in ("person", "other") and al.person_like(name, 1):
            key = _name_key(name, al)
            if hit := people.match(key):
                name, kind = people.full[hit[0]], "person"
                how = hit[1] if hit[1] != "canonical" or raw == name else "alias"
                if how == "spelling":
                    spelt += [
                        _Seen(hit[0], parsed[raw].name, how, al.formal(title), e.citations[0])
                        for e in by_raw[raw]
                    ]
            elif people.holding(key):
                kind = "person"  # an ambiguous short form ("Kim") is still a person
        canonical[raw] = name
        if kinds.get(name, "other") == "other":
            kinds[name] = kind
        found[name, raw] = (how, [e.citations[0] for e in by_raw[raw]])

    # How the cited sentences write the people the actors name, and what they disagree on.
    written = [s for c in cited for s in _seen_in(c, runs[c.quote], people, al)]
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
    observed: dict[Key, list[_Seen]] = defaultdict(list)
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
    return ActorNames(
        canonical=canonical,
        kinds=dict(sorted(kinds.items())),
        variants={
            name: tuple(sorted(vs, key=lambda v: (order[v.kind], -len(v.source_ids), v.text)))
            for name, vs in sorted(variants.items())
        },
        disagreements=tuple(sorted(disagreements, key=lambda d: (d.subject, d.field))),
    )


def _resolve_titles(
    parsed: Mapping[str, _Parse],
    canonical: dict[str, str],
    kinds: dict[str, ActorKind],
    found: dict[tuple[str, str], tuple[VariantKind, list[Citation]]],
    written: Sequence[_Seen],
    people: _People,
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
    name: str, seen: Sequence[_Seen], al: Aliases, rank: Mapping[str, int]
) -> list[Disagreement]:
    """A person's name spelt differently, or given different titles, across sources."""
    keys = {al.title_key(s.title) for s in seen if s.title}
    # "Secretary" is short for "Secretary of State" when that is the only longer title.
    wider = {k: [o for o in keys if set(k.split()) < set(o.split())] for k in keys}
    group = {k: w[0] if len(w) == 1 else k for k, w in wider.items()}
    by_title: dict[str, list[_Seen]] = defaultdict(list)
    by_name: dict[str, list[_Seen]] = defaultdict(list)
    for s in seen:
        if s.title:
            by_title[group[al.title_key(s.title)]].append(s)
        by_name[s.written.casefold() if s.kind == "spelling" else ""].append(s)

    def titled(groups: Mapping[str, list[_Seen]]) -> set[frozenset[_Seen]]:
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
    groups: Iterable[Sequence[_Seen]],
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
