"""How many requests may be in flight at once, and when the next may start: one ``Pacer`` per
``Client``, shared by every worker thread of a build.

Additive increase, multiplicative decrease, as TCP does it. The limit starts at
``--concurrency``; a 429 halves it (not below 1), once per round: the 429s of requests sent
before the last cut are the same congestion and do not cut again. As many successes in a row as
the limit allows at a time (one round that went through) add one back, never above
``--concurrency``.

What the server says is honoured: ``Retry-After`` / ``retry-after-ms`` of a 429 or 503 hold back
every new request, not only the one retried; ``x-ratelimit-remaining-requests: 0`` holds them back
until ``x-ratelimit-reset-requests``; ``x-ratelimit-remaining-tokens`` lets through only
requests that fit in it until ``x-ratelimit-reset-tokens``. Every pause is capped at
``max_pause`` (the settings' longest retry wait): a request sent too early meets a 429 and waits
again, a misread header cannot stall a build.

A tokens-per-minute budget (``--tpm``), if set, holds in every 60-second window. A request is
charged before it is sent: its prompt at 4 characters a token (fewer once a server reported
more tokens than that for what it was sent), plus ``max_tokens`` in full, which is also how
OpenAI counts a request against its token limit. Once the reply is in, the charge becomes the
tokens the server reported. A request bigger than the budget on its own goes out only when
nothing else was charged in the last minute: it could never fit.

Waiting is on a condition variable, woken when a request ends or the limit grows; a request that
can be cancelled also looks at its flag every ``CANCEL_CHECK`` seconds, since a thread cannot
wait on a condition and an event at once.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ..errors import LLMError

WINDOW = 60.0  # seconds: a tokens-per-minute budget holds in every window this long
CHARS_PER_TOKEN = 4.0  # the first guess at a prompt's tokens, until a server reports usage
CANCEL_CHECK = 0.1  # seconds between looks at a waiting request's cancel flag
NOTICE_PAUSE = 1.0  # a pause the headers ask for gets a line from this long on (shorter: noise)
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


class Cancelled(LLMError):
    """The build was cancelled while this request waited for its turn: it was never sent."""


@dataclass
class Permit:
    """One request let through: when, in which round of the limit, and what it was charged."""

    started: float
    epoch: int
    prompt_chars: int
    estimate: int
    # Its entry in the token window, [time, tokens], corrected once the reply is in.
    charge: list[float] | None = field(default=None, repr=False)


class Pacer:
    """The in-flight limit, pauses and token budget of one build's requests (thread-safe).

    ``clock`` is injectable so tests can move time; :meth:`acquire` waits in real seconds.
    """

    def __init__(
        self,
        limit: int,
        tpm: int | None = None,
        *,
        max_pause: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ceiling = max(1, limit)
        self.tpm = tpm
        self.max_pause = max_pause
        self._clock = clock
        self._cond = threading.Condition()
        self._limit = self.ceiling
        self._in_flight = 0
        self._epoch = 0  # rounds: one more at each cut
        self._streak = 0  # successes in a row since the last change
        self._paused_until = 0.0
        self._chars_per_token = CHARS_PER_TOKEN
        # The server's own token count (x-ratelimit-remaining-tokens), good until its reset.
        self._tokens_left: int | None = None
        self._tokens_reset_at = 0.0
        self._window: deque[list[float]] = deque()  # [time, tokens] per request, oldest first

    @property
    def limit(self) -> int:
        """Requests allowed in flight at once, now."""
        with self._cond:
            return self._limit

    @property
    def in_flight(self) -> int:
        """Requests let through and not yet ended."""
        with self._cond:
            return self._in_flight

    def estimate(self, prompt_chars: int, max_tokens: int) -> int:
        """Tokens a request is charged before it is sent: prompt characters at the characters
        per token seen so far, plus ``max_tokens``."""
        with self._cond:
            return self._estimate(prompt_chars, max_tokens)

    def window_tokens(self) -> int:
        """Tokens charged in the last 60 seconds (estimates of requests still in flight)."""
        with self._cond:
            self._expire(self._clock())
            return int(sum(tokens for _, tokens in self._window))

    def wait_time(self, prompt_chars: int, max_tokens: int) -> float | None:
        """Seconds before such a request may start: 0 now, None until a request in flight ends."""
        with self._cond:
            now = self._clock()
            return self._wait_time(now, self._estimate(prompt_chars, max_tokens))

    def try_acquire(self, prompt_chars: int, max_tokens: int) -> Permit | None:
        """A permit if the request may start now, else None (never waits)."""
        with self._cond:
            now = self._clock()
            estimate = self._estimate(prompt_chars, max_tokens)
            if self._wait_time(now, estimate) == 0:
                return self._grant(now, estimate, prompt_chars)
            return None

    def acquire(
        self, prompt_chars: int, max_tokens: int, cancel: threading.Event | None = None
    ) -> Permit:
        """Wait for the request's turn and return its permit; :class:`Cancelled` once ``cancel``
        is set (the request is then not sent)."""
        with self._cond:
            while True:
                if cancel is not None and cancel.is_set():
                    raise Cancelled("cancelled before it was sent")
                now = self._clock()
                estimate = self._estimate(prompt_chars, max_tokens)
                wait = self._wait_time(now, estimate)
                if wait == 0:
                    return self._grant(now, estimate, prompt_chars)
                if cancel is not None:
                    wait = CANCEL_CHECK if wait is None else min(wait, CANCEL_CHECK)
                self._cond.wait(wait)

    def succeeded(
        self,
        permit: Permit,
        *,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
        headers: Mapping[str, str] | None = None,
    ) -> str | None:
        """The request got its reply: charge what it really used, maybe grow the limit.
        Returns a notice when the server's headers pause the next requests."""
        with self._cond:
            now = self._clock()
            self._in_flight -= 1
            if prompt_tokens > 0 and permit.prompt_chars > 0:
                # A prompt in CJK or code is more tokens than 4 characters each.
                ratio = permit.prompt_chars / prompt_tokens
                self._chars_per_token = min(self._chars_per_token, max(ratio, 0.25))
            if permit.charge is not None:
                prompt = prompt_tokens or math.ceil(permit.prompt_chars / self._chars_per_token)
                permit.charge[1] = prompt + completion_tokens
            notice = self._observe(now, headers)
            self._streak += 1
            if self._streak >= self._limit and self._limit < self.ceiling:
                self._limit += 1
                self._streak = 0
            self._cond.notify_all()
            return notice

    def failed(
        self,
        permit: Permit,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> str | None:
        """The request failed (``status`` when the server answered with an error). A 429 cuts
        the limit; a 429 or 503 pauses new requests for ``retry_after``. Returns a notice when
        it backs off."""
        with self._cond:
            now = self._clock()
            self._in_flight -= 1
            self._streak = 0
            if permit.charge is not None and status is not None:
                permit.charge[1] = 0  # refused: the server read no tokens
            notices = [self._observe(now, headers)]
            if status in (429, 503) and retry_after is not None and retry_after > 0:
                self._pause(now, retry_after)  # "come back in n seconds" is for every request
            # Once per round: the 429s of requests sent before the last cut are the same news.
            if status == 429 and permit.epoch == self._epoch:
                self._epoch += 1
                cut = max(1, self._limit // 2)
                if cut < self._limit:
                    notices.insert(0, f"rate limited: {self._limit} → {cut} requests at a time")
                    self._limit = cut
            self._cond.notify_all()
            return "; ".join(n for n in notices if n) or None

    # --- under the lock ------------------------------------------------------------------------

    def _estimate(self, prompt_chars: int, max_tokens: int) -> int:
        return math.ceil(prompt_chars / self._chars_per_token) + max(0, max_tokens)

    def _wait_time(self, now: float, estimate: int) -> float | None:
        if now < self._paused_until:
            return self._paused_until - now
        if self._in_flight >= self._limit:
            return None
        if (
            self._tokens_left is not None
            and now < self._tokens_reset_at
            and estimate > self._tokens_left
        ):
            return self._tokens_reset_at - now
        if self.tpm is None:
            return 0.0
        self._expire(now)
        excess = sum(tokens for _, tokens in self._window) + estimate - self.tpm
        if excess <= 0 or not self._window:
            return 0.0
        # The charges leave the window oldest first; wait for the one that makes room.
        for started, tokens in self._window:
            excess -= tokens
            if excess <= 0:
                return started + WINDOW - now
        return self._window[-1][0] + WINDOW - now  # bigger than the budget: alone, then

    def _grant(self, now: float, estimate: int, prompt_chars: int) -> Permit:
        self._in_flight += 1
        permit = Permit(
            started=now, epoch=self._epoch, prompt_chars=prompt_chars, estimate=estimate
        )
        if self.tpm is not None:
            permit.charge = [now, float(estimate)]
            self._window.append(permit.charge)
        if self._tokens_left is not None:
            self._tokens_left -= estimate
        return permit

    def _expire(self, now: float) -> None:
        while self._window and self._window[0][0] <= now - WINDOW:
            self._window.popleft()

    def _pause(self, now: float, seconds: float) -> bool:
        """Hold back new requests for ``seconds`` (capped); True if that is a longer pause."""
        until = now + min(seconds, self.max_pause)
        if until <= self._paused_until:
            return False
        self._paused_until = until
        return True

    def _observe(self, now: float, headers: Mapping[str, str] | None) -> str | None:
        """Take in the server's ``x-ratelimit-*`` headers; a notice when they pause requests."""
        if not headers:
            return None
        lower = {k.lower(): v for k, v in headers.items()}
        requests_left = _count(lower.get("x-ratelimit-remaining-requests"))
        requests_reset = parse_duration(lower.get("x-ratelimit-reset-requests"))
        tokens_left = _count(lower.get("x-ratelimit-remaining-tokens"))
        tokens_reset = parse_duration(lower.get("x-ratelimit-reset-tokens"))
        if tokens_left is not None and tokens_reset is not None:
            self._tokens_left = tokens_left
            self._tokens_reset_at = now + min(tokens_reset, self.max_pause)
        if requests_left == 0 and requests_reset and self._pause(now, requests_reset):
            wait = min(requests_reset, self.max_pause)
            if wait >= NOTICE_PAUSE:
                return f"rate limit reached (no requests left): waiting {wait:.1f}s"
        return None


def parse_duration(text: str | None) -> float | None:
    """Seconds in an OpenAI reset header ("6m0s", "1s", "20ms", "1h2m3.5s", or a plain
    number of seconds); None when absent or unreadable."""
    if text is None:
        return None
    text = text.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    parts = _DURATION.findall(text)
    if not parts or "".join(n + unit for n, unit in parts) != text:
        return None
    scale = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    return sum(float(n) * scale[unit] for n, unit in parts)


def _count(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None
