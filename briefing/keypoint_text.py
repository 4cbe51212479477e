"""A key point as the model wrote it, cleaned for a reader: the prompt's event labels taken out,
a cut row's "…" ended at a whole sentence, a drift into another script stopped, and a point that
restates the brief's scope recognised. Pure text functions: ``compose`` decides what to do with
them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from .extract.align import content_words

# A point that takes this share of its words from the scope and not from the events it cites
# restates what the brief is about, not what happened.
SCOPE_ECHO = 0.4
# "E3", "(E3)", "(E3, E7)", "as reported in E3": the model's handles, not words for a reader.
_LABELS = re.compile(
    r"\s*(?:,?\s*(?:as )?(?:reported|described|noted|stated|cited|seen) (?:in|by) )?"
    r"\(?\b(?:E\d+)(?:\s*(?:,|and|&)\s*E\d+)*\b\)?"
)


def echoes_scope(text: str, scope: str, cited: Sequence[str] = ()) -> bool:
    """Whether a point says what the brief is about rather than what its events report: a large
    share of its words are the scope's and in none of the ``cited`` events' words."""
    words = content_words(text)
    if not words:
        return False
    reported = set().union(*(content_words(c) for c in cited)) if cited else set()
    borrowed = (words & content_words(scope)) - reported
    return len(borrowed) / len(words) >= SCOPE_ECHO


def without_labels(text: str) -> str:
    """``text`` with the model's event labels ("E3", "(E3, E7)", "as reported in E3") and the
    prompt's own "There:" marker (a small model copies the row it read) removed."""
    cleaned = _LABELS.sub("", text)
    cleaned = re.sub(r"\s*\bThere:\s*(\w?)", lambda m: " " + m.group(1).upper(), cleaned)
    cleaned = re.sub(r"\s+([,.;:])", r"\1", cleaned)
    return " ".join(cleaned.split())


def before_stray_script(text: str, sources: str) -> str:
    """``text`` up to its last whole sentence before a word in a script ``sources`` never use:
    a small model drifts into another language ("in the face of growing regional и", the
    embedded model's words, measured on the seeds). With no whole sentence before it, only such
    words are dropped."""
    known = _scripts(sources)
    words = text.split(" ")
    stray = next((i for i, w in enumerate(words) if _scripts(w) - known), None)
    if stray is None:
        return text
    head = " ".join(words[:stray])
    end = max(head.rfind(". "), head.rfind("! "), head.rfind("? "), -1)
    if head.rstrip().endswith((".", "!", "?")):
        return head.rstrip()
    if end >= 0:
        return head[: end + 1]
    return " ".join(w for w in words if not _scripts(w) - known)


def _scripts(text: str) -> set[str]:
    """The scripts of the letters of ``text`` other than Latin ("CYRILLIC", "HANGUL", "CJK")."""
    return {
        unicodedata.name(ch, "?").split(" ")[0]
        for ch in text
        if ch.isalpha() and not ch.isascii() and not unicodedata.name(ch, "").startswith("LATIN")
    }


def whole_sentences(text: str) -> str:
    """``text`` up to its last whole sentence before a cut ("…"): a small model copies event
    rows, and a shortened row would end the point in mid-sentence. A point with no whole sentence
    before the cut stays as it is."""
    cut = re.search(r"\.\.\.|…", text)
    if cut is None:
        return text
    head = text[: cut.start()]
    end = max(head.rfind(". "), head.rfind("! "), head.rfind("? "))
    if head.rstrip().endswith((".", "!", "?")):
        return head.rstrip()
    return head[: end + 1] if end >= 0 else text  # no whole sentence: better cut than nothing
