"""Every source through extraction: replayed from the refresh state first, in order and with
no server; then what is new, ``settings.concurrency`` at a time. Also the files citations point
at (``citable_files``) and their hashes for the manifest."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from threading import Event as Flag

from .. import llm
from ..config import Settings
from ..errors import AuthenticationFailed, BriefingError, ServerUnreachable
from ..models import Extraction, Source, SourceFailure
from ..progress import BuildProgress
from . import extraction as extract

SKIPPED = "skipped: the server failed on an earlier source"
# Up to this many sources at a time, their bars are watched and their replies streamed.
WATCHED_CONCURRENCY = 4


def citable_files(read: Sequence[Source], folder: Path) -> dict[str, str]:
    """The UTF-8 file each source's citations point at: the source itself when its text is
    verbatim, else a copy of its text written to ``folder`` (HTML main text, other encodings)."""
    files: dict[str, str] = {}
    for source in read:
        if source.verbatim:
            files[source.id] = source.path
            continue
        folder.mkdir(parents=True, exist_ok=True)
        copy = folder / f"{Path(source.path).stem}.{source.id[:12]}.txt"
        copy.write_text(source.text, encoding="utf-8", newline="\n")
        files[source.id] = str(copy)
    return files


def cited_hashes(read: Sequence[Source], citable: dict[str, str]) -> dict[str, str]:
    """sha256 of each file citations point at: the source's own hash when it is cited as it is,
    else that of the UTF-8 copy ``citable_files`` wrote."""
    return {
        citable[s.id]: s.id if s.verbatim else hashlib.sha256(s.text.encode()).hexdigest()
        for s in read
        if s.id in citable
    }


def watches_tokens(progress: BuildProgress, settings: Settings) -> bool:
    """Whether a source's reply tokens are worth streaming: its bar is drawn where someone can
    watch it, and few sources run at a time (the embedded model, a slow server). With many at
    once, bars come and go in seconds, and parsing every chunk of every stream would make the
    client's CPU the bound on throughput (32 CPU ms a request streamed, 6 in one body:
    ``benchmarks/bench_client_cpu.py``)."""
    return progress.draws_tokens and settings.concurrency <= WATCHED_CONCURRENCY


def extract_all(
    client: llm.Client, settings: Settings, read: Sequence[Source], progress: BuildProgress
) -> tuple[dict[str, Extraction], list[SourceFailure]]:
    """Extract every source, ``settings.concurrency`` at a time; a dead server stops the rest."""
    results: dict[str, Extraction] = {}
    failures: list[SourceFailure] = []
    fatal = Flag()
    pending = list(read)
    if client.cache is not None and client.reuse:
        # Sources the state answers wholly are replayed here, in order, with no server at all;
        # the server starts (in this thread) only if some request is new.
        replay = client.cache_only()
        pending = []
        for source in read:
            try:
                done = extract.extract(replay, settings, source, extract.ExtractionProgress())
            except llm.CacheMiss:
                pending.append(source)
                continue
            results[source.id] = done
            progress.source_done(source, len(done.reply.events), done.usage)
        if not pending:
            return results, failures
    # The server opens here, in the main thread, not in a worker: a child started from a worker
    # thread cannot be tied to the process's life (processes.py), and workers come and go.
    client.api()
    streamed = watches_tokens(progress, settings)

    def one(source: Source) -> Extraction | None:
        if fatal.is_set():
            return None
        progress.source_started(source)
        hooks = extract.ExtractionProgress(
            on_tokens=(lambda n: progress.source_tokens(source, n)) if streamed else None,
            on_notice=lambda msg: progress.notice(f"{source.path}: {msg}"),
            cancel=fatal,
        )
        try:
            return extract.extract(client, settings, source, hooks)
        except llm.Cancelled:
            return None  # never sent: the build stopped while it waited for its turn
        except (AuthenticationFailed, ServerUnreachable):
            # Set here, in the worker, before it takes the next source: the next sources would
            # fail the same way, slowly.
            fatal.set()
            raise

    pool = ThreadPoolExecutor(max_workers=settings.concurrency)
    try:
        futures = {pool.submit(one, s): s for s in pending}
        for future in as_completed(futures):
            source = futures[future]
            try:
                extraction = future.result()
            except BriefingError as exc:
                reason = " ".join(str(exc).split())  # one line: a list item, a line on stderr
                failures.append(SourceFailure(path=source.path, stage="extract", reason=reason))
                progress.source_failed(source.path, reason)
                continue
            if extraction is None:
                failures.append(SourceFailure(path=source.path, stage="extract", reason=SKIPPED))
                continue
            results[source.id] = extraction
            progress.source_done(source, len(extraction.reply.events), extraction.usage)
    except BaseException:
        # Ctrl-C or SIGTERM: do not wait for requests still streaming, so the caller can stop
        # the embedded server at once (which ends those requests); stop their retries too.
        fatal.set()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    failures.sort(key=lambda f: f.path)
    return results, failures
