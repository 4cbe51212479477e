"""The support layer of `briefing check`: does what a claim cites say what the claim says?

An exact quote can still be the wrong quote. For each claim the model gets the claim and its
cited spans only (nothing else of the sources), and answers with a verdict (supported / partly
/ not supported), a one-line reason, and for each span whether it alone supports the claim
(``alce.py`` turns those into ALCE's citation precision). Replies are cached in the refresh
state like every other request, so a verdict is asked once per (claim text, spans, model,
prompt).

Some claims need no model:

* a claim citing a sentence that addresses a model or the reader (injection.py) is not
  supported, whatever the sentence says: an instruction is not a report;
* an actor line ("Japan takes part in 7 events.") is supported when every cited span names the
  actor (as the canonical name or a recorded variant) and the count is the events it rests on;
* a side of a disagreement ("1 source gives Kashida.") is supported when its spans give the
  value: the words of a name, place, title or number, the year or month of a date, a word of
  plan for "planned".
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from .. import llm, resources
from ..config import Settings
from ..extract.align import content_words
from ..merge.aliases import load_aliases
from ..models import Claim, Record, Usage
from ..read.injection import instruction_reason
from ..read.sources import MONTHS
from .details import unsupported_details
from .report import Alone

SYSTEM_PROMPT = "support_system.j2"
USER_PROMPT = "support_user.j2"
MAX_REPLY_TOKENS = 300
Verdict = Literal["supported", "partly", "not_supported"]


class PassageSupport(Record):
    """The model's view of one cited span on its own."""

    passage: int = Field(ge=1)
    alone: Alone


class SupportReply(Record):
    """What the model fills for one claim (the reply schema, apart from the stored check)."""

    passages: list[PassageSupport] = Field(max_length=12)
    verdict: Verdict
    reason: str = Field(min_length=3, max_length=200)

    @field_validator("passages")
    @classmethod
    def _known_passages(cls, value: list[PassageSupport], info: ValidationInfo) -> Any:
        count = (info.context or {}).get("passages")
        if count is not None:
            wrong = sorted({p.passage for p in value if p.passage > count})
            if wrong:
                raise ValueError(f"there are only {count} passages; no passage {wrong[0]}")
        return value


@dataclass(frozen=True)
class SupportVerdict:
    """One claim's verdict, who gave it, and each span's support on its own."""

    verdict: Verdict
    reason: str
    judged_by: Literal["model", "rule"]
    alone: tuple[Alone, ...]
    usage: Usage = field(default_factory=Usage)


def rule_verdict(claim: Claim, events: Mapping[str, Any]) -> SupportVerdict | None:
    """The verdict a rule can give without a model, or None when the model must judge.
    ``events``: the build's events.json (its actors and disagreements)."""
    for n, c in enumerate(claim.citations, 1):
        if instruction_reason(c.quote):
            reason = (
                f"passage {n} ({c.file}:{c.line}) addresses a model or the reader; "
                "it reports nothing"
            )
            alone: tuple[Alone, ...] = tuple("unrelated" for _ in claim.citations)
            return SupportVerdict("not_supported", reason, "rule", alone)
    if claim.section == "actors":
        return _actor_verdict(claim, events)
    if claim.section == "disagreements":
        return _side_verdict(claim, events)
    return None


def model_verdict(client: llm.Client, settings: Settings, claim: Claim) -> SupportVerdict:
    """Ask the model whether ``claim``'s cited spans support it (cached by the request)."""
    passages = [" ".join(c.quote.split()) for c in claim.citations]
    messages = [
        {"role": "system", "content": resources.render("prompts", SYSTEM_PROMPT)},
        {
            "role": "user",
            "content": resources.render(
                "prompts", USER_PROMPT, claim=claim.text, passages=passages
            ),
        },
    ]
    answer = llm.ask(
        client,
        settings,
        messages,
        SupportReply,
        reask=lambda errors: resources.render("prompts", "reask.j2", errors=errors),
        context={"passages": len(passages)},
        max_tokens=MAX_REPLY_TOKENS,
        purpose="check",
    )
    reply = answer.value
    given = {p.passage: p.alone for p in reply.passages}
    # A span the reply leaves out is taken as partly supporting: never called irrelevant unasked.
    alone = tuple(given.get(n, "partly") for n in range(1, len(passages) + 1))
    if len(passages) == 1 and reply.verdict == "supported":
        alone = ("supports",)
    verdict, reason = lowered(reply.verdict, reply.reason, claim)
    if verdict != "supported" and len(alone) == 1:
        alone = ("partly",) if verdict == "partly" else ("unrelated",)
    return SupportVerdict(verdict, reason, "model", alone, answer.usage)


def lowered(verdict: Verdict, reason: str, claim: Claim) -> tuple[Verdict, str]:
    """The model's verdict, lowered by the details the claim gives and its spans do not: a
    wrong number, date, negation or a claim stated as fact that its source attributes is not
    supported; a name its spans lack makes it partly supported at most."""
    found = unsupported_details(claim.text, [c.quote for c in claim.citations])
    if not found or verdict == "not_supported":
        return verdict, reason
    names_only = all(f.kind == "name" for f in found)
    worse: Verdict = "partly" if names_only else "not_supported"
    return worse, "; ".join(f.reason for f in found[:2]) + f" (the model: {reason})"


# --- rules -----------------------------------------------------------------------------------

_ACTOR_LINE = re.compile(r"^(?P<name>.+) takes part in (?P<n>\d+) events?\.$")
_SIDE_LINE = re.compile(r"^\d+ sources? gives? (?P<value>.+)\.$")
_PLAN_WORDS = re.compile(
    r"\b(?:will|would|plans?|planned|planning|to (?:host|hold|meet|visit)|next|upcoming|"
    r"scheduled|expected|set to|due to|agreed to hold|intends?)\b",
    re.IGNORECASE,
)


def _actor_verdict(claim: Claim, events: Mapping[str, Any]) -> SupportVerdict:
    match = _ACTOR_LINE.match(claim.text)
    if match is None:
        return _rule_fail(claim, "not an actor line this check knows")
    name = match.group("name")
    actor = next((a for a in events.get("actors") or [] if a.get("name") == name), None)
    written = [v["text"] for v in (actor or {}).get("variants") or [] if v.get("text")]
    aliases = load_aliases()
    alone: list[Alone] = [
        "supports" if aliases.mentions(c.quote, name, written) else "unrelated"
        for c in claim.citations
    ]
    if int(match.group("n")) != len(claim.event_ids):
        return SupportVerdict(
            "not_supported",
            f"says {match.group('n')} events but rests on {len(claim.event_ids)}",
            "rule",
            tuple(alone),
        )
    missing = [n for n, a in enumerate(alone, 1) if a != "supports"]
    if missing:
        return SupportVerdict(
            "partly", f"passage {missing[0]} does not name {name}", "rule", tuple(alone)
        )
    return SupportVerdict("supported", f"every passage names {name}", "rule", tuple(alone))


def _side_verdict(claim: Claim, events: Mapping[str, Any]) -> SupportVerdict:
    match = _SIDE_LINE.match(claim.text)
    if match is None:
        return _rule_fail(claim, "not a disagreement line this check knows")
    value = match.group("value")
    spans = {(c.file, c.start, c.end) for c in claim.citations}
    field = next(
        (
            d.get("field")
            for d in events.get("disagreements") or []
            for side in d.get("sides") or []
            if side.get("value") == value
            and {(c["file"], c["start"], c["end"]) for c in side.get("citations") or []} == spans
        ),
        None,
    )
    if field == "date":
        basis = _date_basis(events, spans, value)
        if basis in ("stated", "relative"):  # read from the cited words by the date rules
            why = "stated in" if basis == "stated" else "resolved from a weekday in"
            alone_: tuple[Alone, ...] = tuple("supports" for _ in claim.citations)
            return SupportVerdict("supported", f"{value} {why} the cited words", "rule", alone_)
    alone = tuple(_gives(field, value, c.quote) for c in claim.citations)
    if any(a == "supports" for a in alone):
        return SupportVerdict("supported", f"a passage gives {value}", "rule", alone)
    if any(a == "partly" for a in alone):
        return SupportVerdict("partly", f"the passages give only part of {value}", "rule", alone)
    return SupportVerdict("not_supported", f"no passage gives {value}", "rule", alone)


def _date_basis(events: Mapping[str, Any], spans: set[tuple[str, int, int]], date: str) -> str:
    """How the date rules found ``date`` for the mention citing ``spans`` (events.json)."""
    for event in events.get("events") or []:
        for m in event.get("mentions") or []:
            cited = {(c["file"], c["start"], c["end"]) for c in m.get("citations") or []}
            if m.get("date") == date and cited & spans:
                return str(m.get("date_basis") or "none")
    return "none"


def _gives(field: str | None, value: str, quote: str) -> Alone:
    """Whether ``quote`` gives ``value`` for ``field``."""
    text = quote.casefold()
    if field == "date":
        year, *rest = value.split("-")
        month = MONTHS[int(rest[0]) - 1] if rest else None
        if year in text or (month and month in text):
            return "supports"
        return (
            "partly"
            if re.search(r"\b(?:mon|tues|wednes|thurs|fri|satur|sun)day\b", text)
            else "unrelated"
        )
    if field == "status":
        planned = bool(_PLAN_WORDS.search(quote))
        return "supports" if planned == (value == "planned") else "unrelated"
    if value.casefold() in text:
        return "supports"
    if field == "participants":  # names as the merge completed them: each must be there in part
        names = [n.strip() for n in value.split(",") if n.strip()]
        given = [any(len(t) > 2 and t.casefold() in text for t in n.split()) for n in names]
        return "supports" if all(given) else "partly" if any(given) else "unrelated"
    words = content_words(value)
    found = words & content_words(quote)
    if words and found == words:
        return "supports"
    return "partly" if found else "unrelated"


def _rule_fail(claim: Claim, reason: str) -> SupportVerdict:
    alone: tuple[Alone, ...] = tuple("unrelated" for _ in claim.citations)
    return SupportVerdict("not_supported", reason, "rule", alone)


def judge(
    client: llm.Client, settings: Settings, claims: Sequence[Claim], events: Mapping[str, Any]
) -> list[SupportVerdict]:
    """Each claim's verdict, by rule where one applies, else by the model (in order)."""
    return [rule_verdict(c, events) or model_verdict(client, settings, c) for c in claims]
