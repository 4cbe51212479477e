"""The client's CPU per request: N extraction requests through ``llm.ask`` (the real transport,
pacing, validation and repair of a window's reply), ``--concurrency`` at a time, against the
fake server of ``tests/`` answering each ``--latency`` seconds late with the scripted model.

The fake server runs in a child process, so the CPU measured here (``time.process_time``: every
thread of this process, from the first request to the last reply) is the client's alone. Printed:
requests, wall time, the ideal ``N × latency / concurrency`` and ideal / actual (the share of the
ideal throughput reached), CPU seconds in all and CPU milliseconds a request.

    .venv/bin/python benchmarks/bench_client_cpu.py --n 1000 --concurrency 16 --latency 0.5
    .venv/bin/python benchmarks/bench_client_cpu.py --n 1000 --stream   # as a watched bar does

``--stream`` passes an ``on_tokens`` (a progress bar's), so each reply is streamed; without it
each comes in one body. ``--serve`` runs only the fake server (its URL on the first line of
stdout, until stdin closes) and ``--base-url`` points the client at one already running, to time
the client as a whole process from outside. ``--profile FILE`` writes cProfile stats of every
thread's requests (``python -m pstats FILE``). ``--json FILE`` writes the figures.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import json
import pstats
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for extra in (ROOT, ROOT / "tests"):  # run as a script: `briefing` and the fake server
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from briefing import llm, resources  # noqa: E402
from briefing.config import BriefSpec, Settings  # noqa: E402
from briefing.extract import extraction  # noqa: E402
from briefing.extract.repair import RepairLog, repair_reply  # noqa: E402
from briefing.models import ExtractionReply, Sentence, Usage  # noqa: E402

# One window of a wire story, about as long as the hosted models' windows (6,000 characters):
# the scripted model reports one event for each sentence that names a meeting and its parties.
SENTENCES = [
    "Officials from Japan and South Korea met in Seoul on 3 March 2024 to discuss port security.",
    "The foreign ministers of Japan and Australia met in Canberra on 2 March 2024.",
    "Joe Biden said the talks with Fumio Kishida would continue next year.",
    "The two delegations agreed to share data on fisheries quotas, officials said.",
    "Yoon Suk Yeol visited Tokyo on 1 March 2024 for talks on chip export rules.",
    "Analysts said the meetings were the first of their kind in a decade.",
] * 6
PUBLISHED = "2024-03-04"


def serve(latency: float) -> None:
    """The fake server until stdin closes: its URL on stdout's first line."""
    import scripted_model
    from fakeserver import FakeOpenAI

    with FakeOpenAI() as fake:
        fake.respond_with(lambda body: scripted_model.respond(body).after(latency))
        print(fake.base_url, flush=True)
        sys.stdin.read()


def window() -> tuple[list[dict[str, str]], list[Sentence]]:
    """The messages of one extraction request, as ``extraction`` builds them."""
    sentences, start = [], 0
    for i, text in enumerate(SENTENCES):
        sentences.append(
            Sentence(number=i + 1, start=start, end=start + len(text), line=1, text=text)
        )
        start += len(text) + 1
    system = resources.render("prompts", extraction.SYSTEM_PROMPT)
    user = extraction.render_user_prompt(sentences, PUBLISHED, "Talks in Seoul")
    return [{"role": "system", "content": system}, {"role": "user", "content": user}], sentences


def run(args: argparse.Namespace, base_url: str) -> dict[str, Any]:
    """N requests, ``args.concurrency`` at a time; the figures."""
    settings = dataclasses.replace(
        Settings(brief=BriefSpec(), api_key="test", base_url=base_url, model="m", use_local=False),
        concurrency=args.concurrency,
        request_timeout=30.0,
    )
    client = llm.make_client(settings)
    messages, sentences = window()
    context = {"sentence_numbers": {s.number for s in sentences}, "published": PUBLISHED}
    # cProfile sees only the thread that enabled it: one profiler for each worker thread.
    profilers: list[cProfile.Profile] = []
    local = threading.local()

    def one(i: int) -> Usage:
        # Each request its own seed word, so no layer could answer it from a cache.
        asked = [messages[0], {"role": "user", "content": f"{messages[1]['content']}\n({i})"}]
        answer = llm.ask(
            client,
            settings,
            asked,
            ExtractionReply,
            reask=lambda errors: resources.render(
                "prompts", extraction.REASK_PROMPT, errors=errors
            ),
            context=context,
            repair=lambda data: repair_reply(data, sentences, RepairLog(), PUBLISHED),
            max_tokens=extraction.MAX_REPLY_TOKENS,
            on_tokens=(lambda n: None) if args.stream else None,
        )
        return answer.usage

    def profiled(i: int) -> Usage:
        if not hasattr(local, "profiler"):
            local.profiler = cProfile.Profile(time.thread_time)  # CPU, not time in the GIL
            profilers.append(local.profiler)  # list.append is atomic
        local.profiler.enable()
        try:
            return one(i)
        finally:
            local.profiler.disable()

    one(-1)  # connect, import and warm up outside the figures
    work = profiled if args.profile else one
    cpu, started = time.process_time(), time.monotonic()
    with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
        usages = list(pool.map(work, range(args.n)))
    wall, cpu = time.monotonic() - started, time.process_time() - cpu
    if profilers:
        stats = pstats.Stats(profilers[0])
        for other in profilers[1:]:
            stats.add(other)
        stats.dump_stats(args.profile)
        stats.sort_stats("cumulative").print_stats(30)
    requests = sum(u.requests for u in usages)
    ideal = args.n * args.latency / args.concurrency
    return {
        "mode": "stream" if args.stream else "body",
        "n": args.n,
        "requests": requests,
        "concurrency": args.concurrency,
        "latency": args.latency,
        "wall_s": round(wall, 2),
        "ideal_s": round(ideal, 2),
        "ideal_over_actual": round(ideal / wall, 3),
        "cpu_s": round(cpu, 2),
        "cpu_ms_per_request": round(1000 * cpu / requests, 2),
        "completion_tokens": sum(u.completion_tokens for u in usages),
    }


def main() -> None:
    """Parse the flags; serve, or run the requests and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--stream", action="store_true", help="stream each reply (on_tokens)")
    parser.add_argument("--serve", action="store_true", help="only run the fake server")
    parser.add_argument("--base-url", help="a fake server already running (--serve)")
    parser.add_argument("--profile", type=Path, help="write cProfile stats here")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    if args.serve:
        serve(args.latency)
        return
    server = None
    base_url = args.base_url
    if base_url is None:
        command = [sys.executable, __file__, "--serve", "--latency", str(args.latency)]
        server = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert server.stdout is not None
        base_url = server.stdout.readline().strip()
    try:
        figures = run(args, base_url)
    finally:
        if server is not None:
            assert server.stdin is not None
            server.stdin.close()
            server.wait(timeout=10)
    print(
        f"{figures['mode']}: {figures['requests']} requests at {args.concurrency} in flight, "
        f"{args.latency}s latency: {figures['wall_s']}s (ideal {figures['ideal_s']}s, "
        f"ideal/actual {figures['ideal_over_actual']}); client CPU {figures['cpu_s']}s = "
        f"{figures['cpu_ms_per_request']} ms a request"
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
