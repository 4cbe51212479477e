"""Refresh: a rebuild pays only for what is new, says what changed, and keeps finished work.

Builds run against the fake server and the scripted model on copies of the seeds in a
temporary folder, so that sources can be added, edited and removed between builds.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import scripted_model
from fakeserver import FakeOpenAI, Reply

from briefing import pipeline, resources
from briefing.config import Settings, load_settings
from briefing.errors import StateError
from briefing.store import changes, migrations, state

ROOT = Path(__file__).resolve().parent.parent
NEW_SOURCE = """Allies meet in Tokyo on North Korean missiles

Tokyo, 12 March 2025 — The foreign ministers of South Korea, Japan and the United States met in \
Tokyo on 11 March 2025 to discuss North Korea's missile launches.

The three ministers agreed to share missile warning data in real time from April.

North Korea launched two ballistic missiles on 10 March 2025, the ministers noted.
"""
NEW_PHRASE = "share missile warning data"


def settings_for(fake: FakeOpenAI, out: Path, **changes: Any) -> Settings:
    env = {"OPENAI_BASE_URL": fake.base_url, "OPENAI_API_KEY": "test"}
    settings = load_settings(env, {"out": out, "brief_file": ROOT / "brief.toml"})
    changes = {"merge_questions": 0, **changes}
    return dataclasses.replace(settings, retry_initial_wait=0.01, max_retry_wait=0.02, **changes)


def without_changes(brief: str) -> str:
    """The brief minus its What changed section (the one part a rebuild must change)."""
    return re.sub(r"## What changed\n.*?(?=## Key developments)", "", brief, flags=re.S)


def extraction_requests(fake: FakeOpenAI) -> list[dict[str, Any]]:
    system = resources.render("prompts", "extract_system.j2")
    return [r for r in fake.requests if r["messages"][0]["content"] == system]


def test_an_unchanged_rebuild_asks_nothing_and_gives_the_same_brief(
    fake_openai: FakeOpenAI, corpus: Path, tmp_path: Path
) -> None:
    fake_openai.respond_with(scripted_model.respond)
    out = tmp_path / "out"
    first = pipeline.build(settings_for(fake_openai, out), [corpus])
    asked = len(fake_openai.requests)
    assert asked == first.usage.requests > 5 and first.usage.cache_hits == 0
    brief = (out / "brief.md").read_text(encoding="utf-8")
    assert "## What changed" not in brief and not (out / "changes.md").exists()

    again = pipeline.build(settings_for(fake_openai, out), [corpus])
    assert len(fake_openai.requests) == asked  # not one request more
    assert again.usage.requests == 0 and again.merged is None  # nothing was even merged again
    rebuilt = (out / "brief.md").read_text(encoding="utf-8")
    assert without_changes(rebuilt) == brief
    assert "Nothing changed since build 1" in (out / "changes.md").read_text(encoding="utf-8")
    assert "## What changed" in rebuilt


def test_a_new_title_costs_only_the_key_developments(
    fake_openai: FakeOpenAI, corpus: Path, tmp_path: Path
) -> None:
    # The inputs changed (the title), the extraction requests did not: all from the state.
    fake_openai.respond_with(scripted_model.respond)
    out = tmp_path / "out"
    settings = settings_for(fake_openai, out)
    first = pipeline.build(settings, [corpus])
    retitled = dataclasses.replace(
        settings, brief=dataclasses.replace(settings.brief, title="Another title")
    )
    first_counts = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["counts"]
    again = pipeline.build(retitled, [corpus])
    assert again.usage.requests == 1  # the key developments, whose prompt names the title
    assert again.usage.cache_hits == first.usage.requests - 1  # every extraction, from the state
    assert again.merged is not None
    # The merge ran again on the same records: every vector it needed was kept by the first.
    counts = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["counts"]
    assert first_counts["texts_embedded"] > 0 and first_counts["vectors_recalled"] == 0
    assert counts["texts_embedded"] == 0
    assert counts["vectors_recalled"] == first_counts["texts_embedded"]
    assert first.merged is not None and again.merged.canonical == first.merged.canonical
    assert (out / "brief.md").read_text(encoding="utf-8").startswith("# Another title")


def test_a_build_the_server_failed_on_is_not_repeated(
    fake_openai: FakeOpenAI, corpus: Path, tmp_path: Path
) -> None:
    # Key developments failed (a 500): the next build, with the same inputs, asks again.
    def failing(body: dict[str, Any]) -> Any:
        if body["messages"][0]["content"] == resources.render("prompts", "compose_system.j2"):
            return Reply.status(500, {"error": {"message": "down"}})
        return scripted_model.respond(body)

    fake_openai.respond_with(failing)
    out = tmp_path / "out"
    settings = dataclasses.replace(settings_for(fake_openai, out), transport_attempts=1)
    pipeline.build(settings, [corpus])
    assert "Key developments could not be written" in (out / "brief.md").read_text("utf-8")
    fake_openai.respond_with(scripted_model.respond)
    again = pipeline.build(settings, [corpus])
    assert again.usage.requests == 1 and again.brief.key_points


def test_a_new_source_costs_its_own_requests_and_is_named(
    fake_openai: FakeOpenAI, corpus: Path, tmp_path: Path
) -> None:
    fake_openai.respond_with(scripted_model.respond)
    out = tmp_path / "out"
    pipeline.build(settings_for(fake_openai, out), [corpus])
    before = len(fake_openai.requests)
    (corpus / "005_tokyo.txt").write_text(NEW_SOURCE, encoding="utf-8")

    embedded_first = json.loads((out / "manifest.json").read_text("utf-8"))["counts"]
    pipeline.build(settings_for(fake_openai, out), [corpus])
    counts = json.loads((out / "manifest.json").read_text("utf-8"))["counts"]
    # Only the new source's texts are embedded; the rest come from the state.
    assert 0 < counts["texts_embedded"] < embedded_first["texts_embedded"]
    assert counts["vectors_recalled"] > 0
    new = fake_openai.requests[before:]
    extractions = [r for r in new if r in extraction_requests(fake_openai)]
    assert extractions and all(
        NEW_PHRASE in scripted_model.conversation_text(r) for r in extractions
    )  # only the new source was extracted
    assert len(new) == len(extractions) + 1  # and the key developments, whose input changed
    changes = (out / "changes.md").read_text(encoding="utf-8")
    assert "Source added:" in changes and "005_tokyo.txt" in changes
    assert "- New" in changes
    assert "## What changed" in (out / "brief.md").read_text(encoding="utf-8")

    (corpus / "005_tokyo.txt").unlink()
    pipeline.build(settings_for(fake_openai, out), [corpus])
    changes = (out / "changes.md").read_text(encoding="utf-8")
    assert "Source removed:" in changes and "005_tokyo.txt" in changes
    assert "- Retracted (every source it rested on is gone)" in changes
    assert "2025-03-10" in changes.split("Retracted", 1)[1]


def test_an_edited_source_is_extracted_again(
    fake_openai: FakeOpenAI, corpus: Path, tmp_path: Path
) -> None:
    fake_openai.respond_with(scripted_model.respond)
    out = tmp_path / "out"
    (corpus / "005_tokyo.txt").write_text(NEW_SOURCE, encoding="utf-8")
    pipeline.build(settings_for(fake_openai, out), [corpus])
    before = len(fake_openai.requests)
    edited = NEW_SOURCE.replace("from April", "from May")
    (corpus / "005_tokyo.txt").write_text(edited, encoding="utf-8")
    pipeline.build(settings_for(fake_openai, out), [corpus])
    extractions = [
        r for r in fake_openai.requests[before:] if r in extraction_requests(fake_openai)
    ]
    assert extractions and all(
        "from May" in scripted_model.conversation_text(r) for r in extractions
    )
    assert "Source edited:" in (out / "changes.md").read_text(encoding="utf-8")


def test_a_changed_prompt_extracts_everything_again(
    fake_openai: FakeOpenAI, corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_openai.respond_with(scripted_model.respond)
    out = tmp_path / "out"
    pipeline.build(settings_for(fake_openai, out), [corpus])
    first = len(extraction_requests(fake_openai))

    prompts = tmp_path / "prompts"
    shutil.copytree(resources.resource_dir("prompts"), prompts)
    system = prompts / "extract_system.j2"
    system.write_text(system.read_text(encoding="utf-8") + "\nBe brief.\n", encoding="utf-8")
    real = resources.resource_dir
    monkeypatch.setattr(
        resources, "resource_dir", lambda name: prompts if name == "prompts" else real(name)
    )
    resources.environment.cache_clear()
    try:
        before = len(fake_openai.requests)
        pipeline.build(settings_for(fake_openai, out), [corpus])
        again = [r for r in fake_openai.requests[before:] if r in extraction_requests(fake_openai)]
        assert len(again) == first  # every window asked again under the new prompt
    finally:
        resources.environment.cache_clear()


def test_force_asks_everything_again(fake_openai: FakeOpenAI, corpus: Path, tmp_path: Path) -> None:
    fake_openai.respond_with(scripted_model.respond)
    out = tmp_path / "out"
    pipeline.build(settings_for(fake_openai, out), [corpus])
    asked = len(fake_openai.requests)
    forced = pipeline.build(settings_for(fake_openai, out, force=True), [corpus])
    assert len(fake_openai.requests) == 2 * asked and forced.usage.cache_hits == 0


def test_runs_are_kept_in_order(fake_openai: FakeOpenAI, corpus: Path, tmp_path: Path) -> None:
    fake_openai.respond_with(scripted_model.respond)
    out = tmp_path / "out"
    pipeline.build(settings_for(fake_openai, out), [corpus])
    pipeline.build(settings_for(fake_openai, out), [corpus])
    with state.open_state(out, exclusive=False) as st:
        runs = st.runs()
    assert [r.id for r in runs] == [1, 2]
    assert runs[0].manifest["usage"]["requests"] > 0 == runs[1].manifest["usage"]["requests"]
    assert len(runs[1].sources) == 5 and runs[1].brief.startswith("# ")


# --- the database itself ------------------------------------------------------------------------


def test_a_second_build_on_the_same_folder_stops_with_a_message(tmp_path: Path) -> None:
    refused = pytest.raises(StateError, match="another build is writing")
    with state.open_state(tmp_path), refused, state.open_state(tmp_path):
        pass
    with state.open_state(tmp_path):  # released when the first one ends
        pass


def test_a_damaged_database_names_its_file(tmp_path: Path) -> None:
    path = state.state_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not a database, just forty bytes or so of text")
    with pytest.raises(StateError, match=r"state\.db is damaged"), state.open_state(tmp_path):
        pass


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    with state.open_state(tmp_path):
        pass
    with sqlite3.connect(state.state_path(tmp_path)) as db:
        db.execute(f"PRAGMA user_version = {len(migrations.MIGRATIONS) + 1}")
    with pytest.raises(StateError, match="newer briefing"), state.open_state(tmp_path):
        pass


def test_migrations_bring_a_new_database_to_the_current_schema(tmp_path: Path) -> None:
    with state.open_state(tmp_path) as st:
        tables = {r[0] for r in st._db.execute("SELECT name FROM sqlite_master")}
    assert {"completions", "runs", "sources", "run_sources"} <= tables
    with sqlite3.connect(state.state_path(tmp_path)) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(migrations.MIGRATIONS)


def test_runs_and_diff_commands_read_the_state(
    fake_openai: FakeOpenAI, corpus: Path, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from briefing import cli

    fake_openai.respond_with(scripted_model.respond)
    out = tmp_path / "out"
    pipeline.build(settings_for(fake_openai, out), [corpus])
    (corpus / "005_tokyo.txt").write_text(NEW_SOURCE, encoding="utf-8")
    pipeline.build(settings_for(fake_openai, out), [corpus])
    listed = CliRunner().invoke(cli.main, ["runs", str(out)])
    assert listed.exit_code == 0, listed.output
    rows = [line.split() for line in listed.output.splitlines()[1:]]
    assert [r[0] for r in rows] == ["1", "2"] and rows[1][2] == "6"  # sources of build 2
    compared = CliRunner().invoke(cli.main, ["diff", "--out", str(out)])
    assert compared.exit_code == 0, compared.output
    assert compared.output.startswith("build 1 → build 2: ")
    assert "source added:" in compared.output and "005_tokyo.txt" in compared.output
    missing = CliRunner().invoke(cli.main, ["diff", "1", "9", "--out", str(out)])
    assert missing.exit_code == 1 and "no build 9" in missing.output
    empty = CliRunner().invoke(cli.main, ["runs", str(tmp_path / "nowhere")])
    assert empty.exit_code == 1 and "no builds in" in empty.output


# --- interruption -------------------------------------------------------------------------------


def test_a_build_killed_with_sigkill_keeps_its_finished_extractions(
    fake_openai: FakeOpenAI, corpus: Path, tmp_path: Path
) -> None:
    """A real `briefing build` subprocess, killed with SIGKILL while its second source is being
    read: a build started meanwhile on the same folder is refused, and the next build asks
    nothing again for the first source."""
    import os
    import signal
    import subprocess
    import sys
    import threading
    import time

    from briefing.read.sources import read_source

    seeds = sorted(corpus.glob("*.txt"))
    first_title = read_source(seeds[0]).title
    assert first_title
    second_arrived, release = threading.Event(), threading.Event()

    def respond(body: dict[str, Any]) -> Any:
        text = scripted_model.conversation_text(body)
        extracting = body["messages"][0]["content"] == resources.render(
            "prompts", "extract_system.j2"
        )
        if extracting and first_title not in text:  # the second source: hold it until the kill
            second_arrived.set()
            release.wait(30)
        return scripted_model.respond(body)

    fake_openai.respond_with(respond)
    out = tmp_path / "out"
    env = {
        **os.environ, "OPENAI_BASE_URL": fake_openai.base_url, "OPENAI_API_KEY": "test",
        "BRIEFING_MERGE_QUESTIONS": "0", "BRIEFING_CACHE_DIR": str(tmp_path / "cache"),
    }  # fmt: skip
    env.pop("BRIEFING_WINDOW_CHARS", None)
    build = subprocess.Popen(
        [sys.executable, "-c", "from briefing.cli import main; main()", "build", str(corpus),
         "--out", str(out), "--concurrency", "1"],
        env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert second_arrived.wait(60), build.stderr.read() if build.stderr else ""
        with pytest.raises(StateError, match="another build is writing"):
            pipeline.build(settings_for(fake_openai, out), [corpus])
        first_requests = [
            r for r in extraction_requests(fake_openai)
            if first_title in scripted_model.conversation_text(r)
        ]  # fmt: skip
        assert first_requests
        build.send_signal(signal.SIGKILL)
        assert build.wait(20) == -signal.SIGKILL
    finally:
        release.set()
        build.kill()
        build.wait()
    time.sleep(0.2)  # the held reply goes out to a dead client
    before = len(fake_openai.requests)
    fake_openai.respond_with(scripted_model.respond)
    pipeline.build(settings_for(fake_openai, out), [corpus])
    again = [
        r for r in fake_openai.requests[before:]
        if first_title in scripted_model.conversation_text(r)
        and r["messages"][0]["content"] == resources.render("prompts", "extract_system.j2")
    ]  # fmt: skip
    assert again == []  # the first source's finished extraction was kept
    assert (out / "brief.md").is_file()


def test_the_manifest_prices_the_requests_made(
    fake_openai: FakeOpenAI, corpus: Path, tmp_path: Path
) -> None:
    import json

    fake_openai.respond_with(scripted_model.respond)
    out = tmp_path / "out"
    first = pipeline.build(settings_for(fake_openai, out), [corpus])  # gpt-4o-mini
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["cost_usd"] == first.cost_usd and 0 < manifest["cost_usd"] < 0.05
    pipeline.build(settings_for(fake_openai, out), [corpus])
    assert json.loads((out / "manifest.json").read_text(encoding="utf-8"))["cost_usd"] == 0.0
    unknown = pipeline.build(settings_for(fake_openai, out, model="my-vllm-model"), [corpus])
    assert unknown.cost_usd is None


@pytest.mark.parametrize("force", [False, True])
def test_the_server_is_opened_from_the_main_thread(
    fake_openai: FakeOpenAI, corpus: Path, tmp_path: Path, force: bool
) -> None:
    # The embedded server is started where the client connects; a server started from a worker
    # thread could not be tied to the build's life (see processes.py).
    import threading

    from briefing import llm

    fake_openai.respond_with(scripted_model.respond)
    settings = settings_for(fake_openai, tmp_path / "out", force=force)
    threads: list[threading.Thread] = []

    def connect() -> Any:
        threads.append(threading.current_thread())
        return llm.openai_client(settings)

    pipeline.build(settings, [corpus], connect=connect)
    assert threads == [threading.main_thread()]


def _version(*events: tuple[str, str, str, int]) -> dict[str, Any]:
    """An events.json of top-level events (id, source, status, first cited character)."""
    return {
        "events": [
            {
                "id": "ce_" + eid,
                "summary": f"Event {eid}",
                "date": None,
                "source_ids": [source],
                "mentions": [
                    {
                        "id": f"ev_{eid}_{status}",  # a record's hash: its status is in it
                        "source_id": source,
                        "alignment": "as_cited",
                        "citations": [{"start": start, "end": start + 40}],
                    }
                ],
            }
            for eid, source, status, start in events
        ],
        "disagreements": [],
    }


def test_a_record_rewritten_by_a_changed_rule_is_the_same_event() -> None:
    # 50 news articles rebuilt from their stored replies after the "denied" rule changed:
    # 26 records got new ids, and What changed called each new and "retracted (every source
    # it rested on is gone)" with every source still read.
    sources = {"s1": "a.txt", "s2": "b.txt"}
    before = _version(("a", "s1", "denied", 0), ("b", "s2", "occurred", 10))
    now = _version(("a2", "s1", "occurred", 0), ("c", "s2", "occurred", 99))
    found = changes.compare(1, "t", before, sources, now, sources)
    assert [(e.kind, e.summary, e.sources_kept) for e in found.events] == [
        ("new", "Event c", False),
        ("retracted", "Event b", True),
    ]
    gone = changes.compare(1, "t", before, sources, _version(("a", "s1", "x", 0)), {"s1": "a.txt"})
    assert [(e.kind, e.sources_kept) for e in gone.events] == [("retracted", False)]
    # Two records of one sentence are two mentions still: an unchanged version changes nothing
    # (keyed by place alone, the second had been retracted and the first weakened).
    twice = _version(("a", "s1", "occurred", 0), ("d", "s1", "occurred", 0), ("b", "s2", "x", 10))
    twice["events"][1]["source_ids"] = ["s1", "s2"]
    assert changes.compare(1, "t", twice, sources, twice, sources).events == ()
