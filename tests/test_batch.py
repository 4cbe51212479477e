"""Batch mode against the fake server's Batch API (``fakebatch.py``), through the real ``openai``
client: submit, interrupt, resume, complete, and the same brief as a live build of the same
replies; the request and results files of ``vllm run-batch``; the CLI's exit status 3."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
import scripted_model
from click.testing import CliRunner
from fakeserver import FakeOpenAI, Reply, completion_object

from briefing import cli, pipeline, resources
from briefing.config import Settings, load_settings
from briefing.extract.batch import BatchMode, BatchWaiting
from briefing.progress import BuildProgress
from briefing.store import state

ROOT = Path(__file__).resolve().parent.parent
SYSTEM = resources.render("prompts", "extract_system.j2")


class Notices(BuildProgress):
    """Keeps every notice line."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def notice(self, message: str) -> None:
        self.lines.append(message)


def settings_for(fake: FakeOpenAI, out: Path) -> Settings:
    env = {"OPENAI_BASE_URL": fake.base_url, "OPENAI_API_KEY": "test"}
    settings = load_settings(env, {"out": out, "brief_file": ROOT / "brief.toml"})
    return dataclasses.replace(
        settings, merge_questions=0, retry_initial_wait=0.01, max_retry_wait=0.02
    )


def extraction_requests(fake: FakeOpenAI) -> list[dict[str, Any]]:
    return [r for r in fake.requests if r["messages"][0]["content"] == SYSTEM]


def live_brief(fake: FakeOpenAI, corpus: Path, out: Path) -> tuple[str, int]:
    """The brief of a live build, and how many extraction requests it made."""
    before = len(extraction_requests(fake))
    pipeline.build(settings_for(fake, out), [corpus])
    return (out / "brief.md").read_text(encoding="utf-8"), len(extraction_requests(fake)) - before


def test_a_batch_build_submits_resumes_after_expiry_and_writes_the_live_brief(
    fake_openai: FakeOpenAI, corpus: Path, tmp_path: Path
) -> None:
    fake_openai.respond_with(scripted_model.respond)
    expected, live_requests = live_brief(fake_openai, corpus, tmp_path / "live")
    settings = settings_for(fake_openai, tmp_path / "out")
    asked = len(fake_openai.requests)
    notices = Notices()

    # 1. Submit: the build stops with a line saying how to go on; nothing was asked live.
    with pytest.raises(BatchWaiting, match=r"run `briefing build --batch` again"):
        pipeline.build(settings, [corpus], notices, batch_mode=BatchMode(submit=True))
    (first,) = fake_openai.batches.batches
    lines = fake_openai.batches.request_lines(first)
    assert len(lines) == live_requests >= 5
    assert len(fake_openai.requests) == asked
    assert any(n.startswith(f"batch: {live_requests} requests, about ") for n in notices.lines)
    assert all(line["url"] == "/v1/chat/completions" for line in lines)
    assert lines[0]["body"]["messages"][0]["content"] == SYSTEM

    # 2. Interrupted and run again while the batch runs: it is polled, not submitted again.
    with pytest.raises(BatchWaiting, match=r"0/\d+ done \(in_progress\)"):
        pipeline.build(settings, [corpus], batch_mode=BatchMode(submit=True))
    assert list(fake_openai.batches.batches) == [first]

    # 3. It expires with 3 requests answered: they are kept, the rest is sent again, alone.
    fake_openai.batches.finish(answer=3, status="expired")
    with pytest.raises(BatchWaiting):
        pipeline.build(settings, [corpus], batch_mode=BatchMode(submit=True))
    earlier, second = list(fake_openai.batches.batches)
    assert earlier == first
    resent = {line["custom_id"] for line in fake_openai.batches.request_lines(second)}
    assert len(resent) == live_requests - 3
    assert resent == {line["custom_id"] for line in lines[3:]}

    # 4. It completes: a plain build collects it and writes the same brief as the live build.
    fake_openai.batches.finish()
    result = pipeline.build(settings, [corpus])
    assert (tmp_path / "out" / "brief.md").read_text(encoding="utf-8") == expected
    assert len(extraction_requests(fake_openai)) == live_requests * 2  # live + both batches
    assert not result.failures
    with state.open_state(tmp_path / "out") as st:
        assert st.open_batches() == []
    # The manifest counts the replies both batches brought, at the batch price.
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    batched = manifest["usage_by_source"]["(batches)"]
    live_manifest = json.loads((tmp_path / "live" / "manifest.json").read_text(encoding="utf-8"))
    extraction = [
        u for path, u in live_manifest["usage_by_source"].items() if not path.startswith("(")
    ]
    assert batched["requests"] == live_requests
    assert batched["completion_tokens"] == sum(u["completion_tokens"] for u in extraction)
    assert 0 < manifest["cost_usd"] < live_manifest["cost_usd"]


def test_wait_polls_and_a_reply_that_fails_validation_goes_in_a_follow_up_batch(
    fake_openai: FakeOpenAI, corpus: Path, tmp_path: Path
) -> None:
    fake_openai.respond_with(scripted_model.respond)
    expected, live_requests = live_brief(fake_openai, corpus, tmp_path / "live")
    fake_openai.batches.auto = True
    fake_openai.push(Reply.text('{"events": [{"type": "not json'))  # the first batch line
    settings = settings_for(fake_openai, tmp_path / "out")
    notices = Notices()

    pipeline.build(settings, [corpus], notices, batch_mode=BatchMode(wait=True, poll_seconds=0))

    first, second = fake_openai.batches.batches
    assert len(fake_openai.batches.request_lines(first)) == live_requests
    (reask,) = fake_openai.batches.request_lines(second)
    assert reask["body"]["messages"][-1]["role"] == "user"  # the errors, appended
    assert reask["body"]["messages"][-2] == {
        "role": "assistant",
        "content": '{"events": [{"type": "not json',
    }
    assert (tmp_path / "out" / "brief.md").read_text(encoding="utf-8") == expected
    assert any("follow-up batch" in n for n in notices.lines)


def test_a_request_file_for_vllm_and_its_results_file_make_the_live_brief(
    fake_openai: FakeOpenAI, corpus: Path, tmp_path: Path
) -> None:
    fake_openai.respond_with(scripted_model.respond)
    expected, live_requests = live_brief(fake_openai, corpus, tmp_path / "live")
    settings = settings_for(fake_openai, tmp_path / "out")
    requests_file = tmp_path / "requests.jsonl"

    with pytest.raises(BatchWaiting, match=r"vllm run-batch -i .*requests.jsonl"):
        pipeline.build(settings, [corpus], batch_mode=BatchMode(requests_file=requests_file))
    lines = [json.loads(x) for x in requests_file.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == live_requests
    assert set(lines[0]) == {"custom_id", "method", "url", "body"}

    # What `vllm run-batch` writes: one result per request, plus lines this build never asked.
    results = [
        {
            "id": f"vllm-{n}",
            "custom_id": line["custom_id"],
            "response": {
                "status_code": 200,
                "request_id": f"r{n}",
                "body": completion_object(line["body"], scripted_model.respond(line["body"])),
            },
            "error": None,
        }
        for n, line in enumerate(lines)
    ]
    results.append({**results[0], "custom_id": "someone-elses"})
    results_file = tmp_path / "results.jsonl"
    text = "\n".join(json.dumps(r) for r in results) + "\nnot json\n"
    results_file.write_text(text, encoding="utf-8")
    asked = len(extraction_requests(fake_openai))
    notices = Notices()

    pipeline.build(settings, [corpus], notices, batch_mode=BatchMode(results_file=results_file))

    assert len(extraction_requests(fake_openai)) == asked  # every extraction from the file
    assert (tmp_path / "out" / "brief.md").read_text(encoding="utf-8") == expected
    (line,) = [n for n in notices.lines if n.startswith(str(results_file))]
    assert f"{live_requests} replies stored" in line
    assert "1 failed" in line and "1 answer no request of this build" in line


def test_the_cli_exits_3_while_a_batch_waits_and_refuses_batch_on_the_embedded_model(
    fake_openai: FakeOpenAI, corpus: Path, tmp_path: Path
) -> None:
    fake_openai.respond_with(scripted_model.respond)
    out = tmp_path / "out"
    env = {
        "OPENAI_BASE_URL": fake_openai.base_url,
        "OPENAI_API_KEY": "test",
        "BRIEFING_MERGE_QUESTIONS": "0",
        "BRIEFING_CACHE_DIR": str(tmp_path / "cache"),
    }
    args = ["build", str(corpus), "--out", str(out)]
    result = CliRunner().invoke(cli.main, [*args, "--batch"], env=env)
    assert result.exit_code == 3, result.output
    assert "waiting: batch batch_fake_" in result.stderr
    assert "Traceback" not in result.output
    assert not (out / "brief.md").exists()

    fake_openai.batches.finish()
    result = CliRunner().invoke(cli.main, args, env=env)
    assert result.exit_code == 0, result.output
    assert (out / "brief.md").is_file()

    local = CliRunner().invoke(cli.main, [*args, "--batch", "--local"], env=env)
    assert local.exit_code == 1
    assert "--batch needs a server with the Batch API" in local.stderr
