"""The merge's vectors kept in the refresh state (migration 6): a text embedded once is never
embedded again while the embedding version stands, and a damaged row is embedded again.

The model is the real int8 MiniLM; the state is a real SQLite file in tmp_path.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from briefing.merge import embeddings
from briefing.merge.embeddings import DIMENSIONS, VECTOR_VERSION, Embedder, text_key
from briefing.store import migrations, state

TEXTS = [
    "The leaders of the US, Japan and South Korea met at Camp David in August.",
    "North Korea fired two short-range ballistic missiles into the sea.",
    "Officials from the three countries met in Tokyo to discuss cyber threats.",
]


@pytest.fixture(scope="module")
def fresh() -> np.ndarray:
    """The texts' vectors from the model with no cache at all."""
    return Embedder.load().embed(TEXTS)


def rows(out: Path) -> list[tuple[str, str, bytes]]:
    with sqlite3.connect(state.state_path(out)) as db:
        return db.execute("SELECT text_sha256, version, vector FROM vectors").fetchall()


def test_kept_vectors_are_the_computed_ones_and_are_not_computed_again(
    tmp_path: Path, fresh: np.ndarray
) -> None:
    with state.open_state(tmp_path) as st:
        first = Embedder.load(cache=st)
        assert np.array_equal(first.embed(TEXTS), fresh)
        assert (first.computed, first.recalled) == (3, 0)
    kept = rows(tmp_path)
    assert sorted(k for k, _, _ in kept) == sorted(
        hashlib.sha256(t.encode()).hexdigest() for t in TEXTS
    )
    assert {v for _, v, _ in kept} == {VECTOR_VERSION}
    assert all(len(blob) == DIMENSIONS * 4 for _, _, blob in kept)

    with state.open_state(tmp_path) as st:  # a later build: a new process would do the same
        again = Embedder.load(cache=st)
        vectors = again.embed([TEXTS[2], TEXTS[0], "A text no build has seen.", TEXTS[0]])
    assert (again.computed, again.recalled) == (1, 2)
    assert np.array_equal(vectors[0], fresh[2]) and np.array_equal(vectors[1], fresh[0])
    assert np.array_equal(vectors[3], fresh[0])


@pytest.mark.parametrize(
    "damage",
    [b"", b"\x00" * (DIMENSIONS * 4 - 1), np.full(DIMENSIONS, np.nan, "<f4").tobytes(),
     np.zeros(DIMENSIONS, "<f4").tobytes()],
    ids=["empty", "short", "not-finite", "not-unit"],
)  # fmt: skip
def test_a_damaged_row_is_embedded_again_and_replaced(
    tmp_path: Path, fresh: np.ndarray, damage: bytes
) -> None:
    with state.open_state(tmp_path) as st:
        Embedder.load(cache=st).embed(TEXTS)
    with sqlite3.connect(state.state_path(tmp_path)) as db:
        db.execute(
            "UPDATE vectors SET vector = ? WHERE text_sha256 = ?", (damage, text_key(TEXTS[1]))
        )
    with state.open_state(tmp_path) as st:
        embedder = Embedder.load(cache=st)
        assert np.array_equal(embedder.embed(TEXTS), fresh)
        assert (embedder.computed, embedder.recalled) == (1, 2)
    assert all(len(blob) == DIMENSIONS * 4 for _, _, blob in rows(tmp_path))


def test_vectors_of_another_version_are_never_used_and_go(
    tmp_path: Path, fresh: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    with state.open_state(tmp_path) as st:
        Embedder.load(cache=st).embed(TEXTS[:2])
    monkeypatch.setattr(embeddings, "VECTOR_VERSION", "another-model")
    with state.open_state(tmp_path) as st:
        embedder = Embedder.load(cache=st)
        assert np.array_equal(embedder.embed(TEXTS), fresh)
        assert (embedder.computed, embedder.recalled) == (3, 0)
    assert {v for _, v, _ in rows(tmp_path)} == {"another-model"}


def test_many_keys_are_looked_up_in_several_queries(tmp_path: Path) -> None:
    # More keys than one SELECT … IN (…) takes; no model needed.
    count = 3 * state._KEYS_PER_QUERY + 7
    stored = [(f"{i:064x}", np.float32(i).tobytes()) for i in range(count)]
    with state.open_state(tmp_path) as st:
        st.store_vectors("v", stored)
        wanted = [key for key, _ in stored[::2]] + ["f" * 64]
        found = st.vectors("v", wanted)
        assert found == dict(stored[::2])
        assert st.vectors("w", wanted) == {}


def test_a_killed_embedding_keeps_the_chunks_it_finished(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(embeddings, "CACHE_CHUNK", 2)
    with state.open_state(tmp_path) as st:
        embedder = Embedder.load(cache=st)
        real = embedder._embed_unique
        calls = []

        def dies_on_the_second_chunk(texts: list[str]) -> np.ndarray:
            calls.append(texts)
            if len(calls) == 2:
                raise KeyboardInterrupt
            return real(texts)

        monkeypatch.setattr(embedder, "_embed_unique", dies_on_the_second_chunk)
        with pytest.raises(KeyboardInterrupt):
            embedder.embed(TEXTS)
    assert len(rows(tmp_path)) == 2


def test_a_state_of_schema_5_is_upgraded_and_keeps_its_replies(tmp_path: Path) -> None:
    path = state.state_path(tmp_path)
    path.parent.mkdir(parents=True)
    with sqlite3.connect(path) as db:  # as the briefing before the vectors left it
        for script in migrations.MIGRATIONS[:5]:
            db.executescript(script)
        db.execute("PRAGMA user_version = 5")
        db.execute(
            "INSERT INTO completions VALUES ('k', 'extract', 'm', 's', 'reply', 'stop', "
            "'{\"prompt_tokens\": 1}', 'then')"
        )
    with state.open_state(tmp_path) as st:
        assert st.vectors(VECTOR_VERSION, [text_key(TEXTS[0])]) == {}
        st.store_vectors(VECTOR_VERSION, [(text_key(TEXTS[0]), b"x")])
        reply = st.reply("k")
    assert reply is not None and reply.text == "reply"
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(migrations.MIGRATIONS) == 6
