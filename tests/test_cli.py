"""The ``briefing`` command: exit codes and the one-line messages on stderr.

Most tests run the click command in-process (``CliRunner``), with retry waits shortened; a few run
the installed ``.venv/bin/briefing`` to see the real process's exit code and stderr. Every run sets
OPENAI_BASE_URL, so the embedded model never starts.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest
import scripted_model
from click.testing import CliRunner, Result
from fakeserver import FakeOpenAI, Reply

from briefing import cli, config
from briefing.errors import ConfigError
from briefing.extract.extraction import prepare
from briefing.llm import local
from briefing.read.sources import read_source

ROOT = Path(__file__).resolve().parent.parent
BRIEFING = ROOT / ".venv" / "bin" / "briefing"
SEED = Path("seeds") / "000_b575c8259e2df5e7.txt"


@pytest.fixture(autouse=True)
def at_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from the repository root, where brief.toml names the seeds."""
    monkeypatch.chdir(ROOT)


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process runs wait milliseconds, not seconds, between retries."""

    def load_settings(env: Any, flags: Any) -> config.Settings:
        settings = config.load_settings(env, flags)
        return dataclasses.replace(settings, retry_initial_wait=0.01, max_retry_wait=0.02)

    monkeypatch.setattr(cli, "load_settings", load_settings)


def env_for(base_url: str, tmp_path: Path, **extra: str) -> dict[str, str | None]:
    return {
        "OPENAI_BASE_URL": base_url,
        "OPENAI_API_KEY": "test",
        "BRIEFING_CACHE_DIR": str(tmp_path / "cache"),
        "BRIEFING_MODEL": None,
        "BRIEFING_CONCURRENCY": None,
        "BRIEFING_TIMEOUT": None,
        "BRIEFING_LOCAL_MODEL": None,
        "BRIEFING_WINDOW_CHARS": None,
        "COLUMNS": None,
        **extra,
    }


def invoke(args: list[str], env: dict[str, str | None]) -> Result:
    return CliRunner().invoke(cli.main, args, env=env)


def assert_clean_exit(result: Result, code: int) -> None:
    """Exit ``code`` through sys.exit, never an exception escaping the command."""
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output


def lines_with(text: str, needle: str) -> list[str]:
    return [line for line in text.splitlines() if needle in line]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- build ---------------------------------------------------------------------------------------


def test_build_prints_a_summary_line_and_exits_0(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    fake_openai.respond_with(scripted_model.respond)
    out = tmp_path / "out"
    env = {**env_for(fake_openai.base_url, tmp_path), "BRIEFING_MERGE_QUESTIONS": "0"}
    result = invoke(["build", "--out", str(out)], env)
    assert_clean_exit(result, 0)
    (summary,) = lines_with(result.stderr, "Wrote ")
    assert summary.startswith(f"Wrote {out / 'brief.md'}: 5 sources read, 0 not read, ")
    assert " events in " in summary and " timeline rows, " in summary
    assert " 6 requests (0 answered from the refresh state), " in summary and "tokens in" in summary
    assert (out / "brief.md").is_file() and (out / "claims.json").is_file()


def test_bad_paths_among_good_ones_get_one_line_each(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    # A long folder name: a message wrapped at 80 columns would split the path across lines.
    bad = tmp_path / ("a-folder-with-a-rather-long-name-" * 3)
    bad.mkdir()
    (bad / "empty.txt").write_bytes(b"")
    (bad / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    reasons = {
        bad / "missing.txt": "no such file or folder",
        bad / "empty.txt": "empty file",
        bad / "image.txt": "binary file",
    }
    fake_openai.respond_with(scripted_model.respond)
    out = tmp_path / "out"
    args = ["build", "--out", str(out), str(SEED), *map(str, reasons)]
    result = invoke(args, env_for(fake_openai.base_url, tmp_path))

    assert_clean_exit(result, 0)
    for path, reason in reasons.items():
        (line,) = lines_with(result.stderr, str(path))
        assert line.startswith(f"not read {path}: {reason}")
    brief = (out / "brief.md").read_text(encoding="utf-8")
    assert "Sources read: 1; not read: 3." in brief
    assert all(f"- `{path}` (read): " in brief for path in reasons)
    (summary,) = lines_with(result.stderr, "Wrote ")
    assert "1 sources read, 3 not read" in summary


def test_file_names_with_brackets_are_printed_as_they_are(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    # Rich would read "[draft]" as a style and "[/draft]" as a closing tag (a crash).
    odd = [tmp_path / "notes [draft].txt", tmp_path / "notes [/draft].txt"]
    fake_openai.respond_with(scripted_model.respond)
    args = ["build", "--out", str(tmp_path / "out"), str(SEED), *map(str, odd)]
    result = invoke(args, env_for(fake_openai.base_url, tmp_path))
    assert_clean_exit(result, 0)
    for path in odd:
        assert f"not read {path}: no such file or folder" in result.stderr.splitlines()


def run_installed(args: list[str], env: dict[str, str | None]) -> subprocess.CompletedProcess[str]:
    """The installed ``briefing`` in its own process, stderr a pipe (not a terminal)."""
    merged = {k: v for k, v in {**os.environ, **env}.items() if v is not None}
    return subprocess.run(
        [str(BRIEFING), *args], env=merged, capture_output=True, text=True, timeout=60
    )


def test_installed_command_builds_with_a_missing_path(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    fake_openai.respond_with(scripted_model.respond)
    out, missing = tmp_path / "out", tmp_path / ("long-folder-name-" * 6) / "missing.txt"
    done = run_installed(
        ["build", "--out", str(out), "seeds", str(missing)], env_for(fake_openai.base_url, tmp_path)
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    (line,) = lines_with(done.stderr, str(missing))
    assert line == f"not read {missing}: no such file or folder"
    (summary,) = lines_with(done.stderr, "Wrote ")
    assert summary.startswith(f"Wrote {out / 'brief.md'}: 5 sources read, 1 not read, ")
    assert (out / "brief.md").is_file()


def test_only_bad_paths_exit_1_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_bytes(b"")
    paths = [str(tmp_path / "missing.txt"), str(tmp_path / "empty.txt")]
    with FakeOpenAI() as fake:
        args = ["build", "--out", str(tmp_path / "out"), *paths]
        done = run_installed(args, env_for(fake.base_url, tmp_path, BRIEFING_TIMEOUT="2"))
        assert fake.requests == []  # nothing to extract, nothing asked
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    (error,) = lines_with(done.stderr, "error:")
    assert error == f"error: no readable source among: {paths[0]}, {paths[1]}"
    assert not (tmp_path / "out" / "brief.md").exists()


def test_unreachable_server_exits_1_with_one_clear_line(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    args = ["build", "--out", str(tmp_path / "out"), str(SEED)]
    result = invoke(args, env_for(url, tmp_path, BRIEFING_TIMEOUT="1"))
    assert_clean_exit(result, 1)
    (error,) = lines_with(result.stderr, "error:")
    assert error.startswith(f"error: no source could be extracted: no answer from {url} after ")
    assert "connection failed" in error
    assert not (tmp_path / "out" / "brief.md").exists()


@pytest.mark.parametrize("concurrency", ["4", "1"])
def test_rejected_key_exits_1_and_stops_asking(
    fake_openai: FakeOpenAI, tmp_path: Path, concurrency: str
) -> None:
    fake_openai.respond_with(lambda body: Reply.status(401))
    env = env_for(fake_openai.base_url, tmp_path, BRIEFING_CONCURRENCY=concurrency)
    result = invoke(["build", "--out", str(tmp_path / "out")], env)
    assert_clean_exit(result, 1)
    (error,) = lines_with(result.stderr, "error:")
    assert "rejected the API key" in error and "HTTP 401" in error
    # Fail fast: one request per source at most, and none once a worker has seen the 401 (five
    # sources: the ones started together are asked, the rest skipped).
    assert 1 <= len(fake_openai.requests) <= int(concurrency)


# --- check ---------------------------------------------------------------------------------------


@pytest.fixture
def built(fake_openai: FakeOpenAI, tmp_path: Path) -> Path:
    """A brief built from the seeds; returns its claims.json."""
    fake_openai.respond_with(scripted_model.respond)
    result = invoke(
        ["build", "--out", str(tmp_path / "out")], env_for(fake_openai.base_url, tmp_path)
    )
    assert_clean_exit(result, 0)
    return tmp_path / "out" / "claims.json"


def corrupt_first_quote(claims: Path, change: Any) -> None:
    data = json.loads(claims.read_text(encoding="utf-8"))
    citation = data["claims"][0]["citations"][0]
    citation["quote"] = change(citation["quote"])
    claims.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def test_check_offline_passes_an_intact_brief(built: Path) -> None:
    n = len(json.loads(built.read_text())["claims"])
    result = invoke(["check", str(built.parent), "--offline"], {})
    assert_clean_exit(result, 0)
    assert f"{n} claims: 0 supported" in result.stdout
    assert "every claim passes" in result.stdout


def test_check_still_takes_a_claims_file(built: Path) -> None:
    assert_clean_exit(invoke(["check", str(built), "--offline"], {}), 0)


def test_check_fails_on_a_corrupted_quote_and_names_the_claim(built: Path) -> None:
    corrupt_first_quote(built, lambda q: q[:-1] + ("X" if q[-1] != "X" else "Y"))
    claim_id = json.loads(built.read_text())["claims"][0]["id"]
    result = invoke(["check", str(built.parent), "--offline"], {})
    assert_clean_exit(result, 1)
    (line,) = [ln for ln in result.stdout.splitlines() if "differs from its quote" in ln]
    assert line.startswith(claim_id) and "seeds/" in line


def test_check_of_a_quote_longer_than_its_span_fails_that_claim(built: Path) -> None:
    corrupt_first_quote(built, lambda q: q + " and more")
    result = invoke(["check", str(built.parent), "--offline", "--json"], {})
    assert_clean_exit(result, 1)
    report = json.loads(result.stdout)
    assert report["claims"][0]["status"] == "failed"
    assert "malformed" in report["claims"][0]["problems"][0]


@pytest.mark.parametrize(
    "damage",
    [
        lambda claims: claims.write_text('{"claims": [', encoding="utf-8"),
        lambda claims: claims.write_text('{"events": []}', encoding="utf-8"),
    ],
    ids=["not-json", "not-a-claims-file"],
)
def test_check_that_cannot_read_its_claims_exits_2_with_one_line(built: Path, damage: Any) -> None:
    damage(built)
    result = invoke(["check", str(built.parent), "--offline"], {})
    assert_clean_exit(result, 2)
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert str(built) in result.stderr


def test_no_readable_path_fails_before_starting_the_embedded_model(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def must_not_start(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the embedded model was started for a build with no source")

    monkeypatch.setattr(local, "embedded_server", must_not_start)
    env = {"OPENAI_API_KEY": "", "OPENAI_BASE_URL": "", "BRIEFING_CACHE_DIR": str(tmp_path)}
    result = CliRunner().invoke(cli.main, ["build", str(tmp_path / "missing.txt")], env=env)
    assert result.exit_code == 1
    assert "no readable source" in result.output and "missing.txt" in result.output
    assert "Traceback" not in result.output


# --- BRIEFING_WINDOW_CHARS -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "flags", "expected"),
    [
        ({"OPENAI_API_KEY": "k"}, {}, 6000),  # a hosted model reads a whole article at once
        ({"OPENAI_BASE_URL": "http://127.0.0.1:1/v1"}, {}, 6000),
        ({}, {}, config.LOCAL_WINDOW_CHARS),  # no key, no server: the embedded model
        ({"OPENAI_API_KEY": "k"}, {"local": True}, config.LOCAL_WINDOW_CHARS),
        ({"OPENAI_API_KEY": "k", "BRIEFING_WINDOW_CHARS": "2500"}, {}, 2500),
        ({"BRIEFING_WINDOW_CHARS": "9000"}, {"local": True}, 9000),
        ({"BRIEFING_WINDOW_CHARS": "200"}, {}, 200),  # the smallest allowed
        ({"OPENAI_API_KEY": "k", "BRIEFING_WINDOW_CHARS": ""}, {}, 6000),  # empty: unset
    ],
)
def test_window_chars_default_and_override(
    env: dict[str, str], flags: dict[str, Any], expected: int
) -> None:
    assert config.LOCAL_WINDOW_CHARS == 1400
    assert config.load_settings(env, flags).window_chars == expected


@pytest.mark.parametrize("value", ["199", "0", "-1400", "1.5e3", "1400 ", " 1400", "lots", "0x600"])
def test_window_chars_must_be_a_number_of_at_least_200(value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config.load_settings({"OPENAI_API_KEY": "k", "BRIEFING_WINDOW_CHARS": value}, {})
    assert str(caught.value) == (
        f"BRIEFING_WINDOW_CHARS must be a number of at least 200, not {value!r}"
    )


def test_window_chars_that_only_look_like_digits_are_a_config_error() -> None:
    with pytest.raises(ConfigError):
        config.load_settings({"OPENAI_API_KEY": "k", "BRIEFING_WINDOW_CHARS": "²"}, {})


def test_bad_window_chars_exits_1_with_one_line_before_asking(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    env = env_for(fake_openai.base_url, tmp_path, BRIEFING_WINDOW_CHARS="small")
    result = invoke(["build", "--out", str(tmp_path / "out"), str(SEED)], env)
    assert_clean_exit(result, 1)
    (error,) = lines_with(result.stderr, "error:")
    assert error == "error: BRIEFING_WINDOW_CHARS must be a number of at least 200, not 'small'"
    assert fake_openai.requests == []


def test_window_chars_reaches_the_build(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    # The embedded model's window size with a hosted server: the seeds take more requests.
    fake_openai.respond_with(scripted_model.respond)
    env = env_for(
        fake_openai.base_url, tmp_path, BRIEFING_WINDOW_CHARS="1400", BRIEFING_MERGE_QUESTIONS="0"
    )
    result = invoke(["build", "--out", str(tmp_path / "out")], env)
    assert_clean_exit(result, 0)
    windows = [
        len(prepare(read_source(p), 1400).windows) for p in sorted(SEED.parent.glob("*.txt"))
    ]
    assert len(windows) == 5 and min(windows) >= 2
    # One request a window, and one for the key developments.
    assert len(fake_openai.requests) == sum(windows) + 1
    (summary,) = lines_with(result.stderr, "Wrote ")
    assert f" {sum(windows) + 1} requests (0 answered" in summary
