"""The deterministic layer of `briefing check`: what can be proved without a model.

For each claim of ``claims.json``: it has a citation; each citation is well formed; each cited
file exists and still has the sha256 the manifest recorded; each quote equals the file's text at
its span; each event the claim rests on is in ``events.json``. For the brief as a whole: every
line of ``brief.md`` that states something carries a note marker.

A damaged claims file is read as far as it goes: one bad claim is that claim's problem, not the
end of the check.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..errors import BriefingError
from ..models import Citation, Claim


class CheckUnavailable(BriefingError):
    """The check itself cannot run: no claims file, or no manifest to check against."""


@dataclass(frozen=True)
class ReadClaim:
    """One entry of ``claims.json`` as found, and the Claim it makes when it is well formed."""

    index: int
    claim_id: str
    section: str
    text: str
    raw: dict[str, Any]
    claim: Claim | None  # None when the entry is malformed
    citations: tuple[Citation | None, ...]  # None for a malformed citation


@dataclass(frozen=True)
class Outputs:
    """The files of one output folder that a check reads."""

    claims: tuple[ReadClaim, ...]
    cited_files: dict[str, str]  # file -> sha256 recorded at the build
    event_ids: frozenset[str] | None  # None when events.json is missing
    events: dict[str, Any]
    brief_md: str | None


def read_outputs(out: Path) -> Outputs:
    """Read ``out``'s claims.json, manifest.json, events.json and brief.md for a check;
    :class:`CheckUnavailable` when the claims or the manifest cannot be read at all."""
    claims_path, manifest_path = out / "claims.json", out / "manifest.json"
    try:
        data = json.loads(claims_path.read_text(encoding="utf-8"))
        entries = data["claims"]
        if not isinstance(entries, list):
            raise TypeError("'claims' is not a list")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CheckUnavailable(f"{claims_path} cannot be read as a claims file: {exc}") from exc
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        cited = manifest.get("cited_files") or {
            i["path"]: i["sha256"] for i in manifest["inputs"] if i.get("sha256")
        }  # a manifest from before cited_files: sources cited as they are
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CheckUnavailable(f"{manifest_path} cannot be read: {exc}") from exc
    try:
        events = json.loads((out / "events.json").read_text(encoding="utf-8"))
        event_ids: frozenset[str] | None = frozenset(e["id"] for e in events["events"])
    except (OSError, ValueError, KeyError, TypeError):
        events, event_ids = {}, None
    try:
        brief_md: str | None = (out / "brief.md").read_text(encoding="utf-8")
    except OSError:
        brief_md = None
    claims = tuple(_read_claim(i, e) for i, e in enumerate(entries, 1))
    return Outputs(claims, dict(cited), event_ids, events, brief_md)


def _read_claim(index: int, entry: Any) -> ReadClaim:
    raw = entry if isinstance(entry, dict) else {}
    citations: list[Citation | None] = []
    for c in raw.get("citations") or []:
        try:
            citations.append(Citation.model_validate(c))
        except ValidationError:
            citations.append(None)
    try:
        claim: Claim | None = Claim.model_validate(raw)
    except ValidationError:
        claim = None
    return ReadClaim(
        index=index,
        claim_id=str(raw.get("id") or f"#{index}"),
        section=str(raw.get("section") or "?"),
        text=str(raw.get("text") or ""),
        raw=raw,
        claim=claim,
        citations=tuple(citations),
    )


def claim_problems(claim: ReadClaim, outputs: Outputs, texts: dict[str, str | None]) -> list[str]:
    """What is wrong with one claim that needs no model to see; ``texts`` caches file texts."""
    problems: list[str] = []
    if not claim.raw:
        return [f"entry {claim.index} of claims.json is not a claim"]
    if not claim.text.strip():
        problems.append("has no text")
    if not claim.citations:
        problems.append("has no citation")
    for n, citation in enumerate(claim.citations, 1):
        if citation is None:
            problems.append(f"citation {n} is malformed (its quote does not fit its span)")
            continue
        problems.extend(_citation_problems(citation, outputs, texts))
    if outputs.event_ids is not None:
        for event_id in claim.raw.get("event_ids") or []:
            if event_id not in outputs.event_ids:
                problems.append(f"rests on event {event_id}, which events.json does not hold")
    if claim.claim is None and not problems:
        problems.append("is malformed")
    return problems


def _citation_problems(
    citation: Citation, outputs: Outputs, texts: dict[str, str | None]
) -> list[str]:
    where = f"{citation.file}:{citation.line}"
    if citation.file not in texts:
        texts[citation.file] = _read_checked(citation.file, outputs.cited_files.get(citation.file))
    text = texts[citation.file]
    if text is None:
        if not Path(citation.file).is_file():
            return [f"cites {citation.file}, which is missing"]
        expected = outputs.cited_files.get(citation.file)
        if expected is None:
            return [f"cites {citation.file}, which the manifest does not list"]
        return [f"cites {citation.file}, which changed since the build (sha256 differs)"]
    if text[citation.start : citation.end] != citation.quote:
        return [f"{where} [{citation.start}:{citation.end}] differs from its quote"]
    return []


def _read_checked(path: str, sha256: str | None) -> str | None:
    """The file's text when it exists and has ``sha256``; else None."""
    try:
        data = Path(path).read_bytes()
    except OSError:
        return None
    if sha256 is None or hashlib.sha256(data).hexdigest() != sha256:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


# A line of brief.md that states something: a list item or a table row of the sections whose
# sentences are claims. Their notes are "[^n]" markers (or "[n]" links in older briefs).
_FACT_SECTIONS = ("## Key developments", "## Timeline", "## Where sources disagree")
_MARKER = re.compile(r"\[\^?\d+\]")


def uncited_lines(brief_md: str) -> list[str]:
    """Lines of ``brief_md``'s factual sections that state something and cite nothing."""
    problems = []
    section = None
    for number, line in enumerate(brief_md.splitlines(), 1):
        if line.startswith("## "):
            section = line if line.startswith(_FACT_SECTIONS) else None
            continue
        if section is None or not line.lstrip().startswith(("- ", "* ", "| ")):
            continue
        if section.startswith("## Where sources disagree") and not line.startswith(" "):
            continue  # a disagreement's heading; its sides below are the claims
        body = line.strip("|-* ").strip()
        if set(body) <= set("-: |") or body.lower().startswith(("date |", "date|")):
            continue  # a table's header rule or header
        if not _MARKER.search(line):
            problems.append(f"brief.md:{number} states something with no citation: {body[:60]}")
    return problems
