"""Merge and compose a finished build's records again on the embedded model, without extracting.

For measuring the stages after extraction on a large corpus whose extraction took an hour: the
per-source records (the non-linked mentions of ``BUILD/events.json``) are merged again, with the
model's questions, and key developments are written again, under another ``brief.toml``. The
Sources table is rebuilt from the files (furniture recomputed; the counts of dropped and
re-pointed drafts are not in ``events.json`` and show as 0). Until builds keep their state,
this is how a merge or composition change is tried on such a corpus.

    python benchmarks/rebrief.py out/nk50 corpora/nk50 --brief benchmarks/nk50.toml --out out/nk50b
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from briefing import compose, llm, pipeline  # noqa: E402
from briefing.config import load_settings  # noqa: E402
from briefing.extract.extraction import prepare  # noqa: E402
from briefing.llm import local  # noqa: E402
from briefing.models import Event, SourceEntry  # noqa: E402
from briefing.read.sources import load_sources  # noqa: E402
from briefing.render import markdown  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("build", type=Path)
    parser.add_argument("sources", type=Path, nargs="+")
    parser.add_argument("--brief", type=Path, required=True, help="brief.toml to compose under")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    data = json.loads((args.build / "events.json").read_text(encoding="utf-8"))
    records = [
        Event.model_validate(m)
        for e in data["events"]
        for m in e["mentions"]
        if m["alignment"] != "linked"
    ]
    settings = load_settings(os.environ, {"local": True, "brief_file": args.brief, "out": args.out})
    read, _ = load_sources(args.sources)
    files = {s.id: s.path for s in read}
    entries = [
        SourceEntry(
            id=s.id,
            path=s.path,
            file=s.path,
            title=s.title,
            outlet=s.outlet,
            published=s.published,
            sentences=len(s.sentences),
            furniture=tuple(sorted(prepare(s, settings.window_chars).furniture)),
            furniture_preview=(),
            events=sum(1 for r in records if r.source_id == s.id),
            unsupported=0,
            realigned=0,
            salvaged=False,
        )
        for s in read
    ]
    with local.embedded_server(settings, on_status=print) as server:
        ready = local.server_settings(settings, server)
        client = llm.make_client(ready)
        started = time.monotonic()
        merged = pipeline.merge_stage(client, ready, records, read, files, pipeline.BuildProgress())
        merge_s = time.monotonic() - started
        started = time.monotonic()
        points, usage, notes = compose.safe_key_developments(
            client, ready, ready.brief, merged.canonical, print
        )
        compose_s = time.monotonic() - started
    brief = compose.compose(ready.brief, merged, entries, [], points, notes)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "brief.md").write_text(markdown(brief), encoding="utf-8")
    print(
        f"{len(records)} records → {len(brief.timeline)} timeline rows, "
        f"{len(merged.disagreements)} disagreements, {len(points)} key developments; "
        f"merge {merge_s:.1f} s ({merged.usage.requests} questions), key developments "
        f"{compose_s:.1f} s ({usage.prompt_tokens} tokens in); wrote {args.out / 'brief.md'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
