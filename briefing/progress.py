"""The hooks a build calls as it goes (``BuildProgress``); the CLI draws bars with them."""

from __future__ import annotations

from .models import Source, Usage


class BuildProgress:
    """Hooks the build calls as it goes; the default does nothing. The CLI draws bars with them."""

    # Whether ``source_tokens`` is drawn where someone can watch it. Only then are extraction
    # replies streamed (``extract.parallel``): streaming costs the client CPU for every chunk.
    draws_tokens: bool = False

    def stage(self, name: str) -> None:
        """A stage starts ("reading sources", "extracting", ...)."""

    def sources_reading(self, done: int, total: int) -> None:
        """``done`` of the ``total`` files listed have been read (called after each file)."""

    def sources_read(self, count: int) -> None:
        """``count`` sources were read and will be extracted."""

    def source_started(self, source: Source) -> None:
        """Extraction of ``source`` starts."""

    def source_tokens(self, source: Source, tokens: int) -> None:
        """``tokens`` reply tokens of ``source`` have arrived so far."""

    def source_done(self, source: Source, events: int, usage: Usage) -> None:
        """``source`` is extracted."""

    def source_failed(self, path: str, reason: str) -> None:
        """``path`` could not be read or extracted; the build goes on without it."""

    def notice(self, message: str) -> None:
        """Something worth a line: a retry, a re-ask."""
