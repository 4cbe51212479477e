"""Scoring a merge (canonical events) against the hand-made reference events.

Each *mention* (one source's ``Event`` inside a ``CanonicalEvent``) is matched to a gold line by
cited span: the gold lines of the mention's file whose quote overlaps its citations; of several,
the one with the largest overlap in characters (ties: the first in the gold file). Mentions
overlapping no gold quote are *unmatched*: counted, left out of the clustering scores.

Over the matched mentions, the predicted cluster is the canonical event a mention sits in and
the true cluster is the gold ``event_key``:

* B-cubed (Bagga & Baldwin 1998): per item ``|pred ∩ true| / |pred|`` (precision) and
  ``/ |true|`` (recall), averaged over items;
* pairwise: over unordered pairs of items, "same canonical event" against "same gold key";
* cross-source keys: each gold key reported by two or more files, and whether one canonical
  event holds mentions of it from all those files;
* duplicate timeline rows: pairs of top-level canonical events (``parent_id`` null) holding
  mentions of the same gold key.

Gold disagreements are read from the gold file at run time: every line whose ``note`` starts
with ``ERROR`` or ``CONFLATION``, and every key reported by two or more files with incompatible
dates. A build surfaces one when a ``Disagreement`` has a side citing the gold quote.

Everything here is a pure function of already loaded records; only :func:`load_gold_lines`,
:func:`load_build` and :func:`load_manifest` read files.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Collection, Hashable, Iterable, Sequence
from dataclasses import asdict, dataclass
from itertools import combinations
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from briefing.merge.signals import dates_compatible
from briefing.models import Actor, CanonicalEvent, Citation, Disagreement, MergeDecision

# The build's UTF-8 copy of a source whose text is not the file itself: ``<stem>.<sha[:12]>.txt``
# (pipeline.citable_files). Mapped back to the gold file of that stem.
COPY_NAME = re.compile(r"^(?P<stem>.+)\.[0-9a-f]{12}\.txt$")
ERROR_NOTE = ("ERROR", "CONFLATION")

# --- gold ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GoldLine:
    """One line of the gold file with the character span of its quote in its seed file."""

    index: int  # 0-based line order among the gold lines kept
    file: str
    start: int
    end: int
    quote: str
    key: str
    role: str
    status: str | None
    date: str | None
    note: str | None


def load_gold_lines(
    path: Path, seeds_dir: Path, files: Collection[str] | None = None
) -> list[GoldLine]:
    """Read the gold file and locate each quote (first occurrence) in its seed file.

    ``files``, when given, keeps only the lines of those file names. Raises ``ValueError`` when
    a line is not JSON or a quote is not in its file, ``OSError`` when a file cannot be read.
    """
    rows: list[GoldLine] = []
    texts: dict[str, str] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            g = json.loads(line)
            name, quote, key = g["file"], g["quote"], g["event_key"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{n}: not a gold line ({exc})") from None
        if files is not None and name not in files:
            continue
        if name not in texts:
            texts[name] = (seeds_dir / name).read_text(encoding="utf-8")
        start = texts[name].find(quote)
        if start < 0:
            raise ValueError(f"{path}:{n}: quote not found in {name}: {quote[:60]!r}")
        rows.append(
            GoldLine(
                index=len(rows),
                file=name,
                start=start,
                end=start + len(quote),
                quote=quote,
                key=key,
                role=g.get("role", "main"),
                status=g.get("status"),
                date=g.get("date"),
                note=g.get("note"),
            )
        )
    return rows


# --- a finished build ----------------------------------------------------------------------------


@dataclass(frozen=True)
class MergeBuild:
    """What ``OUT/events.json`` holds after the merge stage."""

    events: tuple[CanonicalEvent, ...]
    actors: tuple[Actor, ...] = ()
    disagreements: tuple[Disagreement, ...] = ()
    decisions: tuple[MergeDecision, ...] = ()


def parse_build(data: Any) -> MergeBuild:
    """Validate the JSON of ``events.json``; ``ValueError`` names the first bad record.

    ``events`` is required; ``actors``, ``disagreements`` and ``decisions`` default to empty.
    """
    if not isinstance(data, dict) or not isinstance(data.get("events"), list):
        raise ValueError('events.json has no "events" list')
    kinds: dict[str, type[CanonicalEvent | Actor | Disagreement | MergeDecision]] = {
        "events": CanonicalEvent,
        "actors": Actor,
        "disagreements": Disagreement,
        "decisions": MergeDecision,
    }
    parsed: dict[str, tuple[Any, ...]] = {}
    for name, model in kinds.items():
        raw = data.get(name, [])
        if not isinstance(raw, list):
            raise ValueError(f'events.json: "{name}" is not a list')
        items = []
        for i, item in enumerate(raw):
            try:
                items.append(model.model_validate(item))
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                raise ValueError(
                    f"events.json: {name}[{i}] is not a {model.__name__}: {where}: {first['msg']}"
                ) from None
        parsed[name] = tuple(items)
    return MergeBuild(
        events=parsed["events"],
        actors=parsed["actors"],
        disagreements=parsed["disagreements"],
        decisions=parsed["decisions"],
    )


def load_build(path: Path) -> MergeBuild:
    """Read and validate ``events.json`` (``ValueError`` when it is not JSON or not valid)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not JSON: {exc}") from None
    return parse_build(data)


@dataclass(frozen=True)
class MergeCost:
    """The merge stage's time and LLM work from ``manifest.json`` (None: not recorded)."""

    seconds: float | None = None
    requests: int | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    request_seconds: float | None = None
    inputs: tuple[str, ...] | None = None  # file names of the inputs read


def parse_manifest(data: Any) -> MergeCost:
    """Pick the merge's figures out of a manifest; anything absent stays None."""
    if not isinstance(data, dict):
        raise ValueError("manifest.json is not an object")
    timings = _object(data.get("timings"), "timings")
    usage = _object(_object(data.get("usage_by_source"), "usage_by_source").get("(merge)"), "usage")
    inputs = data.get("inputs")
    names = (
        tuple(Path(i["path"]).name for i in inputs if i.get("status", "read") == "read")
        if isinstance(inputs, list) and all(isinstance(i, dict) and "path" in i for i in inputs)
        else None
    )
    return MergeCost(
        seconds=timings.get("merge"),
        requests=usage.get("requests"),
        prompt_tokens=usage.get("prompt_tokens"),
        completion_tokens=usage.get("completion_tokens"),
        request_seconds=usage.get("seconds"),
        inputs=names,
    )


def _object(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"manifest.json: {what} is not an object")
    return value


def load_manifest(path: Path) -> MergeCost:
    """Read ``manifest.json``; a missing file gives an empty ``MergeCost``."""
    if not path.is_file():
        return MergeCost()
    try:
        return parse_manifest(json.loads(path.read_text(encoding="utf-8")))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not JSON: {exc}") from None


# --- spans and dates -----------------------------------------------------------------------------


def file_name(cited: str, gold_files: Collection[str] = ()) -> str:
    """The gold file name a citation's ``file`` stands for: its base name, or for a build's copy
    ``<stem>.<sha12>.txt`` the one gold file of that stem (when exactly one has it)."""
    base = Path(cited).name
    if base in gold_files:
        return base
    m = COPY_NAME.match(base)
    if m:
        same_stem = [f for f in gold_files if Path(f).stem == m["stem"]]
        if len(same_stem) == 1:
            return same_stem[0]
    return base


def overlap(spans: Iterable[tuple[int, int]], start: int, end: int) -> int:
    """Characters of ``[start, end)`` covered by the union of ``spans`` (half-open)."""
    covered = 0
    reach = start
    for a, b in sorted(spans):
        a, b = max(a, reach), min(b, end)
        if a < b:
            covered += b - a
            reach = b
    return covered


def best_gold(spans: Sequence[tuple[int, int]], candidates: Sequence[GoldLine]) -> GoldLine | None:
    """The gold line (all of one file) with the largest overlap with ``spans``; ties go to the
    first in gold order; None when none overlaps."""
    best: GoldLine | None = None
    best_chars = 0
    for g in sorted(candidates, key=lambda g: g.index):
        chars = overlap(spans, g.start, g.end)
        if chars > best_chars:
            best, best_chars = g, chars
    return best


# --- matching mentions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MentionMatch:
    """One mention, the canonical event it sits in, and the gold line it matches (if any)."""

    canonical_id: str
    mention_id: str
    file: str
    gold_index: int | None
    key: str | None
    overlap: int


def _spans_in(
    citations: Iterable[Citation], file: str, gold_files: Collection[str]
) -> list[tuple[int, int]]:
    return [(c.start, c.end) for c in citations if file_name(c.file, gold_files) == file]


def source_files(events: Iterable[CanonicalEvent], gold_files: Collection[str]) -> dict[str, str]:
    """``source_id`` -> gold file name, from the ``file`` of the mentions' citations."""
    files: dict[str, str] = {}
    for ce in events:
        for m in ce.mentions:
            for c in m.citations:
                files.setdefault(c.source_id, file_name(c.file, gold_files))
    return files


def match_mentions(
    events: Sequence[CanonicalEvent], gold: Sequence[GoldLine]
) -> list[MentionMatch]:
    """Every mention of every canonical event, matched to the gold line it cites best."""
    by_file: dict[str, list[GoldLine]] = defaultdict(list)
    for line in gold:
        by_file[line.file].append(line)
    gold_files = set(by_file)
    file_of = source_files(events, gold_files)
    out = []
    for ce in events:
        for m in ce.mentions:
            name = file_of.get(m.source_id) or file_name(m.citations[0].file, gold_files)
            spans = _spans_in(m.citations, name, gold_files)
            g = best_gold(spans, by_file.get(name, []))
            out.append(
                MentionMatch(
                    canonical_id=ce.id,
                    mention_id=m.id,
                    file=name,
                    gold_index=None if g is None else g.index,
                    key=None if g is None else g.key,
                    overlap=0 if g is None else overlap(spans, g.start, g.end),
                )
            )
    return out


# --- clustering scores ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ClusterScores:
    """B-cubed and pairwise precision, recall and F1 of a clustering against the truth.

    With no items every ratio is None. Pairwise ratios with an empty denominator are vacuous:
    precision 1.0 when no two items were put together, recall 1.0 when no two belong together.
    """

    items: int
    bcubed_precision: float | None
    bcubed_recall: float | None
    bcubed_f1: float | None
    pairwise_precision: float | None
    pairwise_recall: float | None
    pairwise_f1: float | None
    predicted_pairs: int  # pairs in the same predicted cluster
    true_pairs: int  # pairs in the same true cluster
    correct_pairs: int  # pairs in both


def f1(p: float | None, r: float | None) -> float | None:
    """Harmonic mean of precision and recall (0.0 when both are 0; None when either is)."""
    if p is None or r is None:
        return None
    return 2 * p * r / (p + r) if p + r else 0.0


def bcubed(items: Sequence[tuple[Hashable, Hashable]]) -> tuple[float, float] | None:
    """B-cubed (precision, recall) of ``(predicted, true)`` cluster labels, one pair per item;
    None for no items."""
    if not items:
        return None
    joint = Counter(items)
    pred = Counter(p for p, _ in items)
    true = Counter(t for _, t in items)
    # Each of the ``n`` items of a (pred, true) cell scores n / |pred| and n / |true|.
    precision = sum(n * n / pred[p] for (p, _), n in joint.items()) / len(items)
    recall = sum(n * n / true[t] for (_, t), n in joint.items()) / len(items)
    return precision, recall


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def pair_counts(items: Sequence[tuple[Hashable, Hashable]]) -> tuple[int, int, int]:
    """Unordered pairs of items (predicted together, truly together, both)."""
    joint = Counter(items)
    pred = Counter(p for p, _ in items)
    true = Counter(t for _, t in items)
    return (
        sum(_pairs(n) for n in pred.values()),
        sum(_pairs(n) for n in true.values()),
        sum(_pairs(n) for n in joint.values()),
    )


def cluster_scores(items: Sequence[tuple[Hashable, Hashable]]) -> ClusterScores:
    """B-cubed and pairwise scores of ``(predicted, true)`` labels, one pair per item."""
    b = bcubed(items)
    predicted, true, correct = pair_counts(items)
    if items:
        pp: float | None = correct / predicted if predicted else 1.0
        pr: float | None = correct / true if true else 1.0
    else:
        pp = pr = None
    return ClusterScores(
        items=len(items),
        bcubed_precision=None if b is None else b[0],
        bcubed_recall=None if b is None else b[1],
        bcubed_f1=None if b is None else f1(*b),
        pairwise_precision=pp,
        pairwise_recall=pr,
        pairwise_f1=f1(pp, pr),
        predicted_pairs=predicted,
        true_pairs=true,
        correct_pairs=correct,
    )


# --- keys across sources, timeline rows ----------------------------------------------------------


@dataclass(frozen=True)
class KeyGroup:
    """The mentions of one gold key inside one canonical event: which files they come from."""

    canonical_id: str
    files: tuple[str, ...]
    mentions: int


@dataclass(frozen=True)
class KeyMerge:
    """How the mentions of one gold key ended up: over how many canonical events, which files
    each put together, and whether one holds them from every gold file of the key."""

    key: str
    gold_files: tuple[str, ...]
    found_files: tuple[str, ...]  # gold files with at least one mention matched to the key
    groups: tuple[KeyGroup, ...]  # largest first
    merged: bool  # one canonical event covers every gold file of the key
    merged_found: bool  # one canonical event covers every file found (two or more)

    @property
    def spread(self) -> int:
        """Canonical events the key's matched mentions are spread over."""
        return len(self.groups)


def key_merges(matches: Sequence[MentionMatch], gold: Sequence[GoldLine]) -> list[KeyMerge]:
    """For every gold key with matched mentions or reported by two or more files, in gold
    order: how our canonical events group its mentions."""
    gold_files: dict[str, list[str]] = {}
    for g in gold:
        files = gold_files.setdefault(g.key, [])
        if g.file not in files:
            files.append(g.file)
    per_event: dict[str, dict[str, list[str]]] = defaultdict(dict)  # key -> canonical -> files
    for m in matches:
        if m.key is not None:
            per_event[m.key].setdefault(m.canonical_id, []).append(m.file)
    out = []
    for key, files in gold_files.items():
        if len(files) < 2 and key not in per_event:
            continue
        groups = sorted(
            (
                KeyGroup(cid, tuple(sorted(set(fs))), len(fs))
                for cid, fs in per_event.get(key, {}).items()
            ),
            key=lambda g: (-len(g.files), -g.mentions, g.canonical_id),
        )
        found = tuple(sorted({f for g in groups for f in g.files}))
        out.append(
            KeyMerge(
                key=key,
                gold_files=tuple(sorted(files)),
                found_files=found,
                groups=tuple(groups),
                merged=any(set(files) <= set(g.files) for g in groups),
                merged_found=len(found) >= 2 and any(set(found) <= set(g.files) for g in groups),
            )
        )
    return out


@dataclass(frozen=True)
class DuplicateRows:
    """Two top-level timeline rows holding mentions of the same gold key(s)."""

    a: str
    b: str
    keys: tuple[str, ...]
    summaries: tuple[str, str] = ("", "")


def duplicate_rows(
    events: Sequence[CanonicalEvent], matches: Sequence[MentionMatch]
) -> list[DuplicateRows]:
    """Pairs of top-level canonical events (``parent_id`` null) sharing a gold key."""
    keys: dict[str, set[str]] = defaultdict(set)
    for m in matches:
        if m.key is not None:
            keys[m.canonical_id].add(m.key)
    top = [ce for ce in events if ce.parent_id is None]
    return [
        DuplicateRows(a.id, b.id, tuple(sorted(keys[a.id] & keys[b.id])), (a.summary, b.summary))
        for a, b in combinations(top, 2)
        if keys[a.id] & keys[b.id]
    ]


# --- gold disagreements --------------------------------------------------------------------------


@dataclass(frozen=True)
class GoldDisagreement:
    """A discrepancy the gold records and a brief should surface.

    ``error``: one source states a fact wrongly (its gold note starts with ERROR or
    CONFLATION); ``lines`` is that gold line. ``date``: the files reporting one key give
    incompatible dates; ``pairs`` are the incompatible gold lines (of different files).
    """

    kind: Literal["error", "date"]
    key: str
    files: tuple[str, ...]
    lines: tuple[int, ...]
    pairs: tuple[tuple[int, int], ...] = ()
    note: str = ""


def gold_disagreements(gold: Sequence[GoldLine]) -> list[GoldDisagreement]:
    """The gold's errors (notes starting ERROR or CONFLATION), then its cross-file date
    conflicts, each in gold order."""
    errors = [
        GoldDisagreement("error", g.key, (g.file,), (g.index,), note=g.note or "")
        for g in gold
        if (g.note or "").lstrip().startswith(ERROR_NOTE)
    ]
    by_key: dict[str, list[GoldLine]] = defaultdict(list)
    for g in gold:
        by_key[g.key].append(g)
    conflicts = []
    for key, lines in by_key.items():
        pairs = tuple(
            (a.index, b.index)
            for a, b in combinations(lines, 2)
            if a.file != b.file and not dates_compatible(a.date, b.date)
        )
        if not pairs:
            continue
        used = sorted({i for p in pairs for i in p})
        dated = {g.index: g for g in lines}
        note = "; ".join(f"{dated[i].file}: {dated[i].date}" for i in used)
        conflicts.append(
            GoldDisagreement(
                "date",
                key,
                tuple(sorted({dated[i].file for i in used})),
                tuple(used),
                pairs,
                note=note,
            )
        )
    return [*errors, *conflicts]


@dataclass(frozen=True)
class Surfaced:
    """Whether one gold disagreement is surfaced by one of ours, and by which."""

    item: GoldDisagreement
    surfaced: bool
    disagreement_id: str | None = None
    field: str | None = None
    subject: str | None = None


def side_cites(
    citations: Iterable[Citation], g: GoldLine, gold_files: Collection[str] = ()
) -> bool:
    """Whether some citation points into ``g``'s file and overlaps its quote."""
    return any(
        file_name(c.file, gold_files) == g.file and c.start < g.end and g.start < c.end
        for c in citations
    )


def surfaces(d: Disagreement, item: GoldDisagreement, gold: Sequence[GoldLine]) -> bool:
    """Whether ``d`` surfaces ``item``: for an error, a side cites the gold quote; for a date
    conflict, two different sides cite the quotes of an incompatible pair of files."""
    by_index = {g.index: g for g in gold}
    gold_files = {g.file for g in gold}
    if item.kind == "error":
        g = by_index[item.lines[0]]
        return any(side_cites(s.citations, g, gold_files) for s in d.sides)
    for i, j in item.pairs:
        gi, gj = by_index[i], by_index[j]
        for si, sj in combinations(d.sides, 2):
            if (
                side_cites(si.citations, gi, gold_files)
                and side_cites(sj.citations, gj, gold_files)
            ) or (
                side_cites(si.citations, gj, gold_files)
                and side_cites(sj.citations, gi, gold_files)
            ):
                return True
    return False


def surfaced(
    items: Sequence[GoldDisagreement],
    disagreements: Sequence[Disagreement],
    gold: Sequence[GoldLine],
) -> list[Surfaced]:
    """For each gold disagreement, the first of ours that surfaces it (or none)."""
    out = []
    for item in items:
        hit = next((d for d in disagreements if surfaces(d, item, gold)), None)
        out.append(
            Surfaced(item, False)
            if hit is None
            else Surfaced(item, True, hit.id, hit.field, hit.subject)
        )
    return out


# --- all together --------------------------------------------------------------------------------


@dataclass(frozen=True)
class MergeScore:
    """Every figure of one build's merge against the gold."""

    mentions: int
    matched: int
    unmatched: tuple[str, ...]  # mention ids overlapping no gold quote
    canonical_events: int
    multi_mention_events: int
    top_level_rows: int
    clustering: ClusterScores
    keys: tuple[KeyMerge, ...]
    duplicates: tuple[DuplicateRows, ...]
    disagreements: int
    disagreements_by_field: dict[str, int]
    gold_disagreements: tuple[Surfaced, ...]

    @property
    def cross_source(self) -> tuple[KeyMerge, ...]:
        """The keys reported by two or more gold files."""
        return tuple(k for k in self.keys if len(k.gold_files) >= 2)

    @property
    def cross_source_merged(self) -> int:
        """Cross-source keys held by one canonical event from all their files."""
        return sum(k.merged for k in self.cross_source)

    @property
    def split_keys(self) -> int:
        """Gold keys whose matched mentions sit in more than one canonical event."""
        return sum(k.spread > 1 for k in self.keys)

    @property
    def surfaced_count(self) -> int:
        """Gold disagreements surfaced by one of ours."""
        return sum(s.surfaced for s in self.gold_disagreements)


def score_merge(build: MergeBuild, gold: Sequence[GoldLine]) -> MergeScore:
    """Score a merged build against ``gold`` (see the module docstring)."""
    matches = match_mentions(build.events, gold)
    matched = [m for m in matches if m.key is not None]
    # Items are mention occurrences: a mention placed in two canonical events counts twice.
    labels = [(m.canonical_id, m.key) for m in matched]
    return MergeScore(
        mentions=len(matches),
        matched=len(matched),
        unmatched=tuple(m.mention_id for m in matches if m.key is None),
        canonical_events=len(build.events),
        multi_mention_events=sum(len(ce.mentions) > 1 for ce in build.events),
        top_level_rows=sum(ce.parent_id is None for ce in build.events),
        clustering=cluster_scores(labels),
        keys=tuple(key_merges(matches, gold)),
        duplicates=tuple(duplicate_rows(build.events, matches)),
        disagreements=len(build.disagreements),
        disagreements_by_field=dict(Counter(d.field for d in build.disagreements).most_common()),
        gold_disagreements=tuple(surfaced(gold_disagreements(gold), build.disagreements, gold)),
    )


def files_of(gold: Iterable[GoldLine]) -> list[str]:
    """The distinct files of ``gold``, in order of first appearance."""
    return list(dict.fromkeys(g.file for g in gold))


def as_dict(score: MergeScore) -> dict[str, Any]:
    """``score`` as plain JSON-ready data, derived counts included."""
    data = asdict(score)
    data["cross_source_merged"] = score.cross_source_merged
    data["cross_source_total"] = len(score.cross_source)
    data["split_keys"] = score.split_keys
    data["surfaced"] = score.surfaced_count
    for k, raw in zip(score.keys, data["keys"], strict=True):
        raw["spread"] = k.spread
    return data
