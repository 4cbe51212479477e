"""The fake OpenAI server, proven with the real ``openai`` client."""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import openai
import pytest
from fakeserver import FakeOpenAI, Reply

MESSAGES = [{"role": "user", "content": "hello"}]


def client_for(fake: FakeOpenAI, **kwargs: object) -> openai.OpenAI:
    return openai.OpenAI(base_url=fake.base_url, api_key="test", max_retries=0, **kwargs)


def chat(fake: FakeOpenAI, **kwargs: object):
    return client_for(fake).chat.completions.create(model="test-model", messages=MESSAGES, **kwargs)


def test_json_reply_parses_and_reports_usage(fake_openai: FakeOpenAI) -> None:
    fake_openai.push(Reply.json({"answer": 42}, usage=(12, 3), cached_tokens=8))
    resp = chat(fake_openai)
    assert json.loads(resp.choices[0].message.content) == {"answer": 42}
    assert resp.choices[0].finish_reason == "stop"
    assert resp.choices[0].message.role == "assistant"
    assert resp.model == "test-model"
    assert (resp.usage.prompt_tokens, resp.usage.completion_tokens) == (12, 3)
    assert resp.usage.total_tokens == 15
    assert resp.usage.prompt_tokens_details.cached_tokens == 8


def test_text_reply_with_length_finish_reason(fake_openai: FakeOpenAI) -> None:
    fake_openai.push(Reply.text('{"answer": "trunc', finish_reason="length"))
    resp = chat(fake_openai)
    assert resp.choices[0].message.content == '{"answer": "trunc'
    assert resp.choices[0].finish_reason == "length"


def test_streaming_reassembles_content_and_usage(fake_openai: FakeOpenAI) -> None:
    content = json.dumps({"summary": "A fairly long sentence, streamed in pieces. ✓"})
    fake_openai.push(Reply.text(content, usage=(30, 17)))
    stream = chat(fake_openai, stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    pieces = [c.choices[0].delta.content or "" for c in chunks if c.choices]
    assert len([p for p in pieces if p]) > 3
    assert "".join(pieces) == content
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop"
    assert chunks[-1].choices == []
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (30, 17)


def test_streaming_without_include_usage_has_no_usage_chunk(fake_openai: FakeOpenAI) -> None:
    fake_openai.push(Reply.text("hi there"))
    chunks = list(chat(fake_openai, stream=True))
    assert all(c.choices for c in chunks)
    assert all(c.usage is None for c in chunks)


def test_rate_limit_exposes_retry_after(fake_openai: FakeOpenAI) -> None:
    fake_openai.push(Reply.status(429, headers={"Retry-After": "1"}))
    with pytest.raises(openai.RateLimitError) as info:
        chat(fake_openai)
    assert info.value.response.headers["retry-after"] == "1"


def test_rate_limit_when_streaming(fake_openai: FakeOpenAI) -> None:
    fake_openai.push(Reply.status(429, headers={"Retry-After": "2"}))
    with pytest.raises(openai.RateLimitError) as info:
        chat(fake_openai, stream=True)
    assert info.value.response.headers["retry-after"] == "2"


def test_server_error(fake_openai: FakeOpenAI) -> None:
    fake_openai.push(Reply.status(500))
    with pytest.raises(openai.InternalServerError):
        chat(fake_openai)


def test_authentication_error_carries_error_body(fake_openai: FakeOpenAI) -> None:
    error = {"message": "Incorrect API key provided", "type": "invalid_request_error"}
    fake_openai.push(Reply.status(401, {"error": {**error, "code": "invalid_api_key"}}))
    with pytest.raises(openai.AuthenticationError) as info:
        chat(fake_openai)
    assert info.value.code == "invalid_api_key"
    assert "Incorrect API key" in info.value.message


@pytest.mark.parametrize("stream", [False, True])
def test_drop_is_a_connection_error(fake_openai: FakeOpenAI, stream: bool) -> None:
    fake_openai.push(Reply.drop())
    with pytest.raises(openai.APIConnectionError) as info:
        chat(fake_openai, stream=stream)
    assert not isinstance(info.value, openai.APITimeoutError)


def test_slow_reply_times_out(fake_openai: FakeOpenAI) -> None:
    fake_openai.push(Reply.json({"late": True}).after(2))
    client = client_for(fake_openai, timeout=0.5)
    start = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        client.chat.completions.create(model="m", messages=MESSAGES)
    assert time.monotonic() - start < 1.5


def test_slow_reply_within_timeout_arrives(fake_openai: FakeOpenAI) -> None:
    fake_openai.push(Reply.json({"late": True}).after(0.2))
    resp = chat(fake_openai)
    assert json.loads(resp.choices[0].message.content) == {"late": True}


def test_respond_with_answers_concurrent_requests_by_prompt(fake_openai: FakeOpenAI) -> None:
    all_arrived = threading.Barrier(4, timeout=5)  # proves the 4 requests are served at once

    def responder(body: dict) -> Reply:
        n = int(re.search(r"item (\d+)", body["messages"][-1]["content"]).group(1))
        all_arrived.wait()
        return Reply.json({"item": n, "square": n * n})

    fake_openai.respond_with(responder)
    client = client_for(fake_openai)

    def ask(n: int) -> dict:
        resp = client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": f"Square item {n}."}]
        )
        return json.loads(resp.choices[0].message.content)

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(ask, [1, 2, 3, 4]))
    assert results == [{"item": n, "square": n * n} for n in [1, 2, 3, 4]]
    assert len(fake_openai.requests) == 4


def test_queue_comes_before_responder(fake_openai: FakeOpenAI) -> None:
    fake_openai.respond_with(lambda body: Reply.text("from responder"))
    fake_openai.push(Reply.text("first"), Reply.text("second"))
    answers = [chat(fake_openai).choices[0].message.content for _ in range(3)]
    assert answers == ["first", "second", "from responder"]


def test_no_scripted_reply_is_a_loud_server_error(fake_openai: FakeOpenAI) -> None:
    with pytest.raises(openai.InternalServerError) as info:
        chat(fake_openai)
    assert "no scripted reply" in info.value.message


def test_responder_exception_is_a_server_error(fake_openai: FakeOpenAI) -> None:
    def broken(body: dict) -> Reply:
        raise KeyError("oops")

    fake_openai.respond_with(broken)
    with pytest.raises(openai.InternalServerError) as info:
        chat(fake_openai)
    assert "responder raised" in info.value.message


def test_requests_are_recorded_with_their_bodies(fake_openai: FakeOpenAI) -> None:
    fake_openai.push(Reply.json({"a": 1}), Reply.status(500))
    chat(fake_openai, response_format={"type": "json_object"}, temperature=0)
    with pytest.raises(openai.InternalServerError):
        chat(fake_openai, stream=True)
    first, second = fake_openai.requests
    assert first["response_format"] == {"type": "json_object"}
    assert first["temperature"] == 0
    assert first["messages"] == MESSAGES
    assert first["model"] == "test-model"
    assert second["stream"] is True


def test_models_health_and_unknown_path(fake_openai: FakeOpenAI) -> None:
    models = client_for(fake_openai).models.list()
    assert [m.id for m in models.data] == ["fake-model"]
    root = fake_openai.base_url.removesuffix("/v1")
    with urllib.request.urlopen(f"{root}/health", timeout=5) as resp:
        assert json.load(resp) == {"status": "ok"}
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(f"{root}/v1/nope", timeout=5)
    assert info.value.code == 404
    assert "unknown path" in json.load(info.value)["error"]["message"]
    assert fake_openai.requests == []


def test_close_is_fast_even_with_a_slow_reply_in_flight() -> None:
    fake = FakeOpenAI()
    fake.push(Reply.json({}).after(30))
    errors: list[Exception] = []

    def call() -> None:
        try:
            client_for(fake, timeout=10).chat.completions.create(model="m", messages=MESSAGES)
        except Exception as exc:
            errors.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    while not fake.requests:
        time.sleep(0.01)
    start = time.monotonic()
    fake.close()
    caller.join(timeout=5)
    assert time.monotonic() - start < 1.0
    assert not caller.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], openai.APIConnectionError)
    fake.close()  # idempotent
