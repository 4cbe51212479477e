"""Details a claim gives that its cited words do not: found in code, before the model is asked.

A small judge reads a paraphrase well but misses a changed detail: asked about 28 unsupported
claims, the embedded model called 12 of them supported (wrong date, place, number, negation, an
allegation stated as fact; see README, *Measured*). Those are exactly the details code can look
up. A claim is at most *partly* supported when

* a number, year, month or weekday it gives is not in its spans ("twice a year" for "once");
* a name it gives (a capitalised word inside the sentence) is not in its spans, as written or by
  an alias or a demonym ("US" for "United States", "Japanese" for Japan);
* it negates where its spans do not, or drops its only span's negation;
* it states as fact what every one of its spans only attributes ("accused", "alleged",
  "likely", "according to"), with no word of attribution of its own.

Each finding is a reason a reader can check in one look. The model's verdict still decides
whether what remains is supported: these rules only ever lower it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal, NamedTuple

from ..merge.aliases import Aliases, load_aliases
from ..read.sources import MONTHS

_NUMBER_WORDS = [
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "twenty",
    "thirty",
    "forty",
    "fifty",
    "hundred",
    "thousand",
    "million",
    "billion",
    "dozen",
    "once",
    "twice",
    "thrice",
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
    "half",
]
_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_NEGATION = re.compile(r"\b(?:not|no|never|none|neither|nor|without)\b|n't\b", re.IGNORECASE)
_ATTRIBUTED = re.compile(
    r"\b(?:accus\w*|alleg\w*|claim(?:s|ed)?|according to|likely|reportedly|suspect\w*|"
    r"den(?:y|ied|ies)|purported\w*)\b",
    re.IGNORECASE,
)
_ATTRIBUTION = re.compile(
    r"\b(?:said|say|says|told|according|accus\w*|alleg\w*|claim\w*|warn\w*|den(?:y|ied|ies)|"
    r"likely|reportedly|believ\w*|suspect\w*|assert\w*|stated?|noted?|added|insist\w*)\b",
    re.IGNORECASE,
)
_TOKEN = re.compile(r"[A-Za-z][\w'’\-]*|\d(?:[\d,.]*\d)?")
# A name as written: capitalised words in a row ("South Korea", "U.S.", "N. Korea", "Camp David").
_NAME = re.compile(r"(?:[A-Z][\w'’\-]*\.?)(?:\s?(?:[A-Z][\w'’\-]*\.?))*")
# Capitalised words that open clauses or name no one.
_COMMON = {
    "the", "a", "an", "on", "in", "at", "and", "but", "he", "she", "it", "they", "we", "this",
    "that", "these", "those", "his", "her", "its", "their", "as", "for", "of", "to", "by",
    "with", "after", "before", "during", "while", "when", "president", "prime", "minister",
    "secretary", "adviser", "advisers", "advisor", "ambassador", "director", "general",
    "foreign", "national", "security", "special", "representative", "deputy", "chief", "office",
    "ministry", "government", "summit", "meeting", "talks", "leaders", "leader", "state",
    "states", "department", "affairs", "council", "house", "defense", "defence",
}  # fmt: skip


class Finding(NamedTuple):
    """One detail a claim gives that its spans do not: what kind, and the reason shown."""

    kind: Literal["figure", "name", "negation", "attribution"]
    reason: str


def unsupported_details(
    claim: str, quotes: Sequence[str], aliases: Aliases | None = None
) -> list[Finding]:
    """What ``claim`` says that its cited ``quotes`` do not, one finding each."""
    aliases = aliases or load_aliases()
    spans = " ".join(" ".join(q.split()) for q in quotes)
    folded = spans.casefold()
    words = set(re.findall(r"[\w'’\-]+", folded))
    found: list[Finding] = []
    spans_count = any(
        t[0].isdigit() or t.casefold() in _NUMBER_WORDS for t in _TOKEN.findall(spans)
    )
    spans_time = any(t.casefold() in (*MONTHS, *_WEEKDAYS) for t in _TOKEN.findall(spans))
    for token in _TOKEN.findall(claim):
        low = token.casefold().strip(".,")
        if token[0].isdigit():
            if low.replace(",", "") not in folded.replace(",", ""):
                found.append(Finding("figure", f"“{token}” is not in its cited words"))
        elif low not in words and (
            (low in _NUMBER_WORDS and spans_count)
            or ((low in MONTHS or low in _WEEKDAYS) and spans_time)
        ):
            # A count or a day the spans give otherwise ("twice" where they say "once"); a
            # count they leave to the reader ("the three countries") is no finding.
            found.append(Finding("figure", f"“{token}” is not in its cited words"))
    for match in _NAME.finditer(claim):
        name = match.group(0).rstrip(".")
        if match.start() == 0 or not _is_name(name):
            continue  # the sentence's first word is capitalised anyway
        if not _named(name, spans, words, aliases):
            found.append(Finding("name", f"“{name}” is not in its cited words"))
    claim_negates = bool(_NEGATION.search(claim))
    spans_negate = bool(_NEGATION.search(spans))
    if claim_negates and not spans_negate:
        found.append(Finding("negation", "it negates what its cited words do not"))
    elif spans_negate and not claim_negates and len(quotes) == 1:
        found.append(Finding("negation", "it leaves out the negation of its cited words"))
    attributed = all(_ATTRIBUTED.search(q) for q in quotes)  # one plain span is enough
    if quotes and attributed and not _ATTRIBUTION.search(claim):
        found.append(
            Finding(
                "attribution",
                "its cited words attribute this to someone; the claim states it as fact",
            )
        )
    return list(dict.fromkeys(found))


def _is_name(name: str) -> bool:
    """A run of capitals that names someone or somewhere, not only title words."""
    words = [w for w in name.split() if w.casefold().strip(".'’s") not in _COMMON]
    return bool(words)


def _named(name: str, spans: str, words: set[str], aliases: Aliases) -> bool:
    """Whether ``name`` is in ``spans``. Titles split it ("South Korean | Vice | Cho Koo-rae");
    a country at the front of a part ("North Korean ICBM") may be named by an alias or a
    demonym ("US" for "United States", "ROK" for South Korea); the other words as written."""
    tokens = [re.sub(r"['’]s?$", "", t) for t in name.replace("’", "'").split()]
    parts: list[list[str]] = [[]]
    for t in tokens:
        if t.casefold().strip(".") in _COMMON:
            parts.append([])
        else:
            parts[-1].append(t)
    for part in (p for p in parts if p):
        taken, country = aliases.country_prefix(part)
        named = country is not None and aliases.mentions(spans, country)
        if taken and not named and not all(_written(t, words) for t in part[:taken]):
            return False
        for t in part[taken:]:
            if not _written(t, words) and not t.replace(".", "").isupper():
                return False  # an acronym nobody listed ("ICBM") is no finding
    return True


def _written(token: str, words: set[str]) -> bool:
    low = token.casefold().strip(".")
    return low in words or (len(low) >= 4 and any(w.startswith(low) for w in words))
