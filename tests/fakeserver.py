"""A scriptable fake OpenAI-compatible HTTP server for tests.

Tests drive the real ``openai`` client against this server, so the whole HTTP path
(status codes, headers, SSE streaming, dropped connections, timeouts) is exercised::

    with FakeOpenAI() as fake:
        fake.push(Reply.json({"answer": 42}, usage=(12, 3)))
        client = openai.OpenAI(base_url=fake.base_url, api_key="test", max_retries=0)
        resp = client.chat.completions.create(model="m", messages=[...])
        assert fake.requests[0]["model"] == "m"

Replies are taken from a FIFO queue (``push``); when the queue is empty a responder
function (``respond_with``) is asked; when neither is available the server answers
500 "fake server: no scripted reply" so the test fails loudly.

Endpoints: ``POST /v1/chat/completions``, ``GET /v1/models``, ``GET /health``, and a Batch
API (``/v1/files``, ``/v1/batches``: ``fakebatch.py``, reached as ``fake.batches``).
Standard library only.
"""

from __future__ import annotations

import itertools
import json
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from fakebatch import FakeBatches

MODEL_ID = "fake-model"
STREAM_PIECE_CHARS = 8  # streamed content is split into pieces of this many characters

_ids = itertools.count(1)


@dataclass(frozen=True)
class Reply:
    """What the server does for one chat-completions request.

    Build one with ``Reply.json``, ``Reply.text``, ``Reply.status`` or ``Reply.drop``;
    ``.after(seconds)`` returns a copy that sleeps first; ``.with_headers(...)`` one that sends
    those headers too (a completion's ``x-ratelimit-*``).
    """

    kind: str  # "completion", "status" or "drop"
    content: str = ""
    finish_reason: str = "stop"
    usage: tuple[int, int] | None = (10, 5)
    cached_tokens: int | None = None
    timings: dict[str, Any] | None = None  # llama-server's extra ``timings`` object
    status_code: int = 200
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0

    @staticmethod
    def json(
        obj: Any,
        *,
        usage: tuple[int, int] | None = (10, 5),
        finish_reason: str = "stop",
        cached_tokens: int | None = None,
        timings: dict[str, Any] | None = None,
    ) -> Reply:
        """A chat completion whose ``message.content`` is ``json.dumps(obj)``.

        ``usage`` is ``(prompt_tokens, completion_tokens)``, or None to omit usage;
        ``cached_tokens`` adds ``usage.prompt_tokens_details.cached_tokens``; ``timings`` is
        sent on the last chunk of a stream, or in the reply's body, as llama-server does.
        """
        return Reply.text(
            json.dumps(obj),
            usage=usage,
            finish_reason=finish_reason,
            cached_tokens=cached_tokens,
            timings=timings,
        )

    @staticmethod
    def text(
        content: str,
        *,
        finish_reason: str = "stop",
        usage: tuple[int, int] | None = (10, 5),
        cached_tokens: int | None = None,
        timings: dict[str, Any] | None = None,
    ) -> Reply:
        """A chat completion with ``content`` exactly as given (any text, truncated JSON...)."""
        return Reply(
            kind="completion",
            content=content,
            finish_reason=finish_reason,
            usage=usage,
            cached_tokens=cached_tokens,
            timings=timings,
        )

    @staticmethod
    def status(
        code: int, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None
    ) -> Reply:
        """An HTTP error (or any status) with a JSON body.

        Without ``body`` an OpenAI-style ``{"error": {...}}`` body is made up.
        ``headers`` are sent as given, e.g. ``{"Retry-After": "1"}``.
        """
        if body is None:
            body = _error_body(f"fake server: HTTP {code}", code=str(code))
        return Reply(kind="status", status_code=code, body=body, headers=dict(headers or {}))

    @staticmethod
    def drop() -> Reply:
        """Close the connection without sending any response."""
        return Reply(kind="drop")

    def after(self, seconds: float) -> Reply:
        """The same reply, sent only after sleeping ``seconds`` (for client timeouts)."""
        return replace(self, delay=seconds)

    def with_headers(self, **headers: str) -> Reply:
        """The same reply with these response headers added (``_`` in a name becomes ``-``)."""
        named = {name.replace("_", "-"): value for name, value in headers.items()}
        return replace(self, headers={**self.headers, **named})


def _error_body(
    message: str, *, type_: str = "fake_error", code: str | None = None
) -> dict[str, Any]:
    """An OpenAI-style error body."""
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


def _usage(reply: Reply) -> dict[str, Any] | None:
    """The ``usage`` object for a completion reply, or None if the reply has none."""
    if reply.usage is None:
        return None
    prompt, completion = reply.usage
    usage: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if reply.cached_tokens is not None:
        usage["prompt_tokens_details"] = {"cached_tokens": reply.cached_tokens}
    return usage


def completion_object(body: dict[str, Any], reply: Reply) -> dict[str, Any]:
    """A ``chat.completion`` object for a completion reply (a live one, or a batch result's)."""
    result: dict[str, Any] = {
        "id": f"chatcmpl-fake-{next(_ids)}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", MODEL_ID),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply.content},
                "finish_reason": reply.finish_reason,
                "logprobs": None,
            }
        ],
    }
    usage = _usage(reply)
    if usage is not None:
        result["usage"] = usage
    if reply.timings is not None:
        result["timings"] = reply.timings  # llama-server sends them in a whole reply too
    return result


class FakeOpenAI:
    """A fake OpenAI-compatible server running in a daemon thread on 127.0.0.1.

    It starts listening on a free port as soon as it is created. Use it as a
    context manager or call ``close()``.
    """

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []  # chat-completions bodies, in arrival order
        self._queue: deque[Reply] = deque()
        self._responder: Callable[[dict[str, Any]], Reply] | None = None
        self._lock = threading.Lock()
        self.batches = FakeBatches(self)
        self._stop = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        port = self._server.server_address[1]
        self.base_url = f"http://127.0.0.1:{port}/v1"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-openai-{port}",
            daemon=True,
        )
        self._thread.start()

    def push(self, *replies: Reply) -> None:
        """Queue replies; each chat-completions request takes the oldest one."""
        with self._lock:
            self._queue.extend(replies)

    def respond_with(self, fn: Callable[[dict[str, Any]], Reply] | None) -> None:
        """Answer with ``fn(request_body)`` whenever the queue is empty (None to unset).

        ``fn`` may be called from several server threads at once.
        """
        self._responder = fn

    def close(self) -> None:
        """Stop serving; replies still sleeping are abandoned (the connection is dropped)."""
        if self._stop.is_set():
            return
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=2)

    def __enter__(self) -> FakeOpenAI:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _next_reply(self, body: dict[str, Any]) -> Reply:
        """Record the request and pick its reply (queue, then responder, then a loud 500)."""
        with self._lock:
            self.requests.append(body)
            if self._queue:
                return self._queue.popleft()
        responder = self._responder
        if responder is None:
            return Reply.status(500, _error_body("fake server: no scripted reply"))
        try:
            return responder(body)
        except Exception as exc:
            return Reply.status(500, _error_body(f"fake server: responder raised {exc!r}"))


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer that knows its FakeOpenAI and ignores clients hanging up."""

    daemon_threads = True
    fake: FakeOpenAI

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out or closed early is normal in these tests.
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    """Handles one connection; every response closes the connection."""

    server: _Server
    protocol_version = "HTTP/1.1"
    timeout = 5  # seconds to wait for a slow or silent client

    def log_message(self, format: str, *args: Any) -> None:
        """Log nothing."""

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path in ("/v1/models", "/models"):
            model = {"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "fake"}
            self._send_json(200, {"object": "list", "data": [model]})
        elif path == "/health":
            self._send_json(200, {"status": "ok"})
        elif path.startswith(("/v1/files", "/v1/batches")):
            self._send_any(*self.server.fake.batches.get(path))
        else:
            self._not_found()

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0]
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if path.startswith(("/v1/files", "/v1/batches")):
            content_type = self.headers.get("Content-Type", "")
            self._send_any(*self.server.fake.batches.post(path, content_type, raw))
            return
        if path not in ("/v1/chat/completions", "/chat/completions"):
            self._not_found()
            return
        try:
            body = json.loads(raw)
        except ValueError as exc:
            msg = f"fake server: request body is not JSON: {exc}"
            self._send_json(400, _error_body(msg, type_="invalid_request_error"))
            return
        fake = self.server.fake
        reply = fake._next_reply(body)
        if reply.delay and fake._stop.wait(reply.delay):
            reply = Reply.drop()  # closing: abandon the slow reply
        if reply.kind == "drop":
            self.close_connection = True
        elif reply.kind == "status":
            self._send_json(reply.status_code, reply.body or {}, reply.headers)
        elif body.get("stream"):
            self._send_stream(body, reply)
        else:
            self._send_json(200, completion_object(body, reply), reply.headers)

    def _not_found(self) -> None:
        msg = f"fake server: unknown path {self.command} {self.path}"
        self._send_json(404, _error_body(msg, type_="invalid_request_error", code="not_found"))

    def _send_json(self, code: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        self.close_connection = True

    def _send_any(self, code: int, obj: Any) -> None:
        """A JSON object, or raw bytes (a file's content)."""
        if not isinstance(obj, bytes):
            self._send_json(code, obj)
            return
        self.send_response(code)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(obj)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(obj)
        self.close_connection = True

    def _send_stream(self, body: dict[str, Any], reply: Reply) -> None:
        """Send a completion reply as Server-Sent Events, the way OpenAI streams."""
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        base = {
            "id": f"chatcmpl-fake-{next(_ids)}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body.get("model", MODEL_ID),
        }
        if include_usage:
            base["usage"] = None  # OpenAI sends usage: null on every chunk but the last

        def choice(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
            return {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}

        content = reply.content
        pieces = [
            content[i : i + STREAM_PIECE_CHARS] for i in range(0, len(content), STREAM_PIECE_CHARS)
        ]
        chunks = [{**base, "choices": [choice({"role": "assistant", "content": ""})]}]
        chunks += [{**base, "choices": [choice({"content": piece})]} for piece in pieces]
        chunks.append({**base, "choices": [choice({}, reply.finish_reason)]})
        usage = _usage(reply)
        if include_usage and usage is not None:
            chunks.append({**base, "choices": [], "usage": usage})
        if reply.timings is not None:
            chunks[-1] = {**chunks[-1], "timings": reply.timings}

        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        for name, value in reply.headers.items():  # x-ratelimit-* on a reply that went through
            self.send_header(name, value)
        self.end_headers()
        for chunk in chunks:
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()
        self.wfile.write(b"data: [DONE]\n\n")
        self.close_connection = True
