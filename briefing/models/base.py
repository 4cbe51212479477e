"""The base of every record, the vocabularies records share, and partial dates."""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict


class Record(BaseModel):
    """Base for every record: unknown fields are an error, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --- vocabularies -------------------------------------------------------------------------------

# PLOVER's top-level event categories (the successor of CAMEO), in PLOVER's order.
EventType = Literal[
    "AGREE", "CONSULT", "SUPPORT", "CONCEDE", "COOPERATE", "AID", "RETREAT", "REQUEST",
    "ACCUSE", "REJECT", "THREATEN", "PROTEST", "SANCTION", "MOBILIZE", "COERCE", "ASSAULT",
]  # fmt: skip
# How a date was found (worked out in code, see dates.date_basis): written out in the cited
# text, resolved from "on Thursday" against the publication date, the publication date itself,
# the model's inference from elsewhere, or "none" when there is no date.
DateBasis = Literal["stated", "relative", "publication", "inferred", "none"]
Status = Literal["occurred", "planned", "claimed", "denied"]
# "main": what the article reports; "background": an earlier event it recalls.
Role = Literal["main", "background"]
# As in langextract, how an event's evidence was tied to the text (the quote is always exact):
# the sentences the model cited ("as_cited"); others, because the cited ones did not state the
# summary ("realigned"); or the cited ones plus sentences that state it as plainly ("completed").
# "linked": not extracted by the model from this source; the merge stage found this sentence of it
# reporting an event other sources report (see merge/linking.py).
Alignment = Literal["as_cited", "realigned", "completed", "linked"]

ISO_DATE = re.compile(r"^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$")
ISO_DATE_PATTERN = ISO_DATE.pattern
# A window of about 1,200 characters rarely states more; the bound keeps a small model from looping.
MAX_EVENTS_PER_WINDOW = 8
SUMMARY_MAX = 160  # characters; the server's grammar cuts a longer summary off mid-word


def parse_partial_date(value: str) -> tuple[dt.date, dt.date]:
    """Return the first and last day covered by ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``."""
    if not ISO_DATE.match(value):
        raise ValueError(f"date {value!r} is not YYYY, YYYY-MM or YYYY-MM-DD")
    parts = [int(p) for p in value.split("-")]
    if len(parts) == 3:
        day = dt.date(parts[0], parts[1], parts[2])  # raises for 2023-02-30
        return day, day
    if len(parts) == 2:
        first = dt.date(parts[0], parts[1], 1)
        nxt = dt.date(parts[0] + (parts[1] == 12), parts[1] % 12 + 1, 1)
        return first, nxt - dt.timedelta(days=1)
    return dt.date(parts[0], 1, 1), dt.date(parts[0], 12, 31)


# A paper's date is its own time zone's: an American or European paper of Friday reports what
# happened on Asia's Saturday. So what occurred may be dated up to this many days after its
# source was published (see dates.weekday_date).
OCCURRED_AFTER_PUBLICATION_DAYS = 1


def too_late_to_have_occurred(date: str, published: str) -> bool:
    """Whether ``date`` (``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``) begins more than
    ``OCCURRED_AFTER_PUBLICATION_DAYS`` after ``published``, so that what it dates cannot have
    occurred yet; False when either does not parse (validation says what is wrong)."""
    try:
        latest = dt.date.fromisoformat(published) + dt.timedelta(
            days=OCCURRED_AFTER_PUBLICATION_DAYS
        )
        return parse_partial_date(date)[0] > latest
    except ValueError:
        return False
