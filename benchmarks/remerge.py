"""Merge a finished build's event records again, without the model: for tuning and for timing
the merge stage alone.

Reads the per-source records (the non-linked mentions) of ``BUILD/events.json``, reads the
sources again, runs ``merge_events`` with no questions to the model, writes ``OUT/events.json``
in the build's format (so ``bench_merge.py OUT`` scores it) and prints the timeline it would
give.

    python benchmarks/remerge.py out/bench-local/run1 seeds --out out/remerged
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from briefing import compose  # noqa: E402
from briefing.merge import Embedder, merge_events  # noqa: E402
from briefing.merge.signals import dates_compatible  # noqa: E402
from briefing.models import CanonicalEvent, Event  # noqa: E402
from briefing.read.sources import load_sources  # noqa: E402

# Two timeline rows this alike in meaning, on dates that can meet, are likely one event shown
# twice: a proxy for "one row per real event" on a corpus with no gold file.
ALIKE = 0.85


def near_duplicate_rows(
    rows: list[CanonicalEvent], embedder: Embedder
) -> list[tuple[CanonicalEvent, CanonicalEvent, float]]:
    """Pairs of rows whose summaries score at least ``ALIKE`` and whose dates can meet."""
    if len(rows) < 2:
        return []
    vectors = embedder.embed([r.summary for r in rows])
    sims = vectors @ vectors.T
    pairs = []
    for i in range(len(rows)):
        for j in range(i + 1, len(rows)):
            if sims[i, j] >= ALIKE and dates_compatible(rows[i].date, rows[j].date):
                pairs.append((rows[i], rows[j], float(sims[i, j])))
    return sorted(pairs, key=lambda p: -p[2])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("build", type=Path, help="a build's output folder")
    parser.add_argument("sources", type=Path, nargs="+", help="the paths the build read")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--quiet", action="store_true", help="figures only, no timeline")
    args = parser.parse_args(argv)
    data = json.loads((args.build / "events.json").read_text(encoding="utf-8"))
    records = [
        Event.model_validate(m)
        for e in data["events"]
        for m in e.get("mentions", [e])
        if m.get("alignment") != "linked"
    ]
    read, _ = load_sources(args.sources)
    started = time.monotonic()
    embedder = Embedder.load()
    loaded = time.monotonic() - started
    result = merge_events(records, read, embedder)
    seconds = time.monotonic() - started - loaded
    args.out.mkdir(parents=True, exist_ok=True)
    out = {
        "events": [e.model_dump(mode="json") for e in result.canonical],
        "actors": [a.model_dump(mode="json") for a in result.actors],
        "disagreements": [d.model_dump(mode="json") for d in result.disagreements],
        "decisions": [d.model_dump(mode="json") for d in result.decisions],
    }
    (args.out / "events.json").write_text(json.dumps(out, ensure_ascii=False, indent=2) + "\n")
    manifest = {"timings": {"merge": round(seconds, 3)}, "inputs": [{"path": s.path} for s in read]}
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    top = [c for c in result.canonical if c.parent_id is None]
    alike = near_duplicate_rows(top, embedder)
    print(
        f"{len(records)} records of {len(read)} sources → {len(result.canonical)} canonical "
        f"events, {len(top)} timeline rows, {len(result.disagreements)} disagreements, "
        f"{int(result.stats.get('linked_mentions', 0))} linked mentions; model load "
        f"{loaded:.2f} s, merge {seconds:.2f} s; {len(alike)} pairs of rows alike "
        f"(cosine ≥ {ALIKE}, dates that can meet)"
    )
    if args.quiet:
        return 0
    names = {s.id: Path(s.path).name for s in read}
    children: dict[str, list[str]] = {}
    for c in result.canonical:
        if c.parent_id:
            children.setdefault(c.parent_id, []).append(c.summary)
    for c in compose.timeline_order(top):
        files = ", ".join(names[s][:12] for s in c.source_ids)
        print(f"- {c.date or 'undated'} {c.status} [{files}] {c.summary[:100]}")
        for summary in children.get(c.id, []):
            print(f"    > {summary[:100]}")
    for a, b, cosine in alike:
        print(f"~ {cosine:.2f} {a.date or 'undated'} {a.summary[:60]} | {b.summary[:60]}")
    for d in result.disagreements:
        sides = " | ".join(f"{s.value} ({len(s.source_ids)})" for s in d.sides)
        print(f"* {d.field}: {d.subject[:70]} — {sides}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
