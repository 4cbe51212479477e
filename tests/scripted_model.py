"""A test double for the model, ``fake_openai.respond_with(scripted_model.respond)``: a rule-based
"careful extractor". It tells requests apart by their system prompt (``prompts/extract_system.j2``
or ``compose_system.j2``) and answers from the numbered sentences or event records of the user
message; no network, and the same prompt always gets the same reply.

Like the real model it sees only what extraction shows it: the numbered sentences of one window
(page furniture and the headline are never numbered), so every event it reports cites a
sentence number of that request and nothing else.
"""

from __future__ import annotations

import json
import re
from typing import Any

from fakeserver import Reply

from briefing import resources

UNKNOWN_LABEL = "E999"
UNSUPPORTED_POINT = "A development that no event record in this brief supports at all."
SENTENCE = re.compile(r"^\[(\d+)\] (.*)$", re.M)
# "E1 | date | status | role | summary", then maybe " | actors: …" and more.
RECORD = re.compile(r"^(E\d+) \| [^|]* \| [^|]* \| [^|]* \| ([^|\n]*?) *(?:\||$)", re.M)
TRIGGERS = [  # first match wins: (pattern, PLOVER type)
    (r"\bagree(d|ment)?\b", "AGREE"),
    (r"\b(met|meet|meeting|talks|discussed|convened)\b", "CONSULT"),
    (r"\bsummit\b", "CONSULT"),
    (r"\b(shar(e|ing)|cooperate)\b", "COOPERATE"),
    (r"\blaunch(ed|es)?\b", "MOBILIZE"),
    (r"\bveto(ed|es)?\b", "REJECT"),
    (r"\bsaid\b", "CONSULT"),
]
ACTORS = [  # (pattern, full usual name); longest names first
    (r"South Korea|S\. Korea|Seoul|Republic of Korea", "South Korea"),
    (r"North Korea|N\. Korea|DPRK|Pyongyang", "North Korea"),
    (r"United States|U\.S\.|US", "United States"),
    (r"Japan", "Japan"),
    (r"Joe Biden|Biden", "Joe Biden"),
    (r"Fumio Kishida|Kishida", "Fumio Kishida"),
    (r"Yoon Suk Yeol", "Yoon Suk Yeol"),
]
PLACE = re.compile(r"\b(?:in|at) (Camp David|Seoul|Tokyo|Washington)\b")
PROSE_END = re.compile(r"[.”\"]$")  # events come from whole sentences, not captions or bylines
NAME = re.compile(r"[A-Z][a-z]+(?: [A-Z][a-z]+)+")
MONTHS = "January February March April May June July August September October November December"
_M = MONTHS.replace(" ", "|")
DATE = re.compile(rf"\b(?:(\d{{1,2}}) ({_M}) (\d{{4}})|({_M}) (\d{{1,2}}), (\d{{4}}))\b")
MAX_EVENTS = 3  # per request, i.e. per window


def respond(body: dict[str, Any]) -> Reply:
    """The fake server's responder: an extraction or key-developments reply, else a loud 500."""
    system = next((m["content"] for m in body["messages"] if m["role"] == "system"), "")
    users = [m["content"] for m in body["messages"] if m["role"] == "user"]
    if system == resources.render("prompts", "extract_system.j2"):
        reply = extraction(next(u for u in reversed(users) if SENTENCE.search(u)))
    elif system == resources.render("prompts", "merge_system.j2"):
        reply = same_event(users[-1])
    elif system == resources.render("prompts", "compose_system.j2"):
        reply = key_points(next(u for u in reversed(users) if RECORD.search(u)))
    elif system == resources.render("prompts", "support_system.j2"):
        reply = support(users[-1])
    else:
        return Reply.status(500, {"error": {"message": "scripted model: unknown request"}})
    text = json.dumps(reply, ensure_ascii=False)  # usage: about 4 characters a token
    return Reply.text(text, usage=(len(conversation_text(body)) // 4, len(text) // 4))


def conversation_text(body: dict[str, Any]) -> str:
    """Every message of a request, joined (to pick out a source by a phrase in its prompt)."""
    return "\n".join(m["content"] for m in body["messages"])


def shown(prompt: str) -> dict[int, str]:
    """The numbered sentences of an extraction prompt, by number."""
    return {int(n): text for n, text in SENTENCE.findall(prompt)}


def extraction(prompt: str) -> dict[str, Any]:
    """Up to ``MAX_EVENTS`` events, one per shown trigger sentence that names an actor."""
    published = re.search(r"Publication date: (\d{4}-\d{2}-\d{2})", prompt)
    events: list[dict[str, Any]] = []
    for n, text in shown(prompt).items():
        trigger = next((t for t in TRIGGERS if re.search(t[0], text, re.I)), None)
        if not trigger or not PROSE_END.search(text) or len(events) == MAX_EVENTS:
            continue
        events += filter(None, [event(n, text, trigger[1], published and published[1])])
    return {"events": events}


def event(n: int, text: str, type_: str, published: str | None) -> dict[str, Any] | None:
    """One valid event draft for sentence ``n``, or None when it names no actor."""
    date = stated_date(text)  # a date after publication can only be planned:
    planned = (date or "") > (published or "9") or re.search(r"\b(will|plans?|next year)\b", text)
    place, names = PLACE.search(text), NAME.findall(text)
    actors: list[str] = []
    for pattern, name in ACTORS:
        if re.search(rf"\b({pattern})(?!\w)", text) and name not in actors:
            actors.append(name)
    if not actors and names:
        actors = [names[0][:60]]
    if not actors:
        return None
    return {
        "type": type_,
        "summary": shorten(text),
        "evidence": [n],
        "actors": actors[:4],
        "location": place[1] if place else None,
        "date": date,
        "status": "planned" if planned else "occurred",
        "role": "background" if re.search(r"\b(last year|in (19|20)\d\d)\b", text) else "main",
    }


def stated_date(text: str) -> str | None:
    """A full date written out in the sentence ("1 April 2024", "December 9, 2024"), else None."""
    if not (m := DATE.search(text)):
        return None
    day, month, year = (m[1], m[2], m[3]) if m[1] else (m[5], m[4], m[6])
    return f"{year}-{MONTHS.split().index(month) + 1:02d}-{int(day):02d}"


def shorten(text: str, width: int = 150) -> str:
    """The sentence flattened, cut at a word to at most ``width`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1].rsplit(" ", 1)[0] + "…"


def key_points(prompt: str) -> dict[str, Any]:
    """Three points citing real labels (E1+E2, E3, E4 when there), plus one citing only E999."""
    records = dict(RECORD.findall(prompt))
    labels = list(records)
    points = [
        {"text": shorten("Reported: " + " ".join(records[x].strip() for x in group), 300),
         "events": group}
        for group in (labels[0:2], labels[2:3], labels[3:4]) if group
    ]  # fmt: skip
    return {"points": [*points, {"text": UNSUPPORTED_POINT, "events": [UNKNOWN_LABEL]}]}


def same_event(prompt: str) -> dict[str, Any]:
    """Two reports are one event when their quoted words share a place named after "in"/"at"."""
    quotes = re.findall(r'^Words: "(.*)"$', prompt, re.M)
    places = [set(re.findall(r"\b(?:in|at) ([A-Z][a-z]+(?: [A-Z][a-z]+)?)", q)) for q in quotes]
    same = len(places) == 2 and bool(places[0] & places[1])
    return {"same": same, "reason": "same place" if same else "no place in common"}


CLAIM = re.compile(r"^CLAIM: (.*)$", re.M)
PASSAGE = re.compile(r"^\[(\d+)\] (.*)$", re.M)
WORD = re.compile(r"[A-Za-z][A-Za-z'’-]+|\d+")
STOP = {"the", "a", "an", "of", "and", "to", "in", "on", "at", "for", "with", "by", "from", "as"}


def _words(text: str) -> set[str]:
    return {w.lower() for w in WORD.findall(text) if w.lower() not in STOP}


def support(prompt: str) -> dict[str, Any]:
    """A support verdict by word overlap: the share of the claim's words its passages hold."""
    claim = _words(CLAIM.search(prompt).group(1))  # type: ignore[union-attr]
    passages = PASSAGE.findall(prompt)

    def share(text: str) -> float:
        return len(claim & _words(text)) / len(claim) if claim else 0.0

    def grade(value: float) -> str:
        return "supports" if value >= 0.6 else "partly" if value >= 0.2 else "unrelated"

    together = share(" ".join(t for _, t in passages))
    verdict = "supported" if together >= 0.6 else "partly" if together >= 0.3 else "not_supported"
    return {
        "passages": [{"passage": int(n), "alone": grade(share(t))} for n, t in passages],
        "verdict": verdict,
        "reason": f"the passages hold {together:.0%} of the claim's words",
    }
