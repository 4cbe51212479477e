"""The sentences of a source no model is shown: page furniture, the headline it repeats and
injected instructions.

Extraction hides them from the model (``extract/extraction.py``), the batch import plans its
requests with the same windows, and linking never offers them as a mention of another source's
event (``merge/linking.py``). Working them out (furniture rules, the injection rules) costs more
than the rest of preparing a source, so it is done once per ``Source``: :func:`of` keeps what
:func:`hidden_sentences` found on the source, and a build takes it from the refresh state when
an earlier build worked it out for the same text and title under the same rules
(:func:`recall`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ..models.records import HIDDEN_KEY
from . import furniture as furniture_rules
from . import injection as injection_rules
from .furniture import furniture, headline_sentences
from .injection import instructions
from .sentences import segmenter_version

if TYPE_CHECKING:
    from ..models import Source


@dataclass(frozen=True)
class Hidden:
    """Sentence numbers of one source that no model is shown, by why."""

    furniture: frozenset[int]  # page furniture and lines too short to state an event
    headline: frozenset[int]  # sentences repeating the headline (the body tells it in full)
    instructions: frozenset[int]  # addressed to a model or the reader; may also be furniture

    @property
    def numbers(self) -> frozenset[int]:
        """Every hidden sentence, whatever the reason."""
        return self.furniture | self.headline | self.instructions


def hidden_sentences(source: Source) -> Hidden:
    """What of ``source`` is hidden and why, worked out now (:func:`of` works it out once)."""
    return Hidden(
        furniture=frozenset(furniture(source.sentences)),
        headline=frozenset(headline_sentences(source.sentences, source.title)),
        instructions=frozenset(instructions(source.text, source.sentences)),
    )


def of(source: Source) -> Hidden:
    """What of ``source`` is hidden, worked out the first time it is asked for this Source (the
    batch plan, the replay and linking all ask) or given by :func:`recall`."""
    kept = source.__dict__.get(HIDDEN_KEY)
    if not isinstance(kept, Hidden):
        kept = source.__dict__[HIDDEN_KEY] = hidden_sentences(source)
    return kept


class HiddenCache(Protocol):
    """What an earlier build found hidden, by :func:`hidden_key` and :func:`rules_version`."""

    def get_hidden(self, key: str, rules: str) -> Hidden | None:
        """The hidden sentences kept for this key and rules, or None."""

    def put_hidden(self, key: str, rules: str, hidden: Hidden) -> None:
        """Keep what was just worked out (the cache may write it later, in one go)."""


@lru_cache(maxsize=1)
def rules_version() -> str:
    """What the hidden sentences depend on besides the text and title: the furniture and
    injection rules, this file and the sentence split. Any edit to one changes it."""
    digest = hashlib.sha256(segmenter_version().encode())
    for module in (furniture_rules, injection_rules):
        digest.update(Path(module.__file__ or "").read_bytes())
    digest.update(Path(__file__).read_bytes())
    return digest.hexdigest()[:16]


def hidden_key(source: Source) -> str:
    """The key of a source's hidden sentences: its bytes (``id``, which fix its text and
    sentences) and its title (a copy may carry another, and the headline rule reads it)."""
    return hashlib.sha256(f"{source.id}\n{source.title or ''}".encode()).hexdigest()


def recall(sources: Iterable[Source], cache: HiddenCache) -> int:
    """Give each source its ``hidden`` from ``cache`` where it is kept, else work it out and
    hand it to ``cache``; returns how many were kept. The injection rules cost ~20 CPU ms a
    source, more than reading it once the split is kept too."""
    rules, found = rules_version(), 0
    for source in sources:
        key = hidden_key(source)
        kept = cache.get_hidden(key, rules)
        if kept is None or not kept.numbers <= {s.number for s in source.sentences}:
            cache.put_hidden(key, rules, of(source))  # worked out now, kept on the source
            continue
        source.__dict__[HIDDEN_KEY] = kept  # where :func:`of` looks first
        found += 1
    return found
