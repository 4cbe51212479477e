"""Sources whose files change or disappear while a build runs: reported, never a crash.

A build reads each source once, at the start; extraction can take hours. A file edited or
deleted meanwhile does not stop it: the brief is built from the text as read (what was
extracted, what the citations quote), says so in one line per file (in the brief's notes and
on stderr), and the next build, whose fingerprint differs, reads the file anew.

A source read verbatim is cited in place, so once its file changed its citations would point at
words that are no longer there: the text as read is written to ``OUT/sources/`` (as the copies of
other sources are) and every citation of that source is pointed at the copy. The final quote
check then proves each quote against the file the brief cites.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from ..models import Brief, Event, Source

CHANGED = (
    "changed while the build ran (its citations point at the text as read; "
    "build again to use the new text)"
)
GONE = "disappeared while the build ran (its citations point at the text as read)"

T = TypeVar("T")


def since_read(source: Source, size: int | None = None) -> str | None:
    """Why the file of ``source`` no longer holds the bytes that were read, or None when it
    still does. ``size``, the bytes read, spares hashing a file whose size changed."""
    path = Path(source.path)
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            return GONE  # a folder or a pipe in its place: no longer the file that was read
        if size is not None and st.st_size != size:
            return CHANGED
        with open(path, "rb") as fh:
            digest = hashlib.file_digest(fh, "sha256").hexdigest()
    except FileNotFoundError:
        return GONE
    except OSError as err:
        return (
            f"could not be read again at the end of the build ({err.strerror or err}); "
            "its citations point at the text as read"
        )
    return None if digest == source.id else CHANGED


@dataclass(frozen=True)
class Drift:
    """What changed under a build: a reason per source, and the cited files replaced by copies."""

    reasons: dict[str, str] = field(default_factory=dict)  # source id -> reason
    lines: tuple[str, ...] = ()  # "path: reason", one per source, for the brief and stderr
    copies: dict[str, str] = field(default_factory=dict)  # cited file -> copy of the text read

    def __bool__(self) -> bool:
        return bool(self.reasons)

    def repoint(self, data: T) -> T:
        """``data`` (JSON-like: dicts, lists, strings) with each ``"file"`` naming a replaced
        file naming its copy instead."""
        if not self.copies:
            return data
        return _repoint(data, self.copies)  # type: ignore[no-any-return]

    def apply_brief(self, brief: Brief) -> Brief:
        """``brief`` citing the copies, with a note for every source that changed or went."""
        record = self.repoint(brief.model_dump(mode="json"))
        record["notes"] = [*record["notes"], *self.lines]
        return Brief.model_validate(record)

    def apply_events(self, events: Sequence[Event]) -> list[Event]:
        """``events`` citing the copies."""
        return [
            Event.model_validate(self.repoint(e.model_dump(mode="json")))
            if e.source_id in self.reasons
            else e
            for e in events
        ]


def settle(
    read: Sequence[Source], sizes: Mapping[str, int], citable: dict[str, str], folder: Path
) -> Drift:
    """Look at the file of every source in ``read`` again. For each that changed or went and
    is cited in place, write the text as read into ``folder`` and point ``citable`` at it."""
    reasons: dict[str, str] = {}
    lines: list[str] = []
    copies: dict[str, str] = {}
    for source in read:
        reason = since_read(source, sizes.get(source.path))
        if reason is None:
            continue
        reasons[source.id] = reason
        lines.append(f"{source.path}: {reason}")
        cited = citable.get(source.id)
        if cited == source.path:
            folder.mkdir(parents=True, exist_ok=True)
            # The name citable_files gives every copy: the stem and the hash of what was read.
            copy = folder / f"{Path(source.path).stem}.{source.id[:12]}.txt"
            copy.write_text(source.text, encoding="utf-8", newline="\n")
            copies[cited] = citable[source.id] = str(copy)
    return Drift(reasons, tuple(lines), copies)


def _repoint(data: Any, copies: Mapping[str, str]) -> Any:
    if isinstance(data, dict):
        return {
            k: copies.get(v, v) if k == "file" and isinstance(v, str) else _repoint(v, copies)
            for k, v in data.items()
        }
    if isinstance(data, list | tuple):
        return [_repoint(v, copies) for v in data]
    return data
