"""Child processes that must not outlive us: started in their own session, logged to a file,
stopped with SIGTERM then SIGKILL, and killed at interpreter exit as a last resort.

However we die: on Linux a child asks the kernel for SIGKILL when the thread that started it
ends (``PR_SET_PDEATHSIG``), so even a build killed with SIGKILL, which runs no ``finally`` and
no ``atexit``, leaves no llama-server behind. That is armed only for children started from the
main thread, whose end is the process's end (the build starts its server there).

:func:`exit_on_termination` turns SIGTERM/SIGHUP into an exception for a block, so every
``finally`` that stops a child runs when the build itself is terminated.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from ..errors import LocalModelError

STOP_GRACE = 10.0  # seconds between SIGTERM and SIGKILL
LOG_ROTATE_BYTES = 20 * 1024 * 1024


class Terminated(SystemExit):
    """SIGTERM/SIGHUP arrived: unwind so every ``finally`` runs (exit status 128 + signal)."""


def spawn(command: list[str], log_path: Path) -> tuple[subprocess.Popen[bytes], int]:
    """Start ``command`` in its own session with output appended to ``log_path`` (rotated past
    20 MB); returns the process and the log offset its output starts at."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        if log_path.stat().st_size > LOG_ROTATE_BYTES:
            os.replace(log_path, log_path.with_name(log_path.name + ".1"))
    with log_path.open("ab") as log:
        offset = log.tell()
        try:
            proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches us only; we stop it ourselves
                preexec_fn=_die_with(os.getpid()) if _in_main_thread() else None,
            )
        except OSError as exc:
            raise LocalModelError(f"cannot start {command[0]}: {exc.strerror}") from exc
    _track(proc)
    return proc, offset


PR_SET_PDEATHSIG = 1


def _in_main_thread() -> bool:
    # The kernel sends the death signal when the *thread* that forked the child ends: armed from
    # a worker thread, it would kill the server as soon as that worker is done. Children started
    # elsewhere keep the other guards (stop, atexit, signal handlers).
    return threading.current_thread() is threading.main_thread()


def _die_with(parent: int) -> Callable[[], None] | None:
    """Run in the child before it execs: SIGKILL when the parent goes (Linux only)."""
    if not sys.platform.startswith("linux"):
        return None

    def arm() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the line above: go now
            os._exit(1)

    return arm


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, up to STOP_GRACE seconds, then SIGKILL; a second interrupt kills at once."""
    try:
        if proc.poll() is None:
            _signal(proc, signal.SIGTERM)
            try:
                proc.wait(STOP_GRACE)
            except subprocess.TimeoutExpired:
                _signal(proc, signal.SIGKILL)
                proc.wait()
            except BaseException:
                _signal(proc, signal.SIGKILL)
                with contextlib.suppress(BaseException):
                    proc.wait(2.0)
                raise
    finally:
        if proc.returncode is not None:
            _LIVE.pop(proc.pid, None)


def _signal(proc: subprocess.Popen[bytes], sig: int) -> None:
    # The server leads its own session (start_new_session), so its group id is its pid.
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)


# Servers started by this process and not yet reaped, killed at interpreter exit as a last resort.
_LIVE: dict[int, subprocess.Popen[bytes]] = {}
_LIVE_LOCK = threading.Lock()
_atexit_registered = False


def _track(proc: subprocess.Popen[bytes]) -> None:
    global _atexit_registered
    with _LIVE_LOCK:
        _LIVE[proc.pid] = proc
        if not _atexit_registered:
            atexit.register(stop_all)
            _atexit_registered = True


def stop_all() -> None:
    """Stop every child :func:`spawn` started that is still running (the ``atexit`` hook)."""
    for proc in list(_LIVE.values()):
        if proc.poll() is None:
            _signal(proc, signal.SIGTERM)
            try:
                proc.wait(2.0)
            except subprocess.TimeoutExpired:
                _signal(proc, signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(2.0)
        _LIVE.pop(proc.pid, None)


@contextmanager
def exit_on_termination() -> Iterator[None]:
    """In the main thread, turn SIGTERM/SIGHUP into :class:`Terminated` for the block.

    Only signals left at their default action are taken over (an application handler or an
    ignored SIGHUP under ``nohup`` stays as it is); the previous handlers are restored after.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous: dict[signal.Signals, Any] = {}
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) == signal.SIG_DFL:
            previous[sig] = signal.signal(sig, _raise_terminated)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated(128 + signum)


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie still answers kill(0)
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("State:"):
                return "Z" not in line.split()[1]
    except OSError:
        pass
    return True


def read_tail(log_path: Path, offset: int, lines: int = 5) -> str:
    """``:`` and the last lines written to the log since ``offset``, or a pointer to the log."""
    try:
        with log_path.open("rb") as fh:
            fh.seek(max(offset, fh.seek(0, os.SEEK_END) - 64 * 1024))
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return ""
    tail = [line.rstrip() for line in text.splitlines() if line.strip()][-lines:]
    if not tail:
        return f" (no output; log: {log_path})"
    return ":\n  " + "\n  ".join(tail) + f"\n(log: {log_path})"
