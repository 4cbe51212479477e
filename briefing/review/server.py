"""``briefing review``: the review page of an output folder, served on 127.0.0.1.

The standard library serves it (``ThreadingHTTPServer``); the page is one self-contained file
rendered from ``templates/review.html.j2`` with the claims as JSON, and every key an analyst
presses is one JSON POST that is stored at once in the folder's refresh state. The state is
opened per request without the build lock, so a build may run meanwhile (SQLite in WAL mode
lets both read; a write waits for the other's transaction) and its brief applies every decision
stored by the time it writes.

Endpoints (all answer only to ``Host: 127.0.0.1:PORT`` or ``localhost:PORT``)::

    GET  /               the page
    GET  /api/review     everything the page shows (claims, evidence, decisions), as JSON
    GET  /api/state      the decisions, orphaned decisions and progress alone
    POST /api/decision   {"claim_id", "action": accept|reject|edit, "text"?, "comment"?}
    POST /api/undo       {"claim_id"}

A POST must carry the page's token in ``X-Briefing-Token``: another site open in the same
browser can send requests to 127.0.0.1 but cannot read the page, so it cannot know the token
(CSRF). The Host check stops a page on a name that resolves to 127.0.0.1 (DNS rebinding) from
reading the page or posting with it.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import secrets
import sys
import threading
import webbrowser
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field, ValidationError

from .. import resources
from ..errors import BriefingError, ReviewError
from ..models import Record, ReviewAction
from ..store import state
from . import page
from .exchange import first_error

HOST = "127.0.0.1"
TEMPLATE = "review.html.j2"
TOKEN_HEADER = "X-Briefing-Token"
MAX_BODY = 64 * 1024  # bytes; a decision is a few hundred
MAX_TEXT = 4000  # characters of an edited claim or a comment
DISCARD_LIMIT = 1024 * 1024  # bytes of a refused body read and dropped before closing


class DecisionRequest(Record):
    """The body of ``POST /api/decision``."""

    claim_id: str = Field(min_length=1, max_length=100)
    action: ReviewAction
    text: str | None = Field(None, max_length=MAX_TEXT)
    comment: str | None = Field(None, max_length=MAX_TEXT)


class UndoRequest(Record):
    """The body of ``POST /api/undo``."""

    claim_id: str = Field(min_length=1, max_length=100)


class ReviewServer:
    """The review page of ``out_dir`` on 127.0.0.1 (``port`` 0: a free one), with its token.

    Use it as a context manager; :meth:`serve_forever` blocks (run it in a thread in tests)
    until :meth:`shutdown`."""

    def __init__(self, out_dir: Path, port: int = 0) -> None:
        with state.open_state(out_dir, exclusive=False, existing=True) as st:
            page.generated_brief(st, out_dir)  # no build: say so now, not on the first request
        self.out_dir = out_dir
        self.token = secrets.token_urlsafe(32)
        try:
            self.httpd = _HTTPServer((HOST, port), self)
        except OSError as exc:
            raise ReviewError(f"cannot listen on {HOST}:{port}: {exc.strerror or exc}") from exc
        self.port = int(self.httpd.server_address[1])
        self.url = f"http://{HOST}:{self.port}/"
        # Host headers a browser sends for this server; anything else is another name.
        self.hosts = {f"{HOST}:{self.port}", f"localhost:{self.port}"}

    def serve_forever(self) -> None:
        """Answer requests until :meth:`shutdown` (from another thread) or Ctrl-C."""
        self.httpd.serve_forever(poll_interval=0.2)

    def shutdown(self) -> None:
        """Stop :meth:`serve_forever`; waits for it to return."""
        self.httpd.shutdown()

    def close(self) -> None:
        """Release the port."""
        self.httpd.server_close()

    def __enter__(self) -> ReviewServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def in_thread(self) -> threading.Thread:
        """Start :meth:`serve_forever` in a daemon thread (tests, embedding); returns it."""
        thread = threading.Thread(target=self.serve_forever, name="briefing-review", daemon=True)
        thread.start()
        return thread


def serve(
    out_dir: Path,
    port: int | None = None,
    open_browser: bool = True,
    on_ready: Callable[[str], None] = print,
) -> None:
    """Serve the review page of ``out_dir`` until Ctrl-C; ``on_ready`` gets its URL first."""
    with ReviewServer(out_dir, port or 0) as server:
        on_ready(server.url)
        if open_browser:
            webbrowser.open(server.url)
        # Ctrl-C is how a review ends; every decision is already stored.
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # a browser's idle connection must not keep Ctrl-C waiting

    def __init__(self, address: tuple[str, int], review: ReviewServer) -> None:
        self.review = review
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    server_version = "briefing-review"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the terminal shows the URL, not every key pressed."""

    # --- routes ----------------------------------------------------------------------------------

    def do_GET(self) -> None:
        """The page, its data, or the decision state."""
        if not self._host_allowed():
            return
        review = self.server.review
        path = urlsplit(self.path).path
        if path == "/":
            self._run(lambda st: self._page(page.page_data(st, review.out_dir)))
        elif path == "/api/review":
            self._run(lambda st: self._json(HTTPStatus.OK, page.page_data(st, review.out_dir)))
        elif path == "/api/state":
            self._run(lambda st: self._json(HTTPStatus.OK, page.current_state(st, review.out_dir)))
        elif path == "/favicon.ico":
            self._send(HTTPStatus.NO_CONTENT, b"", "text/plain")
        else:
            self._json(HTTPStatus.NOT_FOUND, {"error": f"no page {path}"})

    def do_POST(self) -> None:
        """A decision, or undoing one; answers with the decision state after it."""
        # The body is read first, whatever the answer: closing a socket with unread bytes
        # resets the connection, and the client would see that instead of the refusal.
        raw = self._body()
        if raw is None:
            return
        if not (self._host_allowed() and self._same_origin() and self._token_valid()):
            return
        body = self._json_object(raw)
        if body is None:
            return
        review = self.server.review
        path = urlsplit(self.path).path
        try:
            if path == "/api/decision":
                d = DecisionRequest.model_validate(body)

                def act(st: state.State) -> None:
                    page.decide(st, review.out_dir, d.claim_id, d.action, d.text, d.comment)
                    self._json(HTTPStatus.OK, page.current_state(st, review.out_dir))

            elif path == "/api/undo":
                u = UndoRequest.model_validate(body)

                def act(st: state.State) -> None:
                    undone = page.undo(st, review.out_dir, u.claim_id)
                    answer = {**page.current_state(st, review.out_dir), "undone": undone}
                    self._json(HTTPStatus.OK, answer)

            else:
                self._json(HTTPStatus.NOT_FOUND, {"error": f"no action {path}"})
                return
        except ValidationError as exc:
            self._json(HTTPStatus.BAD_REQUEST, {"error": first_error(exc)})
            return
        self._run(act)

    # --- checks ----------------------------------------------------------------------------------

    def _host_allowed(self) -> bool:
        if self.headers.get("Host", "") in self.server.review.hosts:
            return True
        self._json(HTTPStatus.MISDIRECTED_REQUEST, {"error": "wrong Host: use the printed URL"})
        return False

    def _same_origin(self) -> bool:
        # Browsers send Origin on every POST; one from another site is refused even before the
        # token is looked at. Clients that send none (urllib, curl) still need the token.
        origin = self.headers.get("Origin")
        if origin is None or origin in {f"http://{h}" for h in self.server.review.hosts}:
            return True
        self._json(HTTPStatus.FORBIDDEN, {"error": "requests from another site are refused"})
        return False

    def _token_valid(self) -> bool:
        sent = self.headers.get(TOKEN_HEADER, "")
        if hmac.compare_digest(sent.encode(), self.server.review.token.encode()):
            return True
        self._json(HTTPStatus.FORBIDDEN, {"error": f"missing or wrong {TOKEN_HEADER}"})
        return False

    def _body(self) -> bytes | None:
        """The request's body (at most ``MAX_BODY`` bytes), or None after answering why not."""
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self.close_connection = True  # a body of unknown length cannot be skipped
            self._json(HTTPStatus.LENGTH_REQUIRED, {"error": "Content-Length required"})
            return None
        if int(length) > MAX_BODY:
            self.close_connection = True
            self._json(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": f"over {MAX_BODY} bytes"})
            self._discard(int(length))
            return None
        return self.rfile.read(int(length))

    def _json_object(self, raw: bytes) -> dict[str, Any] | None:
        """``raw`` as a JSON object, or None after answering why not."""
        if self.headers.get_content_type() != "application/json":
            self._json(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, {"error": "send application/json"})
            return None
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            self._json(HTTPStatus.BAD_REQUEST, {"error": "the body is not JSON"})
            return None
        if not isinstance(body, dict):
            self._json(HTTPStatus.BAD_REQUEST, {"error": "the body is not a JSON object"})
            return None
        return body

    def _discard(self, length: int) -> None:
        """Read and drop (some of) a body too large to take, for the reason given in do_POST."""
        self.connection.settimeout(2)
        left = min(length, DISCARD_LIMIT)
        try:
            while left > 0 and (chunk := self.rfile.read(min(left, 65536))):
                left -= len(chunk)
        except OSError:
            pass  # the client gave up: nothing more to tell it

    # --- answers ---------------------------------------------------------------------------------

    def _run(self, answer: Callable[[state.State], None]) -> None:
        """Call ``answer`` with the folder's state, open for this request alone (no build lock);
        an expected failure is a JSON error the page shows in one line."""
        try:
            with state.open_state(self.server.review.out_dir, exclusive=False, existing=True) as st:
                answer(st)
        except BriefingError as exc:
            self._json(HTTPStatus.CONFLICT, {"error": str(exc)})
        except Exception as exc:  # a bug: the page says so, the terminal shows where
            print(f"briefing review: {type(exc).__name__}: {exc}", file=sys.stderr)
            self._json(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": f"internal error: {exc}"})

    def _page(self, data: dict[str, Any]) -> None:
        nonce = secrets.token_urlsafe(16)
        html = resources.render(
            "templates", TEMPLATE, data={**data, "token": self.server.review.token}, nonce=nonce
        )
        # Only this response's own inline style and script run; the page loads nothing and can
        # be framed by nothing.
        policy = (
            f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
            "connect-src 'self'; img-src 'none'; base-uri 'none'; form-action 'none'; "
            "frame-ancestors 'none'"
        )
        self._send(
            HTTPStatus.OK,
            html.encode("utf-8"),
            "text/html; charset=utf-8",
            {"Content-Security-Policy": policy},
        )

    def _json(self, status: HTTPStatus, data: Any) -> None:
        body = json.dumps(data, ensure_ascii=False).encode("utf-8")
        self._send(status, body, "application/json; charset=utf-8")

    def _send(
        self,
        status: HTTPStatus,
        body: bytes,
        content_type: str,
        extra: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
