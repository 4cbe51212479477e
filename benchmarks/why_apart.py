"""Timeline rows alike in meaning, and why the merge kept them apart: for tuning the merge on a
corpus with no gold file.

Reads ``BUILD/events.json``, embeds the summaries of its timeline rows, and prints every pair of
rows whose summaries score at least ``--cosine`` and whose dates can meet, each with the merge's
decisions between their mentions (score, who decided, the signals) or, when no pair of their
mentions was scored, the dates and date bases that kept blocking from pairing them. A pair of
rows so alike is often one event shown twice; reading the reasons says which signal split it.

    python benchmarks/why_apart.py out/nk50 [--cosine 0.75] [--decisions 2]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from briefing.merge import Embedder  # noqa: E402
from briefing.merge.signals import dates_compatible  # noqa: E402


def row_of_mentions(events: list[dict[str, Any]]) -> dict[str, str]:
    """Mention id → the id of its timeline row (an outcome's mentions count for its meeting)."""
    rows: dict[str, str] = {}
    for e in events:
        for m in e.get("mentions", []):
            rows[m["id"]] = e.get("parent_id") or e["id"]
    return rows


def alike_rows(
    rows: list[dict[str, Any]], embedder: Embedder, least: float
) -> list[tuple[float, dict[str, Any], dict[str, Any]]]:
    """Pairs of rows at cosine ``least`` or more whose dates can meet, most alike first."""
    if len(rows) < 2:
        return []
    vectors = embedder.embed([r["summary"] for r in rows])
    sims = vectors @ vectors.T
    pairs = [
        (float(sims[i, j]), rows[i], rows[j])
        for i in range(len(rows))
        for j in range(i + 1, len(rows))
        if sims[i, j] >= least and dates_compatible(rows[i]["date"], rows[j]["date"])
    ]
    return sorted(pairs, key=lambda p: -p[0])


def _sources(row: dict[str, Any]) -> str:
    return ",".join(sorted({m["source_id"][:4] for m in row.get("mentions", [])}))


def _dates(row: dict[str, Any]) -> str:
    seen = {(m.get("date") or "undated", m.get("date_basis")) for m in row.get("mentions", [])}
    return ", ".join(f"{d} ({basis})" for d, basis in sorted(seen))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("build", type=Path, help="a build's output folder")
    parser.add_argument("--cosine", type=float, default=0.75)
    parser.add_argument("--decisions", type=int, default=2, help="decisions shown per pair")
    args = parser.parse_args(argv)
    data = json.loads((args.build / "events.json").read_text(encoding="utf-8"))
    rows = [e for e in data["events"] if not e.get("parent_id")]
    row_of = row_of_mentions(data["events"])
    between: dict[frozenset[str], list[dict[str, Any]]] = {}
    for d in data["decisions"]:
        row_a, row_b = row_of.get(d["a"]), row_of.get(d["b"])
        if row_a and row_b and row_a != row_b:
            between.setdefault(frozenset((row_a, row_b)), []).append(d)
    pairs = alike_rows(rows, Embedder.load(), args.cosine)
    for cosine, a, b in pairs:
        print(f"~ {cosine:.2f}  {a['date'] or 'undated'} [{_sources(a)}] {a['summary'][:90]}")
        print(f"        {b['date'] or 'undated'} [{_sources(b)}] {b['summary'][:90]}")
        decided = sorted(between.get(frozenset((a["id"], b["id"])), []), key=lambda d: -d["score"])
        if not decided:
            print(f"     never scored; dates {_dates(a)} against {_dates(b)}")
        for d in decided[: args.decisions]:
            print(f"     {d['score']:.2f} {d['decided_by']}, same={d['same']}: {d['reason'][:200]}")
    print(f"{len(pairs)} pairs of rows at cosine ≥ {args.cosine} on dates that can meet")
    return 0


if __name__ == "__main__":
    sys.exit(main())
