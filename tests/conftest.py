"""Shared pytest fixtures."""

from collections.abc import Iterator

import pytest
from fakeserver import FakeOpenAI


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    """A running fake OpenAI-compatible server; closed after the test."""
    with FakeOpenAI() as fake:
        yield fake
