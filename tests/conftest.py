"""Shared pytest fixtures."""

from collections.abc import Iterator

import pytest
from fakeserver import FakeOpenAI


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
