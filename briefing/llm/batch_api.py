"""The OpenAI Batch API, through the official client's ``files`` and ``batches``: request lines
out, a batch created and polled, result lines back in as cached replies.

The request file is the Batch API's JSONL (one ``{"custom_id", "method", "url", "body"}`` per
line), which ``vllm run-batch`` reads as it is; its output is read back by ``parse_results``
whichever of the two wrote it. A line's ``custom_id`` is the request's cache key, so a result is
stored where the live request would have stored its reply, and the build replays it from there:
batch replies are validated, repaired and re-asked exactly as live ones.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

from ..models import Usage
from ..store.state import CachedReply
from .client import Client, PendingRequest
from .transport import call_retried

ENDPOINT: Final = "/v1/chat/completions"
COMPLETION_WINDOW: Final = "24h"
# Statuses after which a batch's output no longer grows.
FINISHED = frozenset({"completed", "expired", "failed", "cancelled"})


@dataclass(frozen=True)
class BatchStatus:
    """Where a batch stands, as the server reports it."""

    id: str
    status: str
    total: int
    completed: int
    failed: int
    output_file_id: str | None
    error_file_id: str | None
    errors: tuple[str, ...] = ()

    @property
    def finished(self) -> bool:
        """Whether the batch is over (completed, expired, failed or cancelled)."""
        return self.status in FINISHED


@dataclass(frozen=True)
class BatchResult:
    """One line of a batch's output or error file: a reply, or why there is none."""

    custom_id: str
    reply: CachedReply | None
    error: str | None = None


def request_line(pending: PendingRequest) -> str:
    """The Batch API line of a request: its cache key as ``custom_id``, its live arguments as
    the body (server-specific fields merged in, as the client's ``extra_body`` would send them)."""
    arguments = dict(pending.arguments)
    extra = arguments.pop("extra_body", None) or {}
    body = {**arguments, **extra}
    line = {"custom_id": pending.key, "method": "POST", "url": ENDPOINT, "body": body}
    return json.dumps(line, ensure_ascii=False, separators=(",", ":"))


def submit(client: Client, requests_jsonl: bytes, metadata: dict[str, str]) -> BatchStatus:
    """Upload a request file and create a batch of it."""
    api = client.api()
    uploaded = call_retried(
        "the Batch API",
        lambda: api.files.create(file=("requests.jsonl", requests_jsonl), purpose="batch"),
    )
    batch = call_retried(
        "the Batch API",
        lambda: api.batches.create(
            input_file_id=uploaded.id,
            endpoint=ENDPOINT,
            completion_window=COMPLETION_WINDOW,
            metadata=metadata,
        ),
    )
    return _status(batch)


def status(client: Client, batch_id: str) -> BatchStatus:
    """The batch as the server reports it now."""
    api = client.api()
    return _status(call_retried("the Batch API", lambda: api.batches.retrieve(batch_id)))


def download(client: Client, file_id: str) -> str:
    """A file's content (a batch's output or error file)."""
    api = client.api()
    return call_retried("the Batch API", lambda: api.files.content(file_id).text)


def parse_results(text: str) -> Iterator[BatchResult]:
    """The results of a Batch API (or ``vllm run-batch``) output file; a line that cannot be
    read is a result with an error, never a stop."""
    for number, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            line = json.loads(raw)
            custom_id = str(line["custom_id"])
        except (ValueError, KeyError, TypeError):
            yield BatchResult(custom_id="", reply=None, error=f"line {number}: not a result line")
            continue
        yield _result(custom_id, line)


def _result(custom_id: str, line: dict[str, Any]) -> BatchResult:
    error = line.get("error")
    response = line.get("response") or {}
    code = response.get("status_code")
    if error or code != 200:
        message = (error or {}).get("message") if isinstance(error, dict) else error
        body_error = (response.get("body") or {}).get("error") if response else None
        if isinstance(body_error, dict):
            message = message or body_error.get("message")
        return BatchResult(custom_id, None, f"HTTP {code}: {message or 'no reply'}")
    try:
        choice = response["body"]["choices"][0]
        text = choice["message"]["content"] or ""
        finish = choice.get("finish_reason")
        usage = response["body"].get("usage") or {}
    except (KeyError, IndexError, TypeError):
        return BatchResult(custom_id, None, "a reply with no message in it")
    details = usage.get("prompt_tokens_details") or {}
    return BatchResult(
        custom_id,
        CachedReply(
            text=text,
            finish_reason=finish,
            usage=Usage(
                requests=1,
                prompt_tokens=int(usage.get("prompt_tokens") or 0),
                completion_tokens=int(usage.get("completion_tokens") or 0),
                cached_tokens=int(details.get("cached_tokens") or 0),
            ),
        ),
    )


def _status(batch: Any) -> BatchStatus:
    counts = batch.request_counts
    errors = getattr(batch, "errors", None)
    messages = tuple(str(getattr(e, "message", e)) for e in (getattr(errors, "data", None) or []))
    return BatchStatus(
        id=batch.id,
        status=batch.status,
        total=counts.total if counts else 0,
        completed=counts.completed if counts else 0,
        failed=counts.failed if counts else 0,
        output_file_id=batch.output_file_id,
        error_file_id=batch.error_file_id,
        errors=messages,
    )
