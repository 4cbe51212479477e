"""Independence: how many of the sources that report an event are independent of each other.

Two sources are one voice when their texts are near-identical (syndicated wire copy, a rewrite
of one story: at least ``SHARED_SHINGLES`` of the shorter text's word 8-grams appear in the
other) or when both carry the same wire credit in their opening lines or a syndication line
("AP", "Reuters", "(Yonhap)", "auto-generated from a syndicated feed"). An event reported by
four sources of which two are one AP story is "reported by 4 sources (3 independent)".
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from functools import cache

from ..models import Source

SHINGLE = 8  # words: long enough that two unrelated stories share almost none
SHARED_SHINGLES = 0.5
HEAD_LINES = 12
WIRES = {
    "AP": r"\bAP\b|\bAssociated Press\b",
    "Reuters": r"\bReuters\b",
    "AFP": r"\bAFP\b|\bAgence France-Presse\b",
    "Yonhap": r"\bYonhap\b",
    "Kyodo": r"\bKyodo\b",
    "Xinhua": r"\bXinhua\b",
    "TASS": r"/TASS/|\bTASS\b",
    "PTI": r"\bPTI\b",
    "IANS": r"\bIANS\b",
    "ANI": r"\bANI\b",
    "dpa": r"\bdpa\b",
}
# A wire credit is a short line of the opening ("AP Seoul", "(Reuters) -") or a syndication note.
_SYNDICATED = re.compile(r"syndicated|wire service|news agency contributed", re.I)


class Independence:
    """Counts independent sources among any subset of ``sources``."""

    def __init__(self, sources: Sequence[Source]) -> None:
        self._by_id = {s.id: s for s in sources}

    def count(self, source_ids: Sequence[str]) -> int:
        """The number of groups of mutually dependent sources among ``source_ids``."""
        ids = sorted(set(source_ids))
        root = {i: i for i in ids}

        def find(i: str) -> str:
            while root[i] != i:
                i = root[i]
            return i

        for n, a in enumerate(ids):
            for b in ids[n + 1 :]:
                if find(a) != find(b) and self.dependent(a, b):
                    root[find(b)] = find(a)
        return len({find(i) for i in ids}) or 1

    def dependent(self, a: str, b: str) -> bool:
        """Whether sources ``a`` and ``b`` are one voice (see the module docstring)."""
        if a == b:
            return True
        sa, sb = self._by_id.get(a), self._by_id.get(b)
        if sa is None or sb is None:
            return False
        if wire_credits(sa.text) & wire_credits(sb.text):
            return True
        return shared_share(sa.text, sb.text) >= SHARED_SHINGLES


@cache
def shingles(text: str) -> frozenset[int]:
    """Hashes of the text's word 8-grams (case and punctuation ignored)."""
    words = re.findall(r"\w+", text.casefold())
    return frozenset(
        zlib.crc32(" ".join(words[i : i + SHINGLE]).encode())
        for i in range(max(0, len(words) - SHINGLE + 1))
    )


def shared_share(a: str, b: str) -> float:
    """Share of the shorter text's 8-grams that the other text has too."""
    sa, sb = shingles(a), shingles(b)
    if not sa or not sb:
        return 0.0
    return len(sa & sb) / min(len(sa), len(sb))


@cache
def wire_credits(text: str) -> frozenset[str]:
    """Wire agencies credited in the opening lines or a syndication note of ``text``."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    credit_lines = [
        line for line in lines[:HEAD_LINES] if len(line.split()) <= 6 or line.startswith("(")
    ]
    credit_lines += [line for line in lines if _SYNDICATED.search(line) and len(line) < 300]
    found = set()
    for name, pattern in WIRES.items():
        if any(re.search(pattern, line) for line in credit_lines):
            found.add(name)
    return frozenset(found)
