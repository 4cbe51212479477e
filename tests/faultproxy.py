"""A fault-injecting TCP proxy for tests: it sits in front of an HTTP server (``FakeOpenAI``) and
spoils a share of the chat-completions requests the way real servers and networks do::

    with FakeOpenAI() as fake, FaultProxy(fake.base_url, rate=0.3, seed=7) as proxy:
        client = openai.OpenAI(base_url=proxy.base_url, api_key="test", max_retries=0)
        ...
        assert proxy.injected["cut"] > 0

Whether a request is spoiled is drawn from an RNG seeded with the seed, the request body and how
many times that body came before: a retry of the same request gets a new draw, and the draws do
not depend on the order threads happen to send in. Which fault it gets is dealt from a shuffled
deck of every kind (refilled when empty), so each kind turns up once in every ``len(kinds)``
faults however few there are.

Faults (``KINDS``):

* ``429``: Too Many Requests with ``Retry-After``, ``retry-after-ms`` and ``x-ratelimit-*``
  headers, as OpenAI sends them;
* ``500``, ``503``: an OpenAI-style error body;
* ``reset``: the connection is reset (RST) once the request is read;
* ``hang``: nothing is sent for ``hang_seconds`` (longer than the client's timeout);
* ``stall``: half the reply's stream is sent, then nothing for ``hang_seconds``;
* ``cut``: half the reply's stream is sent and the connection closed, as a dropped proxy does
  (the fake server frames a stream by closing, so this looks like a whole reply to HTTP; a
  reply in one body has its Content-Length, so HTTP sees it end early);
* ``not_json``: a well-formed 200 stream, or completion in one body, whose message content is
  prose, not JSON;
* ``garbage``: a 200 whose body is not a reply at all: an HTML page from a gateway, or (by the
  request body) SSE ``data:`` lines that are not JSON for a streamed request, a completion's
  JSON cut in half but sent as a whole body (its Content-Length that of the half) for one that
  is not.

Whether a request was streamed is read from its body (``"stream": true``).

Other requests (``GET /v1/models`` ...) pass through untouched. Standard library only.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
import socket
import socketserver
import struct
import threading
from collections import Counter
from typing import Any
from urllib.parse import urlparse

KINDS = ("429", "500", "503", "reset", "hang", "stall", "cut", "not_json", "garbage")
NOT_JSON_TEXT = "I'm sorry, but I can't provide that in JSON."
GATEWAY_PAGE = b"<html><body><h1>502 Bad Gateway</h1></body></html>\n"
_REASONS = {200: "OK", 429: "Too Many Requests", 500: "Internal Server Error", 503: "Unavailable"}


class FaultProxy:
    """A proxy on 127.0.0.1 in front of ``upstream`` (a base URL such as ``FakeOpenAI.base_url``)
    spoiling about ``rate`` of the chat-completions requests. Use as a context manager."""

    def __init__(
        self,
        upstream: str,
        *,
        rate: float = 0.3,
        seed: int = 0,
        kinds: tuple[str, ...] = KINDS,
        hang_seconds: float = 5.0,
        max_faults: int | None = None,
    ) -> None:
        parsed = urlparse(upstream)
        self.upstream = (parsed.hostname or "127.0.0.1", parsed.port or 80)
        self.rate, self.seed, self.kinds, self.hang_seconds = rate, seed, kinds, hang_seconds
        self.max_faults = max_faults  # None: no end; 1 with rate 1.0: spoil the first request only
        self.injected: Counter[str] = Counter()  # fault kind → how many times
        self.garbled: Counter[str] = Counter()  # the shapes of ``garbage``: page, sse, half
        self.passed = 0  # chat-completions requests forwarded untouched
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._seen: Counter[str] = Counter()
        self._deck: list[str] = []
        self._deal = random.Random(seed)
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.proxy = self
        port = self._server.server_address[1]
        self.base_url = f"http://127.0.0.1:{port}{parsed.path}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def decide(self, body: bytes) -> str | None:
        """The fault for this request body, or None to pass it through."""
        digest = hashlib.sha256(body).hexdigest()
        with self._lock:
            n = self._seen[digest]
            self._seen[digest] += 1
            spent = self.max_faults is not None and self.injected.total() >= self.max_faults
            if spent or random.Random(f"{self.seed}:{digest}:{n}").random() >= self.rate:
                self.passed += 1
                return None
            if not self._deck:
                self._deck = list(self.kinds)
                self._deal.shuffle(self._deck)
            kind = self._deck.pop()
            self.injected[kind] += 1
            return kind

    def close(self) -> None:
        """Stop serving; hanging connections are closed at once."""
        if self.stop.is_set():
            return
        self.stop.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=2)

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    proxy: FaultProxy

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that timed out and hung up is what these tests are about: stay quiet."""


class _Handler(socketserver.BaseRequestHandler):
    """One connection: one request, one (maybe spoiled) response, then close."""

    server: _Server
    request: socket.socket

    def handle(self) -> None:
        self.request.settimeout(10)
        try:
            head, body = _read_request(self.request)
        except (OSError, ValueError):
            return
        proxy = self.server.proxy
        request_line = head.split(b"\r\n", 1)[0]
        kind = proxy.decide(body) if b"/chat/completions" in request_line else None
        if kind in ("429", "500", "503"):
            self._send(_status_response(int(kind)))
        elif kind == "reset":
            # SO_LINGER 0: close with RST rather than FIN, as a crashed peer does.
            self.request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.request.close()
        elif kind == "hang":
            proxy.stop.wait(proxy.hang_seconds)
        elif kind == "not_json":
            reply = _stream_response if _streamed(body) else _json_response
            self._send(reply(NOT_JSON_TEXT))
        elif kind == "garbage":
            # Both shapes, by the body: a gateway's page, or a reply's shape with no reply in it.
            if len(body) % 2 == 0:
                shape, response = "page", _response(200, GATEWAY_PAGE, "text/html")
            elif _streamed(body):
                data = b"data: " + GATEWAY_PAGE + b"\n"
                shape, response = "sse", _response(200, data, "text/event-stream")
            else:
                whole = _completion_body(json.dumps({"events": []}))
                shape, response = (
                    "half",
                    _response(200, whole[: len(whole) // 2], "application/json"),
                )
            with proxy._lock:
                proxy.garbled[shape] += 1
            self._send(response)
        else:
            response = _forward(proxy.upstream, head + body)
            if kind in ("cut", "stall"):
                end = response.find(b"\r\n\r\n") + 4
                response = response[: end + (len(response) - end) // 2]
            self._send(response)
            if kind == "stall":
                proxy.stop.wait(proxy.hang_seconds)

    def _send(self, data: bytes) -> None:
        with contextlib.suppress(OSError):  # the client gave up first
            self.request.sendall(data)


def _read_request(sock: socket.socket) -> tuple[bytes, bytes]:
    """The request's head (through the blank line) and its body (by Content-Length)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ValueError("connection closed before the request was whole")
        data += chunk
    end = data.index(b"\r\n\r\n") + 4
    head, body = data[:end], data[end:]
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ValueError("connection closed before the body was whole")
        body += chunk
    return head, body


def _forward(upstream: tuple[str, int], raw: bytes) -> bytes:
    """The upstream's whole response to ``raw`` (it closes the connection after each one)."""
    with socket.create_connection(upstream, timeout=10) as up:
        up.sendall(raw)
        parts = []
        while chunk := up.recv(65536):
            parts.append(chunk)
    return b"".join(parts)


def _response(
    code: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
) -> bytes:
    lines = [
        f"HTTP/1.1 {code} {_REASONS.get(code, 'Error')}",
        f"Content-Type: {content_type}",
        f"Content-Length: {len(body)}",
        "Connection: close",
        *(f"{name}: {value}" for name, value in (headers or {}).items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _status_response(code: int) -> bytes:
    error = {"message": f"fault proxy: HTTP {code}", "type": "fault", "param": None, "code": None}
    headers = {}
    if code == 429:
        headers = {
            "Retry-After": "1",
            "retry-after-ms": "20",
            "x-ratelimit-limit-requests": "60",
            "x-ratelimit-remaining-requests": "0",
            "x-ratelimit-reset-requests": "20ms",
            "x-ratelimit-remaining-tokens": "100000",
            "x-ratelimit-reset-tokens": "6m0s",
        }
    return _response(code, json.dumps({"error": error}).encode(), "application/json", headers)


def _streamed(body: bytes) -> bool:
    """Whether a chat-completions request body asks for a stream."""
    try:
        return json.loads(body).get("stream") is True
    except (ValueError, AttributeError):
        return False


_USAGE = {"prompt_tokens": 10, "completion_tokens": 12, "total_tokens": 22}


def _completion_body(content: str) -> bytes:
    """A whole chat-completions object in one JSON body whose message is ``content``."""
    choice = {"index": 0, "message": {"role": "assistant", "content": content}}
    choice.update(finish_reason="stop", logprobs=None)
    reply = {"id": "chatcmpl-proxy", "object": "chat.completion", "created": 0}
    reply.update(model="fake-model", choices=[choice], usage=_USAGE)
    return json.dumps(reply).encode()


def _json_response(content: str) -> bytes:
    """A whole, well-formed chat-completions reply in one body whose message is ``content``."""
    return _response(200, _completion_body(content), "application/json")


def _stream_response(content: str) -> bytes:
    """A whole, well-formed chat-completions stream whose message is ``content``."""
    base = {"id": "chatcmpl-proxy", "object": "chat.completion.chunk", "created": 0}
    base["model"] = "fake-model"

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        return f"data: {json.dumps({**base, 'choices': [choice], **extra})}\n\n".encode()

    body = chunk({"role": "assistant", "content": content}) + chunk({}, "stop")
    body += f"data: {json.dumps({**base, 'choices': [], 'usage': _USAGE})}\n\n".encode()
    body += b"data: [DONE]\n\n"
    return _response(200, body, "text/event-stream")
