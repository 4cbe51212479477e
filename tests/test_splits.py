"""The sentence split kept in the refresh state (``store/splits.py``), and what is hidden of a
source worked out once per Source (``read/hidden.py``): real files, a real state database."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
import scripted_model
from fakeserver import FakeOpenAI

from briefing import pipeline
from briefing.config import load_settings
from briefing.extract.extraction import prepare
from briefing.merge import linking
from briefing.models import Source
from briefing.read import hidden, sentences
from briefing.read.sources import read_files, read_source
from briefing.store import migrations, splits, state

ROOT = Path(__file__).resolve().parent.parent
SEEDS = sorted((ROOT / "seeds").glob("*.txt"))
BRIEF = ROOT / "brief.toml"


@pytest.fixture
def files(tmp_path: Path) -> list[Path]:
    """The seeds, and one of them again with CRLF line ends (other bytes, the same text)."""
    folder = tmp_path / "sources"
    folder.mkdir()
    paths = [Path(shutil.copy(seed, folder / seed.name)) for seed in SEEDS]
    crlf = folder / "crlf.txt"
    crlf.write_bytes(SEEDS[0].read_bytes().replace(b"\n", b"\r\n"))
    return [*paths, crlf]


@pytest.fixture
def segmented(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The texts the segmenter is run on, in order."""
    seen: list[str] = []
    real = sentences.sentence_spans

    def counting(text: str) -> list[sentences.Span]:
        seen.append(text)
        return real(text)

    monkeypatch.setattr(sentences, "sentence_spans", counting)
    return seen


def read_with_state(out: Path, files: Sequence[Path]) -> list[Source]:
    with state.open_state(out) as st, splits.sentence_cache(st) as kept:
        reading = read_files(files, cache=kept)
    assert not reading.failures
    return reading.sources


def stored_rows(out: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(state.state_path(out)) as db:
        return db.execute("SELECT text_sha256, segmenter, spans FROM sentence_splits").fetchall()


def test_a_second_read_takes_every_split_from_the_state(
    files: list[Path], segmented: list[str], tmp_path: Path
) -> None:
    first = read_with_state(tmp_path / "out", files)
    # The CRLF copy reads as the same text as its seed: split once, when the seed was read.
    assert len(segmented) == len(SEEDS)
    assert len(stored_rows(tmp_path / "out")) == len(SEEDS)

    segmented.clear()
    second = read_with_state(tmp_path / "out", files)
    assert segmented == []
    assert second == first
    # And both are what reading without any state gives.
    assert second == read_files(files).sources
    assert [s.sentences for s in second] == [read_source(p).sentences for p in files]


def test_new_splits_are_written_in_one_transaction(
    files: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    real = state.State.store_sentence_splits

    def counting(self: state.State, segmenter: str, rows: Sequence[tuple[str, str]]) -> None:
        calls.append(len(rows))
        real(self, segmenter, rows)

    monkeypatch.setattr(state.State, "store_sentence_splits", counting)
    read_with_state(tmp_path / "out", files)
    assert calls == [len(SEEDS)]

    calls.clear()
    with state.open_state(tmp_path / "more") as st:
        kept = splits.StateSentenceCache(st, flush_every=2)
        read_files(files, cache=kept)
        assert calls == [2, 2]  # at once every two new splits
        kept.flush()
    assert calls == [2, 2, 1]
    assert (kept.hits, kept.misses) == (1, len(SEEDS))  # the CRLF copy was a hit


def test_a_changed_segmenter_splits_again_and_forgets_the_old_splits(
    files: list[Path], segmented: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = read_with_state(tmp_path / "out", files)
    assert {row[1] for row in stored_rows(tmp_path / "out")} == {sentences.segmenter_version()}

    segmented.clear()
    monkeypatch.setattr(sentences, "segmenter_version", lambda: "rules-of-tomorrow")
    assert read_with_state(tmp_path / "out", files) == first
    assert len(segmented) == len(SEEDS)
    assert {row[1] for row in stored_rows(tmp_path / "out")} == {"rules-of-tomorrow"}


@pytest.mark.parametrize(
    "damage",
    [
        "not json at all",
        '{"v": 2, "spans": [[0, 5]]}',  # a later format
        '{"v": 1, "spans": [[0, 5]], "more": 1}',  # a field this version does not know
        '{"v": 1, "spans": [["0", "5"]]}',  # strings, not offsets
        '{"v": 1, "spans": [[0, 99999999]]}',  # past the end of the text
        '{"v": 1, "spans": [[40, 60], [0, 20]]}',  # out of order
        '{"v": 1, "spans": [[7, 7]]}',  # empty
    ],
)
def test_a_damaged_row_is_split_again(
    damage: str, files: list[Path], segmented: list[str], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    first = read_with_state(out, files)
    victim = stored_rows(out)[2][0]
    with sqlite3.connect(state.state_path(out)) as db:
        db.execute("UPDATE sentence_splits SET spans = ? WHERE text_sha256 = ?", (damage, victim))

    segmented.clear()
    assert read_with_state(out, files) == first
    assert len(segmented) == 1
    # The row is written again as it should be.
    assert dict((k, s) for k, _, s in stored_rows(out))[victim] != damage


def test_a_state_from_before_the_split_table_is_upgraded(
    files: list[Path], segmented: list[str], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    path = state.state_path(out)
    path.parent.mkdir(parents=True)
    with sqlite3.connect(path) as db:  # schema 4, as the briefing before this one left it
        for script in migrations.MIGRATIONS[:4]:
            db.executescript(script)
        db.execute("PRAGMA user_version = 4")
        db.execute(
            "INSERT INTO completions VALUES ('k', 'extract', 'm', 's', 'reply', 'stop', "
            "'{\"prompt_tokens\": 1}', 'then')"
        )
    first = read_with_state(out, files)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(migrations.MIGRATIONS) >= 5
        assert db.execute("SELECT text FROM completions").fetchall() == [("reply",)]
    assert len(stored_rows(out)) == len(SEEDS)
    segmented.clear()
    assert read_with_state(out, files) == first
    assert segmented == []


# --- what is hidden, once per source --------------------------------------------------------------


def counting(monkeypatch: pytest.MonkeyPatch, name: str) -> list[int]:
    calls: list[int] = []
    real: Callable[..., set[int]] = getattr(hidden, name)

    def wrapper(*args: object) -> object:
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(hidden, name, wrapper)
    return calls


def test_what_is_hidden_is_worked_out_once_per_source(monkeypatch: pytest.MonkeyPatch) -> None:
    source = read_source(SEEDS[1])
    expected = (prepare(source, 1400), linking._candidate_sentences([source]))
    fresh = read_source(SEEDS[1])
    furniture_calls = counting(monkeypatch, "furniture")
    instruction_calls = counting(monkeypatch, "instructions")
    for _ in range(3):  # the batch plan, the replay, a live extraction
        assert prepare(fresh, 1400) == expected[0]
    assert linking._candidate_sentences([fresh]) == expected[1]
    assert furniture_calls == instruction_calls == [1]
    # The record is unchanged by it: equal to a Source that never worked it out, same dump.
    assert fresh == read_source(SEEDS[1])
    assert fresh.model_dump() == read_source(SEEDS[1]).model_dump()


def test_a_copy_with_another_title_works_out_its_headline_again() -> None:
    source = read_source(SEEDS[1])
    assert hidden.of(source).headline
    retitled = source.model_copy(update={"title": "A headline the page never repeats"})
    assert hidden.of(retitled).headline == frozenset()
    assert prepare(retitled, 6000).headline is None


def recall_with_state(out: Path) -> tuple[list[Source], int]:
    with state.open_state(out) as st, splits.sentence_cache(st) as kept:
        sources = read_files(SEEDS, cache=kept).sources
        return sources, hidden.recall(sources, kept)


def test_what_is_hidden_is_kept_in_the_state_for_the_next_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, found = recall_with_state(tmp_path / "out")
    assert found == 0
    instruction_calls = counting(monkeypatch, "instructions")
    again, found = recall_with_state(tmp_path / "out")
    assert found == len(SEEDS)
    assert instruction_calls == []  # the injection rules never ran
    assert [hidden.of(s) for s in again] == [hidden.of(s) for s in first]
    assert any(hidden.of(s).headline for s in again) and any(hidden.of(s).furniture for s in again)


@pytest.mark.parametrize(
    "damage",
    [
        "not json",
        '{"v": 2, "furniture": [], "headline": [], "instructions": []}',
        '{"v": 1, "furniture": [1]}',
        '{"v": 1, "furniture": [100000], "headline": [], "instructions": []}',
    ],
    ids=["not-json", "other-version", "fields-missing", "numbers-past-the-text"],
)
def test_a_damaged_hidden_row_is_worked_out_again(tmp_path: Path, damage: str) -> None:
    first, _ = recall_with_state(tmp_path / "out")
    with sqlite3.connect(state.state_path(tmp_path / "out")) as db:
        db.execute("UPDATE hidden_sentences SET hidden = ?", (damage,))
    again, found = recall_with_state(tmp_path / "out")
    assert found == 0
    assert [hidden.of(s) for s in again] == [hidden.of(s) for s in first]


# --- a build ------------------------------------------------------------------------------------


def test_a_build_with_every_split_kept_writes_the_same_brief_and_events(
    fake_openai: FakeOpenAI, corpus: Path, segmented: list[str], tmp_path: Path
) -> None:
    fake_openai.respond_with(scripted_model.respond)
    env = {"OPENAI_BASE_URL": fake_openai.base_url, "OPENAI_API_KEY": "test"}
    cold, warm = tmp_path / "cold", tmp_path / "warm"
    pipeline.build(load_settings(env, {"out": cold, "brief_file": BRIEF}), [corpus])
    assert len(segmented) == len(SEEDS)
    read_with_state(warm, sorted(corpus.glob("*.txt")))  # the splits, and no run yet

    segmented.clear()
    pipeline.build(load_settings(env, {"out": warm, "brief_file": BRIEF}), [corpus])
    assert segmented == []
    for name in ("brief.md", "events.json", "claims.json"):
        assert (warm / name).read_bytes() == (cold / name).read_bytes(), name
