"""Linking: sentences of other sources that report an event the model found elsewhere.

GDELT keeps one event with all its mentions. A small model reading one window of one article
reports what the window is about and often skips what it mentions in passing ("US President Joe
Biden was the host of the first standalone trilateral summit … at Camp David in August"), so the
Camp David summit, told by four sources, would be cited from one. After grouping, each group is
looked for in the sentences of the sources that do not report it yet:

* the sentence must name one of the group's *anchors*: the place where it happened ("Camp
  David", "Tokyo": the location of its mentions and the places their words put it "in" or
  "at"); people are no anchor, leaders are named in every story about them;
* its date, when it writes one ("in December 2023"), must be compatible with the group's;
* its meaning must be close to one of the group's mentions (cosine plus the anchor's weight at
  least ``LINK_SCORE``), and closer than to any event that already cites it.

Embedding is the cost (about 10 CPU ms a sentence), so the cheap tests (anchor, other source,
date) come first, and only a group's ``MAX_CANDIDATES`` sentences closest to it in words are
embedded: the work grows with the groups, not with groups × the sentences naming their place.

A linked sentence becomes a mention of its own (``alignment="linked"``): its source's words, its
citation, the date it writes. It counts for corroboration and the ledger like any other.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..extract.ground import cite
from ..models import SUMMARY_MAX, Event, Source
from ..read import dates
from ..read.hidden import of as hidden_sentences_of
from .actors import ActorNames
from .aliases import load_aliases
from .disagreements import people_leading
from .embeddings import Embedder
from .signals import dates_compatible, fold, place_head

LINK_SCORE = 0.72
W_PLACE = 0.20
MIN_WORDS = 6
MAX_LINKS_PER_SOURCE = 2
# At most this many sentences are embedded per group, and this many of one source, the closest in
# words first: a place every story names ("Washington") would otherwise send thousands of
# sentences to the model per group, and the work would grow with groups × sources.
MAX_CANDIDATES = 32
MAX_CANDIDATES_PER_SOURCE = 2 * MAX_LINKS_PER_SOURCE

_PLACE_IN_TEXT = re.compile(r"\b(?:in|at)\s+(?:the\s+)?((?:[A-Z][\w’'-]+\s?){1,3})")
_NOT_PLACES = frozenset(fold(w) for w in [*dates.MONTHS, "Monday", "Tuesday", "Wednesday",
    "Thursday", "Friday", "Saturday", "Sunday", "The", "This", "That", "Addition"])  # fmt: skip
_PLANNED = re.compile(r"\b(will|plans? to|planned|to be held|next (week|month|year)|is to)\b", re.I)
_POINTS_BACK = re.compile(
    r"\b(?:that|this|the same|these)\s+(?:summit|meeting|talks|session|group|working group|"
    r"dialogue|gathering|conference|visit)\b",
    re.I,
)
_MONTH_YEAR = re.compile(rf"\b({'|'.join(dates.MONTHS)})(?:\s+\d{{1,2}},?)?\s+(\d{{4}})\b")
_IN_MONTH = re.compile(rf"\b(?:in|since|last)\s+({'|'.join(dates.MONTHS)})\b")
_YEAR = re.compile(r"\b(?:in|since)\s+((?:19|20)\d\d)\b")


@dataclass(frozen=True)
class Linked:
    """The new mentions and the groups with them added (indices continue after the events)."""

    events: tuple[Event, ...]
    groups: list[list[int]]


def link_mentions(
    events: Sequence[Event],
    groups: Sequence[Sequence[int]],
    sources: Sequence[Source],
    embedder: Embedder,
    names: ActorNames,
    files: Mapping[str, str],
    summary_vectors: np.ndarray,
) -> Linked:
    """Find, for every group, the sentences of other sources that report it (module docstring).

    ``files``: each source's citable file (see ``pipeline.citable_files``); sources not in it
    are cited at their own path. ``summary_vectors``: the events' summary embeddings, in order.
    """
    candidates = _candidate_sentences(sources)
    if not candidates or not groups:
        return Linked((), [list(g) for g in groups])
    row_of = {(sid, n): r for r, (sid, n, _) in enumerate(candidates)}
    by_id = {s.id: s for s in sources}
    # The sentences each event cites, worked out once: every later step reads them.
    numbers = [_sentence_numbers(e, by_id[e.source_id]) for e in events]
    cited_by: dict[tuple[str, int], list[int]] = defaultdict(list)
    for i, e in enumerate(events):
        for n in numbers[i]:
            cited_by[(e.source_id, n)].append(i)

    # Which candidate sentences hold each word: a group's anchors are looked up, not scanned for
    # in every sentence (10,000 events × 20,000 sentences would be hours).
    folded_text = [f" {fold(text)} " for _, _, text in candidates]
    by_word: dict[str, list[int]] = defaultdict(list)
    for r, text in enumerate(folded_text):
        for word in set(text.split()):
            by_word[word].append(r)
    lexical = _Lexical(candidates, folded_text, by_word, by_id)
    work: list[tuple[int, list[int], list[int]]] = []  # (group, sentences to embed, its own)
    for g, members in enumerate(groups):
        mentions = [events[i] for i in members]
        reported_by = {e.source_id for e in mentions}
        strong = [e.date for e in mentions if e.date_basis in ("stated", "relative")]
        # The cheap tests come before the embedding, which costs ~10 CPU ms a sentence: another
        # source's sentence naming an anchor, writing no date the group's cannot meet.
        hits = {
            r
            for r in lexical.naming(_anchors(mentions, names))
            if candidates[r][0] not in reported_by and lexical.date_fits(r, strong)
        }
        if hits:
            own_rows = [
                row_of[key]
                for i in members
                for n in numbers[i]
                if (key := (events[i].source_id, n)) in row_of
            ]
            work.append((g, lexical.closest(hits, mentions), own_rows))
    # Only the sentences some group could take, and those groups' own, are embedded.
    needed = sorted({r for _, kept, own in work for r in (*kept, *own)})
    at = {r: k for k, r in enumerate(needed)}
    sentence_vectors = (
        embedder.embed([candidates[r][2] for r in needed])
        if needed
        else np.zeros((0, summary_vectors.shape[1]), dtype=np.float32)
    )

    best: dict[tuple[str, int], tuple[float, int]] = {}  # sentence → (score, group)
    for g, kept, own_rows in work:
        members = groups[g]
        mine = np.vstack(
            [summary_vectors[list(members)], sentence_vectors[[at[r] for r in own_rows]]]
        )
        for r in sorted(kept):
            sid, n, _ = candidates[r]
            vector = sentence_vectors[at[r]]
            cosine = float(np.max(mine @ vector))
            score = cosine + W_PLACE
            if score < LINK_SCORE:
                continue
            own = [float(summary_vectors[i] @ vector) for i in cited_by[(sid, n)]]
            if own and max(own) >= cosine:
                continue  # better told by the event that already cites it
            if (sid, n) not in best or score > best[(sid, n)][0]:
                best[(sid, n)] = (score, g)

    per_group_source: dict[tuple[int, str], list[tuple[float, int]]] = defaultdict(list)
    for (sid, n), (score, g) in best.items():
        per_group_source[(g, sid)].append((score, n))
    # The next sentence, when it points back at what was just told ("… are in charge of that
    # summit") and says who led it, tells the same event: it is linked too, whether the sentence
    # before was linked or cited by the group's own record of that source.
    told: list[tuple[int, str, int]] = [
        (g, sid, n) for (g, sid), found in per_group_source.items() for _, n in found
    ]
    told += [
        (g, events[i].source_id, n)
        for g, members in enumerate(groups)
        for i in members
        for n in numbers[i]
    ]
    for g, sid, n in told:
        nxt = row_of.get((sid, n + 1))
        if nxt is None or cited_by.get((sid, n + 1)) or (sid, n + 1) in best:
            continue
        text = candidates[nxt][2]
        found = per_group_source.get((g, sid), [])
        if all(m != n + 1 for _, m in found) and _POINTS_BACK.search(text) and people_leading(text):
            per_group_source[(g, sid)].append((0.0, n + 1))
    new_groups = [list(g) for g in groups]
    linked: list[Event] = []
    for (g, sid), found in sorted(per_group_source.items()):
        for _, n in sorted(found, key=lambda t: (-t[0], t[1]))[: MAX_LINKS_PER_SOURCE + 1]:
            lead = events[groups[g][0]]
            source = by_id[sid]
            event = _linked_event(source, n, files.get(sid, source.path), lead, names)
            new_groups[g].append(len(events) + len(linked))
            linked.append(event)
    return Linked(tuple(linked), new_groups)


def date_written(text: str, published: str | None) -> str | None:
    """The date a sentence writes: "December 2023" → 2023-12, "in August" → the last August
    up to the publication date, "in 2022" → 2022; None when it writes none."""
    m = _MONTH_YEAR.search(text)
    if m:
        return f"{m.group(2)}-{dates.MONTHS.index(m.group(1)) + 1:02d}"
    m = _IN_MONTH.search(text)
    if m and published:
        month = dates.MONTHS.index(m.group(1)) + 1
        year = int(published[:4]) - (month > int(published[5:7]))
        return f"{year:04d}-{month:02d}"
    m = _YEAR.search(text)
    return m.group(1) if m else None


class _Lexical:
    """The cheap tests of linking, each worked out once per sentence or anchor: which sentences
    name a place, the date a sentence writes, its words; and each group's closest sentences."""

    def __init__(
        self,
        candidates: Sequence[tuple[str, int, str]],
        folded_text: Sequence[str],
        by_word: Mapping[str, list[int]],
        by_id: Mapping[str, Source],
    ) -> None:
        """Index over ``candidates`` (their folded texts and the rows holding each word)."""
        self._candidates = candidates
        self._folded = folded_text
        self._by_word = by_word
        self._by_id = by_id
        self._naming: dict[str, list[int]] = {}
        self._written: dict[int, str | None] = {}
        self._words: dict[int, frozenset[str]] = {}
        self._idf: dict[str, float] = {}

    def naming(self, anchors: set[str]) -> set[int]:
        """The rows that name one of ``anchors``; each anchor is looked for once per build (many
        groups share "washington")."""
        rows: set[int] = set()
        for a in anchors:
            if a not in self._naming:
                self._naming[a] = [
                    r for r in self._by_word.get(a.split()[0], ()) if f" {a} " in self._folded[r]
                ]
            rows.update(self._naming[a])
        return rows

    def date_fits(self, row: int, strong: Sequence[str | None]) -> bool:
        """False when the sentence writes a date that cannot meet one of the group's own."""
        if row not in self._written:
            sid, _, text = self._candidates[row]
            self._written[row] = date_written(text, self._by_id[sid].published)
        written = self._written[row]
        return not (written and any(not dates_compatible(written, d) for d in strong))

    def closest(self, hits: set[int], mentions: Sequence[Event]) -> list[int]:
        """At most ``MAX_CANDIDATES`` of ``hits`` (``MAX_CANDIDATES_PER_SOURCE`` of a source), the
        most words in common with the mentions' summaries and quotes first, each word weighted by
        its rarity (a rare anchor counts, "the" hardly); ties by source and sentence number."""
        if len(hits) <= MAX_CANDIDATES and _per_source_max(self._candidates, hits) <= (
            MAX_CANDIDATES_PER_SOURCE
        ):
            return sorted(hits)  # within the bounds: nothing to rank
        theirs: set[str] = set()
        for m in mentions:
            theirs.update(fold(m.summary).split())
            for c in m.citations:
                theirs.update(fold(c.quote).split())

        def score(r: int) -> float:
            # Summed in word order: the same float whatever the set's order (ties are exact).
            return sum(self._weight(w) for w in sorted(self._words_of(r) & theirs))

        ranked = sorted(
            hits, key=lambda r: (-score(r), self._candidates[r][0], self._candidates[r][1])
        )
        kept: list[int] = []
        per_source: dict[str, int] = defaultdict(int)
        for r in ranked:
            sid = self._candidates[r][0]
            if per_source[sid] < MAX_CANDIDATES_PER_SOURCE:
                per_source[sid] += 1
                kept.append(r)
                if len(kept) == MAX_CANDIDATES:
                    break
        return sorted(kept)

    def _words_of(self, row: int) -> frozenset[str]:
        if row not in self._words:
            self._words[row] = frozenset(self._folded[row].split())
        return self._words[row]

    def _weight(self, word: str) -> float:
        """log(sentences / sentences holding ``word``): 0 for a word every sentence holds."""
        if word not in self._idf:
            self._idf[word] = math.log(len(self._folded) / len(self._by_word[word]))
        return self._idf[word]


def _per_source_max(candidates: Sequence[tuple[str, int, str]], rows: set[int]) -> int:
    counts: dict[str, int] = defaultdict(int)
    for r in rows:
        counts[candidates[r][0]] += 1
    return max(counts.values(), default=0)


def _candidate_sentences(sources: Sequence[Source]) -> list[tuple[str, int, str]]:
    """(source id, number, text) of every sentence a model could have been shown and cited."""
    rows = []
    for source in sources:
        hidden = hidden_sentences_of(source).numbers  # worked out once per source
        for s in source.sentences:
            if s.number not in hidden and len(s.text.split()) >= MIN_WORDS:
                rows.append((source.id, s.number, " ".join(s.text.split())))
    return rows


def _sentence_numbers(event: Event, source: Source) -> list[int]:
    starts = {c.start for c in event.citations}
    return [s.number for s in source.sentences if s.start in starts]


def named_places(event: Event, names: ActorNames) -> frozenset[str]:
    """The named places (folded) an event's summary puts it at or in, countries left out: "at
    the Camp David presidential retreat in Washington" → "camp david", "washington". The summary
    says what the event is; a cited sentence may say more (the model cites a sentence too many)."""
    places: set[str] = set()
    for text in (event.summary, *(c.quote for c in event.citations if event.alignment == "linked")):
        for found in _PLACE_IN_TEXT.findall(text):
            words = [w for w in fold(found).split() if w not in _NOT_PLACES]
            if not words or fold(found).split()[0] in _NOT_PLACES:
                continue
            place = " ".join(words[:2])
            if not _is_country(place, found.strip(), names):
                places.add(place)
    return frozenset(places)


def _is_country(place: str, written: str, names: ActorNames) -> bool:
    """Whether a (folded) place is a country: "Japan" is, "Tokyo" is not (though it also stands
    for the government). A country pins nothing down: every sentence of a story names it."""
    hit = load_aliases().lookup(place)
    return (hit is not None and hit[0] == place.title()) or names.kinds.get(written) == "country"


def is_capital(place: str) -> bool:
    """Whether a (folded) place is a capital that also stands for its government ("seoul"):
    it pins an event down less than a venue does ("camp david")."""
    hit = load_aliases().lookup(place)
    return hit is not None and hit[1] == "country"


def _anchors(mentions: Sequence[Event], names: ActorNames) -> set[str]:
    """The places (folded) that pin the group's event down."""
    places: set[str] = set()
    for m in mentions:
        places |= named_places(m, names)
        head = m.location.split(",")[0].strip() if m.location else ""
        if place_head(head) and not _is_country(fold(head), head, names):
            places.add(fold(head))  # where its own source says it was
    # People are no anchor: leaders are named in every story about them, whatever it reports.
    return places


def _linked_event(source: Source, number: int, file: str, lead: Event, names: ActorNames) -> Event:
    citation = cite(source, number, file)
    text = " ".join(citation.quote.split())
    summary = text if len(text) <= SUMMARY_MAX else text[: SUMMARY_MAX - 1].rsplit(" ", 1)[0] + "…"
    folded = f" {fold(text)} "
    actors = tuple(
        v.text
        for actor in names.of(lead)
        for v in names.variants.get(actor, ())[:1]
        if any(f" {fold(x.text)} " in folded for x in names.variants.get(actor, ()))
    )
    written = date_written(text, source.published)
    digest = hashlib.sha256(f"linked\n{source.id}\n{number}\n{lead.id}".encode()).hexdigest()
    return Event(
        id="ev_" + digest[:12],
        source_id=source.id,
        type=lead.type,
        summary=summary,
        actors=actors or tuple(names.of(lead)),
        location=None,
        date=written,
        date_basis=dates.date_basis(written, text, source.published) if written else "none",
        status="planned" if _PLANNED.search(text) else "occurred",
        role="background",
        citations=(citation,),
        alignment="linked",
    )
