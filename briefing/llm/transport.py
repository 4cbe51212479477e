"""One completion over HTTP with transport faults retried (tenacity): 429 honouring
``Retry-After``, 5xx, timeouts, dropped connections, replies cut short or not replies at all.
The client's own ``max_retries`` is 0, so this is the only retry layer. Each attempt
(``attempt.py``: streamed or one JSON body) waits for its turn from the client's ``Pacer``
(``pacing.py``: how many requests at a time) and tells it how it went."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

import httpx2
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_when_event_set,
    wait_exponential,
    wait_random,
)

from ..config import Settings
from ..errors import AuthenticationFailed, LLMError, ServerUnreachable
from ..models import Usage
from .attempt import Completion, send_once

# Re-exported: a request and its hooks are what callers hand to ``complete``.
from .attempt import NoticeCallback as NoticeCallback
from .attempt import Request as Request
from .attempt import TokenCallback as TokenCallback
from .client import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    Client,
)
from .pacing import Cancelled, Pacer, Permit

R = TypeVar("R")


def complete(client: Client, settings: Settings, request: Request) -> Completion:
    """One completion (streamed if ``request.stream``), transport faults retried, each
    attempt paced."""
    on_notice, cancel = request.on_notice, request.cancel
    attempts = 0
    prompt_chars = sum(len(m.get("content") or "") for m in request.messages)

    def once() -> Completion:
        nonlocal attempts
        pacer = client.pacer
        if pacer is None:
            attempts += 1
            return send_once(client, settings, request)[0]
        permit = pacer.acquire(prompt_chars, request.max_tokens, cancel)
        attempts += 1
        return _paced_once(client, settings, request, pacer, permit)

    def before_sleep(state: RetryCallState) -> None:
        if on_notice and state.outcome is not None:
            exc = state.outcome.exception()
            wait = state.next_action.sleep if state.next_action else 0.0
            on_notice(f"{_describe(exc)}; retrying in {wait:.1f}s")

    stop = stop_after_attempt(settings.transport_attempts)
    retrying = Retrying(
        retry=retry_if_exception(is_transient),
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
    except Cancelled as exc:
        exc.usage = Usage(requests=attempts)
        raise
    except AuthenticationError as exc:
        raise AuthenticationFailed(
            f"the server rejected the API key ({_describe(exc)})", Usage(requests=attempts)
        ) from exc
    except (APIConnectionError, httpx2.TransportError) as exc:
        raise ServerUnreachable(
            f"no answer from {settings.base_url or 'the OpenAI API'} after {attempts} tries "
            f"({_describe(exc)})",
            Usage(requests=attempts),
        ) from exc
    except APIStatusError as exc:
        raise LLMError(
            f"the server refused the request: {_describe(exc)}", Usage(requests=attempts)
        ) from exc
    # Failed tries were paid for in time and requests, not tokens (the server sent none back).
    return Completion(
        done.text,
        done.finish_reason,
        done.usage
        + Usage(requests=attempts - 1, seconds=time.monotonic() - started - done.usage.seconds),
    )


def _paced_once(
    client: Client, settings: Settings, request: Request, pacer: Pacer, permit: Permit
) -> Completion:
    """One attempt under ``permit``: the pacer learns how it went (a 429 cuts the limit, the
    ``x-ratelimit-*`` headers pause it, the real usage corrects the token charge)."""
    notice: str | None
    try:
        done, headers = send_once(client, settings, request)
    except APIStatusError as exc:
        notice = pacer.failed(
            permit,
            status=exc.status_code,
            retry_after=_retry_after(exc),
            headers=exc.response.headers,
        )
        _tell(request, notice)
        raise
    except BaseException:
        pacer.failed(permit)  # a dropped or cut connection: the tokens may have been read
        raise
    notice = pacer.succeeded(
        permit,
        prompt_tokens=done.usage.prompt_tokens,
        completion_tokens=done.usage.completion_tokens,
        headers=headers,
    )
    _tell(request, notice)
    return done


def _tell(request: Request, notice: str | None) -> None:
    if notice and request.on_notice:
        request.on_notice(notice)


def _sleeper(cancel: threading.Event | None) -> Callable[[float], None]:
    def sleep(seconds: float) -> None:
        if cancel is None:
            time.sleep(seconds)
        else:
            cancel.wait(seconds)

    return sleep


def call_retried(what: str, call: Callable[[], R]) -> R:
    """One API call other than a completion (the Batch API's files and batches): transport
    faults retried by the same test as completions, a refusal one ``LLMError`` line naming
    ``what``."""
    retrying = Retrying(
        retry=retry_if_exception(is_transient),
        stop=stop_after_attempt(5),
        wait=wait_exponential(multiplier=0.5, max=10),
        reraise=True,
    )
    try:
        return retrying(call)
    except APIStatusError as exc:
        raise LLMError(f"{what} refused: HTTP {exc.status_code}: {exc.message}") from exc
    except (APIConnectionError, httpx2.TransportError) as exc:
        raise LLMError(f"{what} did not answer: {exc}") from exc


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, APIStatusError):
        return exc.status_code in (408, 409, 429) or exc.status_code >= 500
    return isinstance(exc, APIConnectionError | httpx2.TransportError)


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
    if not isinstance(exc, APIStatusError):
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
    if isinstance(exc, APIStatusError):
        message = exc.message
        return f"HTTP {exc.status_code}: {message}"[:200]
    if isinstance(exc, APITimeoutError):
        return "request timed out"
    if isinstance(exc, APIConnectionError):
        cause = exc.__cause__
        return f"connection failed: {cause or exc}"[:200]
    if isinstance(exc, httpx2.RemoteProtocolError):
        return str(exc)[:200]  # says what broke: a stream cut, something that was not a reply
    return f"{type(exc).__name__}: {exc}"[:200]
