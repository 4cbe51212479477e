"""A check of a built output folder, end to end: check its claims, keep the report in the
refresh state, and write the brief again with the line under its title brought up to date.

The brief is written again only when the deterministic layer found nothing: a check must never
overwrite the files it found damaged (a corrupted claims.json, a moved span) with good ones and
so hide what it found.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

from . import check, llm, pipeline
from .config import FORMATS, Settings
from .store import state


def audit(
    out: Path,
    settings: Settings | None,
    *,
    offline: bool = False,
    connect: llm.Connect | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> check.CheckReport:
    """Check the brief in ``out``; with ``offline`` (or no settings) only the deterministic
    layer. A folder with no refresh state (copied elsewhere) is checked all the same, but the
    report is not kept and the brief not rewritten."""
    kept = state.state_path(out).is_file()
    with state.open_state(out) if kept else contextlib.nullcontext() as st:
        last = st.last_run() if st else None
        client = None
        if not offline and settings is not None:
            client = llm.make_client(settings, st, reuse=not settings.force, connect=connect)
        report = check.run_check(
            out, client, settings, run_id=last.id if last else None, on_progress=on_progress
        )
        if st is None:
            return report
        st.record_check(report.run_id, report.model_dump(mode="json"))
        intact = all(not c.problems for c in report.claims) and not report.brief_problems
        if intact and last is not None and last.brief_record is not None:
            written = [f for f in FORMATS if (out / f"brief.{f}").exists()]
            pipeline.rewrite_last(st, out, tuple(written) or ("md",))
    return report
