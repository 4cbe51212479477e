"""Time and score ``briefing build --local``: the embedded llama-server with the real weights.

Each run is one whole build through the CLI's own code (``load_settings`` + ``cli._build``):
start the server (assembling the model first if the cache has none), extract, compose, stop.
It reports time, tokens and rates (llama-server's own per-request timings when it sends them),
prompt tokens reused from the server's cache, the peak memory of this process and its children
(the server) together, and the score against the gold events. Runs after the first show whether
the model file was assembled again (it must not be). Numbers only: nothing here fails on them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(ROOT))

from benchmarks.gold import load_gold, score  # noqa: E402
from briefing import cli  # noqa: E402
from briefing.config import Settings, load_settings  # noqa: E402
from briefing.errors import BriefingError  # noqa: E402
from briefing.extract.batch import BatchMode  # noqa: E402
from briefing.llm import local, weights  # noqa: E402
from briefing.read import sources  # noqa: E402

SAMPLE_EVERY = 0.2  # seconds between memory samples


class PeakMemory(threading.Thread):
    """Samples VmRSS of this process and all its descendants; keeps the peak of their sum."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.done = threading.Event()
        self.peak_kb = self.client_kb = self.server_kb = 0

    def run(self) -> None:
        while True:
            mine, children = _tree_rss_kb(os.getpid())
            if mine + children > self.peak_kb:
                self.peak_kb, self.client_kb, self.server_kb = mine + children, mine, children
            if self.done.wait(SAMPLE_EVERY):
                return

    def __enter__(self) -> PeakMemory:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.join()


def _tree_rss_kb(root: int) -> tuple[int, int]:
    """VmRSS (kB) of ``root`` and the sum over all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path("/proc", entry.name, "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])  # "pid (comm) state ppid ..."
            children.setdefault(ppid, []).append(int(entry.name))
    below, todo = 0, list(children.get(root, []))
    while todo:
        pid = todo.pop()
        below += _rss_kb(pid)
        todo += children.get(pid, [])
    return _rss_kb(root), below


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0  # gone, a zombie, or a kernel thread


def _file_state(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


# local._start calls resolve_model through this module attribute: time each call.
_resolve_seconds: list[float] = []
_resolve_model = local.resolve_model


def _timed_resolve(*args: Any, **kwargs: Any) -> Path:
    started = time.monotonic()
    try:
        return _resolve_model(*args, **kwargs)
    finally:
        _resolve_seconds.append(time.monotonic() - started)


local.resolve_model = _timed_resolve


def one_run(settings: Settings, seeds: Path, gold_file: Path | None) -> dict[str, Any]:
    """Build once, as ``briefing build SEEDS --local`` does; measure and score it."""
    model = (
        settings.local.model_path
        or settings.cache_dir / "models" / weights.DEFAULT_WEIGHTS.filename
    )
    stamp = weights._stamp_path(model)
    model_before, stamp_before = _file_state(model), _file_state(stamp)
    _resolve_seconds.clear()
    started = time.monotonic()
    with PeakMemory() as memory:
        result = cli._build(settings, [seeds], BatchMode())  # live, as `briefing build`
    wall = time.monotonic() - started
    manifest = json.loads(result.paths["manifest"].read_text(encoding="utf-8"))
    u = result.usage
    evaluated = u.prompt_tokens - u.cached_tokens  # prompt tokens the server had to compute
    from_server = u.prompt_ms > 0 and u.predicted_ms > 0
    row: dict[str, Any] = {
        "out": str(settings.out_dir),
        "server": manifest["server"],
        "wall_s": round(wall, 2),
        "server_start_s": manifest["timings"].get("server_start"),
        "resolve_s": round(sum(_resolve_seconds), 3) if _resolve_seconds else None,
        "model_assembled": model_before != _file_state(model),
        "stamp_rewritten": stamp_before != _file_state(stamp),
        "extract_s": manifest["timings"].get("extract"),
        "compose_s": manifest["timings"].get("compose"),
        "merge_s": manifest["timings"].get("merge"),
        "merge_requests": manifest["usage_by_source"].get("(merge)", {}).get("requests"),
        "timeline_rows": manifest["counts"].get("timeline_rows"),
        "disagreements": manifest["counts"].get("disagreements"),
        "linked_mentions": manifest["counts"].get("linked_mentions"),
        "requests": u.requests,
        "prompt_tokens": u.prompt_tokens,
        "prompt_evaluated": evaluated,
        "cached_tokens": u.cached_tokens,
        "cached_share": round(u.cached_tokens / u.prompt_tokens, 3) if u.prompt_tokens else None,
        "completion_tokens": u.completion_tokens,
        "rates_from": "llama-server timings" if from_server else "client seconds",
        # Server rates: tokens over the summed per-request times (parallel slots overlap).
        # Without server timings, the reply rate over whole request times (prompt included).
        "prompt_tok_s": _rate(evaluated, u.prompt_ms / 1000) if from_server else None,
        "gen_tok_s": _rate(
            u.completion_tokens, u.predicted_ms / 1000 if from_server else u.seconds
        ),
        "prompt_ms": u.prompt_ms,
        "predicted_ms": u.predicted_ms,
        "request_seconds": u.seconds,
        "peak_rss_mb": round(memory.peak_kb / 1024),
        "peak_rss_client_mb": round(memory.client_kb / 1024),
        "peak_rss_server_mb": round(memory.server_kb / 1024),
        "sources_read": len(result.brief.sources),
        "sources_failed": len(result.failures),
        "events": len(result.events),
        "gold": None,
    }
    if gold_file is not None:
        read, _ = sources.load_sources([seeds])
        s = score(
            result.events, read, load_gold(gold_file, seeds, {Path(x.path).name for x in read})
        )
        row["gold"] = {**vars(s), "main_recall": round(s.main_recall, 3)}
        row["gold"]["precision"] = round(s.precision, 3)
    return row


def _rate(tokens: int, seconds: float) -> float | None:
    return round(tokens / seconds, 1) if seconds > 0 else None


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "YES" if value else "no"
    if isinstance(value, float):
        value = f"{value:.2f}" if value < 10 else f"{value:.1f}"
    return f"{value}{unit}"


def _pct(share: float | None) -> str:
    return "–" if share is None else f"{share:.0%}"


def _ratio(found: int, total: int) -> str:
    return f"{found}/{total} ({found / total:.0%})" if total else f"{found}/{total}"


def table_rows(r: dict[str, Any]) -> list[tuple[str, str]]:
    """One run's figures as (label, text) rows."""
    g = r["gold"]

    def gold(found: str, total: str) -> str:
        return "–" if g is None else _ratio(g[found], g[total])

    return [
        ("wall time, incl. server start", _fmt(r["wall_s"], " s")),
        ("server start (resolve + load)", _fmt(r["server_start_s"], " s")),
        ("  of which resolving the model", _fmt(r["resolve_s"], " s")),
        (
            "model assembled / stamp rewritten",
            f"{_fmt(r['model_assembled'])} / {_fmt(r['stamp_rewritten'])}",
        ),
        (
            "extract / merge / compose",
            f"{_fmt(r['extract_s'])} / {_fmt(r['merge_s'])} / {_fmt(r['compose_s'])} s",
        ),
        ("merge: model questions", _fmt(r["merge_requests"])),
        (
            "timeline rows / disagreements / linked",
            f"{_fmt(r['timeline_rows'])} / {_fmt(r['disagreements'])} / "
            f"{_fmt(r['linked_mentions'])}",
        ),
        ("requests", _fmt(r["requests"])),
        ("prompt tokens (computed)", f"{r['prompt_tokens']} ({r['prompt_evaluated']})"),
        ("prompt tok/s", _fmt(r["prompt_tok_s"])),
        ("generated tokens", _fmt(r["completion_tokens"])),
        ("generation tok/s", _fmt(r["gen_tok_s"])),
        ("rates from", r["rates_from"]),
        ("prompt tokens reused (cache)", f"{r['cached_tokens']} ({_pct(r['cached_share'])})"),
        (
            "peak RSS, client + server",
            f"{r['peak_rss_mb']} MB ({r['peak_rss_client_mb']} + {r['peak_rss_server_mb']})",
        ),
        ("sources read / not read", f"{r['sources_read']} / {r['sources_failed']}"),
        ("events", _fmt(r["events"])),
        ("main-event recall", gold("main_found", "main_total")),
        ("precision", gold("events_matching", "events")),
        ("all-event recall", gold("all_found", "all_total")),
        ("dates right / checked", gold("dates_right", "dates_checked")),
        ("events citing furniture", "–" if g is None else str(g["furniture_events"])),
    ]


def print_table(runs: list[dict[str, Any]]) -> None:
    """Figures down, runs across."""
    columns = [table_rows(r) for r in runs]
    lines = [["", *(f"run {i}" for i in range(1, len(runs) + 1))]]
    lines += [[label, *(c[n][1] for c in columns)] for n, (label, _) in enumerate(columns[0])]
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    lines.insert(1, ["-" * w for w in widths])
    for line in lines:
        print("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=Path, default=ROOT / "seeds", help="folder of sources")
    parser.add_argument(
        "--gold", type=Path, default=ROOT / ".." / "shared" / "gold" / "seeds.jsonl"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "bench-local")
    parser.add_argument("--runs", type=int, default=2, help="builds in a row (default 2)")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    gold_file = args.gold if args.gold.is_file() else None
    if gold_file is None:
        print(f"gold file not found, not scoring: {args.gold}", file=sys.stderr)
    brief_file = ROOT / "brief.toml" if (ROOT / "brief.toml").is_file() else None  # as from ROOT
    runs = []
    for i in range(1, args.runs + 1):
        # --force: every run asks the model, as a first build does; the refresh state of the
        # last run would otherwise answer it in seconds (bench_refresh.py measures that).
        flags = {"local": True, "out": args.out / f"run{i}", "brief_file": brief_file,
                 "force": True}  # fmt: skip
        try:
            settings = load_settings(os.environ, flags)
            runs.append(one_run(settings, args.seeds, gold_file))
        except BriefingError as exc:
            print(f"build {i} failed: {exc}", file=sys.stderr)
            return 1
    print(f"briefing build {args.seeds} --local, {len(runs)} run(s); server: {runs[0]['server']}")
    print(f"{os.cpu_count()} CPUs; gold: {gold_file.resolve() if gold_file else '–'}\n")
    print_table(runs)
    if "reused" in runs[0]["server"]:
        print("\nnote: a running `briefing serve` was reused: its start and memory are not counted")
    if any(r["model_assembled"] for r in runs[1:]):
        print("\nWARNING: the model file was assembled again after the first run")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        gold = str(gold_file.resolve()) if gold_file else None
        figures = {"seeds": str(args.seeds.resolve()), "gold": gold, "cpus": os.cpu_count()}
        args.json.write_text(json.dumps({**figures, "runs": runs}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
