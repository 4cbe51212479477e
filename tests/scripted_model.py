"""A test double for the model, ``fake_openai.respond_with(scripted_model.respond)``: a rule-based
"careful extractor". It tells requests apart by their system prompt (``prompts/extract_system.j2``
or ``compose_system.j2``) and answers from the numbered sentences or event records of the user
message; no network, and the same prompt always gets the same reply."""

from __future__ import annotations

import json
import re
from typing import Any

from fakeserver import Reply

from briefing import resources

UNKNOWN_LABEL = "E999"
UNSUPPORTED_POINT = "A development that no event record in this brief supports at all."
SENTENCE = re.compile(r"^\[(\d+)\] (.*)$", re.M)
RECORD = re.compile(r"^(E\d+) \| [^|]* \| [^|]* \| [^|]* \| ([^|]*) \|", re.M)
# Furniture: lines matching FURNITURE_LINE (first person: an author's bio), the line after
# FURNITURE_NEXT, all lines after FURNITURE_REST, and short lines without a verb-ish word.
FURNITURE_LINE = re.compile(
    r"(?i:also read|check also|topics :|follow us|load more|http)|^Home[A-Z]|\b(I|my|My)\b"
)
FURNITURE_NEXT = re.compile(r"^(previous story|next story)$", re.I)
FURNITURE_REST = re.compile(r"^(latest from|don't miss)", re.I)
VERBISH = re.compile(r"\b(\w+(ed|es|s)|is|are|was|were|will|has|have|had|can|met|meet|said)\b")
TRIGGERS = [  # first match wins: (pattern, PLOVER type, subtype)
    (r"\bagree(d|ment)?\b", "AGREE", "agreement"),
    (r"\b(met|meet|meeting|talks|discussed|convened)\b", "CONSULT", "meeting"),
    (r"\bsummit\b", "CONSULT", "summit"),
    (r"\b(shar(e|ing)|cooperate)\b", "COOPERATE", "cooperation"),
    (r"\blaunch(ed|es)?\b", "MOBILIZE", "launch"),
    (r"\bsaid\b", "CONSULT", "statement"),
]
ACTORS = [  # (pattern, normalized, country); longest names first
    (r"South Korea|S\. Korea|Seoul|Republic of Korea", "South Korea", "South Korea"),
    (r"North Korea|N\. Korea|DPRK|Pyongyang", "North Korea", "North Korea"),
    (r"United States|U\.S\.|US", "United States", "United States"),
    (r"Japan", "Japan", "Japan"),
    (r"Joe Biden|Biden", "Joe Biden", "United States"),
    (r"Fumio Kishida|Kishida", "Fumio Kishida", "Japan"),
    (r"Yoon Suk Yeol", "Yoon Suk Yeol", "South Korea"),
]
PLACE = re.compile(r"\b(?:in|at) (Camp David|Seoul|Tokyo|Washington)\b")
PROSE_END = re.compile(r"[.”\"]$")  # events come from whole sentences, not headlines or teasers
NAME = re.compile(r"[A-Z][a-z]+(?: [A-Z][a-z]+)+")
MONTHS = "January February March April May June July August September October November December"
_M = MONTHS.replace(" ", "|")
DATE = re.compile(rf"\b(?:(\d{{1,2}}) ({_M}) (\d{{4}})|({_M}) (\d{{1,2}}), (\d{{4}}))\b")
MAX_EVENTS = 3


def respond(body: dict[str, Any]) -> Reply:
    """The fake server's responder: an extraction or key-developments reply, else a loud 500."""
    system = next((m["content"] for m in body["messages"] if m["role"] == "system"), "")
    users = [m["content"] for m in body["messages"] if m["role"] == "user"]
    if system == resources.render("prompts", "extract_system.j2"):
        reply = extraction(next(u for u in reversed(users) if SENTENCE.search(u)))
    elif system == resources.render("prompts", "compose_system.j2"):
        reply = key_points(next(u for u in reversed(users) if RECORD.search(u)))
    else:
        return Reply.status(500, {"error": {"message": "scripted model: unknown request"}})
    text = json.dumps(reply, ensure_ascii=False)  # usage: about 4 characters a token
    return Reply.text(text, usage=(len(conversation_text(body)) // 4, len(text) // 4))


def conversation_text(body: dict[str, Any]) -> str:
    """Every message of a request, joined (to pick out a source by a phrase in its prompt)."""
    return "\n".join(m["content"] for m in body["messages"])


def furniture(sentences: dict[int, str]) -> list[int]:
    """Sentence numbers that look like page furniture, by simple line rules."""
    marked, rest, mark_next = [], False, False
    for n, text in sentences.items():
        short_no_verb = len(text.split()) <= 8 and not VERBISH.search(text)
        if rest or mark_next or short_no_verb or FURNITURE_LINE.search(text):
            marked.append(n)
        mark_next = bool(FURNITURE_NEXT.match(text))
        rest = rest or bool(FURNITURE_REST.match(text))
    return marked


def extraction(prompt: str) -> dict[str, Any]:
    """Furniture and up to ``MAX_EVENTS`` events, one per trigger sentence naming an actor."""
    sentences = {int(n): text for n, text in SENTENCE.findall(prompt)}
    published = re.search(r"Publication date: (\d{4}-\d{2}-\d{2})", prompt)
    skip = set(furniture(sentences))
    events = []
    for n, text in sentences.items():
        trigger = next((t for t in TRIGGERS if re.search(t[0], text, re.I)), None)
        if n in skip or not trigger or not PROSE_END.search(text) or len(events) == MAX_EVENTS:
            continue
        events += filter(None, [event(n, text, *trigger[1:], published and published[1])])
    return {"furniture": sorted(skip), "events": events}


def event(n: int, text: str, type_: str, subtype: str, published: str | None) -> dict | None:
    """One valid event draft for sentence ``n``, or None when it names no actor."""
    date = stated_date(text)  # a date after publication can only be planned:
    planned = (date or "") > (published or "9") or re.search(r"\b(will|plans?|next year)\b", text)
    place, names = PLACE.search(text), NAME.findall(text)
    actors: list[dict[str, str]] = []
    for pattern, normalized, country in ACTORS:
        found = re.search(rf"\b({pattern})(?!\w)", text)
        if found and normalized not in [a["normalized"] for a in actors]:
            actors.append({"name": found[1], "normalized": normalized, "country": country})
    if not actors and names:
        actors = [{"name": names[0][:60], "normalized": names[0][:60], "country": "Unknown"}]
    if not actors:
        return None
    return {
        "evidence": [n],
        "type": type_,
        "subtype": subtype,
        "summary": shorten(text),
        "actors": actors[:4],
        "location": place[1] if place else None,
        "date": date,
        "date_basis": "stated" if date else "none",
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
