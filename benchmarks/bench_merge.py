"""Score the merge of a finished build against the gold events.

Reads ``OUT/events.json`` (canonical events, actors, disagreements, decisions) and, when
present, ``OUT/manifest.json`` (the merge's seconds and LLM work), matches every mention to
the gold by cited span and prints clustering scores, cross-source merges, duplicate timeline
rows and the gold disagreements surfaced (see ``merge_score``). Numbers only: nothing here fails
on them; a missing or malformed input is one line on stderr and exit 1.

    python benchmarks/bench_merge.py out/ [--gold ../shared/gold/seeds.jsonl] [--json m.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(ROOT))

from benchmarks.merge_score import (  # noqa: E402
    ClusterScores,
    MergeCost,
    MergeScore,
    as_dict,
    load_build,
    load_gold_lines,
    load_manifest,
    score_merge,
)

DEFAULT_GOLD = ROOT / ".." / "shared" / "gold" / "seeds.jsonl"


def _num(value: float | int | None, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _prf(p: float | None, r: float | None, f: float | None) -> str:
    return " / ".join(_num(x) for x in (p, r, f))


def _ratio(k: int, n: int) -> str:
    return f"{k}/{n} ({k / n:.0%})" if n else f"{k}/{n}"


def short_names(files: Sequence[str]) -> dict[str, str]:
    """Short labels for file names: the part before the first ``_`` when that is unique
    (``000_b575….txt`` -> ``000``), else the name without its extension."""
    heads = {f: Path(f).stem.split("_")[0] for f in files}
    if len(set(heads.values())) == len(heads):
        return heads
    return {f: Path(f).stem for f in files}


def table_rows(s: MergeScore, cost: MergeCost) -> list[tuple[str, str]]:
    """The headline figures as (label, text) rows."""
    c: ClusterScores = s.clustering
    by_field = ", ".join(f"{k} {v}" for k, v in s.disagreements_by_field.items())
    found = [k for k in s.cross_source if len(k.found_files) >= 2]
    tokens = (
        "–"
        if cost.prompt_tokens is None and cost.completion_tokens is None
        else f"{_num(cost.prompt_tokens)} in / {_num(cost.completion_tokens)} out"
    )
    return [
        ("mentions", str(s.mentions)),
        ("matched / unmatched", f"{s.matched} / {len(s.unmatched)}"),
        ("canonical events (with 2+ mentions)", f"{s.canonical_events} ({s.multi_mention_events})"),
        ("top-level timeline rows", str(s.top_level_rows)),
        ("B-cubed P / R / F1", _prf(c.bcubed_precision, c.bcubed_recall, c.bcubed_f1)),
        ("pairwise P / R / F1", _prf(c.pairwise_precision, c.pairwise_recall, c.pairwise_f1)),
        (
            "  pairs predicted / true / both",
            f"{c.predicted_pairs} / {c.true_pairs} / {c.correct_pairs}",
        ),
        ("cross-source keys merged", _ratio(s.cross_source_merged, len(s.cross_source))),
        ("  of keys found in 2+ files", _ratio(sum(k.merged_found for k in found), len(found))),
        ("keys split over 2+ canonical events", str(s.split_keys)),
        ("duplicate top-level rows (pairs)", str(len(s.duplicates))),
        ("disagreements", f"{s.disagreements}" + (f" ({by_field})" if by_field else "")),
        (
            "gold disagreements surfaced",
            _ratio(s.surfaced_count, len(s.gold_disagreements)),
        ),
        ("merge seconds", _num(cost.seconds, 2)),
        ("merge LLM requests", _num(cost.requests)),
        ("merge LLM tokens", tokens),
    ]


def detail_lines(s: MergeScore, names: dict[str, str]) -> list[str]:
    """Per-key, per-duplicate and per-disagreement detail, one line each."""

    def short(f: str) -> str:
        return names.get(f, f)

    lines = ["", "cross-source keys (gold files: our canonical events' groups of files)"]
    for k in s.cross_source:
        groups = " ".join("{" + "+".join(short(f) for f in g.files) + "}" for g in k.groups)
        missing = sorted(set(k.gold_files) - set(k.found_files))
        lines.append(
            f"  {'MERGED' if k.merged else 'no    '}  {k.key}  "
            f"[{' '.join(short(f) for f in k.gold_files)}]: {groups or '–'}"
            + (f"  (spread {k.spread})" if k.spread > 1 else "")
            + (f"  not found: {' '.join(short(f) for f in missing)}" if missing else "")
        )
    split = [k for k in s.keys if len(k.gold_files) < 2 and k.spread > 1]
    if split:
        lines += ["", "single-file keys split over 2+ canonical events"]
        lines += [f"  {k.key}: {k.spread} canonical events" for k in split]
    if s.duplicates:
        lines += ["", "duplicate top-level rows (shared gold keys: canonical ids, summaries)"]
        for d in s.duplicates:
            lines.append(f"  {', '.join(d.keys)}: {d.a} ~ {d.b}")
            lines += [f"      “{' '.join(x.split())[:100]}”" for x in d.summaries]
    lines += ["", "gold disagreements (surfaced, kind, key, files: our field)"]
    for item in s.gold_disagreements:
        g = item.item
        ours = f"{item.field} ({item.disagreement_id})" if item.surfaced else "–"
        note = " ".join(g.note.split())
        lines.append(
            f"  {'yes' if item.surfaced else 'no '}  {g.kind:5}  {g.key}  "
            f"[{' '.join(short(f) for f in g.files)}]: {ours}  — {note[:90]}"
        )
    return lines


def print_report(out: Path, gold_file: Path, n_gold: int, s: MergeScore, cost: MergeCost) -> None:
    """The table, then the detail."""
    names = short_names(sorted(_files(s)))
    print(f"merge of {out}; gold: {gold_file.resolve()} ({n_gold} lines)\n")
    rows = table_rows(s, cost)
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label.ljust(width)}  {value}")
    for line in detail_lines(s, names):
        print(line)


def _files(s: MergeScore) -> set[str]:
    return {f for k in s.keys for f in k.gold_files} | {
        f for g in s.gold_disagreements for f in g.item.files
    }


def run(out: Path, gold_file: Path, seeds: Path) -> tuple[MergeScore, MergeCost, int]:
    """Load the build, its manifest and the gold (of the files the build read), and score."""
    events_file = out / "events.json"
    if not events_file.is_file():
        raise FileNotFoundError(f"{events_file} not found")
    if not gold_file.is_file():
        raise FileNotFoundError(f"gold file {gold_file} not found")
    build = load_build(events_file)
    cost = load_manifest(out / "manifest.json")
    # Only the gold of the files the build read (a build of a subset), when the manifest says.
    gold = load_gold_lines(gold_file, seeds, None if cost.inputs is None else set(cost.inputs))
    return score_merge(build, gold), cost, len(gold)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="output folder of a build (holds events.json)")
    parser.add_argument("--gold", type=Path, default=DEFAULT_GOLD)
    parser.add_argument(
        "--seeds", type=Path, default=ROOT / "seeds", help="folder of the gold's files"
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    try:
        s, cost, n_gold = run(args.out, args.gold, args.seeds)
    except (OSError, ValueError) as exc:
        print(f"bench_merge: {exc}", file=sys.stderr)
        return 1
    print_report(args.out, args.gold, n_gold, s, cost)
    if args.json:
        figures: dict[str, Any] = {
            "out": str(args.out.resolve()),
            "gold": str(args.gold.resolve()),
            "gold_lines": n_gold,
            "merge_cost": {k: v for k, v in vars(cost).items() if k != "inputs"},
            "score": as_dict(s),
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
