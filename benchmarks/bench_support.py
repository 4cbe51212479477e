"""Score the support layer of `briefing check` against the hand-labelled claims in
``benchmarks/support/claims.jsonl`` (see its README): accuracy per label and per kind.

Each labelled claim is turned into a Claim citing its spans, then judged exactly as `briefing
check` judges a claim of a brief: a rule first (a span that addresses a model supports nothing),
else the model. With no key it runs the embedded model (llama-server with the real weights);
with OPENAI_API_KEY / OPENAI_BASE_URL set, that server. Every request goes out fresh.

    python benchmarks/bench_support.py [--json out/bench-support.json]
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from briefing import llm  # noqa: E402
from briefing.check import support  # noqa: E402
from briefing.config import load_settings  # noqa: E402
from briefing.errors import InvalidReply  # noqa: E402
from briefing.llm import local  # noqa: E402
from briefing.models import Citation, Claim, Usage  # noqa: E402

LABELLED = ROOT / "benchmarks" / "support" / "claims.jsonl"


def labelled_claims(path: Path = LABELLED) -> list[tuple[dict[str, Any], Claim]]:
    """Each labelled row with the Claim it makes (quotes located in their files)."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        citations = []
        for span in row["spans"]:
            file = ROOT / span["file"]
            with open(file, encoding="utf-8", newline="") as fh:
                text = fh.read()
            start = text.find(span["quote"])
            if start < 0:
                raise SystemExit(f"{row['id']}: quote not found in {span['file']}")
            citations.append(
                Citation(
                    source_id="bench",
                    file=span["file"],
                    start=start,
                    end=start + len(span["quote"]),
                    line=text.count("\n", 0, start) + 1,
                    quote=span["quote"],
                )
            )
        claim = Claim(
            id=row["id"], section="timeline", text=row["claim"], event_ids=(),
            citations=tuple(citations),
        )  # fmt: skip
        rows.append((row, claim))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="also write the figures and verdicts here")
    parser.add_argument("--limit", type=int, help="only the first N claims")
    args = parser.parse_args(argv)
    rows = labelled_claims()[: args.limit]
    settings = load_settings(os.environ, {})
    with contextlib.ExitStack() as stack:
        if settings.use_local:
            planned = local.server_settings(settings)
            server = stack.enter_context(local.embedded_server(settings, on_status=print))
            api = llm.openai_client(planned, server.base_url)
            settings = planned
        else:
            api = llm.openai_client(settings)
        client = llm.Client(connect=lambda: api)
        started = time.monotonic()
        usage = Usage()
        results = []
        for row, claim in rows:
            verdict = support.rule_verdict(claim, {})
            if verdict is None:
                try:
                    verdict = support.model_verdict(client, settings, claim)
                except InvalidReply as exc:
                    results.append({**row, "got": "invalid", "reason": str(exc)[:100]})
                    continue
            usage = usage + verdict.usage
            results.append(
                {**row, "got": verdict.verdict, "by": verdict.judged_by, "why": verdict.reason}
            )
        seconds = time.monotonic() - started
    figures = _figures(results)
    figures.update(model=settings.model, seconds=round(seconds, 1), requests=usage.requests)
    print(json.dumps({k: v for k, v in figures.items() if k != "wrong"}, indent=2))
    for r in figures["wrong"]:
        print(f"  {r['id']} {r['kind']}: labelled {r['label']}, got {r['got']}: {r['claim'][:70]}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({**figures, "results": results}, indent=2) + "\n")
    return 0


def _figures(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Accuracy overall, per label and per kind; "passes" = supported or not, the gate."""
    by_label: dict[str, list[bool]] = collections.defaultdict(list)
    by_kind: dict[str, list[bool]] = collections.defaultdict(list)
    gate = []
    for r in results:
        right = r["got"] == r["label"]
        by_label[r["label"]].append(right)
        by_kind[r["kind"]].append(right)
        gate.append((r["got"] == "supported") == (r["label"] == "supported"))
    return {
        "claims": len(results),
        "accuracy": round(sum(sum(v) for v in by_label.values()) / max(1, len(results)), 3),
        "gate_accuracy": round(sum(gate) / max(1, len(gate)), 3),
        "per_label": {k: f"{sum(v)}/{len(v)}" for k, v in sorted(by_label.items())},
        "per_kind": {k: f"{sum(v)}/{len(v)}" for k, v in sorted(by_kind.items())},
        "wrong": [r for r in results if r["got"] != r["label"]],
    }


if __name__ == "__main__":
    raise SystemExit(main())
