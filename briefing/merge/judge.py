"""The model's verdict on pairs the signals leave in doubt: a bounded number per build.

Only pairs whose score falls between ``scoring.DIFFERENT`` and ``scoring.SAME`` are asked, the
closest to the middle first (where the signals know least), at most ``budget`` of them; the
rest are decided by the middle of the band, and the decision says so (``decided_by="budget"``).
A failed request is not fatal: that pair too falls back on the score, with the reason noted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import llm, resources
from ..config import Settings
from ..errors import LLMError
from ..models import Event, SameEventReply, Usage

SYSTEM_PROMPT = "merge_system.j2"
USER_PROMPT = "merge_user.j2"
MAX_REPLY_TOKENS = 80
QUOTE_CHARS = 320  # enough words to tell two events apart, few prompt tokens


@dataclass(frozen=True)
class Verdict:
    """The model's answer for one pair, or None when it could not be had."""

    same: bool | None
    reason: str


@dataclass
class Judge:
    """Asks the model "same event?" for up to ``budget`` pairs; counts what it cost."""

    client: llm.Client
    settings: Settings
    budget: int
    published: dict[str, str | None]
    on_notice: Callable[[str], None] | None = None
    usage: Usage = field(default_factory=Usage)
    asked: int = 0

    def verdict(self, a: Event, b: Event, actors: Sequence[Sequence[str]]) -> Verdict:
        """Ask about mentions ``a`` and ``b`` (``actors``: their canonical actor names)."""
        self.asked += 1
        reports: list[dict[str, Any]] = [
            {
                "published": self.published.get(e.source_id),
                "date": e.date,
                "place": e.location,
                "status": e.status,
                "actors": list(names),
                "quote": _quote(e),
            }
            for e, names in zip((a, b), actors, strict=True)
        ]
        messages = [
            {"role": "system", "content": resources.render("prompts", SYSTEM_PROMPT)},
            {"role": "user", "content": resources.render("prompts", USER_PROMPT, reports=reports)},
        ]
        try:
            answer = llm.ask(
                self.client,
                self.settings,
                messages,
                SameEventReply,
                reask=lambda errors: resources.render("prompts", "reask.j2", errors=errors),
                max_tokens=MAX_REPLY_TOKENS,
                on_notice=self.on_notice,
                purpose="merge",
            )
        except LLMError as exc:
            self.usage = self.usage + (exc.usage or Usage())
            return Verdict(None, f"the model could not be asked ({exc})"[:160])
        self.usage = self.usage + answer.usage
        return Verdict(answer.value.same, " ".join(answer.value.reason.split()))


def _quote(event: Event) -> str:
    text = " ".join(" ".join(c.quote.split()) for c in event.citations)
    return text if len(text) <= QUOTE_CHARS else text[: QUOTE_CHARS - 1].rsplit(" ", 1)[0] + "…"
