"""Checks of a written brief that need no model: every quote must equal its source slice.

This runs at the end of every build, and whenever the brief is written again; a mismatch stops
the run rather than ship a brief whose citations cannot be checked. Within a build it is a bug
in the pipeline: a source that changed while the build ran is cited in a copy of the text as
read (:mod:`briefing.drift`). Later it means a cited file was edited since: build again.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from pydantic import ValidationError

from ..errors import BriefingError
from ..models import Citation


class CitationMismatch(BriefingError):
    """A citation's quote is not the text at its span."""


def mismatches(citations: Iterable[Citation]) -> list[str]:
    """One line per citation whose quote differs from ``file[start:end]`` (read as UTF-8)."""
    texts: dict[str, str] = {}
    problems = []
    for c in citations:
        if c.file not in texts:
            try:
                with open(c.file, encoding="utf-8", newline="") as fh:
                    texts[c.file] = fh.read()
            except OSError as exc:
                problems.append(f"{c.file}: cannot read ({exc.strerror})")
                texts[c.file] = ""
                continue
        if texts[c.file][c.start : c.end] != c.quote:
            problems.append(f"{c.file}:{c.line} [{c.start}:{c.end}] differs from its quote")
    return problems


def claims_citations(claims_path: Path) -> list[Citation]:
    """All citations in a ``claims.json``; :class:`CitationMismatch` when it is damaged."""
    try:
        data = json.loads(claims_path.read_text(encoding="utf-8"))
        return [Citation(**c) for claim in data["claims"] for c in claim["citations"]]
    except ValidationError as exc:  # e.g. a quote edited to another length than its span
        raise CitationMismatch(f"{claims_path}: {exc.errors()[0]['msg']}") from exc
    except (OSError, ValueError, KeyError, TypeError) as exc:
        detail = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
        raise CitationMismatch(f"{claims_path} is not a claims file: {detail}") from exc


def assert_quotes_match(claims_path: Path) -> int:
    """Raise :class:`CitationMismatch` unless every quote in ``claims_path`` matches.

    Returns how many citations were checked.
    """
    citations = claims_citations(claims_path)
    problems = mismatches(citations)
    if problems:
        # A build cites copies of files that changed while it ran (drift.py); a file edited
        # after the build is the usual cause when the brief is written again later.
        raise CitationMismatch(
            f"{len(problems)} citation(s) do not match their source: {problems[0]} (a cited "
            "file changed or went since it was read? build again to cite it as it is now)"
        )
    return len(citations)
