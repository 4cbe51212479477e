"""Structured requests to an OpenAI-compatible server. The only package that imports ``openai``.

Two loops, kept apart:

* transport faults (429 with Retry-After, 5xx, timeouts, dropped connections) are retried in
  ``transport`` with tenacity, exponential backoff and jitter; the client's own ``max_retries`` is
  0, so this is the only retry layer;
* a reply that is cut off, not JSON, or fails validation is *asked again* with the errors
  appended (``ask``), up to ``settings.validation_attempts`` answers in all.

Usage (requests, tokens, seconds) is counted across both loops.

In front of both sits the reply cache (``Client.cache``, the refresh state): a request asked
before, byte for byte, is answered from it and costs nothing. Replies are cached as the server
gave them (invalid ones too), so a rebuild replays the same re-asks and repairs and ends with the
same records.

Modules: ``client`` (the client, the cache key), ``transport`` (one completion, retried), ``ask``
(validation and re-asks), ``pacing`` (how many requests at a time: the adaptive limit shared by a
client's threads, the server's rate-limit headers, a tokens-per-minute budget).
"""

from .ask import Answer, ask, describe_validation_error
from .client import (
    CacheMiss,
    Client,
    Connect,
    Message,
    PendingRequest,
    ReplyCache,
    make_client,
    openai_client,
    request_key,
    server_identity,
)
from .pacing import Cancelled, Pacer
from .transport import NoticeCallback, TokenCallback

__all__ = [
    "Answer",
    "CacheMiss",
    "Cancelled",
    "Client",
    "Connect",
    "Message",
    "NoticeCallback",
    "Pacer",
    "PendingRequest",
    "ReplyCache",
    "TokenCallback",
    "ask",
    "describe_validation_error",
    "make_client",
    "openai_client",
    "request_key",
    "server_identity",
]
