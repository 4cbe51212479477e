"""Hard inputs in a whole build: a source that changes or disappears while the build runs, and
symlinks that loop or point nowhere, are reported in one line each, never a crash.

Builds of copies of the seeds against the fake server and the scripted model; for the drift
cases the progress hook of a stage edits one file and deletes another after they were read.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import scripted_model
from fakeserver import FakeOpenAI

from briefing import pipeline
from briefing.check import CitationMismatch
from briefing.config import Settings, load_settings
from briefing.models import Source
from briefing.read import drift

ROOT = Path(__file__).resolve().parent.parent
SEEDS = sorted((ROOT / "seeds").glob("*.txt"))


def settings_for(fake: FakeOpenAI, out: Path) -> Settings:
    env = {"OPENAI_BASE_URL": fake.base_url, "OPENAI_API_KEY": "test"}
    settings = load_settings(env, {"out": out, "brief_file": ROOT / "brief.toml"})
    return dataclasses.replace(
        settings, merge_questions=0, retry_initial_wait=0.01, max_retry_wait=0.02
    )


class EditsAt(pipeline.BuildProgress):
    """At the start of ``stage``, puts a line at the top of each of ``edit`` (so every span in
    it moves) and deletes ``delete``; keeps the notices."""

    def __init__(self, stage: str, edit: list[Path], delete: list[Path]) -> None:
        self.at, self.edit, self.delete = stage, edit, delete
        self.notices: list[str] = []
        self.reading: list[tuple[int, int]] = []

    def sources_reading(self, done: int, total: int) -> None:
        self.reading.append((done, total))

    def stage(self, name: str) -> None:
        if name == self.at:
            for path in self.edit:
                path.write_bytes(b"Updated: see below.\n" + path.read_bytes())
            for path in self.delete:
                path.unlink()

    def notice(self, message: str) -> None:
        self.notices.append(message)


def citations(out: Path) -> list[dict[str, Any]]:
    claims = json.loads((out / "claims.json").read_text(encoding="utf-8"))["claims"]
    events = json.loads((out / "events.json").read_text(encoding="utf-8"))["events"]
    mentions = [m for e in events for m in e["mentions"]]
    return [c for x in [*claims, *mentions] for c in x["citations"]]


def read_utf8(path: str | Path) -> str:
    with open(path, encoding="utf-8", newline="") as fh:
        return fh.read()


@pytest.mark.parametrize("stage", ["extracting events", "writing key developments"])
def test_a_file_changed_or_deleted_mid_build_is_reported_and_stays_citable(
    fake_openai: FakeOpenAI, tmp_path: Path, stage: str
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for seed in SEEDS:
        shutil.copy(seed, folder / seed.name)
    # Seed 2 with CRLF newlines: not verbatim, so already cited in a copy of its text.
    crlf = folder / SEEDS[2].name
    crlf.write_bytes(SEEDS[2].read_bytes().replace(b"\n", b"\r\n"))
    edited, deleted = folder / SEEDS[0].name, folder / SEEDS[1].name
    as_read = {p: p.read_bytes() for p in (edited, deleted, crlf)}
    fake_openai.respond_with(scripted_model.respond)
    out = tmp_path / "out"
    hooks = EditsAt(stage, edit=[edited, crlf], delete=[deleted])

    result = pipeline.build(settings_for(fake_openai, out), [folder], hooks)

    assert hooks.reading == [(n, 5) for n in range(1, 6)]  # read one at a time, counted
    # The build went through from the text as read: every source is in the brief.
    assert result.failures == () and len(result.brief.sources) == 5
    lines = [
        f"{edited}: {drift.CHANGED}",
        f"{deleted}: {drift.GONE}",
        f"{crlf}: {drift.CHANGED}",
    ]
    assert sorted(hooks.notices[: len(lines)]) == sorted(lines)  # one line each on stderr
    assert set(lines) <= set(result.brief.notes)
    brief_md = result.paths["brief"].read_text(encoding="utf-8")
    # Markdown escapes the paths' underscores; the reasons read as they are.
    assert brief_md.count(drift.CHANGED) == 2 and brief_md.count(drift.GONE) == 1
    # Every citation is the exact slice of the file it names (publish proved it too), and no
    # citation names the edited or the deleted file: they point at copies of the text as read.
    cited = citations(out)
    for c in cited:
        assert read_utf8(c["file"])[c["start"] : c["end"]] == c["quote"], c
    files = {c["file"] for c in cited}
    assert str(edited) not in files and str(deleted) not in files
    entries = {Path(e.path).name: e for e in result.brief.sources}
    for path in (edited, deleted):
        copy = Path(entries[path.name].file)
        assert copy.parent == out / "sources" and copy.read_bytes() == as_read[path]
        assert str(copy) in files
    # Cited in place, the edited file's quotes would no longer be there.
    moved = [c for c in cited if c["file"] == entries[edited.name].file]
    assert moved and all(read_utf8(edited)[c["start"] : c["end"]] != c["quote"] for c in moved)
    untouched = folder / SEEDS[3].name
    assert entries[untouched.name].file == str(untouched)  # the others still cited in place
    # The manifest keeps what was read: sizes and hashes as read, the reason beside them.
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    inputs = {i["path"]: i for i in manifest["inputs"]}
    assert inputs[str(deleted)]["bytes"] == len(as_read[deleted])
    assert inputs[str(deleted)]["reason"] == drift.GONE
    assert inputs[str(untouched)]["reason"] is None

    # The next build reads the new text, says nothing of drift, and is not a replay.
    again = pipeline.build(settings_for(fake_openai, out), [folder])
    assert again.merged is not None
    assert not any("while the build ran" in n for n in again.brief.notes)
    assert len(again.brief.sources) == 4
    assert entries[edited.name].id not in {s.id for s in again.brief.sources}


def test_since_read_tells_changed_gone_and_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("Seoul said so.\n", encoding="utf-8")
    from briefing.read.sources import read_source

    source: Source = read_source(path)
    assert drift.since_read(source, path.stat().st_size) is None
    path.write_text("Seoul said no.\n", encoding="utf-8")  # the same size, other bytes
    assert drift.since_read(source, path.stat().st_size) == drift.CHANGED
    path.write_text("Seoul said no more.\n", encoding="utf-8")
    assert drift.since_read(source, 15) == drift.CHANGED
    path.unlink()
    assert drift.since_read(source, 15) == drift.GONE
    path.mkdir()  # a folder where the file was
    assert drift.since_read(source, 15) == drift.GONE


def test_writing_the_brief_again_after_a_cited_file_changed_says_build_again(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for seed in SEEDS[:2]:
        shutil.copy(seed, folder / seed.name)
    fake_openai.respond_with(scripted_model.respond)
    out = tmp_path / "out"
    pipeline.build(settings_for(fake_openai, out), [folder])
    edited = folder / SEEDS[0].name
    edited.write_bytes(b"Updated: see below.\n" + edited.read_bytes())
    with pytest.raises(CitationMismatch, match=r"changed or went since it was read.*build again"):
        pipeline.render_last(out, ("md",))


class Failed(pipeline.BuildProgress):
    def __init__(self) -> None:
        self.lines: list[str] = []

    def source_failed(self, path: str, reason: str) -> None:
        self.lines.append(f"{Path(path).name}: {reason}")


def test_broken_symlinks_give_one_line_each_and_the_build_goes_through(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    for seed in SEEDS[:2]:
        shutil.copy(seed, folder / "sub" / seed.name)
    (folder / "a.txt").symlink_to("b.txt")
    (folder / "b.txt").symlink_to("a.txt")
    (folder / "gone.txt").symlink_to("nowhere.txt")
    (folder / "sub" / "up").symlink_to("..")
    fake_openai.respond_with(scripted_model.respond)
    failed = Failed()
    result = pipeline.build(settings_for(fake_openai, tmp_path / "out"), [folder], failed)
    assert len(result.brief.sources) == 2
    assert failed.lines == [
        "a.txt: symlink loop: following its links never reaches a file",
        "b.txt: symlink loop: following its links never reaches a file",
        "gone.txt: dangling symlink: it points at nowhere.txt, which does not exist",
        "up: symlink to a folder that contains it: not followed (it would be listed forever)",
    ]
    assert [Path(f.path).name for f in result.brief.failures] == [
        "a.txt",
        "b.txt",
        "gone.txt",
        "up",
    ]
