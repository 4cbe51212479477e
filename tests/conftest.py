"""Shared pytest fixtures."""

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakeserver import FakeOpenAI


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """Copies of the seeds in a temporary folder, so a test may add, edit and remove sources."""
    folder = tmp_path / "sources"
    folder.mkdir()
    for seed in sorted((Path(__file__).resolve().parent.parent / "seeds").glob("*.txt")):
        shutil.copy(seed, folder / seed.name)
    return folder


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    """A running fake OpenAI-compatible server; closed after the test."""
    with FakeOpenAI() as fake:
        yield fake


CHROMIUM = "/usr/bin/chromium"


def chromium_or_skip() -> None:
    """Skip a browser test where Debian's chromium is missing, except in CI: there `.ci/run`
    installs it, so a missing browser must fail the run rather than skip it unseen."""
    import os
    import shutil

    if shutil.which(CHROMIUM) is None:
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} missing in CI: `make test` should have installed it")
        pytest.skip(f"{CHROMIUM} missing (.ci/run installs it)")


@pytest.fixture
def chromium() -> str:
    """The path of Debian's chromium, for the browser tests (see chromium_or_skip)."""
    chromium_or_skip()
    return CHROMIUM
