"""Dates that need no model: weekday words resolved against the publication date, and how a
date was found (its basis).

A small model reads "on Thursday" against the calendar in its prompt and still often picks the
wrong day; the rule a reader applies is simple enough to write down. Past events happen on the
named weekday in the five days before publication or the day after it (a paper's date is its
own time zone's), planned ones on or after it.
"""

from __future__ import annotations

import datetime as dt
import re

from ..models import OCCURRED_AFTER_PUBLICATION_DAYS, DateBasis, Status

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")  # fmt: skip
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAY = re.compile(r"\b(" + "|".join(_WEEKDAYS) + r")\b", re.IGNORECASE)
_MONTH = (
    r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
# A date written out: a year, a day with a month name, or an ISO date.
_WRITTEN_DATE = re.compile(
    rf"\b(?:(?:19|20)\d{{2}}\b|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:{_MONTH})\b"
    rf"|(?:{_MONTH})\.?\s+\d{{1,2}}\b|\d{{4}}-\d{{2}}-\d{{2}})",
    re.IGNORECASE,
)
# A month named on its own ("in August"): capitalised, so the verb "may" is not taken for it.
_MONTH_NAME = re.compile(rf"\b(?:{'|'.join(MONTHS)})\b")
_RELATIVE = re.compile(
    r"\b(?:today|tonight|yesterday|tomorrow|(?:this|last|next|coming)\s+"
    r"(?:week|month|year|weekend)|earlier this|later this|recent(?:ly)?|"
    + "|".join(_WEEKDAYS)
    + r")\b",
    re.IGNORECASE,
)


def weekday_date(text: str, published: str | None, status: Status) -> str | None:
    """The date of the first weekday named in ``text`` ("on Thursday"), read against the
    publication date: for what occurred, within the five days before it or the day after (time
    zones); for what is planned, on or after it.

    None when there is no publication date, no weekday, or the text also writes a date out (the
    written date wins over the weekday).
    """
    if not published or _WRITTEN_DATE.search(text):
        return None
    named = _WEEKDAY.search(text)
    if named is None:
        return None
    day = dt.date.fromisoformat(published)
    shift = _WEEKDAYS.index(named.group(1).lower()) - day.weekday()
    if status == "planned":
        return (day + dt.timedelta(days=shift % 7)).isoformat()
    # The day after publication, not six days before: a paper dated in Europe or America
    # reports Asia's Saturday on its Friday. In the 50 North Korea articles of 2017 every
    # occurred weekday read as six days back (4 of 4) was that next day (the README's Measured).
    back = -shift % 7
    if back >= 7 - OCCURRED_AFTER_PUBLICATION_DAYS:
        back -= 7
    return (day - dt.timedelta(days=back)).isoformat()


def names_weekday(text: str) -> bool:
    """``text`` names a day of the week ("on Thursday")."""
    return _WEEKDAY.search(text) is not None


def drop_padding(date: str, text: str) -> str:
    """``2024-07`` for ``2024-07-01`` when ``text`` does not write the first of the month: a
    small model pads "in July" to a full date."""
    if not re.fullmatch(r"\d{4}-\d{2}-01", date):
        return date
    first = re.compile(
        rf"\b(?:1(?:st)?\s+(?:{_MONTH})|(?:{_MONTH})\.?\s+1(?:st)?\b|\d{{4}}-\d{{2}}-01)",
        re.IGNORECASE,
    )
    return date if first.search(text) else date[:7]


def date_basis(date: str | None, evidence: str, published: str | None) -> DateBasis:
    """How ``date`` was found, judged from the cited text: written out ("stated"), worked out
    from a word such as "on Thursday" ("relative"), the article's own date ("publication"), or
    neither: the model's inference ("inferred"). "none" when there is no date.
    """
    if date is None:
        return "none"
    if published and date in (
        weekday_date(evidence, published, "occurred"),
        weekday_date(evidence, published, "planned"),
    ):
        return "relative"
    if _WRITTEN_DATE.search(evidence) or names_month_of(evidence, date):
        return "stated"
    if _RELATIVE.search(evidence):
        return "relative"
    if published and date == published:
        return "publication"
    return "inferred"


# A plan and the month it is for, in one sentence: "plans to host a summit … in July".
_PLAN_IN_MONTH = re.compile(
    r"\b(?i:will|plans? to|planning to|(?:is|are) (?:set|expected|scheduled|due) to)\b[^.;]*?"
    rf"\b(?i:in|by|until|next)\s+({'|'.join(MONTHS)})\b(?!\s+\d)"  # capitalised: "may" is no month
)


def month_ahead(text: str, published: str | None) -> str | None:
    """The month a plan is for when ``text`` says so with no day ("… plans to host a summit …
    in July", in an article of 1 April 2024 → 2024-07): the first such month on or after
    publication. None when no plan in the text names a month, or there is no publication date."""
    named = _PLAN_IN_MONTH.search(text)
    if named is None or not published:
        return None
    month = MONTHS.index(named.group(1)) + 1
    year = int(published[:4]) + (month < int(published[5:7]))
    return f"{year:04d}-{month:02d}"


def names_month_of(text: str, date: str) -> bool:
    """``text`` names the month of ``date`` on its own ("in August" for 2023-08)."""
    months = {m.group(0) for m in _MONTH_NAME.finditer(text)}
    return len(date) >= 7 and MONTHS[int(date[5:7]) - 1] in months
