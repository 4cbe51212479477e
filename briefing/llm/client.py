"""The client: the server's ``openai.OpenAI`` made on first use, with the reply cache before it,
and the key a request is cached by."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import openai

from ..config import Settings
from ..config import server_identity as server_identity  # re-exported: part of the cache key
from ..store.state import CachedReply
from .pacing import Pacer

Message = dict[str, str]

# The SDK's errors transport.py tells apart, named here so that this module is the only one
# that imports openai (the design's rule: one place knows the SDK).
AuthenticationError = openai.AuthenticationError
APIConnectionError = openai.APIConnectionError
APIStatusError = openai.APIStatusError
APITimeoutError = openai.APITimeoutError

# Makes the openai client when the first request must really go out.
Connect = Callable[[], openai.OpenAI]


@dataclass(frozen=True)
class PendingRequest:
    """A request the cache has no reply for, as it would go out: its cache key, what it is for,
    and its ``chat.completions.create`` arguments (``transport.request_arguments``)."""

    key: str
    purpose: str
    arguments: dict[str, Any]


class CacheMiss(Exception):  # not an error: a signal to the caller
    """A cache-only client met a request it has no reply for (``pending``: that request)."""

    def __init__(self, pending: PendingRequest | None = None) -> None:
        super().__init__(pending.purpose if pending else "")
        self.pending = pending


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
    offline: bool = False  # cache only: a miss raises CacheMiss with the request (batch planning)
    # Shared by every thread that sends through this client: the adaptive in-flight limit.
    pacer: Pacer | None = None
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
        return Client(connect=_cache_miss, cache=self.cache, reuse=True, offline=True)


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
    pacer = Pacer(settings.concurrency, settings.tpm, max_pause=settings.max_retry_wait)
    return Client(
        connect=connect or (lambda: openai_client(settings)), cache=cache, reuse=reuse, pacer=pacer
    )


def openai_client(settings: Settings, base_url: str | None = None) -> openai.OpenAI:
    """An ``openai.OpenAI`` client for ``base_url`` (default: the settings'), no SDK retries."""
    return openai.OpenAI(
        api_key=settings.api_key or "not-needed",
        base_url=base_url or settings.base_url,
        timeout=settings.request_timeout,
        max_retries=0,
    )


def request_arguments(
    settings: Settings, messages: Sequence[Message], fmt: dict[str, Any], max_tokens: int
) -> dict[str, Any]:
    """The ``chat.completions.create`` arguments of a request, streaming aside: one place, so a
    live request, its Batch API line (``batch_api.request_line``) and its cache key
    (``request_key``) describe the same request."""
    return {
        "model": settings.model,
        "messages": list(messages),
        "response_format": fmt,
        "max_tokens": max_tokens,
        "temperature": settings.temperature,
        "seed": 0,
        "extra_body": dict(settings.extra_body) or None,
    }


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
        **request_arguments(settings, messages, fmt, max_tokens),
        "extra_body": dict(settings.extra_body),  # {} rather than the SDK's None: keys kept
        "attempt": attempt,
        "server": server_identity(settings),
    }
    blob = json.dumps(request, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def is_openai(settings: Settings) -> bool:
    """Whether requests go to OpenAI itself (its strict JSON-schema mode applies)."""
    return not settings.use_local and (
        settings.base_url is None or "api.openai.com" in settings.base_url
    )
