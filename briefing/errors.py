"""The exception tree. Library code raises these; only the CLI turns them into one-line messages."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .models import Usage


class BriefingError(Exception):
    """Base of every error briefing reports to the user."""


class ConfigError(BriefingError):
    """A setting, flag or ``brief.toml`` entry is missing or wrong."""


class SourceError(BriefingError):
    """A source path cannot be read: missing, empty, binary, undecodable, no main text."""


class LLMError(BriefingError):
    """The model server failed or never gave a valid answer."""

    def __init__(self, message: str, usage: Usage | None = None) -> None:
        super().__init__(message)
        self.usage = usage  # what the failed request still cost


class ServerUnreachable(LLMError):
    """No answer from the server at all (connection refused, DNS, timeouts after retries)."""


class AuthenticationFailed(LLMError):
    """The server rejected the API key; retrying will not help."""


class InvalidReply(LLMError):
    """The model's replies stayed unparsable or invalid after every re-ask."""

    def __init__(self, message: str, usage: Usage | None = None, last_reply: str = "") -> None:
        super().__init__(message, usage)
        self.last_reply = last_reply  # kept so a caller can salvage its valid part


class LocalModelError(BriefingError):
    """The embedded model or its server cannot be found, assembled or started."""


class StateError(BriefingError):
    """The refresh state cannot be used: another build holds it, or it is damaged or newer."""


class RenderError(BriefingError):
    """A format of the brief cannot be written (a character no font can print, Typst failed)."""


class EmbeddingError(BriefingError):
    """The sentence-embedding model used for merging cannot be found, verified or run."""


class ReviewError(BriefingError):
    """Review decisions cannot be read, exported or applied (a damaged or foreign review file)."""
