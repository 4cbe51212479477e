"""How `briefing check` prints its report for a person: a table of the claims, then what failed
and the two figures. (``--json`` prints the report itself.)"""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from .check import CheckReport

_STYLE = {
    "supported": "green",
    "partly": "yellow",
    "not_supported": "red",
    "failed": "red",
    "unchecked": "dim",
}
_SECTION = {
    "key_developments": "key point",
    "timeline": "timeline",
    "disagreements": "disagree",
    "actors": "actor",
}


def print_report(report: CheckReport, console: Console) -> None:
    """The report as one row per claim, the problems by claim id, and the figures."""
    console.print(f"[bold]{'claim':<15} {'section':<9} {'status':<13} {'by':<5} claim — why[/]")
    for c in report.claims:
        style = _STYLE.get(c.status, "")
        by = c.judged_by if c.judged_by != "none" else ""
        why = f" — {escape(_short(c.reason, 70))}" if c.reason and not c.problems else ""
        console.print(
            f"{escape(c.claim_id):<15} {_SECTION.get(c.section, c.section):<9} "
            f"[{style}]{c.status.replace('_', ' '):<13}[/] {by:<5} "
            f"{escape(_short(c.text, 90))}{why}"
        )
    for c in report.claims:
        for problem in c.problems:
            console.print(f"[red]{escape(c.claim_id)}[/] {escape(problem)}")
    for problem in report.brief_problems:
        console.print(f"[red]brief[/] {escape(problem)}")
    counts = {s: sum(c.status == s for c in report.claims) for s in _STYLE}
    console.print(
        f"{len(report.claims)} claims: {counts['supported']} supported, {counts['partly']} "
        f"partly, {counts['not_supported']} not supported, {counts['failed']} failed a "
        f"deterministic check, {counts['unchecked']} unchecked"
        + (" (--offline: only the deterministic checks ran)" if report.offline else "")
    )
    if not report.offline:
        console.print(
            f"citation recall {_figure(report.citation_recall)} (claims fully supported by "
            f"their citations), citation precision {_figure(report.citation_precision)} "
            f"(citations not irrelevant to their claim); support judged by {report.model}"
        )
    verdict = "[green]every claim passes[/]" if report.passed else "[red]some claims need review[/]"
    console.print(verdict)


def _short(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _figure(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"
