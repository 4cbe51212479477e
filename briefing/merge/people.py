"""People's names across a corpus: full names, the short forms they complete, misspellings.

Used by :mod:`briefing.merge.actors`. A *key* is a name's parts, casefolded, particles left
out. The corpus's full names come from the actor strings and from names written right after a
title in the cited sentences; a short form ("Yoon") is completed only when one full name holds
it, and a capitalised word of a cited sentence that is a close misspelling of a part of one
known name ("Kashida" for Kishida: rapidfuzz ratio at least ``SPELLING_RATIO``, words of at least
``SPELLING_MIN`` letters) is that person, reported as written.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

from rapidfuzz import fuzz, process

from ..models import Citation, VariantKind
from .aliases import _QUOTES, MAX_NAME_PARTS, Aliases, _part, _possessive

SPELLING_RATIO = 85.0  # rapidfuzz ratio: "kashida" / "kishida" is 85.7
SPELLING_MIN = 5  # shorter words ("Kim"/"Kimm", "Pak"/"Park") are too alike to call misspelt
_WORD = re.compile(r"[^\W\d_][\w'.-]*")

Key = tuple[str, ...]  # a person's name parts, casefolded, particles left out


class _Token(NamedTuple):
    part: str  # casefolded, without the possessive and a final dot
    start: int
    end: int  # where the name as written ends (possessive and final dot excluded)


class Seen(NamedTuple):
    """One place a person's name is written: as written, the title before it, the citation."""

    full: Key
    written: str
    kind: VariantKind
    title: str | None
    citation: Citation


def name_key(name: str, al: Aliases) -> Key:
    """A name's parts, casefolded, particles ("bin", "van") left out: how names are compared."""
    return folded(_part(t) for t in name.split() if t not in al.particles)


def folded(parts: Iterable[str]) -> Key:
    """Name parts with a hyphenated one split: "Kim Jong-un" and "Kim Jong Un" are one key, as
    sources write Korean given names both ways (50 news articles of 2017 had "Kim Jong-nam" and
    "Kim Jong Nam", "Kim Jong-il" and "Kim Jong Il" as two people each)."""
    return tuple(p for part in parts for p in part.split("-") if p)


def word_runs(text: str) -> list[list[_Token]]:
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


class People:
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
        fits = {f for f in self.holding(key) if shortens(key, f)}
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


def shortens(short: Key, full: Key) -> bool:
    """``short`` is ``full`` in other order or a run of its parts: "Yoon" or "Suk Yeol" of Yoon
    Suk Yeol, "Kishida Fumio" of Fumio Kishida, but not "Kim Chol" of Kim Jong-chol (another
    man: the name on Kim Jong-nam's passport)."""
    if len(short) <= 1 or set(short) == set(full):
        return True
    n = len(short)
    runs = {full[i : i + n] for i in range(len(full) - n + 1)}
    return short in runs or short[::-1] in runs


def _close(a: str, b: str) -> bool:
    """A close misspelling: 5+ letters each, the same first letter, rapidfuzz ratio >= 85."""
    long = min(len(a), len(b)) >= SPELLING_MIN and a != b and a[0] == b[0]
    return long and fuzz.ratio(a, b) >= SPELLING_RATIO


def name_candidates(
    cited: Sequence[Citation],
    runs: Mapping[str, list[list[_Token]]],
    al: Aliases,
    dictionary: frozenset[str],
    keep: frozenset[str],
) -> list[tuple[Key, str, bool, str]]:
    """Names of 2-4 parts in the cited text: (key, as written, after a title?, source id).

    ``runs`` holds ``word_runs`` of every quote."""
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
                    out.append((folded(t.part for t in segment), written, titled, c.source_id))
                segment = []
    return out


def known_people(
    persons: Sequence[tuple[str, str]],
    candidates: Sequence[tuple[Key, str, bool, str]],
    al: Aliases,
    dictionary: frozenset[str],
) -> People:
    """Full names from the actors and from titled names in the cited text, one per person."""
    forms: dict[Key, Counter[str]] = defaultdict(Counter)
    sources: dict[Key, set[str]] = defaultdict(set)
    for name, source_id in persons:
        forms[name_key(name, al)][name] += 1
        sources[name_key(name, al)].add(source_id)
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
        if any(other != parts and shortens(key, by_parts[other]) for other in held_by):
            continue
        others = [(len(key), i, key[:i] + key[i + 1 :]) for i in range(len(key))]
        if any(_close(key[i], o) for i, other in enumerate(others) for o in one_off.get(other, ())):
            continue
        full.append(key)
        for i, other in enumerate(others):
            one_off[other].append(key[i])
    names = {k: min(forms[k].items(), key=lambda kv: (-kv[1], kv[0]))[0] for k in full}
    known = al.words | dictionary
    unblocked = People(names, (), known)
    blockers = [k for k, *_ in candidates if unblocked.match(k) is None]
    return People(names, blockers, known | {p for k in blockers for p in k})


def seen_in(c: Citation, runs: list[list[_Token]], people: People, al: Aliases) -> list[Seen]:
    """Every known person named in a cited sentence, as written there, with the title before.

    ``runs`` is ``word_runs(c.quote)``."""
    seen: list[Seen] = []
    for run in runs:
        i = 0
        while i < len(run):
            for j in range(min(len(run), i + MAX_NAME_PARTS), i, -1):
                hit = people.match(folded(t.part for t in run[i:j]))
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
                    seen.append(Seen(hit[0], name, hit[1], al.formal(title), c))
                    i = j - 1
                    break
            i += 1
    return seen


def affiliations(
    written: Sequence[Seen], titled: Iterable[tuple[str, str]], people: People, al: Aliases
) -> dict[str, str]:
    """Each person's country, where the corpus says it before their title ("Japanese Prime
    Minister Fumio Kishida", "Japan's Director General Namazu Hiroyuki").

    ``written``: the names seen in cited sentences; ``titled``: (canonical name, actor string)
    for the actor strings that name a person. A person the sources give two countries as often
    each has none: a country is a blocking key, and a wrong one pairs unrelated events.
    """
    votes: dict[str, Counter[str]] = defaultdict(Counter)
    for s in written:
        at = s.citation.quote.find(s.written)
        if at >= 0 and (country := al.country_before(s.citation.quote, at)):
            votes[people.full[s.full]][country] += 1
    for name, raw in titled:
        n, country = al.country_prefix(raw.split())
        if n and country and n < len(raw.split()):
            votes[name][country] += 1
    found: dict[str, str] = {}
    for name, counts in sorted(votes.items()):
        top = counts.most_common(2)
        if len(top) == 1 or top[0][1] > top[1][1]:
            found[name] = top[0][0]
    return found
