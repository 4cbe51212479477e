"""Review decisions as a file: ``briefing review --export`` and ``--apply``.

An analyst may review on one machine and build on another, or two analysts may split a brief:
the file carries every decision with the claim as it stood when decided, so the receiving
folder matches it to its own claims exactly as it matches its own decisions. When both sides
decided the same claim, the later decision wins; a decision already kept is never replaced by
an older one.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError, field_validator

from ..errors import ReviewError
from ..models import Decision, Record
from ..store.state import State

FORMAT = "briefing_review"
VERSION = 1


class ReviewFile(Record):
    """The exported file: ``{"briefing_review": 1, "decisions": [...]}``."""

    briefing_review: Literal[1]
    decisions: tuple[Decision, ...]

    @field_validator("decisions")
    @classmethod
    def _times_parse(cls, value: tuple[Decision, ...]) -> tuple[Decision, ...]:
        # Which decision is newer is decided on these times: one that does not parse cannot be
        # ordered, so the file is refused rather than merged by chance.
        for i, d in enumerate(value):
            try:
                decided_time(d.decided_at)
            except ValueError as exc:
                raise ValueError(
                    f"decision {i}: decided_at {d.decided_at!r} is not an ISO time"
                ) from exc
        return value


@dataclass(frozen=True)
class Applied:
    """What applying a review file did."""

    imported: int  # stored: new here, or newer than the decision kept here
    kept: int  # a decision kept here is newer, so it stays
    same: int  # already here as it is in the file


def now() -> str:
    """The current UTC time as an ISO string, the form ``Decision.decided_at`` is kept in."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def decided_time(value: str) -> dt.datetime:
    """``value`` (ISO) as an aware time; a time without zone is taken as UTC."""
    parsed = dt.datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def export_document(decisions: list[Decision]) -> dict[str, Any]:
    """The review file's content for ``decisions``."""
    return {FORMAT: VERSION, "decisions": [d.model_dump(mode="json") for d in decisions]}


def export_decisions(st: State, path: Path) -> int:
    """Write every decision of ``st`` to ``path`` (atomically); returns how many."""
    decisions = st.decisions()
    text = json.dumps(export_document(decisions), ensure_ascii=False, indent=2) + "\n"
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        raise ReviewError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return len(decisions)


def read_review_file(path: Path) -> tuple[Decision, ...]:
    """The decisions in review file ``path``; :class:`ReviewError` in one line when it is not
    one (unreadable, not JSON, another format, a decision that does not validate)."""
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8"
        raise ReviewError(f"cannot read {path}: {reason}") from exc
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ReviewError(f"{path} is not JSON (line {exc.lineno}: {exc.msg})") from exc
    if not isinstance(data, dict) or FORMAT not in data:
        raise ReviewError(f'{path} is not a review file (no "{FORMAT}" key)')
    if data[FORMAT] != VERSION:
        raise ReviewError(
            f"{path} is review file version {data[FORMAT]!r}; this briefing reads version {VERSION}"
        )
    try:
        return ReviewFile.model_validate(data).decisions
    except ValidationError as exc:
        raise ReviewError(f"{path}: {first_error(exc)}") from exc


def first_error(exc: ValidationError) -> str:
    """The first problem pydantic found, as ``where: what`` (``decisions[2].action: …``)."""
    error = exc.errors()[0]
    where = ""
    for part in error["loc"]:
        where += f"[{part}]" if isinstance(part, int) else (f".{part}" if where else str(part))
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def merge_decisions(st: State, decisions: tuple[Decision, ...]) -> Applied:
    """Store ``decisions`` in ``st``; where both hold one on the same claim, the later wins."""
    # The newest of the file's own decisions on a claim is the one that counts.
    incoming: dict[str, Decision] = {}
    for d in decisions:
        held = incoming.get(d.claim_id)
        if held is None or _when(d) >= _when(held):
            incoming[d.claim_id] = d
    here = {d.claim_id: d for d in st.decisions()}
    imported = kept = same = 0
    for claim_id, d in incoming.items():
        mine = here.get(claim_id)
        if mine == d:
            same += 1
        elif mine is not None and _when(mine) > _when(d):
            kept += 1
        else:
            st.save_decision(d)
            imported += 1
    return Applied(imported=imported, kept=kept, same=same)


def _when(decision: Decision) -> dt.datetime:
    # A stored decision with a time that does not parse (written by hand) is the oldest of all.
    try:
        return decided_time(decision.decided_at)
    except ValueError:
        return dt.datetime.min.replace(tzinfo=dt.UTC)


def apply_file(st: State, path: Path) -> Applied:
    """Validate review file ``path`` whole, then merge its decisions into ``st``."""
    return merge_decisions(st, read_review_file(path))
