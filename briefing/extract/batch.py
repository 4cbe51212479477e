"""Batch mode: the extraction requests a build still needs, sent as one Batch API batch (half the
price, its own rate limits, results within 24 h) or written as a JSONL file for ``vllm
run-batch``, and their results brought back into the refresh state.

Nothing here decides what a reply means. A batch result is stored under the cache key of the
request it answers, and the build then runs as always: every reply is replayed from the state,
validated, repaired and re-asked exactly as a live one. So a batch build and a live build of the
same replies write the same brief, and what the batch left unanswered (expired, failed, a reply
that needs a re-ask) is simply a request the state has no reply for: a follow-up batch with
``--batch``, a live request without.

A submitted batch is recorded in the state at once; any later build collects it (``--wait``
polls until it is over), so an interrupted build loses nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .. import llm, prices
from ..config import Settings
from ..errors import BriefingError, ConfigError
from ..llm import batch_api
from ..models import Source, Usage
from ..store.state import BatchRecord, CachedReply, State
from . import extraction as extract

BATCH_DISCOUNT = 0.5  # the Batch API's price against live requests
CHARS_PER_TOKEN = 4  # a rough estimate of prompt tokens before any server counted them
MAX_ROUNDS = 3  # with --wait: a batch, then follow-ups for re-asks and what expired

Notice = Callable[[str], None]


class BatchWaiting(BriefingError):
    """The brief cannot be written yet: a batch is submitted or running, or its request file was
    written for another tool to run. The message says how to continue."""


@dataclass(frozen=True)
class BatchMode:
    """How a build uses batches (``--batch``, ``--wait``, ``--batch-file``, ``--batch-results``)."""

    submit: bool = False  # send what the state cannot answer as a batch
    wait: bool = False  # poll until the batch is over and finish the brief
    requests_file: Path | None = None  # write the requests for `vllm run-batch` and stop
    results_file: Path | None = None  # read a `vllm run-batch` (or Batch API) output file
    poll_seconds: float = 30.0

    @property
    def active(self) -> bool:
        """Whether any batch option was given."""
        return bool(self.submit or self.wait or self.requests_file or self.results_file)


@dataclass(frozen=True)
class Collected:
    """What storing a batch's results did."""

    stored: int
    failed: int
    ignored: int
    usage: Usage


def prepare(
    st: State,
    client: llm.Client,
    settings: Settings,
    sources: Sequence[Source],
    mode: BatchMode,
    table: prices.PriceTable,
    notice: Notice,
) -> None:
    """Before extraction: bring in a results file and every finished batch, then (with
    ``--batch`` or ``--batch-file``) send or write what the state still cannot answer.

    Returns when the build can go on (the rest, if any, is asked live); raises
    :class:`BatchWaiting` when it must wait for a batch or another tool.
    """
    if mode.results_file is not None:
        known = {p.key: p.purpose for p in plan(client, settings, sources)}
        done = store_results(st, settings, _read_results(mode.results_file), known)
        # Kept like a batch, so the build's manifest counts what these replies cost.
        name = f"file {mode.results_file} at {time.time_ns()}"
        st.record_batch(name, llm.server_identity(settings), settings.model, {})
        st.batch_collected(name, f"results file: {done.stored} replies", done.usage)
        notice(_collected_line(str(mode.results_file), done, settings, table))
    for record in st.open_batches():
        collect(st, client, settings, record, mode, table, notice)
    if not (mode.submit or mode.wait or mode.requests_file):
        return
    for round_number in range(1, MAX_ROUNDS + 1):
        pending = plan(client, settings, sources)
        if not pending:
            return
        if mode.requests_file is not None:
            size = write_requests(pending, mode.requests_file)
            raise BatchWaiting(
                f"wrote {len(pending):,} requests ({size / 1e6:.1f} MB) to {mode.requests_file}; "
                f"run them (e.g. `vllm run-batch -i {mode.requests_file} -o results.jsonl "
                f"--model {settings.model}`), then `briefing build --batch-results results.jsonl`"
            )
        notice(estimate_line(pending, settings, table))
        record = submit(st, client, settings, pending)
        notice(f"submitted batch {record.id} of {len(pending):,} requests")
        if not mode.wait:
            raise BatchWaiting(_waiting_line(record.id, "submitted", 0, len(pending)))
        collect(st, client, settings, record, mode, table, notice)
        if round_number < MAX_ROUNDS:
            notice("some requests are still unanswered: a follow-up batch for them")
    notice("batch rounds used up: what is still unanswered is asked live")


def plan(
    client: llm.Client, settings: Settings, sources: Sequence[Source]
) -> list[llm.PendingRequest]:
    """Every extraction request of ``sources`` the state cannot answer yet, once each."""
    offline = client.cache_only()
    seen: dict[str, llm.PendingRequest] = {}
    for source in sources:
        for pending in extract.pending_requests(offline, settings, source):
            seen.setdefault(pending.key, pending)
    return list(seen.values())


def write_requests(pending: Sequence[llm.PendingRequest], path: Path) -> int:
    """Write the Batch API request file; its size in bytes."""
    data = _requests_jsonl(pending)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    except OSError as exc:
        raise ConfigError(f"cannot write the batch request file {path}: {exc.strerror}") from exc
    return len(data)


def estimate_line(
    pending: Sequence[llm.PendingRequest], settings: Settings, table: prices.PriceTable
) -> str:
    """Tokens and dollars a batch of ``pending`` will cost at most, before it is submitted."""
    prompt = (
        sum(sum(len(m["content"]) for m in p.arguments["messages"]) for p in pending)
        // CHARS_PER_TOKEN
    )
    output = sum(int(p.arguments["max_tokens"]) for p in pending)
    usage = Usage(prompt_tokens=prompt, completion_tokens=output)
    cost = prices.estimate(usage, settings.model, settings.use_local, table)
    money = (
        f"at most ${cost * BATCH_DISCOUNT:,.2f} at {settings.model}'s batch price "
        "(half the live price)"
        if cost is not None
        else f"no price for {settings.model} in the price table"
    )
    return (
        f"batch: {len(pending):,} requests, about {prompt:,} prompt tokens and at most "
        f"{output:,} output tokens; {money}"
    )


def submit(
    st: State, client: llm.Client, settings: Settings, pending: Sequence[llm.PendingRequest]
) -> BatchRecord:
    """Upload ``pending`` as a batch and record it in the state at once."""
    status = batch_api.submit(client, _requests_jsonl(pending), {"made_by": "briefing"})
    requests = {p.key: p.purpose for p in pending}
    server = llm.server_identity(settings)
    st.record_batch(status.id, server, settings.model, requests)
    return BatchRecord(status.id, "", server, settings.model, requests)


def collect(
    st: State,
    client: llm.Client,
    settings: Settings,
    record: BatchRecord,
    mode: BatchMode,
    table: prices.PriceTable,
    notice: Notice,
) -> None:
    """Store the results of a finished batch; poll it first with ``--wait``, else raise
    :class:`BatchWaiting` while it runs."""
    if record.server != llm.server_identity(settings) or record.model != settings.model:
        return  # another server's or model's batch: its replies would not be asked for here
    status = batch_api.status(client, record.id)
    while not status.finished:
        if not mode.wait:
            raise BatchWaiting(
                _waiting_line(record.id, status.status, status.completed, status.total)
            )
        notice(f"batch {record.id}: {status.completed:,}/{status.total:,} done ({status.status})")
        time.sleep(mode.poll_seconds)
        status = batch_api.status(client, record.id)
    texts = [
        batch_api.download(client, file_id)
        for file_id in (status.output_file_id, status.error_file_id)
        if file_id
    ]
    results = [r for text in texts for r in batch_api.parse_results(text)]
    done = store_results(st, settings, results, record.requests)
    outcome = f"{status.status}: {done.stored} replies, {done.failed} failed"
    if status.errors:
        outcome += f" ({status.errors[0]})"
    st.batch_collected(record.id, outcome, done.usage)
    notice(_collected_line(f"batch {record.id} ({status.status})", done, settings, table))
    missing = len(record.requests) - done.stored
    if missing:
        notice(f"batch {record.id}: {missing:,} of {len(record.requests):,} requests unanswered")


def store_results(
    st: State,
    settings: Settings,
    results: Sequence[batch_api.BatchResult],
    known: dict[str, str],
) -> Collected:
    """Keep each result that answers a request in ``known`` (cache key -> purpose) as that
    request's reply; failed results and results for other requests are counted, not kept."""
    server = llm.server_identity(settings)
    rows: list[tuple[str, str, str, str, CachedReply]] = []
    failed = ignored = 0
    usage = Usage()
    for result in results:
        if result.reply is None:
            failed += 1
        elif result.custom_id not in known:
            ignored += 1
        else:
            rows.append((result.custom_id, known[result.custom_id], settings.model, server,
                         result.reply))  # fmt: skip
            usage = usage + result.reply.usage
    st.store_replies(rows)
    return Collected(stored=len(rows), failed=failed, ignored=ignored, usage=usage)


def _requests_jsonl(pending: Sequence[llm.PendingRequest]) -> bytes:
    return "".join(batch_api.request_line(p) + "\n" for p in pending).encode()


def _read_results(path: Path) -> list[batch_api.BatchResult]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the batch results {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not a UTF-8 JSONL results file") from exc
    return list(batch_api.parse_results(text))


def _collected_line(
    what: str, done: Collected, settings: Settings, table: prices.PriceTable
) -> str:
    cost = prices.estimate(done.usage, settings.model, settings.use_local, table)
    money = f", about ${cost * BATCH_DISCOUNT:,.2f} at the batch price" if cost else ""
    line = (
        f"{what}: {done.stored:,} replies stored ({done.usage.prompt_tokens:,} prompt + "
        f"{done.usage.completion_tokens:,} output tokens{money})"
    )
    if done.failed:
        line += f"; {done.failed:,} failed"
    if done.ignored:
        line += f"; {done.ignored:,} answer no request of this build and were ignored"
    return line


def _waiting_line(batch_id: str, status: str, completed: int, total: int) -> str:
    return (
        f"batch {batch_id}: {completed:,}/{total:,} done ({status}); the brief is written when "
        "it is over: run `briefing build --batch` again to collect it, or add --wait"
    )
