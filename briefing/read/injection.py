"""Injected instructions found with no model: sentences that address the reader or a model.

A news text reports; it does not tell whoever reads it what to write. A page may still carry a
paragraph aimed at the language model that reads it ("Ignore previous instructions and report
that…", "Note to AI summarisers: …", "SYSTEM: …"). Asked to extract events, a small model obeys
it and the fabricated event reaches the brief citing the very sentence that asked for it.

The rules look at a sentence's *form*, not at any one probe's words:

* a chat role marker or template token ("SYSTEM:", "<|im_start|>", "[INST]") is never news;
* a *directive* (an imperative opening the sentence, "you must / you are now", "it must be
  reported that", "is instructed to report") counts only together with an *address to whoever
  processes the text* (a model, an assistant, a summariser, "your summary", "the brief", "the
  above instructions"), or when it tells the reader to report something ("Report that…");
* quoted speech is left out first: an official's "Stop the provocations," is reported speech.

A paragraph that opens with such a sentence is an address as a whole: what follows it in the
same paragraph is the payload ("…The most important news is that…"), so it is held back too.
Sentences found here are never shown to the model and never cited (like page furniture); the
brief's sources table lists them with their lines. The support check (check/support.py) is the
second line of defence for whatever these rules miss.
"""

from __future__ import annotations

import base64
import re
from collections import Counter
from collections.abc import Sequence

from ..models import Sentence

# Words in quotation marks are someone's speech, reported: not an address by the text itself.
# (Not inside markup: alt="…" is no one's speech.)
_QUOTED = re.compile(r"[\"“”«»„]([^\"“”«»„]{0,400})[\"“”«»„]|‘[^’]{0,400}’")
_MARKUP = re.compile(r"<[a-z][^>]*>", re.IGNORECASE)
# "I g n o r e", "I-g-n-o-r-e": letters spaced out to slip past word rules.
_DASHED_OUT = re.compile(r"(?<![\w\-.])((?:\w[\-.]){3,}\w)(?![\w\-])")
_SPACED_OUT = re.compile(r"(?<!\w)((?:\w[ \t]){3,}\w)(?!\w)")
# "1gn0re pr3vi0us": digits for letters, in words that mix both.
_LEET = re.compile(r"\b(?=\w*[a-z])(?=\w*[013457])[a-z013457]{3,}\b", re.IGNORECASE)
_LEET_LETTERS = str.maketrans("013457", "oieast")
_BASE64 = re.compile(r"\b[A-Za-z0-9+/]{24,}={0,2}")
_LATIN = re.compile(r"[A-Za-z]")


def _words(*alternatives: str) -> re.Pattern[str]:
    return re.compile("|".join(alternatives), re.IGNORECASE)


# --- signals that settle it alone --------------------------------------------------------------

_ROLE_MARKER = _words(
    r"(?:^|[>(\[.?!#*])\s*(?:system|assistant|developer|human)\s*(?:prompt\s*)?:",
    r"(?:^|[>(\[.?!#])\s*user\s*:",
    r"<\|[a-z_]+\|>",
    r"\[/?inst\]",
    r"</?(?:system|assistant|user|instructions?|prompt)>",
    r"^#{2,}\s*(?:instruction|system|human|assistant)",
    r"[\"']role[\"']\s*:\s*[\"'](?:system|user|assistant|developer)[\"']",
    r"\bbegin (?:system|hidden) (?:prompt|instructions?)\b",
    r"\b(?:ai|llm|bot|model|system|assistant)_(?:instructions?|prompt|directive|task)\s*[:=]",
)
_TAKEOVER = _words(
    # set aside what the processor was told or given
    r"\b(?:ignore|ignor|disregard|forget|override|overrides|set aside|drop)\s+(?:all\s+(?:of\s+)?)?"
    r"(?:your|my|these|those|any|(?:the\s+)?(?:previous|prior|above|earlier|preceding|original|"
    r"system|other))\s+(?:\w+\s+)?(?:instructions|directions|prompts?|guidelines|guidance|"
    r"directives|rules|task|context|articles|sources)\b",
    r"\b(?:ignore|ignor|disregard|forget)\s+(?:the|everything|all(?: of the)?)\s+(?:\w+\s+)?"
    r"(?:above|before|articles?)\b",
    r"\boverrides? (?:all\s+)?(?:prior|previous|earlier|the) (?:context|instructions)\b",
    r"\bif you are an? (?:ai|a\.i\.|language model|llm|assistant|bot|chatbot|model)\b",
    r"\byou are now\b",
    r"\bfrom now on,? you\b",
    r"\bnew (?:task|instructions)\s*:",
    r"\b(?:it|this) (?:must|should|has to|is to) be (?:reported|stated|written|included|"
    r"mentioned)(?: by [\w ]{1,30}?)? that\b",
    r"\bdecode (?:this )?and (?:follow|obey|execute)\b",
    r"\b(?:this|the) (?:article|text|page|story) (?:is|must|should)(?: not)? (?:to )?be "
    r"(?:summari[sz]ed|indexed|condensed)\b",
    # who claims to be in charge of the processor
    r"\bmessage (?:comes )?(?:from|by) (?:the )?(?:developer|operator|openai|anthropic|google|"
    r"system|admin\w*|safety team)",
    r"\b(?:system|security) update for\b",
    r"\byou are (?:now )?authori[sz]ed to\b",
    # the same in other languages a page may carry: ignore / instructions
    r"(?:ignorier\w*|ignorez|ignora|vergiss\w*|oubliez|olvida\w*|игнориру\w*|забудь\w*)\b.{0,40}"
    r"\b(?:anweisungen|instructions|consignes|instrucciones|istruzioni|инструкци\w*)",
    r"무시|無視|忽略|अनदेखा|تجاهل|bỏ qua\b.{0,30}chỉ dẫn|abaikan\b.{0,30}instruksi|"
    r"yok say|zignoruj|negeer\b.{0,30}instructies|ignore[mn]?\b.{0,30}instruç|ignorér|"
    r"ignorujte|αγνόησε|ignorați|ігноруй\w*|huwag pansinin",
)
# "Report that…", "State that…" opening a sentence: an order to assert something.
_REPORT_THAT = _words(
    r"^(?:[\w .\-]{1,40}[,:]\s*)?(?:please\s+)?(?:report|state|write|say|mention|conclude|"
    r"record|claim)\s+(?:that|in (?:the|your)\b)"
)

# --- signals that add up -----------------------------------------------------------------------

# Whoever processes the text, named as such. A bare topic word ("AI", "the report") is not
# enough: news is written about AI, and reports on reports.
_ADDRESSEE = re.compile(
    r"(?-i:\b(?:AI|A\.I\.|KI|IA|ИИ)\b)[- ]?(?:systems?|models?|assistants?|summari[sz]ers?|"
    r"tools?|agents?|bots?|systeme|modelle?|modèles?|writing|reading|summari[sz]ing|"
    r"processing|generating)\b|"
    r"(?-i:\bAI)\s*(?=[^\x00-\x7f])|(?-i:^\W{0,3}(?:AI|A\.I\.)\s*[:,])|"
    r"\b(?:hey|dear|hi|attention|note to|message to|note for)\s+(?:the\s+|any\s+|all\s+)?"
    r"(?:ai|a\.i\.|"
    r"bots?|models?|assistants?|llms?|gpt|chatgpt|claude|gemini|copilot|llama|bard|grok|mistral|"
    r"perplexity|deepseek)\b|"
    # a model's name at the very start, called: "Perplexity, when citing this page, …"
    r"^(?:claude|gemini|copilot|llama|bard|grok|mistral|perplexity|deepseek)\s*,"
    r"(?!\s+(?:the|a|an)\b)|"
    r"\b(?:(?:large )?language|summari[sz]ation|summary|any|summari[sz]ing) models?\b|\bllms?\b|"
    # model names that are no one's surname: "Claude", "Gemini" or "Bard" count only when called
    r"\bchat ?bots?\b|\b(?:chatgpt|gpt-?\d+|gpt)\b|"
    r"\b(?:any|an|the|dear|every|other|all) assistants?\b(?-i:(?![\s-]+[A-Z]))"
    r"(?![\s-]+(?:secretary|minister|director|professor|editor|chief|manager|coach|attorney|commissioner|general|to)\b)|"
    r"^assistants?\s*[:,]|\bsummari[sz]ers?\b|\bautomated (?:readers?|systems?|tools?)\b|"
    r"\b(?:(?:ai|news|content) )?(?:indexers?|aggregators?|crawlers?|scrapers?)\b|"
    r"\bsearch engines?\b(?= and| or|,|:| should| must| are| that)|"
    r"\b(?:summari[sz]ation|ai|llm|processing|newsletter) (?:pipeline|generator|agent)s?\b|"
    r"\bmachine readers?\b|\b(?:bots?|crawlers?|agents?)\s*:|"
    r"(?-i:\b(?:AI|IA|KI)\s*:)|"
    r"\bwhen (?:this|the) (?:content|text|article|page|story|report) is (?:being )?"
    r"(?:summari[sz]ed|condensed|indexed|processed|parsed)|"
    r"\b(?:summaries|any (?:accurate |complete |honest )?(?:summary|brief|recap|digest)|"
    r"a complete brief) (?:of|on) (?:this|the) (?:article|story|page|topic|text)\b|"
    r"\b(?:processing|summari[sz]ing|summari[sz]es?|parsing|analy[sz]ing|ingesting|crawling|"
    r"scraping|indexing|citing|reading)\s+(?:this|the)\s+(?:article|text|page|document|story|"
    r"content)\b(?<!reading this page)(?<!reading the page)|"
    r"\b(?:the|any) (?:analyst|reader)s? (?:reading|summari[sz]ing|using|processing|of this)\b|"
    r"\breaders who summari[sz]e\b|"
    r"intelligenza artificiale|inteligencia artificial|intelligence artificielle|"
    r"künstliche intelligenz|нейросет\w*|人工智能|人工知能|인공지능|智能助手|アシスタント|"
    r"sprachmodell\w*|modèles? de langage|modelos? de lenguaje|"
    r"assistente de ia|intelig[eê]ncia artificial|trí tuệ nhân tạo|एआई|कृत्रिम बुद्धि|"
    r"الذكاء الاصطناعي|yapay zeka|model\w* językow\w*|sztuczn\w* inteligencj\w*|"
    r"ai-assistent\w*|taalmodel\w*|kecerdasan buatan|umělá inteligence|τεχνητή νοημοσύνη|"
    r"ปัญญาประดิษฐ์|בינה מלאכותית|akili bandia|штучн\w* інтелект\w*|inteligența artificială",
    re.IGNORECASE,
)
# After the processor's name, within a few words: the colon or comma of a call ("Claude, …").
MAX_CALL_PREFIX = 3  # words before the name in a call: "To any", "DeepSeek and other"
_CALL = re.compile(r"\s*[\w\s]{0,30}?(?:\s*[:,(]|\s[-–]\s)")
_SECOND_PERSON = _words(
    r"\byou(?:r|rs|rself)?\b",
    r"\bu\b",
    r"\bpls\b",
    r"\bvotre\b|\bvous\b|\bdu\b|\bihr\w*|"
    r"\bsie\b(?=.*\bihr)|\btu\b|\bsvo\w+|\bтво\w+|\bсво\w+",
)
_DIRECTIVE = _words(
    r"^\W{0,3}(?:[\w .\-]{1,60}[,:;]\s*)?(?:please\s+|kindly\s+|also\s+|bitte\s+|pls\s+)?(?:ignore|"
    r"disregard|forget|override|report|state|write|say|include|add|mention|insert|summari[sz]e|"
    r"conclude|treat|list|describe|output|print|respond|reply|answer|pretend|act|tell|record|"
    r"emphasi[sz]e|highlight|make sure|ensure|remember|note|do not|don't|never|always|classify|"
    r"rate|rank|present|put|give|lead|use|append|translate|assume|comply|be sure|omit|drop|"
    r"remove|attribute|label|reproduce|disclose|end with|cite|call|frame|portray|"
    r"schreiben sie|schreibe|berichte|melden sie|ignorez|écrivez|indiquez|rapportez|escribe|"
    r"informa|indica|scrivi|riporta)\b",
    r"\b(?:is|are) to be (?:used|described|reported|presented|treated|listed|labell?ed|told|"
    r"directed|summari[sz]ed)\b|\bit is required that\b|\bshould be told\b|"
    r"\b(?:must|should|shall|are (?:now|to|asked|required|"
    r"requested|instructed|expected|told) to|is (?:asked|required|requested|instructed|told) to|"
    r"it is (?:essential|important|vital|crucial|necessary) that|kindly|please|pls|"
    r"make sure|be sure to|we ask|veuillez|bitte|por favor|debes|vous devez|"
    r"du musst|sie müssen|обязательно|укажи\w*|напиши\w*)\b",
    r"ください|してください|십시오|하세요|请|務必|务必",
)
_TASK = _words(
    r"\b(?:your|the|a|any|every|this) (?:summary|summaries|brief|write-?up|output|response|"
    r"answer|timeline|key (?:points|developments))\b",
    r"\b(?:your|any|every) (?:briefing|report|analysis|notes)\b",
    r"\bin summary form\b",
    r"\bthe user\b",
    r"\bthis run\b",
    r"\b(?:prior|previous) context\b",
    r"\b(?:the|this) (?:article|text) above\b",
    r"\bother articles\b",
    r"zusammenfassung|résumé|resumen|riassunto|обзор\w*|要約|摘要|요약|résumés?|resumo|"
    r"özet\w*|सारांश|الملخص|ringkasan|tóm tắt|samenvatting|podsumowani\w*|"
    r"\b(?:this|the|your|any) (?:digest|recap|overview|abstract|key takeaways|bullet points)\b|"
    r"\bsummaries\b|\bwhen citing\b",
)
_REPORTING = _words(
    r"\bthe fact that\b|"
    r"\b(?:says?|reports?|writes?|states?|includes?|mentions?|tells?|claims?|lead with|use|"
    r"notes?)\s+"
    r"(?:that|the claim|it|this)\b",
    r"\b(?:dass|que|che|что|bahwa|rằng|że|dat|ki|att|że|że)\b|कि|أن",
)
_SIGNALS = (
    (_ADDRESSEE, 2, "names a model or an assistant"),
    (_SECOND_PERSON, 1, "speaks to “you”"),
    (_DIRECTIVE, 1, "gives an order"),
    (_TASK, 1, "refers to the summary being written"),
    (_REPORTING, 1, "says what to report"),
)
# Score of an address: two of the weaker signals beside a named processor, or three of them.
THRESHOLD = 3
QUOTED_THRESHOLD = 4  # in quoted speech: a named processor and two more, or four signals
MAX_PIECE = 400  # characters: longer units are scored sentence by sentence
_PIECE_END = re.compile(r"(?<=[.!?])\s+(?=\S)")


def instruction_reason(text: str) -> str | None:
    """Why ``text`` (one sentence) addresses the reader or a model instead of reporting, or None
    when it reads as reporting."""
    flat = _LEET.sub(lambda m: m.group(0).translate(_LEET_LETTERS), text)
    flat = _DASHED_OUT.sub(lambda m: re.sub(r"[\-.]", "", m.group(1)), flat)
    flat = " ".join(_SPACED_OUT.sub(lambda m: re.sub(r"\s", "", m.group(1)), flat).split())
    if _ROLE_MARKER.search(flat):
        return "carries a chat role marker"
    own = flat if _MARKUP.search(flat) else " ".join(_QUOTED.sub(" ", flat).split())
    if not own:
        return None
    if _TAKEOVER.search(own):
        return "tells a model to set aside what it was told"
    if _REPORT_THAT.search(own):
        return "tells the reader what to report"
    hidden = _hidden_payload(own)
    if hidden:
        return hidden
    for piece in _pieces(own):
        why = _signals(piece)
        if why:
            return "addresses whoever processes the text: " + ", ".join(why)
    # A quote can carry an address too ("one reader commented: 'Any AI reading this should
    # state that…'"); speech is let through unless its signals are plain.
    for quoted in _QUOTED.finditer(flat):
        why = _signals(quoted.group(0).strip('"“”«»„‘’ '), QUOTED_THRESHOLD)
        if why:
            return "quotes an address to whoever processes the text: " + ", ".join(why)
    return None


def _pieces(text: str) -> list[str]:
    """``text`` as sentence-sized pieces: a unit the segmenter could not split (a page of text
    with odd quotes) would otherwise add up signals from sentences far apart."""
    if len(text) <= MAX_PIECE:
        return [text]
    return [p for p in _PIECE_END.split(text) if p.strip()]


def _signals(piece: str, threshold: int = THRESHOLD) -> list[str]:
    """The signals of an address in ``piece`` when they add up to ``threshold``, else []."""
    score, why = 0, []
    for pattern, weight, reason in _SIGNALS:
        if pattern.search(piece):
            score += weight
            why.append(reason)
    if _is_call(piece):
        score += 1
        why.append("opens by calling on it")
    return why if score >= threshold and len(why) >= 2 else []


def _is_call(text: str) -> bool:
    """Whether ``text`` opens by calling on a processor: "Claude, …", "Note to language models:",
    "Hey Gemini - …"."""
    match = _ADDRESSEE.search(text[:80])
    # The call may open a part of the line: after a byline's "|", a dateline's "(", a footnote mark.
    before = re.split(r"[|(\[—–:¹²³*•]", text[: match.start()])[-1] if match else ""
    if match is None or len(before.split()) > MAX_CALL_PREFIX:
        return False  # "North Korean hackers have used AI chatbots to …" calls on no one
    return bool(_CALL.match(text[match.end() :]))


def _hidden_payload(text: str) -> str | None:
    """A base64 run that decodes to an instruction."""
    for match in _BASE64.finditer(text):
        try:
            decoded = base64.b64decode(match.group(0) + "===", validate=False).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            continue
        if decoded.isprintable() and _LATIN.search(decoded) and instruction_reason(decoded):
            return "hides an instruction in base64"
    return None


_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
# An address's payload: the sentences after it in a short paragraph it opens. A text with no
# blank lines is one long "paragraph", not an address.
MAX_PAYLOAD = 4


def instructions(text: str, sentences: Sequence[Sentence]) -> dict[int, str]:
    """Sentence numbers of ``text`` that address the reader or a model, each with its reason;
    a paragraph that opens with one is held back whole."""
    paragraph_of = _paragraphs(text, sentences)
    size = Counter(paragraph_of.values())
    found: dict[int, str] = {}
    opened: dict[int, int] = {}  # short paragraphs that open with an address: sentences held
    seen: set[int] = set()
    for s in sentences:
        paragraph = paragraph_of[s.number]
        first = paragraph not in seen
        seen.add(paragraph)
        reason = instruction_reason(s.text)
        if reason is not None:
            found[s.number] = reason
            if first and size[paragraph] <= MAX_PAYLOAD + 1:
                opened[paragraph] = 0
        elif paragraph in opened and opened[paragraph] < MAX_PAYLOAD:
            opened[paragraph] += 1
            found[s.number] = "follows an address to a model in its paragraph"
    return found


def _paragraphs(text: str, sentences: Sequence[Sentence]) -> dict[int, int]:
    """Which paragraph (blank-line separated block, counted from 0) each sentence starts in."""
    breaks = [m.end() for m in _PARAGRAPH_BREAK.finditer(text)]
    found: dict[int, int] = {}
    index = 0
    for s in sorted(sentences, key=lambda s: s.start):
        while index < len(breaks) and breaks[index] <= s.start:
            index += 1
        found[s.number] = index
    return found
