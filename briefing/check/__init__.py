"""`briefing check`: is every claim of a brief what its sources say?

Two layers, in order:

* **deterministic** (deterministic.py, always): every cited file is there with the hash the
  manifest recorded, every quote is the file's text at its span, every claim cites something and
  rests on events that exist, every stated line of brief.md carries a note;
* **support** (support.py, unless offline): a verdict on each claim against its cited spans
  only, by rule where a rule can decide and by the model otherwise, and ALCE's citation recall
  and precision over those verdicts (alce.py).

A claim passes when it has no deterministic problem and is supported. The build itself runs the
quote check (quotes.py) and stops on a mismatch: that would be a bug of the pipeline.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .. import llm
from ..config import Settings
from ..errors import InvalidReply
from ..models import Claim, Usage
from . import alce, support
from .deterministic import (
    CheckUnavailable,
    Outputs,
    ReadClaim,
    claim_problems,
    read_outputs,
    uncited_lines,
)
from .quotes import CitationMismatch, assert_quotes_match, claims_citations, mismatches
from .report import CheckReport, CitationCheck, ClaimCheck, claim_fingerprint, summary

__all__ = [
    "CheckReport",
    "CheckUnavailable",
    "CitationMismatch",
    "ClaimCheck",
    "assert_quotes_match",
    "claims_citations",
    "mismatches",
    "run_check",
    "summary",
]


def run_check(
    out: Path,
    client: llm.Client | None,
    settings: Settings | None,
    *,
    run_id: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> CheckReport:
    """Check the brief in ``out``. With no ``client`` only the deterministic layer runs.
    ``on_progress(done, total)`` follows the support layer. Raises :class:`CheckUnavailable`
    when the outputs cannot be read, and the server's error when it cannot be reached."""
    outputs = read_outputs(out)
    texts: dict[str, str | None] = {}
    problems = {c.index: claim_problems(c, outputs, texts) for c in outputs.claims}
    brief_problems = tuple(uncited_lines(outputs.brief_md)) if outputs.brief_md else ()
    judgeable = [c for c in outputs.claims if not problems[c.index] and c.claim is not None]
    verdicts: dict[int, support.SupportVerdict | str] = {}
    if client is not None and settings is not None:
        verdicts = _support(client, settings, judgeable, outputs, on_progress)
    checks = [_claim_check(c, problems[c.index], verdicts.get(c.index)) for c in outputs.claims]
    judged = [
        alce.Judged(v.verdict == "supported", v.alone)
        for v in verdicts.values()
        if isinstance(v, support.SupportVerdict)
    ]
    usage = sum(
        (v.usage for v in verdicts.values() if isinstance(v, support.SupportVerdict)), Usage()
    )
    return CheckReport(
        checked_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        run_id=run_id,
        model=settings.model if client is not None and settings is not None else None,
        offline=client is None,
        claims=tuple(checks),
        brief_problems=brief_problems,
        citation_recall=alce.citation_recall(judged),
        citation_precision=alce.citation_precision(judged),
        usage=usage,
    )


def _support(
    client: llm.Client,
    settings: Settings,
    claims: list[ReadClaim],
    outputs: Outputs,
    on_progress: Callable[[int, int], None] | None,
) -> dict[int, support.SupportVerdict | str]:
    """Verdicts by claim index; a string where the model gave no valid verdict."""
    found: dict[int, support.SupportVerdict | str] = {}
    pending: list[ReadClaim] = []
    replay = client.cache_only() if client.cache is not None and client.reuse else None
    for c in claims:
        assert c.claim is not None
        rule = support.rule_verdict(c.claim, outputs.events)
        if rule is not None:
            found[c.index] = rule
            continue
        if replay is not None:
            try:
                found[c.index] = support.model_verdict(replay, settings, c.claim)
                continue
            except llm.CacheMiss:
                pass
        pending.append(c)
    total = len(claims)
    if on_progress:
        on_progress(len(found), total)
    if not pending:
        return found
    client.api()  # in this thread: the embedded server must start here (processes.py)

    def one(claim: Claim) -> support.SupportVerdict | str:
        try:
            return support.model_verdict(client, settings, claim)
        except InvalidReply as exc:
            return f"the model gave no valid verdict: {' '.join(str(exc).split())[:120]}"

    with ThreadPoolExecutor(max_workers=max(1, settings.concurrency)) as pool:
        for c, verdict in zip(
            pending, pool.map(one, [c.claim for c in pending if c.claim]), strict=True
        ):
            found[c.index] = verdict
            if on_progress:
                on_progress(len(found), total)
    return found


def _claim_check(
    claim: ReadClaim, problems: list[str], verdict: support.SupportVerdict | str | None
) -> ClaimCheck:
    spans = [
        CitationCheck(file=c.file, start=c.start, end=c.end, line=c.line)
        for c in claim.citations
        if c is not None
    ]
    fingerprint = claim_fingerprint(claim.raw) if claim.raw else ""
    if problems:
        return ClaimCheck(
            claim_id=claim.claim_id, section=claim.section, text=claim.text, status="failed",
            reason=problems[0], problems=tuple(problems), citations=tuple(spans),
            fingerprint=fingerprint,
        )  # fmt: skip
    if not isinstance(verdict, support.SupportVerdict):
        return ClaimCheck(
            claim_id=claim.claim_id, section=claim.section, text=claim.text,
            status="unchecked", reason=verdict or "", citations=tuple(spans),
            fingerprint=fingerprint,
        )  # fmt: skip
    needed = alce.needed(alce.Judged(verdict.verdict == "supported", verdict.alone))
    spans = [
        s.model_copy(update={"alone": a, "needed": n})
        for s, a, n in zip(spans, verdict.alone, needed, strict=False)
    ]
    return ClaimCheck(
        claim_id=claim.claim_id, section=claim.section, text=claim.text, status=verdict.verdict,
        judged_by=verdict.judged_by, reason=verdict.reason, citations=tuple(spans),
        fingerprint=fingerprint,
    )  # fmt: skip
