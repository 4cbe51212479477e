"""What `briefing check` found: one record per claim, the two ALCE figures, and the brief's line.

The report is written as JSON (``--json``, and into the refresh state, where the review page and
the next build read it), so it is a pydantic record like every other that crosses the disk.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import Field

from ..models import CheckSummary, Claim, Record, Usage

# supported / partly / not_supported: the support layer's verdict on the cited spans.
# failed: a deterministic check failed (a moved span, a changed file), so support was not asked.
# unchecked: no verdict yet (``--offline``, or the claim is new since the last check).
Status = Literal["supported", "partly", "not_supported", "failed", "unchecked"]
JudgedBy = Literal["model", "rule", "none"]
# ALCE's question for one citation: does this span alone support the claim?
Alone = Literal["supports", "partly", "unrelated"]


class CitationCheck(Record):
    """One citation of a claim as checked."""

    file: str
    start: int
    end: int
    line: int
    alone: Alone | None = None  # None when support was not asked
    needed: bool | None = None  # ALCE: False when it is irrelevant to the claim


class ClaimCheck(Record):
    """One claim as checked: its deterministic problems, then its support verdict."""

    claim_id: str
    section: str
    text: str
    status: Status
    judged_by: JudgedBy = "none"
    reason: str = ""
    problems: tuple[str, ...] = ()
    citations: tuple[CitationCheck, ...] = ()
    fingerprint: str = Field("", description="of the claim's text and spans: a verdict's key")

    @property
    def passed(self) -> bool:
        """Whether this claim needs no one's attention."""
        return self.status == "supported" and not self.problems


class CheckReport(Record):
    """Everything one `briefing check` found."""

    checked_at: str
    run_id: int | None
    model: str | None  # the support layer's, None when ``--offline``
    offline: bool
    claims: tuple[ClaimCheck, ...]
    brief_problems: tuple[str, ...] = ()  # problems of the brief as a whole (an uncited line)
    citation_recall: float | None  # ALCE, over the claims the support layer judged
    citation_precision: float | None
    usage: Usage = Usage()

    @property
    def passed(self) -> bool:
        """Every claim passes (with ``--offline``: every deterministic check does)."""
        if self.brief_problems:
            return False
        if self.offline:
            return all(not c.problems for c in self.claims)
        return all(c.passed for c in self.claims)


def claim_fingerprint(claim: Claim | Mapping[str, Any]) -> str:
    """What a verdict depends on: the claim's text and its spans (file, start, end)."""
    data = claim.model_dump(mode="json") if isinstance(claim, Claim) else dict(claim)
    spans = [[c.get("file"), c.get("start"), c.get("end")] for c in data.get("citations") or []]
    blob = json.dumps([data.get("text"), spans], ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def summary(
    claims: Sequence[Claim], report: Mapping[str, Any] | None, flagged: int = 0
) -> CheckSummary:
    """The brief's line from the last check ``report`` (as stored): a claim keeps its verdict
    while its text and spans are unchanged; ``flagged`` review decisions need a look too."""
    verdicts: dict[str, str] = {}
    model = None
    if report:
        model = report.get("model")
        for c in report.get("claims") or []:
            if c.get("fingerprint"):
                verdicts[c["fingerprint"]] = (
                    "failed" if c.get("problems") else str(c.get("status", "unchecked"))
                )
    supported = unchecked = 0
    doubtful: dict[str, str] = {}
    for claim in claims:
        status = verdicts.get(claim_fingerprint(claim), "unchecked")
        if status == "supported":
            supported += 1
        elif status == "unchecked":
            unchecked += 1
        else:
            doubtful[claim.id] = status
    return CheckSummary(
        claims=len(claims),
        supported=supported,
        need_review=len(doubtful) + flagged,
        unchecked=unchecked,
        model=model,
        doubtful=doubtful,
    )
