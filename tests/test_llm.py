"""``briefing.llm`` through the real ``openai`` client against the fake server.

Two loops are exercised: re-asking on replies that are cut off, not JSON or invalid, and tenacity
retries of transport faults (429 with Retry-After, 5xx, dropped connections, timeouts).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import replace
from typing import Any

import pytest
from fakeserver import FakeOpenAI, Reply

from briefing import llm, resources
from briefing.config import BriefSpec, Settings
from briefing.errors import AuthenticationFailed, InvalidReply, LLMError, ServerUnreachable
from briefing.llm.transport import Request, complete
from briefing.models import MAX_EVENTS_PER_WINDOW, ExtractionReply
from briefing.schema import response_format

MESSAGES = [
    {"role": "system", "content": "You extract events."},
    {"role": "user", "content": "[1] Home\n[2] Japan and Australia met in Canberra."},
]
CONTEXT = {"sentence_numbers": {1, 2, 3}, "published": "2024-03-03"}


def make_settings(base_url: str | None, **overrides: Any) -> Settings:
    """Settings for a hosted-style server with tiny waits, so retries cost milliseconds."""
    settings = Settings(
        brief=BriefSpec(),
        api_key="test-key",
        base_url=base_url,
        model="test-model",
        use_local=False,
    )
    fast = {
        "retry_initial_wait": 0.01,
        "max_retry_wait": 0.05,
        "request_timeout": 5.0,
        "transport_attempts": 3,
        "validation_attempts": 3,
    }
    return replace(settings, **{**fast, **overrides})


def reask(errors: str) -> str:
    return resources.render("prompts", "reask.j2", errors=errors)


def event(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "type": "CONSULT",
        "summary": "The foreign ministers of Japan and Australia met in Canberra.",
        "evidence": [2],
        "actors": ["Japan", "Australia"],
        "location": "Canberra, Australia",
        "date": "2024-03-01",
        "status": "occurred",
        "role": "main",
    }
    return {**base, **changes}


def reply(*events: dict[str, Any]) -> dict[str, Any]:
    return {"events": list(events)}


VALID = reply(event())


class Run:
    """One ``ask`` against the fake server, recording notices; with ``stream``, also the token
    counts of a progress bar (so the reply is streamed), else the reply comes in one body."""

    def __init__(self, fake: FakeOpenAI, stream: bool = False, **overrides: Any) -> None:
        self.fake = fake
        self.stream = stream
        self.settings = make_settings(fake.base_url, **overrides)
        self.client = llm.make_client(self.settings)
        self.notices: list[str] = []
        self.tokens: list[int] = []

    def ask(self, **kwargs: Any) -> llm.Answer[ExtractionReply]:
        if self.stream:
            kwargs.setdefault("on_tokens", self.tokens.append)
        return llm.ask(
            self.client,
            self.settings,
            MESSAGES,
            ExtractionReply,
            reask=reask,
            context=CONTEXT,
            on_notice=self.notices.append,
            **kwargs,
        )


@pytest.fixture(params=[False, True], ids=["body", "stream"])
def run(fake_openai: FakeOpenAI, request: pytest.FixtureRequest) -> Run:
    """A run whose replies come in one body, then one whose replies are streamed."""
    return Run(fake_openai, stream=request.param)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- usage from llama-server ---------------------------------------------------------------------


def test_llama_server_timings_are_recorded(run: Run) -> None:
    # llama-server's last chunk carries its own timings; cache_n wins over usage's cached_tokens.
    timings = {"cache_n": 90, "prompt_n": 30, "prompt_ms": 250.5, "predicted_ms": 1200.25}
    run.fake.push(Reply.json(VALID, usage=(120, 40), cached_tokens=7, timings=timings))
    run.fake.push(Reply.json(VALID, usage=(100, 20), timings={"prompt_ms": 10, "predicted_ms": 5}))
    first, second = run.ask().usage, run.ask().usage
    assert (first.cached_tokens, first.prompt_ms, first.predicted_ms) == (90, 250.5, 1200.25)
    assert (second.cached_tokens, second.prompt_ms, second.predicted_ms) == (0, 10.0, 5.0)
    total = first + second
    assert (total.prompt_ms, total.predicted_ms) == (260.5, 1205.25)


def test_timings_that_are_not_numbers_are_ignored(run: Run) -> None:
    run.fake.push(Reply.json(VALID, timings={"prompt_ms": "n/a"}))
    usage = run.ask().usage
    assert (usage.prompt_ms, usage.predicted_ms) == (0.0, 0.0)


# --- validation and re-asking -------------------------------------------------------------------


def test_valid_reply_on_first_attempt(run: Run) -> None:
    run.fake.push(Reply.json(VALID, usage=(120, 40), cached_tokens=100))
    answer = run.ask()
    assert answer.attempts == 1
    assert answer.value == ExtractionReply.model_validate(VALID, context=CONTEXT)
    assert answer.value.events[0].date == "2024-03-01"
    assert (answer.usage.requests, answer.usage.prompt_tokens) == (1, 120)
    assert (answer.usage.completion_tokens, answer.usage.cached_tokens) == (40, 100)
    assert answer.usage.seconds > 0
    assert len(run.fake.requests) == 1
    assert run.fake.requests[0]["messages"] == MESSAGES
    assert run.fake.requests[0]["model"] == "test-model"
    if run.stream:
        # Streamed in pieces: the token callback counts up, one call per content chunk.
        assert run.fake.requests[0]["stream"] is True
        assert run.fake.requests[0]["stream_options"] == {"include_usage": True}
        assert len(run.tokens) > 3
        assert run.tokens == list(range(1, len(run.tokens) + 1))
    else:
        # No one watches the tokens arrive: one body, not a stream.
        assert "stream" not in run.fake.requests[0]
    assert run.notices == []


def test_not_json_is_reasked_with_the_error(run: Run) -> None:
    bad = "Sure! Here are the events: none."
    run.fake.push(Reply.text(bad, usage=(100, 9)), Reply.json(VALID, usage=(130, 40)))
    answer = run.ask()
    assert answer.attempts == 2
    assert answer.value.events[0].type == "CONSULT"
    assert answer.usage.requests == 2
    assert answer.usage.prompt_tokens == 230
    assert answer.usage.completion_tokens == 49

    first, second = run.fake.requests
    assert first["messages"] == MESSAGES
    msgs = second["messages"]
    assert msgs[: len(MESSAGES)] == MESSAGES
    assert len(msgs) == len(MESSAGES) + 2
    assert msgs[-2] == {"role": "assistant", "content": bad}
    assert msgs[-1]["role"] == "user"
    assert "Your reply was not valid" in msgs[-1]["content"]  # from prompts/reask.j2
    assert "Invalid JSON" in msgs[-1]["content"]
    assert msgs[-1]["content"] == reask(msgs[-1]["content"].splitlines()[1])
    assert len(run.notices) == 1 and "attempt 1" in run.notices[0]


@pytest.mark.parametrize(
    ("bad_reply", "error"),
    [
        pytest.param(
            reply(event(evidence=[7])),
            "events[0]: evidence sentence 7 was not shown",
            id="not-shown",
        ),
        pytest.param(reply(event(date="2023-13-45")), "events.0.date", id="bad-date"),
        pytest.param(
            reply(event(date="2024-03-09")), "after the publication date", id="after-publication"
        ),
        # The schema is lean: the old actor objects and model-written keys are refused.
        pytest.param(
            reply(event(actors=[{"name": "Japan", "normalized": "Japan", "country": "Japan"}])),
            "events.0.actors.0",
            id="actor-object",
        ),
        pytest.param(
            reply(event(date_basis="relative")), "date_basis: Extra inputs", id="date-basis"
        ),
        pytest.param({**VALID, "furniture": [1]}, "furniture: Extra inputs", id="furniture-list"),
        pytest.param(reply(event(type="CHAT")), "events.0.type", id="bad-type"),
        pytest.param({**VALID, "comment": "hi"}, "comment: Extra inputs", id="extra-field"),
    ],
)
def test_invalid_json_is_reasked_with_the_error(run: Run, bad_reply: Any, error: str) -> None:
    run.fake.push(Reply.json(bad_reply), Reply.json(VALID))
    answer = run.ask()
    assert answer.attempts == 2
    assert answer.usage.requests == 2
    msgs = run.fake.requests[1]["messages"]
    assert json.loads(msgs[-2]["content"]) == bad_reply
    assert msgs[-2]["role"] == "assistant"
    assert msgs[-1]["role"] == "user"
    assert error in msgs[-1]["content"]
    assert msgs[-1]["content"].startswith("Your reply was not valid:\n- ")


def test_cut_off_reply_is_a_failed_attempt_even_if_it_parses(run: Run) -> None:
    run.fake.push(Reply.json(VALID, finish_reason="length"), Reply.json(VALID))
    answer = run.ask(max_tokens=321)
    assert answer.attempts == 2
    assert len(run.fake.requests) == 2
    assert run.fake.requests[0]["max_tokens"] == 321
    last = run.fake.requests[1]["messages"][-1]["content"]
    assert "cut off after 321 tokens" in last


def test_three_invalid_replies_raise_invalid_reply(run: Run) -> None:
    run.fake.push(
        Reply.text("not json", usage=(10, 2)),
        Reply.json(reply(event(evidence=[7])), usage=(20, 3)),
        Reply.text('{"events": [{"ev', finish_reason="length", usage=(30, 4)),
        Reply.json(VALID),  # never asked for
    )
    with pytest.raises(InvalidReply) as caught:
        run.ask()
    assert len(run.fake.requests) == run.settings.validation_attempts == 3
    assert "3 attempts" in str(caught.value)
    assert "cut off" in str(caught.value)  # the last problem
    assert caught.value.usage is not None
    assert caught.value.usage.requests == 3
    assert caught.value.usage.prompt_tokens == 60
    # Each re-ask shows only the last failed answer, so the context stays bounded.
    assert [len(r["messages"]) for r in run.fake.requests] == [2, 4, 4]
    assert run.fake.requests[2]["messages"][2]["content"] == json.dumps(reply(event(evidence=[7])))


def test_a_cut_off_reply_is_not_shown_back(run: Run) -> None:
    cut = '{"events": [{"type": "CONSULT", "summary": "The foreign ministers of Jap'
    run.fake.push(Reply.text(cut, finish_reason="length"), Reply.json(VALID))
    answer = run.ask()
    assert answer.attempts == 2
    retry = run.fake.requests[1]["messages"]
    assert cut not in json.dumps(retry)
    assert "cut off" in retry[-1]["content"]


def test_validation_attempts_setting_is_honoured(fake_openai: FakeOpenAI) -> None:
    run = Run(fake_openai, validation_attempts=1)
    fake_openai.push(Reply.text("nope"), Reply.json(VALID))
    with pytest.raises(InvalidReply):
        run.ask()
    assert len(fake_openai.requests) == 1


# --- transport faults ---------------------------------------------------------------------------


def test_429_honours_retry_after(fake_openai: FakeOpenAI) -> None:
    run = Run(fake_openai, max_retry_wait=5.0)
    fake_openai.push(Reply.status(429, headers={"Retry-After": "1"}), Reply.json(VALID))
    started = time.monotonic()
    answer = run.ask()
    elapsed = time.monotonic() - started
    assert answer.attempts == 1  # a transport retry is not a re-ask
    assert len(fake_openai.requests) == 2
    assert answer.usage.requests == 2
    assert elapsed >= 0.9
    assert answer.usage.seconds >= 0.9
    # The pacer backs off (its own line), then the request waits what the server asked.
    assert run.notices[0] == "rate limited: 4 → 2 requests at a time"
    assert len(run.notices) == 2
    assert "429" in run.notices[1] and "retrying in 1.0s" in run.notices[1]
    # The retry sends the very same request.
    assert fake_openai.requests[0] == fake_openai.requests[1]


def test_retry_after_ms_and_cap(fake_openai: FakeOpenAI) -> None:
    run = Run(fake_openai, max_retry_wait=0.3)
    fake_openai.push(
        Reply.status(429, headers={"retry-after-ms": "200"}),
        Reply.status(503, headers={"Retry-After": "30"}),  # capped at max_retry_wait
        Reply.json(VALID),
    )
    started = time.monotonic()
    answer = run.ask()
    assert time.monotonic() - started < 5
    assert answer.usage.requests == 3
    assert run.notices[0].startswith("rate limited: 4 → 2")
    assert "retrying in 0.2s" in run.notices[1]
    assert "retrying in 0.3s" in run.notices[2]


def test_5xx_then_success(run: Run) -> None:
    run.fake.push(Reply.status(500), Reply.status(503), Reply.json(VALID, usage=(50, 5)))
    answer = run.ask()
    assert answer.attempts == 1
    assert len(run.fake.requests) == 3
    assert answer.usage.requests == 3
    assert answer.usage.prompt_tokens == 50  # failed tries send no tokens back
    assert len(run.notices) == 2
    assert run.notices[0].startswith("HTTP 500") and "fake server: HTTP 500" in run.notices[0]
    assert run.notices[1].startswith("HTTP 503") and "retrying in" in run.notices[1]


def test_dropped_connection_then_success(run: Run) -> None:
    run.fake.push(Reply.drop(), Reply.json(VALID))
    answer = run.ask()
    assert len(run.fake.requests) == 2
    assert answer.usage.requests == 2
    assert len(run.notices) == 1 and "connection" in run.notices[0].lower()


def test_slow_reply_times_out_and_is_retried(fake_openai: FakeOpenAI) -> None:
    run = Run(fake_openai, request_timeout=0.5)
    fake_openai.push(Reply.json(VALID).after(2), Reply.json(VALID))
    started = time.monotonic()
    answer = run.ask()
    assert time.monotonic() - started < 1.8  # did not wait for the slow reply
    assert len(fake_openai.requests) == 2
    assert answer.usage.requests == 2
    assert answer.value.events
    assert "timed out" in run.notices[0]


def test_401_fails_at_once(run: Run) -> None:
    run.fake.push(Reply.status(401), Reply.json(VALID))
    with pytest.raises(AuthenticationFailed) as caught:
        run.ask()
    assert len(run.fake.requests) == 1
    assert "401" in str(caught.value)
    assert run.notices == []


def test_400_is_an_llm_error_without_retry(run: Run) -> None:
    run.fake.push(Reply.status(400), Reply.json(VALID))
    with pytest.raises(LLMError) as caught:
        run.ask()
    assert type(caught.value) is LLMError
    assert len(run.fake.requests) == 1
    assert "400" in str(caught.value)
    assert caught.value.usage is not None and caught.value.usage.requests == 1


def test_nothing_listening_is_server_unreachable() -> None:
    settings = make_settings(f"http://127.0.0.1:{closed_port()}/v1", transport_attempts=4)
    notices: list[str] = []
    with pytest.raises(ServerUnreachable) as caught:
        llm.ask(
            llm.make_client(settings),
            settings,
            MESSAGES,
            ExtractionReply,
            reask=reask,
            on_notice=notices.append,
        )
    assert "after 4 tries" in str(caught.value)
    assert caught.value.usage is not None and caught.value.usage.requests == 4
    assert len(notices) == 3  # one before each retry


def test_persistent_500_gives_up(fake_openai: FakeOpenAI) -> None:
    run = Run(fake_openai, transport_attempts=4)
    fake_openai.respond_with(lambda body: Reply.status(500))
    with pytest.raises(LLMError) as caught:
        run.ask()
    assert len(fake_openai.requests) == 4
    assert not isinstance(caught.value, InvalidReply | AuthenticationFailed)
    assert "500" in str(caught.value)
    assert caught.value.usage is not None and caught.value.usage.requests == 4


def test_transport_failure_after_reask_still_counts_earlier_requests(run: Run) -> None:
    run.fake.push(Reply.text("not json", usage=(10, 2)), Reply.status(401))
    with pytest.raises(AuthenticationFailed) as caught:
        run.ask()
    assert len(run.fake.requests) == 2
    assert caught.value.usage is not None
    assert caught.value.usage.requests == 2
    assert caught.value.usage.prompt_tokens == 10


# --- the request body ---------------------------------------------------------------------------


def walk(node: Any) -> list[Any]:
    """Every dict and list in a JSON tree."""
    found = [node]
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else []
    for child in children:
        if isinstance(child, dict | list):
            found += walk(child)
    return found


def sent_schema(fake: FakeOpenAI, settings: Settings) -> dict[str, Any]:
    """Ask once with ``settings`` through a client on the fake server; return the sent body."""
    client = llm.make_client(replace(settings, base_url=fake.base_url))
    fake.push(Reply.json(VALID))
    llm.ask(client, settings, MESSAGES, ExtractionReply, reask=reask, context=CONTEXT)
    return fake.requests[-1]


def test_request_body(fake_openai: FakeOpenAI) -> None:
    body = sent_schema(fake_openai, make_settings(fake_openai.base_url))
    assert "stream" not in body and "stream_options" not in body  # no on_tokens: one body
    assert body["max_tokens"] == 1500
    assert body["temperature"] == 0.0
    fmt = body["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["name"] == "ExtractionReply"
    assert fmt["json_schema"]["strict"] is True
    schema = fmt["json_schema"]["schema"]
    assert "$ref" not in json.dumps(schema) and "$defs" not in schema
    objects = [n for n in walk(schema) if isinstance(n, dict) and n.get("type") == "object"]
    # The reply and an event: every one closed and fully required (actors are plain names).
    assert len(objects) == 2
    for obj in objects:
        assert obj["additionalProperties"] is False
        assert sorted(obj["required"]) == sorted(obj["properties"])
    event_props = schema["properties"]["events"]["items"]["properties"]
    assert set(event_props) == {
        *("type", "summary", "evidence", "actors", "location", "date", "status", "role")
    }
    assert event_props["actors"]["items"]["type"] == "string"
    assert "title" not in schema and "title" not in event_props["summary"]
    # Not talking to OpenAI: length bounds stay, they become llama.cpp grammar bounds.
    assert event_props["summary"]["maxLength"] == 160
    assert event_props["summary"]["minLength"] == 10
    # The caller's model is not mutated by the shaping.
    assert "$defs" in ExtractionReply.model_json_schema()


@pytest.mark.parametrize("base_url", [None, "https://api.openai.com/v1"])
def test_openai_strict_schema_drops_length_bounds(
    fake_openai: FakeOpenAI, base_url: str | None
) -> None:
    settings = make_settings(base_url)
    body = sent_schema(fake_openai, settings)
    text = json.dumps(body["response_format"])
    assert "maxLength" not in text and "minLength" not in text
    schema = body["response_format"]["json_schema"]["schema"]
    summary = schema["properties"]["events"]["items"]["properties"]["summary"]
    assert summary["type"] == "string"
    # Bounds OpenAI accepts stay.
    assert schema["properties"]["events"]["maxItems"] == MAX_EVENTS_PER_WINDOW == 8
    assert "pattern" in json.dumps(body["response_format"])


def test_local_server_keeps_length_bounds(fake_openai: FakeOpenAI) -> None:
    settings = replace(make_settings(None), use_local=True)
    body = sent_schema(fake_openai, settings)
    assert '"maxLength": 160' in json.dumps(body["response_format"])


def test_response_format_directly() -> None:
    strict = response_format(ExtractionReply, "X", openai_strict=True)
    loose = response_format(ExtractionReply, "X", openai_strict=False)
    assert "maxLength" in json.dumps(loose) and "maxLength" not in json.dumps(strict)
    assert strict["json_schema"]["name"] == "X"


# --- adaptive concurrency (llm/pacing.py) through the real client ---------------------------------


def test_429_with_rate_limit_headers_cuts_the_limit_and_waits_for_the_reset(
    fake_openai: FakeOpenAI,
) -> None:
    run = Run(fake_openai, concurrency=4, max_retry_wait=5.0)
    headers = {
        "retry-after-ms": "50",
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "400ms",
    }
    fake_openai.push(Reply.status(429, headers=headers), Reply.json(VALID))
    started = time.monotonic()
    answer = run.ask()
    assert answer.attempts == 1 and answer.usage.requests == 2
    # The retry waited 50 ms as asked, then for the request limit's reset: 400 ms in all.
    assert time.monotonic() - started >= 0.4
    assert run.notices[0] == "rate limited: 4 → 2 requests at a time"
    assert "retrying in 0.1s" in run.notices[1]
    assert run.client.pacer is not None and run.client.pacer.limit == 2


def test_remaining_tokens_of_a_reply_hold_the_next_request(fake_openai: FakeOpenAI) -> None:
    run = Run(fake_openai, max_retry_wait=5.0)
    spent = Reply.json(VALID).with_headers(
        x_ratelimit_remaining_tokens="0", x_ratelimit_reset_tokens="300ms"
    )
    fake_openai.push(spent, Reply.json(VALID))
    run.ask()
    started = time.monotonic()
    run.ask()
    assert time.monotonic() - started >= 0.25  # the 300 ms ran from the first reply's arrival
    assert run.notices == []


def test_429s_of_requests_sent_together_cut_the_limit_once(fake_openai: FakeOpenAI) -> None:
    from concurrent.futures import ThreadPoolExecutor

    run = Run(fake_openai, concurrency=8)
    # The first 8 requests are refused, each only once all 8 have been sent.
    together, seen, lock = threading.Barrier(8, timeout=10), [0], threading.Lock()

    def respond(body: dict[str, Any]) -> Reply:
        with lock:
            seen[0] += 1
            first_round = seen[0] <= 8
        if first_round:
            together.wait()
            return Reply.status(429, headers={"retry-after-ms": "20"})
        return Reply.json(VALID).after(0.02)

    fake_openai.respond_with(respond)
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: run.ask(), range(8)))
    assert all(a.value.events for a in answers)
    assert len(fake_openai.requests) == 16
    assert [n for n in run.notices if n.startswith("rate limited")] == [
        "rate limited: 8 → 4 requests at a time"
    ]
    # Then eight successes: four in a row at 4 at a time grew it to 5, four more are not five.
    assert run.client.pacer is not None and run.client.pacer.limit == 5


def test_a_tokens_per_minute_budget_holds_requests_back(fake_openai: FakeOpenAI) -> None:
    # A request is charged its prompt at 4 characters a token plus max_tokens before it goes
    # out, then what the server reports it used.
    run = Run(fake_openai, tpm=300)
    fake_openai.respond_with(lambda body: Reply.json(VALID, usage=(150, 50)))
    run.ask(max_tokens=100)  # charged 17 + 100, then corrected to the 200 it used
    pacer = run.client.pacer
    assert pacer is not None and pacer.window_tokens() == 200
    assert pacer.wait_time(90, 100) is not None and pacer.wait_time(90, 100) > 50


def test_a_reply_without_finish_reason_is_retried_not_taken_as_the_reply(run: Run) -> None:
    cache = DictCache()
    run.client.cache = cache
    # A stream that stops without a finish_reason: what a dropped connection looks like when
    # the server frames the stream by closing it. In one body: not a whole completion either.
    cut = replace(Reply.text(json.dumps(VALID)[:40]), finish_reason=None)
    run.fake.push(cut, Reply.json(VALID))
    answer = run.ask()
    assert answer.attempts == 1 and answer.usage.requests == 2  # retried, not re-asked
    said = "the stream ended before the reply did" if run.stream else "no finish_reason"
    assert said in run.notices[0]
    assert [json.loads(r.text) for r in cache.replies.values()] == [VALID]


@pytest.mark.parametrize(
    "body",
    [
        {"error": "upstream busy"},
        {"choices": []},
        {"choices": [{"message": {"content": 7}, "finish_reason": "stop"}]},
        {"choices": [{"message": {"content": "{}"}, "finish_reason": "stop"}], "usage": "?"},
    ],
    ids=["no-choices", "empty-choices", "content-not-text", "usage-not-object"],
)
def test_a_200_that_is_not_a_completion_is_retried_and_never_cached(
    fake_openai: FakeOpenAI, body: dict[str, Any]
) -> None:
    cache = DictCache()
    run = Run(fake_openai)
    run.client.cache = cache
    fake_openai.push(Reply.status(200, body=body), Reply.json(VALID))
    answer = run.ask()
    assert answer.attempts == 1 and answer.usage.requests == 2  # retried, not re-asked
    assert "other than a reply" in run.notices[0] and "retrying in" in run.notices[0]
    assert [json.loads(r.text) for r in cache.replies.values()] == [VALID]


def test_a_reply_without_usage_is_charged_its_length(fake_openai: FakeOpenAI) -> None:
    run = Run(fake_openai)
    fake_openai.push(Reply.json(VALID, usage=None))
    usage = run.ask().usage
    assert usage.prompt_tokens == 0
    assert usage.completion_tokens == round(len(json.dumps(VALID)) / 4)


def test_a_reply_that_is_not_streamed_still_tells_on_tokens_once() -> None:
    # ``Request.stream`` is what decides; a caller may still want the count at the end.
    with FakeOpenAI() as fake:
        settings = make_settings(fake.base_url)
        fake.push(Reply.json(VALID, usage=(10, 33)))
        tokens: list[int] = []
        request = Request(MESSAGES, {"type": "json_object"}, 100, tokens.append)
        done = complete(llm.make_client(settings), settings, request)
        assert "stream" not in fake.requests[0]
    assert tokens == [33] and done.finish_reason == "stop" and json.loads(done.text) == VALID


class DictCache:
    """A reply cache in a dict."""

    def __init__(self) -> None:
        self.replies: dict[str, Any] = {}

    def reply(self, key: str) -> Any:
        return self.replies.get(key)

    def store_reply(self, key: str, purpose: str, model: str, server: str, reply: Any) -> None:
        self.replies[key] = reply


# --- when replies are streamed ------------------------------------------------------------------


def test_replies_are_streamed_only_for_bars_someone_watches(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import io

    from rich.console import Console
    from rich.progress import Progress

    from briefing.cli_progress import RichProgress
    from briefing.extract.parallel import WATCHED_CONCURRENCY, watches_tokens
    from briefing.progress import BuildProgress

    def drawn(console: Console) -> RichProgress:
        return RichProgress(Progress(console=console), console)

    monkeypatch.setenv("TERM", "xterm")  # not a dumb terminal, whatever runs the tests
    piped = drawn(Console(file=io.StringIO()))
    terminal = drawn(Console(file=io.StringIO(), force_terminal=True))
    assert not piped.draws_tokens and terminal.draws_tokens
    few, many = make_settings(None, concurrency=1), make_settings(None, concurrency=16)
    assert watches_tokens(terminal, few) and watches_tokens(terminal, replace(few, concurrency=4))
    assert WATCHED_CONCURRENCY == 4
    assert not watches_tokens(terminal, many)  # bars come and go: the CPU goes to requests
    assert not watches_tokens(piped, few) and not watches_tokens(BuildProgress(), few)


def test_the_embedded_model_always_streams(fake_openai: FakeOpenAI) -> None:
    # A reply of the embedded model can take minutes on a slow CPU: in one body the request
    # timeout would run over the whole reply, in a stream only between tokens.
    fake_openai.push(Reply.json(VALID), Reply.json(VALID))
    assert Run(fake_openai, use_local=True).ask().value.events
    assert fake_openai.requests[0]["stream"] is True
    assert Run(fake_openai).ask().value.events  # a hosted server, no bar: one body
    assert "stream" not in fake_openai.requests[1]
