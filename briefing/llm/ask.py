"""``ask``: a reply that validates, re-asked with the errors appended when it does not (as in
instructor), answered from the reply cache when the same request was asked before. Usage is
counted across re-asks and transport retries."""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from ..config import Settings
from ..errors import InvalidReply, LLMError
from ..models import Usage
from ..schema import response_format
from ..store.state import CachedReply
from .attempt import Completion
from .client import (
    CacheMiss,
    Client,
    Message,
    PendingRequest,
    is_openai,
    request_arguments,
    request_key,
    server_identity,
)
from .transport import NoticeCallback, Request, TokenCallback, complete

T = TypeVar("T", bound=BaseModel)


@dataclass(frozen=True)
class Answer(Generic[T]):
    """A validated reply and what it cost."""

    value: T
    usage: Usage
    attempts: int


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

    ``on_tokens``, if given, is told the reply's tokens as they arrive: the reply is streamed
    for it, which costs the client CPU for every chunk; without it the reply comes in one body,
    except from the embedded model (``settings.use_local``), which always streams.

    ``cancel``, once set, stops transport retries.

    ``repair``, if given, gets the parsed JSON and returns it with deterministic fixes applied
    before validation (a fix costs nothing; a re-ask costs a whole reply).

    Raises :class:`InvalidReply` when every attempt failed, other :class:`LLMError` subclasses
    when the server does.
    """
    fmt = _response_format(reply_model, openai_strict=is_openai(settings))
    conversation = list(messages)
    total = Usage()
    problem = ""
    for attempt in range(1, settings.validation_attempts + 1):
        try:
            # Streamed for a caller that shows the tokens as they come (``on_tokens``), and always
            # from the embedded model: a reply there can take minutes on a slow CPU, and only a
            # stream keeps the request timeout between tokens instead of over the whole reply.
            request = Request(
                conversation,
                fmt,
                max_tokens,
                on_tokens,
                on_notice,
                cancel,
                stream=on_tokens is not None or settings.use_local,
            )
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


@functools.lru_cache(maxsize=64)
def _response_format(reply_model: type[BaseModel], *, openai_strict: bool) -> dict[str, Any]:
    # Made once a model: pydantic builds a JSON schema afresh on every call, which was a third
    # of the client's CPU a request. Shared by every request, so never changed after this.
    return response_format(reply_model, reply_model.__name__, openai_strict=openai_strict)


def describe_validation_error(exc: ValidationError) -> str:
    """Pydantic's errors as short lines a model can act on."""
    lines = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(p) for p in err["loc"]) or "reply"
        lines.append(f"- {where}: {err['msg']}")
    return "\n".join(lines[:12])


def _cached_complete(
    client: Client, settings: Settings, request: Request, purpose: str, attempt: int
) -> Completion:
    """The cached reply to this exact request, else a new one, kept as soon as it arrives."""
    if client.cache is None:
        return complete(client, settings, request)
    key = request_key(settings, request.messages, request.fmt, request.max_tokens, attempt)
    if client.reuse and (hit := client.cache.reply(key)) is not None:
        if request.on_tokens:
            request.on_tokens(hit.usage.completion_tokens)
        return Completion(hit.text, hit.finish_reason, Usage(cache_hits=1))
    if client.offline:
        arguments = request_arguments(settings, request.messages, request.fmt, request.max_tokens)
        raise CacheMiss(PendingRequest(key, purpose, arguments))
    done = complete(client, settings, request)
    client.cache.store_reply(
        key, purpose, settings.model, server_identity(settings),
        CachedReply(done.text, done.finish_reason, done.usage),
    )  # fmt: skip
    return done
