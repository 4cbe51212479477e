"""Alignment: which sentences actually state what an event's summary says.

Small models get sentence numbers wrong (the summary describes sentence 28 but cites 13) far
more often than they get the content wrong. Comparing the summary's content words with the cited
sentences catches that: when they share too little and another article sentence clearly
matches, the evidence is moved there; when nothing supports the summary, there is no evidence.
Extraction uses this to repair a reply before validating it (a deterministic fix is cheaper than
a re-ask), and grounding uses it again as the last guard before a citation is made.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import lru_cache

from ..models import Sentence

# Share of the summary's content words a cited sentence must contain to count as support.
MIN_SUPPORT = 0.25
# A sentence that was not cited must cover this share to replace the cited ones, or to be
# added to them (see :func:`complete`).
REALIGN_SUPPORT = 0.45
# An event cites at most this many sentences (the reply schema's bound too).
MAX_EVIDENCE = 3

_WORD = re.compile(r"[^\W\d_][\w’'-]{2,}")
# fmt: off
_STOPWORDS = frozenset({
    "the", "and", "for", "with", "that", "this", "from", "their", "they", "will", "have", "has",
    "had", "was", "were", "been", "its", "into", "about", "also", "said", "says", "which",
    "while", "after", "before", "over", "under", "than", "then", "them", "there", "these",
    "those", "would", "could", "should", "other", "more", "most", "such", "only", "some",
    "being", "between", "during", "against", "among", "three", "two",
})
# fmt: on


@dataclass(frozen=True)
class Alignment:
    """Sentence numbers that support a summary; ``moved`` when they are not the cited ones."""

    numbers: tuple[int, ...]
    moved: bool


# Kept per text: every reply's alignment reads its window's sentences again, and a quarter of
# the client's CPU a request was this (bench_client_cpu.py --profile, session 7).
@lru_cache(maxsize=65536)
def content_words(text: str) -> frozenset[str]:
    """Lower-cased words of three letters or more, without common function words."""
    return frozenset(w.lower().strip("’'-") for w in _WORD.findall(text)) - _STOPWORDS


def align(
    summary: str,
    evidence: Sequence[int],
    sentences: Sequence[Sentence],
    furniture: Collection[int] = (),
) -> Alignment | None:
    """The sentences among ``sentences`` that support ``summary``, preferring the cited ones.

    Cited numbers not among ``sentences`` count as unsupported. Only non-furniture sentences
    are candidates for realignment. None when nothing supports the summary.
    """
    by_number = {s.number: s for s in sentences}
    cited = sorted({n for n in evidence if n in by_number})
    wanted = content_words(summary)
    if not wanted:
        return Alignment(tuple(cited), False) if cited else None

    def support(number: int) -> float:
        return len(wanted & content_words(by_number[number].text)) / len(wanted)

    backing = tuple(n for n in cited if support(n) >= MIN_SUPPORT)
    if backing:
        return Alignment(backing, False)
    candidates = [n for n in by_number if n not in furniture]
    if not candidates:
        return None
    best = max(candidates, key=lambda n: (support(n), -n))
    if support(best) >= REALIGN_SUPPORT:
        return Alignment((best,), True)
    return None


def complete(
    summary: str, numbers: Sequence[int], sentences: Sequence[Sentence]
) -> tuple[int, ...]:
    """``numbers`` plus the other sentences among ``sentences`` that state the summary as
    plainly (at least REALIGN_SUPPORT of its content words), best first, up to MAX_EVIDENCE.

    A small model tends to cite the first sentence that tells an event and stop, when the next
    one gives its day and place ("... will meet in Seoul this week." / "Cho will host the
    meeting on Saturday"). Citing both lets a reader check both.
    """
    wanted = content_words(summary)
    chosen = list(dict.fromkeys(numbers))
    if not wanted or len(chosen) >= MAX_EVIDENCE:
        return tuple(chosen)
    scored = [
        (len(wanted & content_words(s.text)) / len(wanted), s.number)
        for s in sentences
        if s.number not in chosen
    ]
    extra = [
        n for score, n in sorted(scored, key=lambda p: (-p[0], p[1])) if score >= REALIGN_SUPPORT
    ]
    return tuple(sorted(chosen + extra[: MAX_EVIDENCE - len(chosen)]))
