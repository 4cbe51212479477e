"""``briefing.llm.pacing``: the adaptive in-flight limit, the server's rate-limit headers and the
tokens-per-minute budget, on a fake clock; then waiting and cancelling with real threads."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import pytest

from briefing import llm
from briefing.config import load_settings
from briefing.errors import ConfigError
from briefing.llm.pacing import CANCEL_CHECK, WINDOW, Cancelled, Pacer, Permit, parse_duration


class Clock:
    """Time that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.reads = 0

    def __call__(self) -> float:
        self.reads += 1
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def take(pacer: Pacer, n: int, max_tokens: int = 100) -> list[Permit]:
    permits = [pacer.try_acquire(0, max_tokens) for _ in range(n)]
    assert all(permits)
    return [p for p in permits if p is not None]


# --- the in-flight limit -------------------------------------------------------------------------


def test_starts_at_the_ceiling_and_holds_the_next_until_one_ends() -> None:
    pacer = Pacer(4, clock=Clock())
    permits = take(pacer, 4)
    assert pacer.try_acquire(0, 100) is None
    assert pacer.wait_time(0, 100) is None  # not a time: until a request ends
    pacer.succeeded(permits[0])
    assert pacer.try_acquire(0, 100) is not None


def test_a_429_halves_the_limit_once_per_round_and_says_so() -> None:
    pacer = Pacer(16, clock=Clock())
    first_round = take(pacer, 16)
    notices = [pacer.failed(p, status=429) for p in first_round]
    # Sixteen 429s of requests sent together are one congestion: one cut, one line.
    assert pacer.limit == 8
    assert [n for n in notices if n] == ["rate limited: 16 → 8 requests at a time"]
    second = take(pacer, 1)[0]
    assert pacer.failed(second, status=429) == "rate limited: 8 → 4 requests at a time"
    assert pacer.limit == 4


def test_the_limit_never_goes_below_one() -> None:
    pacer = Pacer(2, clock=Clock())
    for _ in range(4):
        (permit,) = take(pacer, 1)
        pacer.failed(permit, status=429)
    assert pacer.limit == 1
    take(pacer, 1)  # one request still goes out


def test_other_faults_do_not_cut_the_limit() -> None:
    pacer = Pacer(4, clock=Clock())
    for status in (500, 503, None):
        (permit,) = take(pacer, 1)
        assert pacer.failed(permit, status=status) is None
    assert pacer.limit == 4


def test_a_run_of_successes_grows_the_limit_by_one_up_to_the_ceiling() -> None:
    pacer = Pacer(8, clock=Clock())
    (permit,) = take(pacer, 1)
    pacer.failed(permit, status=429)
    assert pacer.limit == 4
    limits = []
    for _ in range(40):
        (permit,) = take(pacer, 1)
        pacer.succeeded(permit)
        limits.append(pacer.limit)
    # As many successes in a row as the limit allows at a time add one: 4 at 4, 5 at 5, ...
    assert limits[:4] == [4, 4, 4, 5] and limits[8] == 6
    assert max(limits) == 8 == limits[-1]


def test_a_fault_breaks_the_run_of_successes() -> None:
    pacer = Pacer(4, clock=Clock())
    (permit,) = take(pacer, 1)
    pacer.failed(permit, status=429)  # 2 now
    (permit,) = take(pacer, 1)
    pacer.succeeded(permit)
    (permit,) = take(pacer, 1)
    pacer.failed(permit, status=500)
    (permit,) = take(pacer, 1)
    pacer.succeeded(permit)
    assert pacer.limit == 2  # one success since the 500, not two in a row


# --- what the server says ------------------------------------------------------------------------


def test_retry_after_of_a_429_holds_back_every_new_request() -> None:
    clock = Clock()
    pacer = Pacer(4, clock=clock)
    (permit,) = take(pacer, 1)
    pacer.failed(permit, status=429, retry_after=2.5)
    assert pacer.wait_time(0, 100) == pytest.approx(2.5)
    assert pacer.try_acquire(0, 100) is None
    clock.advance(2.5)
    assert pacer.wait_time(0, 100) == 0


def test_pauses_are_capped_at_max_pause() -> None:
    clock = Clock()
    pacer = Pacer(4, max_pause=5.0, clock=clock)
    (permit,) = take(pacer, 1)
    pacer.failed(permit, status=429, retry_after=600)
    assert pacer.wait_time(0, 100) == pytest.approx(5.0)


def test_no_requests_left_waits_for_the_reset() -> None:
    clock = Clock()
    pacer = Pacer(4, max_pause=600, clock=clock)
    (permit,) = take(pacer, 1)
    headers = {"X-RateLimit-Remaining-Requests": "0", "X-RateLimit-Reset-Requests": "6m0s"}
    notice = pacer.succeeded(permit, headers=headers)
    assert notice == "rate limit reached (no requests left): waiting 360.0s"
    assert pacer.wait_time(0, 100) == pytest.approx(360)
    clock.advance(360)
    assert pacer.try_acquire(0, 100) is not None


def test_remaining_tokens_let_through_only_what_fits_until_their_reset() -> None:
    clock = Clock()
    pacer = Pacer(4, clock=clock)
    (permit,) = take(pacer, 1)
    headers = {"x-ratelimit-remaining-tokens": "1000", "x-ratelimit-reset-tokens": "1.5s"}
    assert pacer.succeeded(permit, headers=headers) is None
    assert pacer.wait_time(0, 1200) == pytest.approx(1.5)  # does not fit
    assert pacer.try_acquire(0, 700) is not None  # fits; 300 left
    assert pacer.wait_time(0, 400) == pytest.approx(1.5)
    clock.advance(1.5)
    assert pacer.wait_time(0, 1200) == 0


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("6m0s", 360), ("1s", 1), ("20ms", 0.02), ("1h2m3.5s", 3723.5), ("0.5", 0.5), ("7", 7)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", [None, "", "soon", "5 minutes", "1x"])
def test_parse_duration_of_what_is_not_one(text: str | None) -> None:
    assert parse_duration(text) is None


# --- the tokens-per-minute budget ----------------------------------------------------------------


def test_a_request_is_charged_its_prompt_at_four_characters_a_token_and_max_tokens() -> None:
    pacer = Pacer(4, tpm=10_000, clock=Clock())
    assert pacer.estimate(4000, 900) == 1000 + 900


def test_the_budget_holds_a_request_until_old_charges_leave_the_window() -> None:
    clock = Clock()
    pacer = Pacer(8, tpm=1000, clock=clock)
    first = pacer.try_acquire(0, 400)
    clock.advance(10)
    assert pacer.try_acquire(0, 400) is not None
    assert pacer.try_acquire(0, 400) is None
    # The first charge leaves 60 s after it was made: 50 s from now.
    assert pacer.wait_time(0, 400) == pytest.approx(50)
    assert first is not None
    pacer.succeeded(first, prompt_tokens=0, completion_tokens=100)  # it used far less
    assert pacer.window_tokens() == 500
    assert pacer.try_acquire(0, 400) is not None


def test_the_characters_per_token_follow_what_the_server_reports() -> None:
    pacer = Pacer(4, tpm=100_000, clock=Clock())
    permit = pacer.try_acquire(3000, 0)
    assert permit is not None and permit.estimate == 750
    pacer.succeeded(permit, prompt_tokens=1500, completion_tokens=0)  # CJK: 2 characters a token
    assert pacer.estimate(3000, 0) == 1500


def test_a_request_bigger_than_the_budget_goes_alone() -> None:
    clock = Clock()
    pacer = Pacer(4, tpm=500, clock=clock)
    small = pacer.try_acquire(0, 100)
    assert small is not None
    assert pacer.wait_time(0, 900) == pytest.approx(WINDOW)
    clock.advance(WINDOW)
    assert pacer.try_acquire(0, 900) is not None  # nothing else in the window


def test_the_budget_is_never_exceeded_in_any_60_second_window() -> None:
    clock = Clock()
    tpm = 20_000
    pacer = Pacer(6, tpm=tpm, clock=clock)
    rng = random.Random(3)
    sent: list[tuple[float, int]] = []  # (start, tokens really used)
    flying: list[tuple[float, Permit, int]] = []  # (ends at, permit, reply tokens)
    while len(sent) < 400:
        chars, max_tokens = rng.randrange(400, 8000), rng.choice([300, 900, 1500])
        permit = pacer.try_acquire(chars, max_tokens)
        if permit is not None:
            # The server counts about 4 characters a token and replies with fewer than asked.
            used_prompt, used_reply = chars // 4, rng.randrange(20, max_tokens)
            flying.append((clock.now + rng.uniform(0.5, 20), permit, used_reply))
            sent.append((clock.now, used_prompt + used_reply))
            continue
        wait = pacer.wait_time(chars, max_tokens)
        flying.sort(key=lambda f: f[0])
        if wait is None or (flying and flying[0][0] <= clock.now + wait):
            ends, done, used_reply = flying.pop(0)  # the next event: a request ends
            clock.now = max(clock.now, ends)
            pacer.succeeded(
                done, prompt_tokens=done.prompt_chars // 4, completion_tokens=used_reply
            )
        else:
            clock.advance(wait)
    for start, _ in sent:
        in_window = sum(t for s, t in sent if start - WINDOW < s <= start)
        assert in_window <= tpm
    # And the budget was used, not starved: at least half of it over the run.
    span = sent[-1][0] - sent[0][0]
    assert sum(t for _, t in sent) / (span / WINDOW + 1) > tpm / 2


# --- waiting, with threads -----------------------------------------------------------------------


class Waiter:
    """``pacer.acquire`` in a thread of its own: its permit or Cancelled, and when it returned."""

    def __init__(self, pacer: Pacer, cancel: threading.Event | None = None) -> None:
        self.permit: Permit | None = None
        self.cancelled: Cancelled | None = None
        self.at = 0.0
        self.thread = threading.Thread(target=self.run, args=(pacer, cancel), daemon=True)
        self.thread.start()

    def run(self, pacer: Pacer, cancel: threading.Event | None) -> None:
        try:
            self.permit = pacer.acquire(0, 100, cancel)
        except Cancelled as exc:
            self.cancelled = exc
        self.at = time.monotonic()


def test_a_waiting_request_wakes_when_one_ends_without_spinning() -> None:
    clock = Clock()
    clock.now = time.monotonic()
    pacer = Pacer(1, clock=clock)
    (held,) = take(pacer, 1)
    waiting = Waiter(pacer)
    time.sleep(0.3)
    assert waiting.permit is None
    assert clock.reads < 5  # it slept on the condition, it did not poll the clock
    released = time.monotonic()
    pacer.succeeded(held)
    waiting.thread.join(2)
    assert waiting.permit is not None
    assert waiting.at - released < 0.5


def test_cancelling_wakes_a_waiting_request_and_it_is_not_sent() -> None:
    pacer = Pacer(1)
    take(pacer, 1)  # held to the end
    cancel = threading.Event()
    waiting = Waiter(pacer, cancel)
    time.sleep(0.2)
    cancelled = time.monotonic()
    cancel.set()
    waiting.thread.join(2)
    assert waiting.cancelled is not None and waiting.permit is None
    assert waiting.at - cancelled <= CANCEL_CHECK + 0.4
    assert pacer.in_flight == 1  # only the one held


def test_cancelling_wakes_a_request_paused_by_retry_after() -> None:
    pacer = Pacer(4)
    (permit,) = take(pacer, 1)
    pacer.failed(permit, status=429, retry_after=30)
    cancel = threading.Event()
    waiting = Waiter(pacer, cancel)
    time.sleep(0.1)
    cancel.set()
    waiting.thread.join(2)
    assert waiting.cancelled is not None


def test_many_threads_never_exceed_the_limit() -> None:
    pacer = Pacer(3)
    peak, lock = [0], threading.Lock()

    def work() -> None:
        for _ in range(10):
            permit = pacer.acquire(0, 10)
            with lock:
                peak[0] = max(peak[0], pacer.in_flight)
            time.sleep(0.002)
            pacer.succeeded(permit)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert peak[0] <= 3 and pacer.in_flight == 0


def test_a_503_with_retry_after_pauses_without_cutting() -> None:
    clock = Clock()
    pacer = Pacer(4, clock=clock)
    (permit,) = take(pacer, 1)
    assert pacer.failed(permit, status=503, retry_after=1.0) is None
    assert pacer.limit == 4 and pacer.wait_time(0, 100) == pytest.approx(1.0)


def test_the_budget_comes_from_tpm_or_briefing_tpm(tmp_path: Path) -> None:
    env = {"OPENAI_API_KEY": "k", "BRIEFING_TPM": "90000"}
    flags = {"brief_file": None, "out": tmp_path}
    assert load_settings(env, flags).tpm == 90000
    assert load_settings(env, {**flags, "tpm": 5000}).tpm == 5000  # the flag wins
    assert load_settings({"OPENAI_API_KEY": "k"}, flags).tpm is None
    with pytest.raises(ConfigError, match="--tpm"):
        load_settings({**env, "BRIEFING_TPM": "lots"}, flags)
    client = llm.make_client(load_settings(env, {**flags, "concurrency": 16}))
    assert client.pacer is not None and client.pacer.tpm == 90000
    assert client.pacer.limit == client.pacer.ceiling == 16
