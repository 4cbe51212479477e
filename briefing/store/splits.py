"""Sentence splits kept in the refresh state: reading segments an unchanged text only once.

Segmenting (``read/sentences.py``, mostly pysbd) is three quarters of the 20 CPU ms it takes to
read an article, and every build reads every source again, a ``--batch-results`` build too. The
split of a text depends only on the text and the splitting rules, so it is kept by the sha256 of
the text (not of the file: the same bytes decode to other text if decoding changes) and the
segmenter version (a hash of those rules and pysbd's version).

Only the spans are kept, as a versioned JSON document; the ``Sentence`` records are rebuilt from
the text. A row that does not decode, or whose spans do not fit the text, is split again, never
an error. Each source's hidden sentences (``read/hidden.py``: furniture, headline, injected
instructions; the injection rules cost as much again as a split) are kept the same way, by the
source's bytes and title and the rules' version. What is new is written in one transaction per
``FLUSH_EVERY`` texts and at the end of reading, never one commit per source.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from ..read.hidden import Hidden
from ..read.sentences import Span
from .state import State

FLUSH_EVERY = 1000  # new splits per transaction: a killed build keeps what it segmented


class _Splits(BaseModel):
    """The stored form of one text's split: ``{"v": 1, "spans": [[start, end], ...]}``."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    v: Literal[1] = 1
    spans: tuple[tuple[int, int], ...]


class _Hidden(BaseModel):
    """The stored form of one source's hidden sentences (``read/hidden.py``), by why."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    v: Literal[1] = 1
    furniture: tuple[int, ...]
    headline: tuple[int, ...]
    instructions: tuple[int, ...]


_Doc = TypeVar("_Doc", _Splits, _Hidden)


class StateSentenceCache:
    """A ``read.sentences.SentenceCache`` over the refresh state; new splits are held until
    :meth:`flush`. For one reading thread (the build reads one file at a time)."""

    def __init__(self, st: State, flush_every: int = FLUSH_EVERY) -> None:
        self._st = st
        self._flush_every = flush_every
        self._new: dict[str, dict[str, str]] = {}  # segmenter -> text hash -> document
        self._new_hidden: dict[str, dict[str, str]] = {}  # rules -> source key -> document
        self.hits = self.misses = 0

    def get(self, text_sha256: str, segmenter: str) -> Sequence[Span] | None:
        """The spans kept for this text and segmenter; None when there are none or the row
        does not decode."""
        doc = self._recall(self._new, segmenter, text_sha256, self._st.sentence_split, _Splits)
        if doc is None:
            self.misses += 1
            return None
        self.hits += 1
        return doc.spans

    def put(self, text_sha256: str, segmenter: str, spans: Sequence[Span]) -> None:
        """Hold a new split; written with the next :meth:`flush` (at once every
        ``flush_every`` new splits)."""
        self._hold(
            self._new, segmenter, text_sha256, _Splits(spans=tuple((a, b) for a, b in spans))
        )

    def get_hidden(self, key: str, rules: str) -> Hidden | None:
        """A ``read.hidden.HiddenCache``: the hidden sentences kept for a source under
        ``rules``; None when there are none or the row does not decode."""
        doc = self._recall(self._new_hidden, rules, key, self._st.hidden_sentences, _Hidden)
        if doc is None:
            return None
        return Hidden(
            frozenset(doc.furniture), frozenset(doc.headline), frozenset(doc.instructions)
        )

    def put_hidden(self, key: str, rules: str, hidden: Hidden) -> None:
        """Hold what was worked out for a source; written with the next :meth:`flush`."""
        doc = _Hidden(
            furniture=tuple(sorted(hidden.furniture)),
            headline=tuple(sorted(hidden.headline)),
            instructions=tuple(sorted(hidden.instructions)),
        )
        self._hold(self._new_hidden, rules, key, doc)

    def _recall(
        self,
        held: dict[str, dict[str, str]],
        version: str,
        key: str,
        stored: Callable[[str, str], str | None],
        model: type[_Doc],
    ) -> _Doc | None:
        """A document held since the last flush or stored, decoded; None when there is none
        or it does not decode (written by something else, or damaged: worked out again)."""
        document = held.get(version, {}).get(key)
        if document is None:
            document = stored(key, version)
        if document is None:
            return None
        try:
            return model.model_validate_json(document)
        except ValidationError:
            return None

    def _hold(
        self, held: dict[str, dict[str, str]], version: str, key: str, doc: BaseModel
    ) -> None:
        held.setdefault(version, {})[key] = doc.model_dump_json()
        if sum(map(len, held.values())) >= self._flush_every:
            self.flush()

    def flush(self) -> None:
        """Write what is held, one transaction per version (there is one of each)."""
        for segmenter, rows in self._new.items():
            self._st.store_sentence_splits(segmenter, list(rows.items()))
        self._new.clear()
        for rules, hidden in self._new_hidden.items():
            self._st.store_hidden_sentences(rules, list(hidden.items()))
        self._new_hidden.clear()


@contextmanager
def sentence_cache(st: State) -> Iterator[StateSentenceCache]:
    """A sentence cache over ``st`` for one reading; what it holds is written when it ends."""
    cache = StateSentenceCache(st)
    try:
        yield cache
    finally:
        cache.flush()
