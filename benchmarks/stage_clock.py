"""Run the ``briefing`` command with a clock on its stages, for ``bench_scale.py``.

    python benchmarks/stage_clock.py build FOLDER --out OUT ...   # = briefing build FOLDER ...

It is the real CLI (``briefing.cli.main``, the entry point of ``.venv/bin/briefing``) with one
thing added: each time the build's progress enters a stage ("reading sources", "extracting
events", ...) a JSON line goes to the file named by ``BENCH_STAGE_LOG``: the stage, the wall
clock (``time.time()``, so the benchmark can line it up with its own clock), the CPU seconds
this process has used (all its threads), and its RSS and peak RSS (``VmRSS``, ``VmHWM``) at
that moment. A last line ``(exit)`` is written when the command ends, however it ends. With
``BENCH_PROFILE=FILE`` the command runs under cProfile (every thread: the extraction pool's
too) and the stats go to FILE (``python -m pstats FILE``). Nothing of briefing is changed:
only its progress object's ``stage`` method is wrapped, and when that cannot be found the
command runs without a clock.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any, TextIO


def _status_mb(field: str) -> float | None:
    """A ``kB`` field of ``/proc/self/status`` in MB; None where there is none."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return round(int(line.split()[1]) / 1024, 1)
    except (OSError, ValueError):
        pass
    return None


class StageLog:
    """One JSON line per stage entered, flushed at once (a killed build keeps its lines)."""

    def __init__(self, out: TextIO | None) -> None:
        self.out = out

    def mark(self, stage: str) -> None:
        if self.out is None:
            return
        line = {
            "stage": stage,
            "t": time.time(),
            "cpu": round(time.process_time(), 3),  # this process, every thread
            "rss_mb": _status_mb("VmRSS"),
            "hwm_mb": _status_mb("VmHWM"),
        }
        self.out.write(json.dumps(line) + "\n")
        self.out.flush()


def _wrap_stages(log: StageLog) -> bool:
    """Wrap the ``stage`` method of the progress class the CLI draws with; False if none."""
    try:
        from briefing import cli
    except ImportError:
        return False
    progress_class: Any = getattr(cli, "RichProgress", None)
    original = getattr(progress_class, "stage", None)
    if original is None:
        return False

    def stage(self: Any, name: str) -> None:
        log.mark(name)
        original(self, name)

    progress_class.stage = stage
    return True


def run_cli(argv: list[str]) -> int:
    """``briefing ARGV`` in this process; its exit code."""
    from briefing import cli

    try:
        cli.main(args=argv, prog_name="briefing")
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0


def _profiled(argv: list[str], profile_to: str) -> int:
    """``run_cli(argv)`` under cProfile, every thread included (cProfile alone sees only the
    thread that enabled it, and extraction runs in a pool); the stats, added up, to a file.
    Each thread is timed by its own CPU time (``time.thread_time``), so a thread waiting for a
    lock, the GIL or a socket costs nothing: the profile says where the CPU goes."""
    import cProfile
    import pstats
    import threading

    profiles: list[cProfile.Profile] = []
    lock = threading.Lock()
    thread_run = threading.Thread.run

    def run(self: threading.Thread) -> None:
        profiler = cProfile.Profile(time.thread_time)
        with lock:
            profiles.append(profiler)
        profiler.runcall(thread_run, self)

    threading.Thread.run = run  # type: ignore[method-assign]
    main_profiler = cProfile.Profile(time.thread_time)
    try:
        return main_profiler.runcall(run_cli, argv)
    finally:
        threading.Thread.run = thread_run  # type: ignore[method-assign]
        stats = pstats.Stats(main_profiler)
        with lock:
            finished = list(profiles)
        for profiler in finished:
            try:
                stats.add(profiler)
            except (TypeError, ValueError):  # a thread still running has no stats yet
                continue
        stats.dump_stats(profile_to)


def main(argv: list[str]) -> int:
    path = os.environ.get("BENCH_STAGE_LOG")
    out = open(path, "a", encoding="utf-8") if path else None  # noqa: SIM115 (kept open)
    log = StageLog(out)
    log.mark("(started)")
    _wrap_stages(log)
    log.mark("(imported)")
    profile_to = os.environ.get("BENCH_PROFILE")
    try:
        if not profile_to:
            return run_cli(argv)
        return _profiled(argv, profile_to)
    finally:
        log.mark("(exit)")
        if out is not None:
            out.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
