"""A build with nothing new: recognised before any source is read, answered from the last run.

The reply cache alone makes an unchanged rebuild free of requests, but it still reads every
source (its sentence split now from the state, ``store/splits.py``), replays every extraction,
embeds every summary for the merge and renders everything again: about 4.5 s for 100 articles
(measured before splits were kept, ``benchmarks/bench_refresh.py``).
Yet when nothing that goes into a build has changed, nothing can come out
differently. The *fingerprint* hashes all of it: every input file's bytes and path (and every
path that could not be read, with why), the settings that shape a result, the prompts, the
templates and briefing's own code and data files. When it equals the last run's, the last run's
brief is rendered again with a What changed section that says so, and nothing else is done.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .. import __version__, resources
from ..config import Settings, server_identity
from ..models import Brief, Event, Manifest, SourceFailure, Usage
from ..models.changes import Changes
from .state import RunRecord

_PACKAGE = Path(__file__).resolve().parent.parent  # briefing/, not store/
_CODE_SUFFIXES = (".py", ".toml", ".json", ".j2")


def fingerprint(
    settings: Settings, files: Sequence[Path], missing: Sequence[SourceFailure]
) -> str | None:
    """A hash of everything a build's result depends on; None when a file cannot be read
    (the full build then says why)."""
    digest = hashlib.sha256()
    try:
        inputs = [(str(p), hashlib.sha256(p.read_bytes()).hexdigest()) for p in files]
    except OSError:
        return None
    shaping = {
        "server": server_identity(settings),
        "model": settings.model,
        "window_chars": settings.window_chars,
        "context_tokens": settings.context_tokens,
        "merge_questions": settings.merge_questions,
        "max_source_mb": settings.max_source_mb,
        "validation_attempts": settings.validation_attempts,
        "temperature": settings.temperature,
        "extra_body": dict(settings.extra_body),
        "brief": {"title": settings.brief.title, "scope": settings.brief.scope},
        "out": str(settings.out_dir),
    }
    document = {
        "version": __version__,
        "code": _code_hash(),
        "prompts": resources.file_hashes("prompts"),
        "templates": resources.file_hashes("templates"),
        "settings": shaping,
        "inputs": inputs,
        "missing": [(f.path, f.reason) for f in missing],
    }
    digest.update(json.dumps(document, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def _code_hash() -> str:
    """briefing's own files (code, alias data, vendored tokenizer): a changed rule is a
    changed build even at the same version number."""
    digest = hashlib.sha256()
    roots = [_PACKAGE, resources.resource_dir("data")]
    for root in roots:
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*")):
            if path.is_file() and path.suffix in _CODE_SUFFIXES and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(root)).encode())
                digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


@dataclasses.dataclass(frozen=True)
class Replayed:
    """The last run, made this run's: its brief (What changed: nothing), events, manifest."""

    brief: Brief
    document: dict[str, Any]  # events.json plus key_points, as the state keeps it
    manifest: Manifest
    events: tuple[Event, ...]


def replay(previous: RunRecord, seconds: float) -> Replayed | None:
    """The last run again with nothing changed; None when it was stored without its brief or
    a file its citations point at is gone."""
    if previous.brief_record is None:
        return None
    nothing = Changes(
        previous_run=previous.id,
        previous_at=previous.finished_at,
        sources=(),
        events=(),
        new_disagreements=(),
        retracted_key_points=(),
    )
    created = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    brief = Brief.model_validate(previous.brief_record).model_copy(
        update={"changes": nothing, "built": created[:10]}
    )
    if not all(Path(entry.file).is_file() for entry in brief.sources):
        return None  # a citable copy under OUT/sources/ was deleted: the full build writes it
    manifest = Manifest.model_validate(previous.manifest).model_copy(
        update={
            "created_at": created,
            "usage": Usage(),
            "usage_by_source": {},
            "cost_usd": 0.0,
            "timings": {"unchanged": round(seconds, 3)},
        }
    )
    events = tuple(
        Event.model_validate(m)
        for e in previous.events.get("events", ())
        for m in e.get("mentions", ())
        if m.get("alignment") != "linked"
    )
    return Replayed(brief, previous.events, manifest, events)
