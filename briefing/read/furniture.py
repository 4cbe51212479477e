"""Page furniture found with no model: what a scraped news page carries besides its article.

Scraped pages keep their navigation, teasers of other stories, bylines and author boxes. A small
model asked to tell them apart from the article confuses the two both ways (it lists every
sentence as furniture, or reports a teaser's event), while the pages themselves mark most of it
plainly. Lines found here are never shown to the model, so no event can cite them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..models import Sentence

# Lines that scraped news pages put after the article (or around an author bio): everything
# from the first of them on is furniture. Matched at the start of a sentence, case-insensitive.
_END_OF_ARTICLE = re.compile(
    r"^(?:(?:previous story|next story|latest from|don'?t miss|most popular|follow us|"
    r"check also|load more|notify of|related (?:articles|posts|stories)|you may also like|"
    r"share this|more from|recommended)\b|(?:topics|tags)\s*:)",
    re.IGNORECASE,
)
# Single lines that are furniture wherever they stand.
_FURNITURE_LINE = re.compile(r"^(also read|read more|read also|see also)\s*:", re.IGNORECASE)
# An author link (".../author/name/") opens the author box that runs to the end of the page.
_AUTHOR_LINK = re.compile(r"https?://\S+/author/", re.IGNORECASE)
# A line of fewer words (a byline, "2 mins read", "Photo: Istock", an author's name) cannot
# state an event.
MIN_WORDS = 4


def marked_furniture(sentences: Sequence[Sentence]) -> set[int]:
    """Sentences that well-known page markers identify as furniture: "Also Read:" lines, an
    author box opened by an author link (with the name line just above it), and everything
    after a "Previous Story" / "Latest from" / "Don't Miss" / "Topics :" kind of line."""
    marked: set[int] = set()
    tail_from: int | None = None
    previous = ""
    for s in sentences:
        text = s.text.strip()
        if _FURNITURE_LINE.match(text):
            marked.add(s.number)
        if tail_from is None and _END_OF_ARTICLE.match(text):
            tail_from = s.number
        elif tail_from is None and _AUTHOR_LINK.search(text):
            # "Jane Doe" then "Jane Doehttps://site/author/jane/": the name line belongs to it.
            named = bool(previous) and text.startswith(previous)
            tail_from = s.number - 1 if named else s.number
        previous = text
    if tail_from is not None:
        marked.update(s.number for s in sentences if s.number >= tail_from)
    return marked


def furniture(sentences: Sequence[Sentence]) -> set[int]:
    """Marked furniture plus lines too short to state an event."""
    short = {s.number for s in sentences if len(s.text.split()) < MIN_WORDS}
    return marked_furniture(sentences) | short


def headline_sentences(sentences: Sequence[Sentence], title: str | None) -> set[int]:
    """Sentences that repeat the headline ("HomeWorldAsia" + title counts too): the body
    tells the same news in full, so events are cited from there.

    A title that ends like a sentence (a plain-text file whose first line is its lead) is
    article text, not a headline: nothing is hidden then."""
    wanted = (title or "").strip().casefold()
    if not wanted or wanted.endswith((".", "!", "?", ".”", '."')):
        return set()
    return {s.number for s in sentences if s.text.strip().casefold().endswith(wanted)}
