"""One attempt at a completion, read into a ``Completion`` with the response's headers: streamed
(``_stream_once``) when someone watches the tokens arrive, else one JSON body (``fetch_once``).

Either way, anything that is not a whole reply raises ``httpx2.RemoteProtocolError``: a stream
cut before its finish_reason, a 200 whose body is not chunks or a completion of JSON (a gateway's
page, a body cut short but framed as whole). ``transport`` retries it as a transport fault, and
it is never cached as the model's reply. Retrying, pacing and the errors a caller sees are
``transport``'s.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx2

from ..config import Settings
from ..models import Usage
from .client import Client, Message, request_arguments
from .pacing import CHARS_PER_TOKEN

# Called with the number of content chunks (about one token each) received so far.
TokenCallback = Callable[[int], None]
# Called with a one-line description of a retry about to happen, or of a back-off.
NoticeCallback = Callable[[str], None]


@dataclass(frozen=True)
class Request:
    """One request of an ``ask``, and where its progress and notices go."""

    messages: Sequence[Message]
    fmt: dict[str, Any]
    max_tokens: int
    on_tokens: TokenCallback | None = None
    on_notice: NoticeCallback | None = None
    cancel: threading.Event | None = None
    # Streamed only when someone watches the tokens arrive (``on_tokens`` draws a bar): the
    # SDK's parsing of every chunk costs the client more CPU than the rest of the request.
    stream: bool = False


@dataclass(frozen=True)
class Completion:
    """A reply as the server gave it: its text, why it ended, what it cost."""

    text: str
    finish_reason: str | None
    usage: Usage


def send_once(
    client: Client, settings: Settings, request: Request
) -> tuple[Completion, Mapping[str, str]]:
    """One attempt, streamed if ``request.stream``; the completion and the response's headers."""
    if request.stream:
        return stream_once(client, settings, request)
    return fetch_once(client, settings, request)


def fetch_once(
    client: Client, settings: Settings, request: Request
) -> tuple[Completion, Mapping[str, str]]:
    """One completion in a single JSON body, and the response's headers (the pacer reads
    ``x-ratelimit-*`` from them)."""
    started = time.monotonic()
    arguments = request_arguments(settings, request.messages, request.fmt, request.max_tokens)
    extra = arguments.pop("extra_body") or {}
    # The SDK's own request path (its auth, headers, timeout, errors: a refusal raises
    # ``APIStatusError``, a body cut short ``APIConnectionError``), posted as its README's
    # "undocumented requests" do: ``chat.completions.create`` first walks every message and the
    # whole schema against its TypedDicts (which changes nothing here), a third of the client's
    # CPU a request. The body sent is the same; the reply comes back raw, for its headers.
    response = client.api().post(
        "/chat/completions", cast_to=httpx2.Response, body={**arguments, **extra}
    )
    # Read as plain JSON, not through the SDK's models: four fields are needed, and a body
    # that is not a completion must fail here, not be half-built into one.
    text, finish, usage = read_body(response.content)
    usage = Usage(
        requests=1,
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens or _guess_tokens(text),
        cached_tokens=usage.cached_tokens,
        seconds=round(time.monotonic() - started, 3),
        prompt_ms=usage.prompt_ms,
        predicted_ms=usage.predicted_ms,
    )
    if request.on_tokens:
        request.on_tokens(usage.completion_tokens)  # all at once: nothing was streamed
    return Completion(text, finish, usage), response.headers


def read_body(body: bytes) -> tuple[str, str, Usage]:
    """The text, finish_reason and usage (tokens, llama-server's ``timings``) of a
    ``chat.completion`` body; ``RemoteProtocolError`` when it is not one."""
    try:
        data = json.loads(body)
        choice = data["choices"][0]
        text = choice["message"].get("content") or ""  # null: a refusal, an empty reply
        finish = choice["finish_reason"]
        usage = data.get("usage") or {}
        details = usage.get("prompt_tokens_details") or {}
        timings = data.get("timings")
    except (ValueError, LookupError, TypeError, AttributeError) as exc:
        raise _not_a_reply(exc) from exc
    if not isinstance(text, str) or not isinstance(usage, dict) or not isinstance(details, dict):
        raise _not_a_reply(TypeError("a field of the wrong type"))
    if not isinstance(finish, str) or not finish:
        # A completion always says why it ended; a body without it was not the model's reply.
        raise httpx2.RemoteProtocolError(
            f"the server sent a completion with no finish_reason ({len(text)} characters)"
        )
    cached = _count(details.get("cached_tokens"))
    prompt_ms = predicted_ms = 0.0
    if isinstance(timings, dict):
        if "cache_n" in timings:
            cached = _count(timings["cache_n"])  # prompt tokens reused from its cache
        prompt_ms = _milliseconds(timings.get("prompt_ms"), 0.0)
        predicted_ms = _milliseconds(timings.get("predicted_ms"), 0.0)
    counted = Usage(
        prompt_tokens=_count(usage.get("prompt_tokens")),
        completion_tokens=_count(usage.get("completion_tokens")),
        cached_tokens=cached,
        prompt_ms=round(prompt_ms, 3),
        predicted_ms=round(predicted_ms, 3),
    )
    return text, finish, counted


def _not_a_reply(exc: BaseException) -> httpx2.RemoteProtocolError:
    return httpx2.RemoteProtocolError(f"the server sent something other than a reply ({exc})")


def _count(value: Any) -> int:
    """``value`` when it is a non-negative whole number, else 0."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return 0


def _guess_tokens(text: str) -> int:
    # A server that reports no usage: the pacer's guess, so its token budget still moves.
    return round(len(text) / CHARS_PER_TOKEN)


def stream_once(
    client: Client, settings: Settings, request: Request
) -> tuple[Completion, Mapping[str, str]]:
    """One streamed completion and the response's headers, ``request.on_tokens`` told the
    chunks so far as they arrive. A stream that ends before the reply says it is finished, or
    that carries something other than JSON chunks, raises ``httpx2.RemoteProtocolError``."""
    started = time.monotonic()
    on_tokens = request.on_tokens
    stream = client.api().chat.completions.create(
        **request_arguments(settings, request.messages, request.fmt, request.max_tokens),
        stream=True,
        stream_options={"include_usage": True},
    )
    parts: list[str] = []
    finish: str | None = None
    prompt_tokens = completion_tokens = cached = 0
    prompt_ms = predicted_ms = 0.0
    try:
        with stream:
            for chunk in stream:
                for choice in chunk.choices:
                    if choice.delta and choice.delta.content:
                        parts.append(choice.delta.content)
                        if on_tokens:
                            on_tokens(len(parts))
                    if choice.finish_reason:
                        finish = choice.finish_reason
                if chunk.usage:
                    prompt_tokens = chunk.usage.prompt_tokens
                    completion_tokens = chunk.usage.completion_tokens
                    details = chunk.usage.prompt_tokens_details
                    cached = (details.cached_tokens or 0) if details else 0
                # llama-server adds its own ``timings`` (cumulative: the last one is the total).
                timings = (chunk.model_extra or {}).get("timings")
                if isinstance(timings, dict):
                    if "cache_n" in timings:
                        cached = int(timings["cache_n"])  # prompt tokens reused from its cache
                    prompt_ms = _milliseconds(timings.get("prompt_ms"), prompt_ms)
                    predicted_ms = _milliseconds(timings.get("predicted_ms"), predicted_ms)
    except (ValueError, AttributeError, TypeError) as exc:
        # Not SSE chunks of JSON (a gateway's page, a line cut mid-character): no reply at all.
        raise _not_a_reply(exc) from exc
    if finish is None:
        # A stream cut half-way ends like a whole one when the server frames it by closing the
        # connection; only the missing finish_reason tells. Its text must not be taken (and
        # cached) as the model's reply.
        raise httpx2.RemoteProtocolError(
            f"the stream ended before the reply did ({len(parts)} chunks, no finish_reason)"
        )
    usage = Usage(
        requests=1,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens or len(parts),
        cached_tokens=cached,
        seconds=round(time.monotonic() - started, 3),
        prompt_ms=round(prompt_ms, 3),
        predicted_ms=round(predicted_ms, 3),
    )
    return Completion("".join(parts), finish, usage), stream.response.headers


def _milliseconds(value: Any, default: float) -> float:
    """``value`` when it is a non-negative number, else ``default``."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    return default
