"""The build: every stage in order, as plain calls. The CLI adds only flags, progress and messages.

sources → extract (in parallel) → ground → merge → compose → render → check
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from . import __version__, check, compose, llm, merge, prices, resources, review
from .config import Settings
from .errors import LLMError, SourceError, StateError
from .extract import batch, ground
from .extract.parallel import SKIPPED as SKIPPED  # re-exported: tests and the CLI name it here
from .extract.parallel import citable_files as citable_files
from .extract.parallel import cited_hashes, extract_all
from .models import (
    Brief,
    Event,
    Extraction,
    InputRecord,
    Manifest,
    Source,
    SourceEntry,
    SourceFailure,
    Usage,
)
from .progress import BuildProgress as BuildProgress  # the CLI's hooks, re-exported
from .read import drift, hidden, sources
from .render import events_document, write_outputs
from .store import changes, refresh, splits, state


@dataclass(frozen=True)
class BuildResult:
    """What a build wrote and what it cost."""

    paths: dict[str, Path]
    brief: Brief
    events: tuple[Event, ...]
    merged: merge.MergeResult | None  # None when nothing changed and the last run stood in
    failures: tuple[SourceFailure, ...]
    usage: Usage
    seconds: float
    cost_usd: float | None = 0.0  # of the requests that reached a server (prices.py)


@dataclass(frozen=True)
class Endpoint:
    """Where the requests went, for the manifest."""

    server: str
    embedded_model: str | None = None


def build(
    settings: Settings,
    paths: Sequence[Path],
    progress: BuildProgress | None = None,
    endpoint: Endpoint | Callable[[], Endpoint] | None = None,
    extra_timings: dict[str, float] | None = None,
    connect: llm.Connect | None = None,
    batch_mode: batch.BatchMode | None = None,
) -> BuildResult:
    """Build the brief of ``paths`` into ``settings.out_dir``, reusing every reply the refresh
    state (``OUT/.briefing/state.db``) holds for the same request.

    Sources that cannot be read or extracted are listed in the brief as not read. Raises
    :class:`SourceError` when no source can be read, and the server's error when no source
    could be extracted: then there is no brief to write. ``connect`` makes the openai client
    when the first request must go out (the CLI starts the embedded server there);
    ``endpoint`` and ``extra_timings`` are read when the manifest is written, after it.
    ``batch_mode`` sends or writes the extraction requests as a batch first (``batch.py``);
    :class:`batch.BatchWaiting` then says the brief must wait for it.
    """
    with state.open_state(settings.out_dir) as st:
        client = llm.make_client(settings, st, reuse=not settings.force, connect=connect)
        return _build(
            st, client, settings, paths, progress, endpoint, extra_timings,
            batch_mode or batch.BatchMode(),
        )  # fmt: skip


def _build(
    st: state.State,
    client: llm.Client,
    settings: Settings,
    paths: Sequence[Path],
    progress: BuildProgress | None,
    endpoint: Endpoint | Callable[[], Endpoint] | None,
    extra_timings: dict[str, float] | None,
    batch_mode: batch.BatchMode,
) -> BuildResult:
    progress = progress or BuildProgress()
    started = time.monotonic()
    started_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    timings: dict[str, float] = {}

    price_table = prices.load_prices(settings.prices_file)  # a bad file fails before any work
    progress.stage("reading sources")
    t = time.monotonic()
    files, missing = sources.expand_paths(paths)
    inputs_hash = refresh.fingerprint(settings, files, missing)
    previous = st.last_run()
    if (
        previous is not None
        and inputs_hash is not None
        and previous.fingerprint == inputs_hash
        and not settings.force
        and not batch_mode.active
        and (replayed := refresh.replay(previous, time.monotonic() - t)) is not None
    ):
        return _unchanged(st, settings, previous, replayed, started, started_at, progress)
    # One file at a time, from the listing the fingerprint hashed; an unchanged text's sentence
    # split comes from the state (pysbd is most of what reading costs).
    with splits.sentence_cache(st) as kept:
        reading = sources.read_files(files, settings.max_source_mb, progress.sources_reading, kept)
        hidden.recall(reading.sources, kept)  # the sentences no model is shown, once per text
    read, failures = reading.sources, [*missing, *reading.failures]
    for f in failures:
        progress.source_failed(f.path, f.reason)
    if not read:
        raise SourceError("no readable source among: " + ", ".join(str(p) for p in paths))
    progress.sources_read(len(read))
    citable = citable_files(read, settings.out_dir / "sources")
    timings["read"] = time.monotonic() - t

    if batch_mode.active or st.open_batches():
        progress.stage("batch")
        t = time.monotonic()
        batch.prepare(st, client, settings, read, batch_mode, price_table, progress.notice)
        timings["batch"] = time.monotonic() - t

    progress.stage("extracting events")
    t = time.monotonic()
    extractions, extract_failures = extract_all(client, settings, read, progress)
    failures = [*failures, *extract_failures]
    timings["extract"] = time.monotonic() - t
    if not extractions:
        # The first real reason, not a "skipped" that happens to sort before it.
        reasons = [f.reason for f in extract_failures if f.reason != SKIPPED]
        raise LLMError("no source could be extracted: " + (reasons or [SKIPPED])[0])

    events: list[Event] = []
    entries: list[SourceEntry] = []
    for source in read:
        if source.id not in extractions:
            continue
        extraction = extractions[source.id]
        grounded = ground.ground(extraction, source, citable[source.id])
        events.extend(grounded.events)
        entries.append(_source_entry(source, citable[source.id], extraction, grounded))

    progress.stage("merging events across sources")
    t = time.monotonic()
    merged = merge_stage(client, settings, events, [s for s in read if s.id in extractions],
                         citable, progress, st)  # fmt: skip
    timings["merge"] = time.monotonic() - t

    progress.stage("writing key developments")
    t = time.monotonic()
    key_points, compose_usage, notes = compose.safe_key_developments(
        client, settings, settings.brief, merged.canonical, progress.notice
    )
    timings["compose"] = time.monotonic() - t
    events_doc = events_document(merged)
    document = {
        **events_doc,
        changes.KEY_POINTS: [{"text": c.text, "event_ids": list(c.event_ids)} for c in key_points],
    }
    now_sources = {s.id: s.path for s in read if s.id in extractions}
    what_changed = None
    if previous is not None:
        what_changed = changes.compare(
            previous.id,
            previous.finished_at,
            previous.events,
            previous.sources,
            document,
            now_sources,
        )
    brief = compose.compose(
        settings.brief, merged, entries, failures, key_points, notes, what_changed
    ).model_copy(update={"built": started_at[:10]})
    # A source edited or deleted since it was read is reported, its citations kept checkable.
    in_brief = [s for s in read if s.id in extractions]
    drifted = drift.settle(in_brief, reading.sizes, citable, settings.out_dir / "sources")
    for line in drifted.lines:
        progress.notice(line)
    if drifted:
        brief, events = drifted.apply_brief(brief), drifted.apply_events(events)
        events_doc, document = drifted.repoint(events_doc), drifted.repoint(document)

    usage_by_source = {s.path: extractions[s.id].usage for s in read if s.id in extractions}
    live = sum(usage_by_source.values(), Usage()) + merged.usage + compose_usage
    # Replies a batch brought in are replayed as cache hits: what they cost is the batches'.
    batched = st.batch_usage_since(previous.finished_at if previous else "")
    usage = live + batched
    timings.update(extra_timings or {})
    if callable(endpoint):
        endpoint = endpoint()
    endpoint = endpoint or Endpoint(
        server=urlparse(settings.base_url or "https://api.openai.com").netloc
    )
    manifest = Manifest(
        briefing_version=__version__,
        created_at=started_at,
        inputs=_inputs(read, failures, reading.sizes, drifted.reasons),
        model=settings.model,
        server=endpoint.server,
        embedded_model=endpoint.embedded_model,
        prompts=resources.file_hashes("prompts"),
        templates=resources.file_hashes("templates"),
        usage=usage,
        usage_by_source={
            **usage_by_source,
            "(merge)": merged.usage,
            "(key developments)": compose_usage,
            **({"(batches)": batched} if batched != Usage() else {}),
        },
        timings={k: round(v, 3) for k, v in timings.items()},
        cost_usd=_cost(live, batched, settings, price_table),
        fingerprint=inputs_hash,
        cited_files=cited_hashes(read, citable),
        counts={
            "sources_read": len(entries),
            "sources_failed": len(failures),
            "events": len(events),
            "linked_mentions": int(merged.stats.get("linked_mentions", 0)),
            # The merge's texts run through the embedding model, and those an earlier build had.
            "texts_embedded": int(merged.stats.get("texts_embedded", 0)),
            "vectors_recalled": int(merged.stats.get("vectors_recalled", 0)),
            "canonical_events": len(merged.canonical),
            "timeline_rows": len(brief.timeline),
            "disagreements": len(merged.disagreements),
            "claims": len(brief.claims()),
        },
    )
    progress.stage("writing the brief")
    out = publish(st, settings.out_dir, brief, events_doc, manifest, settings.formats)
    # Only a complete build may stand in for the next one: a source the server failed on, or
    # key developments it could not write, must be asked again; so must a file that changed.
    complete = not extract_failures and not any(n.startswith(compose.NOT_WRITTEN) for n in notes)
    complete = complete and not drifted
    st.record_run(
        started_at,
        manifest.model_dump(mode="json"),
        document,
        out["brief"].read_text(encoding="utf-8"),
        list(now_sources.items()),
        brief.model_dump(mode="json"),
        inputs_hash if complete else None,
    )
    if what_changed is not None:
        progress.notice(
            f"since build {what_changed.previous_run}: {changes.summary_line(what_changed)}"
        )
    return BuildResult(
        paths=out,
        brief=brief,
        events=tuple(events),
        merged=merged,
        failures=tuple(failures),
        usage=usage,
        seconds=time.monotonic() - started,
        cost_usd=manifest.cost_usd,
    )


def _unchanged(
    st: state.State,
    settings: Settings,
    previous: state.RunRecord,
    replayed: refresh.Replayed,
    started: float,
    started_at: str,
    progress: BuildProgress,
) -> BuildResult:
    """Nothing that goes into the build changed: the last run's brief, What changed: nothing."""
    progress.notice(f"nothing changed since build {previous.id}: its brief is rendered again")
    progress.stage("writing the brief")
    out = publish(
        st, settings.out_dir, replayed.brief, _events_only(replayed.document), replayed.manifest,
        settings.formats,
    )  # fmt: skip
    st.record_run(
        started_at,
        replayed.manifest.model_dump(mode="json"),
        replayed.document,
        out["brief"].read_text(encoding="utf-8"),
        list(previous.sources.items()),
        replayed.brief.model_dump(mode="json"),
        previous.fingerprint,
    )
    return BuildResult(
        paths=out,
        brief=replayed.brief,
        events=replayed.events,
        merged=None,
        failures=replayed.brief.failures,
        usage=Usage(),
        seconds=time.monotonic() - started,
    )


def render_last(out_dir: Path, formats: tuple[str, ...]) -> dict[str, Path]:
    """Write the last build of ``out_dir`` again in ``formats`` from its stored records: no
    source is read and no request is made."""
    with state.open_state(out_dir, existing=True) as st:
        return rewrite_last(st, out_dir, formats)


def rewrite_last(st: state.State, out_dir: Path, formats: tuple[str, ...]) -> dict[str, Path]:
    """Like :func:`render_last`, inside an open state (``briefing check`` renews the brief's
    check line this way)."""
    last = st.last_run()
    if last is None or last.brief_record is None:
        raise StateError(f"{out_dir} holds no build that can be rendered again; build it first")
    brief = Brief.model_validate(last.brief_record)
    manifest = Manifest.model_validate(last.manifest)
    return publish(st, out_dir, brief, _events_only(last.events), manifest, formats)


def publish(
    st: state.State,
    out_dir: Path,
    brief: Brief,
    events_doc: dict[str, Any],
    manifest: Manifest,
    formats: tuple[str, ...],
) -> dict[str, Path]:
    """Write ``brief`` (as generated) with the reviewer's decisions applied and the last
    check's line, then prove every quote of what was written. The run keeps the generated
    brief, so a decision changed later applies to it afresh."""
    reviewed = review.apply_decisions(brief, st.decisions())
    final = reviewed.brief
    line = check.summary(final.claims(), st.last_check(), flagged=len(reviewed.flagged))
    out = write_outputs(
        out_dir, final.model_copy(update={"check": line}), events_doc, manifest, formats
    )
    check.assert_quotes_match(out["claims"])
    return out


def _events_only(document: dict[str, Any]) -> dict[str, Any]:
    """``events.json`` out of a run's stored document: the document minus its key points."""
    return {k: v for k, v in document.items() if k != changes.KEY_POINTS}


def merge_stage(
    client: llm.Client,
    settings: Settings,
    events: Sequence[Event],
    read: Sequence[Source],
    citable: dict[str, str],
    progress: BuildProgress,
    kept_vectors: merge.VectorCache | None = None,
) -> merge.MergeResult:
    """Merge every source's events into canonical events; the model is asked about at most
    ``settings.merge_questions`` pairs in doubt. ``kept_vectors`` (the refresh state) spares
    embedding a text an earlier build embedded."""
    embedder = merge.Embedder.load(cache=kept_vectors)
    judge = (
        merge.Judge(
            client,
            settings,
            settings.merge_questions,
            published={s.id: s.published for s in read},
            on_notice=progress.notice,
        )
        if settings.merge_questions > 0
        else None
    )
    return merge.merge_events(
        events, read, embedder, judge, files=citable, on_notice=progress.notice
    )


def _cost(
    live: Usage, batched: Usage, settings: Settings, table: prices.PriceTable
) -> float | None:
    """Dollars for the live requests and, at the batch price, the batch replies collected."""
    now = prices.estimate(live, settings.model, settings.use_local, table)
    later = prices.estimate(batched, settings.model, settings.use_local, table)
    if now is None or later is None:
        return None
    return round(now + later * batch.BATCH_DISCOUNT, 6)


def _source_entry(
    source: Source, file: str, extraction: Extraction, grounded: ground.Grounded
) -> SourceEntry:
    furniture = extraction.furniture
    by_number = {s.number: s.text for s in source.sentences}
    by_line = {s.number: s.line for s in source.sentences}
    preview = tuple(_shorten(by_number[n]) for n in furniture[:3] if n in by_number)
    return SourceEntry(
        id=source.id,
        path=source.path,
        file=file,
        title=source.title,
        outlet=source.outlet,
        published=source.published,
        sentences=len(source.sentences),
        furniture=furniture,
        furniture_preview=preview,
        events=len(grounded.events),
        unsupported=grounded.unsupported + extraction.unsupported,
        realigned=grounded.realigned + extraction.realigned,
        salvaged=extraction.salvaged,
        instruction_lines=tuple(by_line[n] for n in extraction.instructions if n in by_line),
        instruction_preview=tuple(
            _shorten(by_number[n]) for n in extraction.instructions[:3] if n in by_number
        ),
    )


def _shorten(text: str, width: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1].rstrip() + "…"


def _inputs(
    read: Sequence[Source],
    failures: Sequence[SourceFailure],
    sizes: dict[str, int],
    drifted: dict[str, str],
) -> tuple[InputRecord, ...]:
    failed = {f.path: f.reason for f in failures}
    rows = [
        InputRecord(
            path=s.path,
            sha256=s.id,
            bytes=sizes.get(s.path),  # as read: the file may have changed or gone since
            status="failed" if s.path in failed else "read",
            reason=failed.get(s.path) or drifted.get(s.id),
        )
        for s in read
    ]
    known = {s.path for s in read}
    rows += [
        InputRecord(path=f.path, sha256=None, bytes=None, status="failed", reason=f.reason)
        for f in failures
        if f.path not in known
    ]
    return tuple(rows)
