"""The whole build, stage after stage, against the fake server and the scripted model.

Runs from the repository root with relative paths (``seeds/…``) so the Markdown is stable and
can be compared with ``tests/golden/brief.md``; regenerate that with ``UPDATE_GOLDEN=1``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import scripted_model
from fakeserver import FakeOpenAI, Reply

from briefing import compose, pipeline
from briefing.config import LOCAL_WINDOW_CHARS, Settings, load_settings
from briefing.errors import LLMError
from briefing.extract.extraction import prepare
from briefing.keypoint_text import without_labels
from briefing.models import Source, Usage
from briefing.read.furniture import furniture, headline_sentences
from briefing.read.sources import read_source

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden" / "brief.md"
GOLDEN_HTML = ROOT / "tests" / "golden" / "brief.html"
SEED_NAMES = sorted(p.name for p in (ROOT / "seeds").glob("*.txt"))
SEED_PATHS = [Path("seeds") / name for name in SEED_NAMES]
# A phrase only seed 004's prompt contains (a name in its lead), to pick it out in the fake
# server. Its byline ("Kingston Bailey") is furniture: never shown to the model.
SEED_004_PHRASE = "Kritenbrink"
SEED_001_HEADLINES = ["Union Budget", "Chad", "Rafale", "DXB", "Gaza", "Putin", "carbon removal"]
SEED_000_FURNITURE = ["Also Read", "Sabah Khan Tareen", "Bachelor", "intern at", "Debate"]


@pytest.fixture(autouse=True)
def at_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every build runs from the repository root, so source paths stay relative."""
    monkeypatch.chdir(ROOT)


def settings_for(fake: FakeOpenAI, out: Path, **changes: Any) -> Settings:
    env = {"OPENAI_BASE_URL": fake.base_url, "OPENAI_API_KEY": "test"}
    settings = load_settings(env, {"out": out, "brief_file": Path("brief.toml")})
    assert not settings.use_local  # the embedded model must never start in these tests
    # No merge questions unless a test asks for them: request counts stay those of extraction.
    changes = {"merge_questions": 0, **changes}
    return dataclasses.replace(settings, retry_initial_wait=0.01, max_retry_wait=0.02, **changes)


def read_utf8(path: str | Path) -> str:
    with open(path, encoding="utf-8", newline="") as fh:
        return fh.read()


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def mentions(path: Path) -> list[dict[str, Any]]:
    """Every per-source record in an ``events.json``: the mentions of its canonical events."""
    return [m for e in load_json(path)["events"] for m in e["mentions"]]


def all_citations(out: Path) -> list[dict[str, Any]]:
    claims = load_json(out / "claims.json")["claims"]
    return [c for x in [*claims, *mentions(out / "events.json")] for c in x["citations"]]


class SeedsBuild(NamedTuple):
    result: pipeline.BuildResult
    out: Path
    settings: Settings
    requests: list[dict[str, Any]]


@pytest.fixture(scope="module")
def seeds_build(tmp_path_factory: pytest.TempPathFactory) -> SeedsBuild:
    """One build of the five seeds; several tests read its outputs."""
    out = tmp_path_factory.mktemp("seeds") / "out"
    with pytest.MonkeyPatch.context() as mp, FakeOpenAI() as fake:
        mp.chdir(ROOT)
        fake.respond_with(scripted_model.respond)
        settings = settings_for(fake, out)
        result = pipeline.build(settings, SEED_PATHS)
        return SeedsBuild(result, out, settings, list(fake.requests))


# --- the five seeds, end to end ------------------------------------------------------------------


def test_seeds_build_writes_every_output(seeds_build: SeedsBuild) -> None:
    out = seeds_build.out
    for name in ("brief.md", "events.json", "claims.json", "manifest.json"):
        assert (out / name).is_file(), name
    assert seeds_build.result.failures == ()
    assert len(seeds_build.result.brief.sources) == 5
    # Every record of every source is a mention of one canonical event (linked ones besides).
    records = [m for m in mentions(out / "events.json") if m["alignment"] != "linked"]
    assert sorted(m["id"] for m in records) == sorted(e.id for e in seeds_build.result.events)
    assert len(load_json(out / "events.json")["events"]) <= len(records)
    # One request per source (valid replies, no re-ask) and one for the key developments.
    assert seeds_build.result.usage.requests == len(seeds_build.requests) == 6


def test_every_quote_is_the_exact_slice_of_its_file(seeds_build: SeedsBuild) -> None:
    claims = load_json(seeds_build.out / "claims.json")["claims"]
    claim_citations = [c for claim in claims for c in claim["citations"]]
    citations = all_citations(seeds_build.out)
    assert claim_citations and len(citations) > len(claim_citations)
    for c in citations:
        assert read_utf8(c["file"])[c["start"] : c["end"]] == c["quote"], c
        assert c["file"].startswith("seeds/")  # verbatim UTF-8 files are cited in place
        assert read_utf8(c["file"]).count("\n", 0, c["start"]) + 1 == c["line"]


def extraction_prompts(requests: list[dict[str, Any]]) -> list[str]:
    """The user message of each extraction request (the compose request shows no "[n] ")."""
    prompts = [r["messages"][-1]["content"] for r in requests]
    return [p for p in prompts if scripted_model.SENTENCE.search(p)]


def shown_by_source(prompts: list[str], window_chars: int) -> dict[str, list[int]]:
    """Seed path → the sentence numbers its requests showed, in the order they were shown."""
    sources = [read_source(p) for p in SEED_PATHS]
    windows = {s.path: numbers_of(prepare(s, window_chars).windows) for s in sources}
    shown: dict[str, list[int]] = {s.path: [] for s in sources}
    for prompt in prompts:
        numbers = list(scripted_model.shown(prompt))
        # A window of one source: its numbered sentences, and its headline, unnumbered.
        (source,) = [
            s
            for s in sources
            if numbers in windows[s.path]
            and all(f"[{n}] {s.sentences[n - 1].text}" in prompt for n in numbers)
        ]
        assert source.title and source.title in prompt
        shown[source.path] += numbers
        # The scripted model cites only what it was shown.
        for event in scripted_model.extraction(prompt)["events"]:
            assert set(event["evidence"]) <= set(numbers)
    return shown


def numbers_of(windows: list[Any]) -> list[list[int]]:
    return [[s.number for s in w] for w in windows]


def test_the_model_is_shown_each_article_sentence_once_and_nothing_else(
    seeds_build: SeedsBuild,
) -> None:
    prompts = extraction_prompts(seeds_build.requests)
    assert len(prompts) == 5  # a hosted model reads each seed at once
    shown = shown_by_source(prompts, seeds_build.settings.window_chars)
    for path, numbers in shown.items():
        source = read_source(Path(path))
        hidden = furniture(source.sentences) | headline_sentences(source.sentences, source.title)
        assert numbers == [s.number for s in source.sentences if s.number not in hidden]


def test_no_event_cites_furniture_or_the_headline(seeds_build: SeedsBuild) -> None:
    sources = {s.id: s for s in map(read_source, SEED_PATHS)}
    entries = {e.id: e for e in seeds_build.result.brief.sources}
    for source in sources.values():
        # The brief records the furniture found in code for each source: page markers ("Also
        # Read:", "Previous Story", an author box, …) and lines too short to state an event.
        headline = headline_sentences(source.sentences, source.title)
        expected = furniture(source.sentences) - headline
        assert entries[source.id].furniture == tuple(sorted(expected)) and expected
        assert headline  # every seed repeats its headline
    events = mentions(seeds_build.out / "events.json")
    for event in events:
        source = sources[event["source_id"]]
        hidden = set(entries[source.id].furniture)
        hidden |= headline_sentences(source.sentences, source.title)
        spans = {(s.start, s.end): s.number for s in source.sentences}
        for c in event["citations"]:
            assert spans[(c["start"], c["end"])] not in hidden, c


def quotes_of(events: list[dict[str, Any]], seed_prefix: str) -> list[str]:
    return [
        text
        for e in events
        for c in e["citations"]
        if Path(c["file"]).name.startswith(seed_prefix)
        for text in (c["quote"], e["summary"])
    ]


def test_no_event_quotes_page_furniture_of_seeds_000_and_001(seeds_build: SeedsBuild) -> None:
    events = mentions(seeds_build.out / "events.json")
    seed_000, seed_001 = quotes_of(events, "000_"), quotes_of(events, "001_")
    assert seed_000 and seed_001  # both seeds gave events
    for text in seed_001:
        assert not [h for h in SEED_001_HEADLINES if h in text], text
    for text in seed_000:
        assert not [f for f in SEED_000_FURNITURE if f in text], text
    # The furniture is really in the sources, so the checks above can fail.
    assert all(h in read_utf8(SEED_PATHS[1]) for h in SEED_001_HEADLINES)
    assert all(f in read_utf8(SEED_PATHS[0]) for f in SEED_000_FURNITURE)


def test_manifest_records_inputs_model_hashes_and_work(seeds_build: SeedsBuild) -> None:
    manifest = load_json(seeds_build.out / "manifest.json")
    inputs = manifest["inputs"]
    assert [i["path"] for i in inputs] == [str(p) for p in SEED_PATHS]
    for row, path in zip(inputs, SEED_PATHS, strict=True):
        assert row["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert row["bytes"] == path.stat().st_size
        assert row["status"] == "read"
    assert manifest["model"] == seeds_build.settings.model
    base_url = seeds_build.settings.base_url
    assert base_url and manifest["server"] == base_url.split("/")[2]  # 127.0.0.1:port
    assert manifest["embedded_model"] is None
    for folder in ("prompts", "templates"):
        files = sorted((ROOT / folder).iterdir())
        expected = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
        assert manifest[folder] == expected and expected
    usage = manifest["usage"]
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
    assert usage["requests"] == 6
    assert set(manifest["usage_by_source"]) == {
        *map(str, SEED_PATHS),
        "(merge)",
        "(key developments)",
    }
    assert manifest["usage_by_source"]["(merge)"]["requests"] == 0  # no questions asked here
    assert {"read", "extract", "merge", "compose"} <= set(manifest["timings"])
    assert all(v >= 0 for v in manifest["timings"].values())
    counts = manifest["counts"]
    assert counts["sources_read"] == 5 and counts["sources_failed"] == 0
    records = mentions(seeds_build.out / "events.json")
    assert counts["events"] == len([m for m in records if m["alignment"] != "linked"])
    assert counts["linked_mentions"] == len(records) - counts["events"]
    assert counts["claims"] == len(load_json(seeds_build.out / "claims.json")["claims"])


def test_key_point_citing_only_an_unknown_label_is_dropped(seeds_build: SeedsBuild) -> None:
    compose_prompt = seeds_build.requests[-1]["messages"][-1]["content"]
    asked = scripted_model.key_points(compose_prompt)["points"]
    assert len(asked) == 4 and asked[-1]["events"] == [scripted_model.UNKNOWN_LABEL]

    claims = load_json(seeds_build.out / "claims.json")["claims"]
    key = [c for c in claims if c["section"] == "key_developments"]
    # As asked, less the prompt's "There:" marker before outcomes, which never reaches a reader.
    assert [c["text"] for c in key] == [without_labels(p["text"]) for p in asked[:3]]
    assert not any("There:" in c["text"] for c in key)
    assert scripted_model.UNSUPPORTED_POINT not in (seeds_build.out / "brief.md").read_text()
    event_ids = {e["id"] for e in load_json(seeds_build.out / "events.json")["events"]}
    for claim in key:
        assert claim["event_ids"] and set(claim["event_ids"]) <= event_ids


def test_key_developments_are_asked_of_the_most_corroborated_events_only(
    seeds_build: SeedsBuild,
) -> None:
    # Shown 40 events of 50 articles, the embedded model chose three and left out the two most
    # corroborated (the README's Measured): it is shown the few it must write one point each on.
    compose_prompt = seeds_build.requests[-1]["messages"][-1]["content"]
    shown = re.findall(r"^(E\d+) \|.*?\| (\d+) sources? \|", compose_prompt, re.MULTILINE)
    events = load_json(seeds_build.out / "events.json")["events"]
    rows = [e for e in events if not e.get("parent_id")]
    assert len(rows) > compose.MAX_KEY_EVENTS  # else this test shows nothing
    assert [label for label, _ in shown] == [f"E{i}" for i in range(1, compose.MAX_KEY_EVENTS + 1)]
    counts = [int(n) for _, n in shown]
    assert counts == sorted(counts, reverse=True)
    assert counts[0] == max(len(e["source_ids"]) for e in rows)
    brief = (seeds_build.out / "brief.md").read_text(encoding="utf-8")
    assert f"written from the {compose.MAX_KEY_EVENTS} most corroborated of {len(rows)}" in brief


def test_seeds_read_in_the_embedded_models_small_windows(
    fake_openai: FakeOpenAI, tmp_path: Path, seeds_build: SeedsBuild
) -> None:
    fake_openai.respond_with(scripted_model.respond)
    out = tmp_path / "out"
    settings = settings_for(fake_openai, out, window_chars=LOCAL_WINDOW_CHARS)
    result = pipeline.build(settings, SEED_PATHS)
    assert result.failures == ()

    windows = {
        str(p): numbers_of(prepare(read_source(p), LOCAL_WINDOW_CHARS).windows) for p in SEED_PATHS
    }
    count = sum(len(w) for w in windows.values())
    assert count > 2 * len(SEED_PATHS)  # every seed takes two windows or more
    assert result.usage.requests == len(fake_openai.requests) == count + 1
    manifest = load_json(out / "manifest.json")
    for path, source_windows in windows.items():
        assert manifest["usage_by_source"][path]["requests"] == len(source_windows)
    # Each window shown once, no sentence in two windows, none left out.
    shown = shown_by_source(extraction_prompts(fake_openai.requests), LOCAL_WINDOW_CHARS)
    assert shown == {path: [n for w in ws for n in w] for path, ws in windows.items()}

    # More requests, more events: the scripted model gives up to three a request.
    assert len(result.events) > len(seeds_build.result.events)
    for c in all_citations(out):
        assert read_utf8(c["file"])[c["start"] : c["end"]] == c["quote"]
    entries = {e.id: e for e in result.brief.sources}
    for event in result.events:
        source = read_source(Path(event.citations[0].file))
        spans = {(s.start, s.end): s.number for s in source.sentences}
        for citation in event.citations:
            number = spans[(citation.start, citation.end)]
            assert number not in entries[event.source_id].furniture


# --- failures ------------------------------------------------------------------------------------


def test_one_source_never_answering_json_is_listed_as_not_read(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    def responder(body: dict[str, Any]) -> Reply:
        if SEED_004_PHRASE in scripted_model.conversation_text(body):
            return Reply.text("{this is not json")
        return scripted_model.respond(body)

    fake_openai.respond_with(responder)
    settings = settings_for(fake_openai, tmp_path / "out")
    result = pipeline.build(settings, SEED_PATHS)

    broken = str(SEED_PATHS[4])
    asked = [
        r for r in fake_openai.requests if SEED_004_PHRASE in scripted_model.conversation_text(r)
    ]
    assert len(asked) == settings.validation_attempts  # asked again, then given up
    (failure,) = result.failures
    assert (failure.path, failure.stage) == (broken, "extract")
    assert "no valid reply" in failure.reason and "JSON" in failure.reason
    assert [s.path for s in result.brief.sources] == [str(p) for p in SEED_PATHS[:4]]

    brief = (tmp_path / "out" / "brief.md").read_text(encoding="utf-8")
    not_read = brief.split("### Not read", 1)[1].split("## Notes", 1)[0]
    assert f"- `{broken}` (extract): {failure.reason}" in not_read
    assert "Sources read: 4; not read: 1." in brief
    assert SEED_004_PHRASE not in brief and broken not in brief.split("### Not read")[0]

    manifest = load_json(tmp_path / "out" / "manifest.json")
    rows = {i["path"]: i for i in manifest["inputs"]}
    assert rows[broken]["status"] == "failed" and rows[broken]["reason"] == failure.reason
    assert rows[broken]["sha256"] == hashlib.sha256(SEED_PATHS[4].read_bytes()).hexdigest()
    assert [rows[str(p)]["status"] for p in SEED_PATHS[:4]] == ["read"] * 4
    assert manifest["counts"]["sources_failed"] == 1 and manifest["counts"]["sources_read"] == 4
    for c in all_citations(tmp_path / "out"):
        assert read_utf8(c["file"])[c["start"] : c["end"]] == c["quote"]
        assert c["file"] != broken


def test_reason_of_a_source_with_several_invalid_fields_stays_one_line(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    def responder(body: dict[str, Any]) -> Reply:
        if SEED_004_PHRASE in scripted_model.conversation_text(body):
            # No events list, so nothing of it can be salvaged; and an old-schema key.
            return Reply.json({"furniture": [1, 2], "events": {"evidence": [99], "type": "X"}})
        return scripted_model.respond(body)

    fake_openai.respond_with(responder)
    result = pipeline.build(settings_for(fake_openai, tmp_path / "out"), SEED_PATHS)
    (failure,) = result.failures
    assert "furniture" in failure.reason and "events" in failure.reason
    assert "\n" not in failure.reason  # one line in the CLI and one list item in the brief
    brief = result.paths["brief"].read_text(encoding="utf-8")
    not_read = brief.split("### Not read\n\n", 1)[1].split("\n\n## Notes", 1)[0]
    assert not_read == f"- `{SEED_PATHS[4]}` (extract): {failure.reason}"


def test_a_source_whose_every_event_is_invalid_is_read_with_none(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    # An events list whose every event is invalid, three times: what is valid of it (nothing)
    # is kept, and the brief says the model's reply was only partly valid.
    def responder(body: dict[str, Any]) -> Reply:
        if SEED_004_PHRASE in scripted_model.conversation_text(body):
            return Reply.json({"events": [{"evidence": [99], "type": "X"}]})
        return scripted_model.respond(body)

    fake_openai.respond_with(responder)
    settings = settings_for(fake_openai, tmp_path / "out")
    result = pipeline.build(settings, SEED_PATHS)
    asked = [
        r for r in fake_openai.requests if SEED_004_PHRASE in scripted_model.conversation_text(r)
    ]
    assert len(asked) == settings.validation_attempts  # asked again, then salvaged
    assert result.failures == ()
    entry = next(s for s in result.brief.sources if s.path == str(SEED_PATHS[4]))
    assert entry.salvaged and entry.events == 0
    assert all(e.source_id != entry.id for e in result.events)
    row = next(
        line
        for line in result.paths["brief"].read_text(encoding="utf-8").splitlines()
        if f"`{SEED_PATHS[4]}`" in line
    )
    assert "| 0 (model reply only partly valid) |" in row


def test_every_source_failing_raises_and_writes_no_brief(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    fake_openai.respond_with(lambda body: Reply.status(500))
    settings = settings_for(fake_openai, tmp_path / "out", transport_attempts=2)
    with pytest.raises(LLMError, match="HTTP 500"):
        pipeline.build(settings, SEED_PATHS)
    assert not (tmp_path / "out" / "brief.md").exists()
    assert len(fake_openai.requests) == 5 * settings.transport_attempts  # retried, then given up


def test_rejected_key_reported_even_when_a_skipped_source_sorts_first(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    # One at a time: seed 004 is asked first and rejected; seed 000 is then skipped. The error
    # must say why the build failed, not merely that a source was skipped.
    fake_openai.respond_with(lambda body: Reply.status(401))
    settings = settings_for(fake_openai, tmp_path / "out", concurrency=1)
    with pytest.raises(LLMError, match="rejected the API key"):
        pipeline.build(settings, [SEED_PATHS[4], SEED_PATHS[0]])
    assert len(fake_openai.requests) == 1


# --- other encodings and HTML --------------------------------------------------------------------

CP1252_TEXT = (
    "Seoul talks on cyber threats\n\n"
    "Seoul, 8 March 2024 (KNS): South Korea and Japan held talks in Seoul on Friday about "
    "North Korea’s “cyber” theft – a café owner’s favourite topic.\n"
    "The officials said the working group would meet again in Tokyo next month.\n"
)
HTML_PAGE = """<!doctype html><html><head><meta charset="utf-8">
<title>Leaders agree on hotline</title>
<meta property="og:site_name" content="Example Times">
<meta property="article:published_time" content="2024-03-09"></head>
<body><nav><a href="/">Home</a> | <a href="/world">World</a></nav>
<article><h1>Leaders agree on hotline</h1>
<p>The leaders of the United States, Japan and South Korea agreed on Saturday to set up a
crisis hotline in Washington.</p>
<p>Japan’s prime minister Fumio Kishida said the three countries will share missile warning
data in real time.</p>
<p>Analysts expect further steps at the next meeting of foreign ministers later this year.</p>
</article><footer>© 2024 Example Times. All rights reserved.</footer></body></html>
"""


def test_cp1252_and_html_sources_are_cited_in_utf8_copies(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    cp1252 = tmp_path / "seoul_talks.txt"
    cp1252.write_bytes(CP1252_TEXT.encode("cp1252"))
    html = tmp_path / "summit.html"
    html.write_text(HTML_PAGE, encoding="utf-8")
    fake_openai.respond_with(scripted_model.respond)
    out = tmp_path / "out"
    result = pipeline.build(settings_for(fake_openai, out), [cp1252, html])

    assert result.failures == ()
    cited = {c["file"] for c in all_citations(out)}
    copies = {str(p) for p in (out / "sources").iterdir()}
    assert cited == copies and len(copies) == 2  # one UTF-8 copy per source, both cited
    for c in all_citations(out):
        assert read_utf8(c["file"])[c["start"] : c["end"]] == c["quote"]
    quotes = " ".join(c["quote"] for c in all_citations(out))
    assert "North Korea’s “cyber” theft – a café owner’s" in quotes  # decoded, not mojibake
    assert "Japan’s prime minister Fumio Kishida" in quotes
    assert "<p>" not in quotes and "Home" not in quotes
    copy_of = {Path(s.path).name: s.file for s in result.brief.sources}
    assert read_utf8(copy_of["seoul_talks.txt"]) == CP1252_TEXT
    assert Path(copy_of["summit.html"]).read_bytes().decode("utf-8").startswith("Leaders agree")


# --- the Markdown --------------------------------------------------------------------------------


# A line only seed i's extraction prompt contains: its first sentence shown, numbered.
SEED_MARKERS = [
    f"[{s.number}] {s.text}"
    for s in (prepare(read_source(ROOT / p), 6000).windows[0][0] for p in SEED_PATHS)
]


def staggered(body: dict[str, Any]) -> Reply:
    """Replies for earlier seeds arrive later, so sources finish out of order."""
    text = scripted_model.conversation_text(body)
    seed = next((i for i, marker in enumerate(SEED_MARKERS) if marker in text), 4)
    return scripted_model.respond(body).after(0.1 * (4 - seed))


class Finished(pipeline.BuildProgress):
    def __init__(self) -> None:
        self.order: list[str] = []

    def source_done(self, source: Source, events: int, usage: Usage) -> None:
        self.order.append(source.path)


@pytest.mark.parametrize("responder", [scripted_model.respond, staggered], ids=["fast", "reversed"])
def test_brief_matches_golden(fake_openai: FakeOpenAI, tmp_path: Path, responder: Any) -> None:
    fake_openai.respond_with(responder)
    finished = Finished()
    settings = settings_for(fake_openai, tmp_path / "out")
    result = pipeline.build(settings, [Path("seeds")], finished)
    if responder is staggered:  # the output must not depend on the order sources finish in
        assert finished.order[0] != str(SEED_PATHS[0]) and finished.order[-1] == str(SEED_PATHS[0])
    brief = result.paths["brief"].read_text(encoding="utf-8")
    # The page carries the build's date: the one line that changes from day to day.
    page = re.sub(r"Built \d{4}-\d{2}-\d{2}", "Built DATE", result.paths["html"].read_text("utf-8"))
    if os.environ.get("UPDATE_GOLDEN") and responder is scripted_model.respond:
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(brief, encoding="utf-8")
        GOLDEN_HTML.write_text(page, encoding="utf-8")
    assert brief == GOLDEN.read_text(encoding="utf-8")
    assert page == GOLDEN_HTML.read_text(encoding="utf-8")
    # Each canonical event lists its mentions in reading order (file, then position).
    for event in load_json(result.paths["events"])["events"]:
        where = [(m["citations"][0]["file"], m["citations"][0]["start"]) for m in event["mentions"]]
        assert where == sorted(where)


def test_golden_notes_resolve_to_file_line_and_quote() -> None:
    brief = GOLDEN.read_text(encoding="utf-8")
    body, notes = brief.split("\n## Notes\n", 1)
    defined = re.findall(r"^\[\^(\d+)\]: `([^`:]+):(\d+)` — “(.*)”$", notes, re.M)
    assert len(defined) == notes.count("[^") > 0
    assert [int(n) for n, *_ in defined] == list(range(1, len(defined) + 1))
    assert {int(n) for n in re.findall(r"\[\^(\d+)\]", body)} == set(range(1, len(defined) + 1))
    for _n, file, line, quote in defined:
        assert file.startswith("seeds/") and not Path(file).is_absolute()
        lines = read_utf8(file).split("\n")
        assert quote[:40] in " ".join(lines[int(line) - 1].split())
    assert "/tmp" not in brief and str(ROOT) not in brief
