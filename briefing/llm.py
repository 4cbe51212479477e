"""One structured request to an OpenAI-compatible server. The only module that imports ``openai``.

Two loops, kept apart:

* transport faults (429 with Retry-After, 5xx, timeouts, dropped connections) are retried here with
  tenacity, exponential backoff and jitter; the client's own ``max_retries`` is 0, so this is the
  only retry layer;
* a reply that is cut off, not JSON, or fails validation is *asked again* with the errors
  appended (``ask``), up to ``settings.validation_attempts`` answers in all.

Usage (requests, tokens, seconds) is counted across both loops.

In front of both sits the reply cache (``Client.cache``, the refresh state): a request asked
before, byte for byte, is answered from it and costs nothing. Replies are cached as the server
gave them (invalid ones too), so a rebuild replays the same re-asks and repairs and ends with the
same records.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar
from urllib.parse import urlparse

import httpx2
import openai
from pydantic import BaseModel, ValidationError
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_when_event_set,
    wait_exponential,
    wait_random,
)

from .config import Settings
from .errors import AuthenticationFailed, InvalidReply, LLMError, ServerUnreachable
from .models import Usage
from .schema import response_format
from .state import CachedReply

T = TypeVar("T", bound=BaseModel)
Message = dict[str, str]
# Called with the number of content chunks (about one token each) received so far.
TokenCallback = Callable[[int], None]
# Called with a one-line description of a retry about to happen.
NoticeCallback = Callable[[str], None]


@dataclass(frozen=True)
class Answer(Generic[T]):
    """A validated reply and what it cost."""

    value: T
    usage: Usage
    attempts: int


@dataclass(frozen=True)
class _Request:
    """One request of an ``ask``, and where its progress and notices go."""

    messages: Sequence[Message]
    fmt: dict[str, Any]
    max_tokens: int
    on_tokens: TokenCallback | None = None
    on_notice: NoticeCallback | None = None
    cancel: threading.Event | None = None


@dataclass(frozen=True)
class _Completion:
    text: str
    finish_reason: str | None
    usage: Usage


# Makes the openai client when the first request must really go out.
Connect = Callable[[], openai.OpenAI]


class CacheMiss(Exception):  # not an error: a signal to the caller
    """A cache-only client met a request it has no reply for."""


class ReplyCache(Protocol):
    """Where replies are kept between builds (``state.State``)."""

    def reply(self, key: str) -> CachedReply | None: ...

    def store_reply(
        self, key: str, purpose: str, model: str, server: str, reply: CachedReply
    ) -> None: ...


@dataclass
class Client:
    """The server's ``openai.OpenAI`` client, made on first use, and the reply cache before it.

    ``connect`` runs only when a request must really go out: a rebuild answered wholly from the
    cache never starts the embedded server. ``reuse=False`` (``--force``) asks every request
    again and keeps the new replies.
    """

    connect: Connect
    cache: ReplyCache | None = None
    reuse: bool = True
    _api: openai.OpenAI | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def api(self) -> openai.OpenAI:
        """The openai client, connecting on the first call."""
        with self._lock:
            if self._api is None:
                self._api = self.connect()
            return self._api

    @property
    def connected(self) -> bool:
        """Whether any request has needed the server."""
        return self._api is not None

    def cache_only(self) -> Client:
        """A client answering from the cache alone: a request it has no reply for raises
        :class:`CacheMiss` instead of going out."""
        return Client(connect=_cache_miss, cache=self.cache, reuse=True)


def _cache_miss() -> openai.OpenAI:
    raise CacheMiss


def make_client(
    settings: Settings,
    cache: ReplyCache | None = None,
    *,
    reuse: bool = True,
    connect: Connect | None = None,
) -> Client:
    """A client for the settings' server, the SDK's own retries off (``connect`` overrides how
    the openai client is made, e.g. after starting the embedded server)."""
    return Client(connect=connect or (lambda: openai_client(settings)), cache=cache, reuse=reuse)


def openai_client(settings: Settings, base_url: str | None = None) -> openai.OpenAI:
    """An ``openai.OpenAI`` client for ``base_url`` (default: the settings'), no SDK retries."""
    return openai.OpenAI(
        api_key=settings.api_key or "not-needed",
        base_url=base_url or settings.base_url,
        timeout=settings.request_timeout,
        max_retries=0,
    )


def server_identity(settings: Settings) -> str:
    """What the cache keys a reply by besides the request: "embedded" for the embedded model
    (its port changes every run, its weights are named in the model), else the server's host."""
    if settings.use_local:
        return "embedded"
    return urlparse(settings.base_url or "https://api.openai.com").netloc


def request_key(
    settings: Settings,
    messages: Sequence[Message],
    fmt: dict[str, Any],
    max_tokens: int,
    attempt: int = 1,
) -> str:
    """A hash of everything that decides a reply: server, model, messages, schema, sampling,
    and which answer of its ``ask`` this is (a re-ask can repeat a conversation word for word;
    its reply is kept apart, so a rebuild replays each answer as it came)."""
    request = {
        "attempt": attempt,
        "server": server_identity(settings),
        "model": settings.model,
        "messages": list(messages),
        "response_format": fmt,
        "max_tokens": max_tokens,
        "temperature": settings.temperature,
        "seed": 0,
        "extra_body": dict(settings.extra_body),
    }
    blob = json.dumps(request, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def ask(
    client: Client,
    settings: Settings,
    messages: Sequence[Message],
    reply_model: type[T],
    *,
    reask: Callable[[str], str],
    context: dict[str, Any] | None = None,
    repair: Callable[[Any], Any] | None = None,
    max_tokens: int = 1500,
    on_tokens: TokenCallback | None = None,
    on_notice: NoticeCallback | None = None,
    cancel: threading.Event | None = None,
    purpose: str = "",
) -> Answer[T]:
    """Get a reply that validates as ``reply_model``; re-ask with the errors (``reask(errors)``).

    ``purpose`` labels the cached replies ("extract <source id>", "merge", "key developments").

    ``cancel``, once set, stops transport retries.

    ``repair``, if given, gets the parsed JSON and returns it with deterministic fixes applied
    before validation (a fix costs nothing; a re-ask costs a whole reply).

    Raises :class:`InvalidReply` when every attempt failed, other :class:`LLMError` subclasses
    when the server does.
    """
    fmt = response_format(reply_model, reply_model.__name__, openai_strict=_is_openai(settings))
    conversation = list(messages)
    total = Usage()
    problem = ""
    for attempt in range(1, settings.validation_attempts + 1):
        try:
            request = _Request(conversation, fmt, max_tokens, on_tokens, on_notice, cancel)
            done = _cached_complete(client, settings, request, purpose, attempt)
        except LLMError as exc:
            exc.usage = total + (exc.usage or Usage())  # earlier answers were paid for too
            raise
        total = total + done.usage
        if done.finish_reason == "length":
            problem = (
                f"- reply: cut off after {max_tokens} tokens; give fewer items and shorter texts"
            )
        else:
            try:
                if repair is None:
                    value = reply_model.model_validate_json(done.text, context=context)
                else:
                    data = repair(json.loads(done.text))
                    value = reply_model.model_validate(data, context=context)
                return Answer(value=value, usage=total, attempts=attempt)
            except ValidationError as exc:
                problem = describe_validation_error(exc)
            except ValueError as exc:  # not JSON at all
                problem = f"- reply: not valid JSON ({exc})"
        if on_notice and attempt < settings.validation_attempts:
            on_notice(f"invalid reply (attempt {attempt}), asking again: {problem[:120]}")
        # A cut-off reply is not shown back: it would fill the context and invite the same loop.
        shown = "(cut off)" if done.finish_reason == "length" else done.text
        conversation = [
            *messages,
            {"role": "assistant", "content": shown},
            {"role": "user", "content": reask(problem)},
        ]
    raise InvalidReply(
        f"no valid reply after {settings.validation_attempts} attempts: {problem}",
        total,
        last_reply=done.text,
    )


def describe_validation_error(exc: ValidationError) -> str:
    """Pydantic's errors as short lines a model can act on."""
    lines = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(p) for p in err["loc"]) or "reply"
        lines.append(f"- {where}: {err['msg']}")
    return "\n".join(lines[:12])


# --- transport ----------------------------------------------------------------------------------


def _cached_complete(
    client: Client, settings: Settings, request: _Request, purpose: str, attempt: int
) -> _Completion:
    """The cached reply to this exact request, else a new one, kept as soon as it arrives."""
    if client.cache is None:
        return _complete(client, settings, request)
    key = request_key(settings, request.messages, request.fmt, request.max_tokens, attempt)
    if client.reuse and (hit := client.cache.reply(key)) is not None:
        if request.on_tokens:
            request.on_tokens(hit.usage.completion_tokens)
        return _Completion(hit.text, hit.finish_reason, Usage(cache_hits=1))
    done = _complete(client, settings, request)
    client.cache.store_reply(
        key, purpose, settings.model, server_identity(settings),
        CachedReply(done.text, done.finish_reason, done.usage),
    )  # fmt: skip
    return done


def _complete(client: Client, settings: Settings, request: _Request) -> _Completion:
    """One completion, streamed, with transport faults retried."""
    on_notice, cancel = request.on_notice, request.cancel
    attempts = 0

    def once() -> _Completion:
        nonlocal attempts
        attempts += 1
        return _stream_once(client, settings, request)

    def before_sleep(state: RetryCallState) -> None:
        if on_notice and state.outcome is not None:
            exc = state.outcome.exception()
            wait = state.next_action.sleep if state.next_action else 0.0
            on_notice(f"{_describe(exc)}; retrying in {wait:.1f}s")

    stop = stop_after_attempt(settings.transport_attempts)
    retrying = Retrying(
        retry=retry_if_exception(_is_transient),
        # A cancelled build (Ctrl-C, a dead server) stops retrying and wakes from its backoff.
        stop=stop | stop_when_event_set(cancel) if cancel else stop,
        sleep=_sleeper(cancel),
        wait=_wait_strategy(settings),
        before_sleep=before_sleep,
        reraise=True,
    )
    started = time.monotonic()
    try:
        done = retrying(once)
    except openai.AuthenticationError as exc:
        raise AuthenticationFailed(
            f"the server rejected the API key ({_describe(exc)})", Usage(requests=attempts)
        ) from exc
    except (openai.APIConnectionError, httpx2.TransportError) as exc:
        raise ServerUnreachable(
            f"no answer from {settings.base_url or 'the OpenAI API'} after {attempts} tries "
            f"({_describe(exc)})",
            Usage(requests=attempts),
        ) from exc
    except openai.APIStatusError as exc:
        raise LLMError(
            f"the server refused the request: {_describe(exc)}", Usage(requests=attempts)
        ) from exc
    # Failed tries were paid for in time and requests, not tokens (the server sent none back).
    return _Completion(
        done.text,
        done.finish_reason,
        done.usage
        + Usage(requests=attempts - 1, seconds=time.monotonic() - started - done.usage.seconds),
    )


def _stream_once(client: Client, settings: Settings, request: _Request) -> _Completion:
    started = time.monotonic()
    on_tokens = request.on_tokens
    stream = client.api().chat.completions.create(  # type: ignore[call-overload]
        model=settings.model,
        messages=list(request.messages),
        response_format=request.fmt,
        max_tokens=request.max_tokens,
        temperature=settings.temperature,
        seed=0,
        stream=True,
        stream_options={"include_usage": True},
        extra_body=dict(settings.extra_body) or None,
    )
    parts: list[str] = []
    finish: str | None = None
    prompt_tokens = completion_tokens = cached = 0
    prompt_ms = predicted_ms = 0.0
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
            # llama-server adds its own ``timings`` (cumulative: the last one seen is the total).
            timings = (chunk.model_extra or {}).get("timings")
            if isinstance(timings, dict):
                if "cache_n" in timings:
                    cached = int(timings["cache_n"])  # prompt tokens reused from its cache
                prompt_ms = _milliseconds(timings.get("prompt_ms"), prompt_ms)
                predicted_ms = _milliseconds(timings.get("predicted_ms"), predicted_ms)
    usage = Usage(
        requests=1,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens or len(parts),
        cached_tokens=cached,
        seconds=round(time.monotonic() - started, 3),
        prompt_ms=round(prompt_ms, 3),
        predicted_ms=round(predicted_ms, 3),
    )
    return _Completion("".join(parts), finish, usage)


def _milliseconds(value: Any, default: float) -> float:
    """``value`` when it is a non-negative number, else ``default``."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    return default


def _sleeper(cancel: threading.Event | None) -> Callable[[float], None]:
    def sleep(seconds: float) -> None:
        if cancel is None:
            time.sleep(seconds)
        else:
            cancel.wait(seconds)

    return sleep


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in (408, 409, 429) or exc.status_code >= 500
    return isinstance(exc, openai.APIConnectionError | httpx2.TransportError)


def _wait_strategy(settings: Settings) -> Callable[[RetryCallState], float]:
    # Exponential backoff with jitter, so parallel requests that failed together spread out.
    backoff = wait_exponential(
        multiplier=settings.retry_initial_wait, max=settings.max_retry_wait
    ) + wait_random(0, settings.retry_initial_wait)

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        hint = _retry_after(exc)
        if hint is not None:
            return min(hint, settings.max_retry_wait)
        return float(backoff(state))

    return wait


def _retry_after(exc: BaseException | None) -> float | None:
    """Seconds the server asked us to wait (``Retry-After`` / ``retry-after-ms``), if any."""
    if not isinstance(exc, openai.APIStatusError):
        return None
    headers = exc.response.headers
    try:
        if "retry-after-ms" in headers:
            return float(headers["retry-after-ms"]) / 1000
        if "retry-after" in headers:
            return float(headers["retry-after"])
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff
    return None


def _describe(exc: BaseException | None) -> str:
    if isinstance(exc, openai.APIStatusError):
        message = exc.message
        return f"HTTP {exc.status_code}: {message}"[:200]
    if isinstance(exc, openai.APITimeoutError):
        return "request timed out"
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__
        return f"connection failed: {cause or exc}"[:200]
    return f"{type(exc).__name__}: {exc}"[:200]


def _is_openai(settings: Settings) -> bool:
    return not settings.use_local and (
        settings.base_url is None or "api.openai.com" in settings.base_url
    )
