"""Profile the merge stage of a real build of N corpus articles, in one process.

``bench_scale.py`` times whole builds; when one stage grows faster than N, this finds where.
The first N articles (as ``bench_scale`` writes them) are read, extracted against the fake
server with no latency (``tests/scripted_model.respond``), grounded, exactly as
``pipeline._build`` does, then ``pipeline.merge_stage`` runs once under cProfile (or, with
``--tracemalloc``, under tracemalloc: the peak and the lines that hold the most at the end of
each merge step). Numbers only.

    .venv/bin/python benchmarks/profile_merge.py --n 1000 3000 [--tracemalloc] [--prof DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import functools
import io
import os
import pstats
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for extra in (ROOT, ROOT / "tests"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from fakeserver import FakeOpenAI  # noqa: E402

from benchmarks import bench_scale, tm_corpus  # noqa: E402
from benchmarks.stage_clock import _status_mb  # noqa: E402  # one reader of /proc/self/status

# The merge's steps (briefing/merge/__init__.py), wrapped to time them and, with tracemalloc,
# to see what memory each leaves behind.
STEPS = (
    ("briefing.merge", "resolve_actors"),
    ("briefing.merge.embeddings", "Embedder.embed"),
    ("briefing.merge.embeddings", "Embedder._run"),  # one ONNX batch: the model's own time
    ("briefing.merge.blocking", "candidate_pairs"),
    ("briefing.merge.scoring", "score_pair"),
    ("briefing.merge", "_decide"),
    ("briefing.merge.grouping", "group"),
    ("briefing.merge.linking", "link_mentions"),
    ("briefing.merge.outcomes", "find_parents"),
    ("briefing.merge", "build_canonical"),
    ("briefing.merge", "event_disagreements"),
)

_KEEP: list[Any] = []


def reset_peak_rss() -> None:
    """Reset this process's peak RSS (VmHWM) to its current RSS (Linux)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def events_for(n: int, work: Path, base_url: str) -> tuple[Any, ...]:
    """Settings, state, client, events, sources and citable files of ``n`` articles."""
    from briefing import config, llm
    from briefing.extract import ground
    from briefing.extract.parallel import citable_files, extract_all
    from briefing.progress import BuildProgress
    from briefing.read import sources
    from briefing.store import state

    folder = work / f"sources-{n}"
    bench_scale.write_sources(bench_scale.corpus_rows(n, tm_corpus.articles()), folder)
    env = {"OPENAI_API_KEY": "sk-profile"}
    flags = {
        "out": work / f"out-{n}",
        "base_url": base_url,
        "model": "gpt-4o-mini",
        "concurrency": 16,
    }
    settings = config.load_settings(env, flags)
    opened = state.open_state(settings.out_dir)
    _KEEP.append(opened)  # the state must stay open while the client uses it
    st = opened.__enter__()
    client = llm.make_client(settings, st, reuse=True)
    t = time.monotonic()
    read, _ = sources.load_sources([folder], settings.max_source_mb)
    citable = citable_files(read, settings.out_dir / "sources")
    read_s = time.monotonic() - t
    t = time.monotonic()
    extractions, _ = extract_all(client, settings, read, BuildProgress())
    extract_s = time.monotonic() - t
    t = time.monotonic()
    events: list[Any] = []
    for source in read:
        if source.id in extractions:
            events.extend(ground.ground(extractions[source.id], source, citable[source.id]).events)
    ground_s = time.monotonic() - t
    done = [s for s in read if s.id in extractions]
    print(
        f"N = {n:,}: {len(read):,} sources read in {read_s:.1f} s, extracted in "
        f"{extract_s:.1f} s, {len(events):,} events grounded in {ground_s:.1f} s",
        flush=True,
    )
    return settings, client, events, done, citable


class StepClock:
    """Wraps the merge's step functions: seconds per step, and (with tracemalloc) the traced
    memory after each step and the peak during it."""

    def __init__(self, trace: bool) -> None:
        self.trace = trace
        self.rows: dict[str, dict[str, Any]] = {}
        self.undo: list[Callable[[], None]] = []
        self.active: list[str] = []  # the steps running now, outermost first
        self.hwm = 0.0  # the peak RSS before the last reset, MB: the steps reset it

    def install(self) -> None:
        import importlib

        for module_name, dotted in STEPS:
            module = importlib.import_module(module_name)
            owner: Any = module
            *path, name = dotted.split(".")
            for part in path:
                owner = getattr(owner, part, None)
            original = getattr(owner, name, None) if owner is not None else None
            if original is None:
                continue
            setattr(owner, name, self._wrap(dotted, original))
            self.undo.append(functools.partial(setattr, owner, name, original))

    def _wrap(self, label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            if self.trace:
                tracemalloc.reset_peak()
            # Called once per pair or per batch: time it, nothing more.
            many = label not in ("score_pair", "Embedder._run")
            if many:
                self.hwm = max(self.hwm, _status_mb("VmHWM") or 0)
                reset_peak_rss()
            if label == "Embedder.embed" and len(args) > 1:
                # Which step asked for them: the summaries (merge_events) or linking.
                caller = next((s for s in reversed(self.active) if s != label), "merge_events")
                key = f"texts for {caller}"
                self.rows.setdefault(label, {"step": label, "s": 0.0, "calls": 0})
                self.rows[label][key] = self.rows[label].get(key, 0) + len(args[1])
            self.active.append(label)
            t = time.monotonic()
            try:
                return fn(*args, **kwargs)
            finally:
                self.active.pop()
                row = self.rows.setdefault(label, {"step": label, "s": 0.0, "calls": 0})
                row["s"] += time.monotonic() - t
                row["calls"] += 1
                if many:
                    rss, hwm = _status_mb("VmRSS"), _status_mb("VmHWM")
                    row["rss_after_mb"] = rss
                    row["rss_peak_mb"] = max(row.get("rss_peak_mb") or 0, hwm or 0)
                if self.trace:
                    current, peak = tracemalloc.get_traced_memory()
                    row.update(
                        after_mb=round(current / 2**20, 1),
                        peak_mb=max(row.get("peak_mb", 0), round(peak / 2**20, 1)),
                    )

        return timed

    def remove(self) -> None:
        for undo in reversed(self.undo):
            undo()


def profile_merge(
    n: int, work: Path, trace: bool, prof_dir: Path | None, top: int, use_profiler: bool
) -> None:
    from briefing import pipeline
    from briefing.progress import BuildProgress

    with FakeOpenAI() as fake:
        import scripted_model

        fake.respond_with(scripted_model.respond)
        settings, client, events, read, citable = events_for(n, work, fake.base_url)
        clock = StepClock(trace)
        clock.install()
        profiler = None if trace or not use_profiler else cProfile.Profile()
        if trace:
            tracemalloc.start(25)
        reset_peak_rss()
        rss_before = _status_mb("VmRSS")
        t, cpu = time.monotonic(), time.process_time()
        if profiler:
            merged = profiler.runcall(
                pipeline.merge_stage, client, settings, events, read, citable, BuildProgress()
            )
        else:
            merged = pipeline.merge_stage(client, settings, events, read, citable, BuildProgress())
        seconds, cpu = time.monotonic() - t, time.process_time() - cpu
        rss_peak = max(clock.hwm, _status_mb("VmHWM") or 0)
        clock.remove()
    under = " (under tracemalloc)" if trace else " (cProfile)" if profiler else ""
    print(
        f"  merge_stage: {seconds:.1f} s ({cpu:.1f} CPU s){under}, "
        f"{len(merged.canonical):,} canonical events; stats {dict(merged.stats)}"
    )
    print(f"  RSS before the merge {rss_before} MB, peak during it {rss_peak} MB")
    for row in clock.rows.values():
        extra = f", traced after {row['after_mb']} MB, peak {row['peak_mb']} MB" if trace else ""
        if "rss_peak_mb" in row:
            extra += f", RSS after {row['rss_after_mb']} MB, peak {row['rss_peak_mb']} MB"
        for key in sorted(k for k in row if k.startswith("texts")):
            extra += f", {row[key]:,} {key}"
        print(f"    {row['step']:<22} {row['s']:8.2f} s in {row['calls']:,} call(s){extra}")
    if not trace and profiler is None:
        return
    if trace:
        snapshot = tracemalloc.take_snapshot()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"  traced peak over the whole merge: {peak / 2**20:.1f} MB; held at the end:")
        for stat in snapshot.statistics("lineno")[:top]:
            print(f"    {stat.size / 2**20:8.1f} MB  {stat.count:>9,}  {stat.traceback[0]}")
        return
    assert profiler is not None
    stats: Any = pstats.Stats(profiler).stats  # type: ignore[attr-defined]  # {(file, line, name): (cc, nc, tt, ct, callers)}
    onnx = sum(v[3] for k, v in stats.items() if "onnxruntime" in k[0] and k[2] == "run")
    print(f"  onnxruntime (InferenceSession.run, cumulative): {onnx:.1f} s")
    if prof_dir:
        prof_dir.mkdir(parents=True, exist_ok=True)
        profiler.dump_stats(prof_dir / f"merge-{n}.prof")
    for key in ("cumulative", "tottime"):
        buf = io.StringIO()
        pstats.Stats(profiler, stream=buf).sort_stats(key).print_stats(top)
        lines = [x for x in buf.getvalue().splitlines() if x.strip()]
        start = next(i for i, x in enumerate(lines) if x.lstrip().startswith("ncalls"))
        print(f"  top {top} by {key}:")
        for line in lines[start : start + top + 1]:
            print("   " + line.replace(str(ROOT) + "/", "").replace(sys.prefix + "/", ""))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, nargs="+", default=[1000, 3000])
    p.add_argument("--tracemalloc", action="store_true", help="memory instead of time")
    p.add_argument("--prof", type=Path, help="also write merge-N.prof here")
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--clock-only", action="store_true", help="only time the steps: no cProfile")
    args = p.parse_args(argv)
    os.environ.pop("OPENAI_BASE_URL", None)
    for n in args.n:
        with tempfile.TemporaryDirectory(prefix="profile-merge-") as tmp:
            profile_merge(n, Path(tmp), args.tracemalloc, args.prof, args.top, not args.clock_only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
