"""The cheap signals that say whether two mentions can be one event: dates, places, actors.

Each is a plain function of two values, so blocking, scoring and the disagreement ledger read
them the same way. Dates are ranges at their own precision: "2023-08" covers the whole month,
so it is *compatible* with "2023-08-18", while "2023-12-08" and "2023-12-09" are not (they
conflict, and may still be one event reported two ways: that is a disagreement, not a split).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Collection

from ..models import parse_partial_date

# A place's words that say nothing about where: "the presidential retreat in Washington" and
# "Washington" are one place.
_PLACE_NOISE = frozenset(
    [
        "the",
        "a",
        "an",
        "in",
        "at",
        "of",
        "on",
        "near",
        "city",
        "capital",
        "presidential",
        "retreat",
        "province",
        "state",
        "district",
        "county",
        "region",
        "prefecture",
    ]
)


# Dates further apart than this cannot be one event, whatever else agrees; up to it, they may be
# one event told two ways (blocking, scoring and grouping all read it).
MAX_DAYS_APART = 3


def date_range(date: str | None) -> tuple[dt.date, dt.date] | None:
    """The first and last day ``date`` covers, or None when undated or unparsable."""
    if not date:
        return None
    try:
        return parse_partial_date(date)
    except ValueError:
        return None


def dates_compatible(a: str | None, b: str | None) -> bool:
    """Whether two dates can name the same day: their ranges overlap, or either is missing."""
    ra, rb = date_range(a), date_range(b)
    if ra is None or rb is None:
        return True
    return ra[0] <= rb[1] and rb[0] <= ra[1]


def days_apart(a: str | None, b: str | None) -> int | None:
    """Days between the two ranges (0 when they overlap); None when either is undated."""
    ra, rb = date_range(a), date_range(b)
    if ra is None or rb is None:
        return None
    if ra[0] <= rb[1] and rb[0] <= ra[1]:
        return 0
    return min(abs((ra[0] - rb[1]).days), abs((rb[0] - ra[1]).days))


def precision(date: str | None) -> int:
    """0 for no date, 1 for a year, 2 for a month, 3 for a day."""
    return 0 if not date else date.count("-") + 1


def most_precise(dates: Collection[str | None]) -> str | None:
    """The most precise of mutually compatible dates ("2023-08" and "2023-08-18" give the day);
    None when there is none. Callers check compatibility first."""
    dated = sorted({d for d in dates if date_range(d)}, key=lambda d: (-precision(d), d))
    return dated[0] if dated else None


def fold(text: str) -> str:
    """Lower case, accents and punctuation gone, spaces squeezed: for comparing names."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return " ".join(re.sub(r"[^\w\s-]", " ", text.casefold()).split())


def place_words(place: str | None) -> frozenset[str]:
    """The words of a place that name it ("Camp David, Maryland" → camp, david, maryland)."""
    if not place:
        return frozenset()
    return frozenset(w for w in fold(place).replace("-", " ").split() if w not in _PLACE_NOISE)


def place_head(place: str | None) -> frozenset[str]:
    """The words of a place's first part, the most specific one ("Tokyo, Japan" → tokyo)."""
    if not place:
        return frozenset()
    return place_words(place.split(",")[0])


def places_compatible(a: str | None, b: str | None, countries: Collection[str] = ()) -> bool:
    """Whether two places can be the same: either missing, or one's most specific part shares a
    word with the other ("Tokyo" and "Tokyo, Japan"; "Camp David" and "Camp David, Maryland").
    A bare country is compatible with any place in it when ``countries`` lists the country."""
    if not a or not b:
        return True
    ha, hb = place_head(a), place_head(b)
    if ha & place_words(b) or hb & place_words(a):
        return True
    folded = {fold(c) for c in countries}
    return (fold(a) in folded and fold(a) in fold(b)) or (fold(b) in folded and fold(b) in fold(a))


def jaccard(a: Collection[str], b: Collection[str]) -> float:
    """|a ∩ b| / |a ∪ b|, 0 for two empty sets."""
    sa, sb = set(a), set(b)
    union = sa | sb
    return len(sa & sb) / len(union) if union else 0.0
